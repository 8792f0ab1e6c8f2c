/* `mrg tune`: searches the GEMM program's parameters (cl/kernels/gemm.cl)
 * on the device for the shape classes mrg uses, and caches the winners per
 * device (cl_gemm_program.c reads them at init).
 *
 *   class "large"  the register-blocked kernel: training GEMMs (f32
 *                  activations × activations, bf16 weights in the nn.Linear
 *                  layout, the weight gradient's transposed A)
 *   class "small"  the small-M split-K kernels: decoding (M = 1), beams
 *                  (M = 3) and M = 16, over bf16 and f32 weights
 *
 * Each candidate is built, checked against a double-precision product on
 * the host (a wrong one is reported and never chosen), then timed: one
 * warm-up run and a few timed runs of every shape of its class. The large
 * class is searched first with the default small-M parameters, then the
 * small class with the large winner. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl.h"
#include "mrg/clock.h"
#include "mrg/opencl.h"

typedef struct shape {
    int64_t M, N, K;
    bool ta, tb;
    mrg_dtype bdt;
} shape;

/* The shapes timed per class: full size on GPUs, small with quick (CPU
 * devices, tests). */
static const shape LARGE[] = {{1024, 1024, 1024, false, false, MRG_F32},
                              {512, 4096, 4096, false, true, MRG_BF16},
                              {768, 768, 3152, true, false, MRG_F32}};
static const shape LARGE_QUICK[] = {{96, 96, 96, false, false, MRG_F32},
                                    {64, 160, 128, false, true, MRG_BF16}};
static const shape SMALL[] = {{1, 4096, 4096, false, true, MRG_BF16},
                              {3, 4096, 11008, false, true, MRG_BF16},
                              {16, 4096, 4096, false, true, MRG_F32},
                              {1, 4096, 4096, false, false, MRG_F32}};
static const shape SMALL_QUICK[] = {{1, 160, 640, false, true, MRG_BF16},
                                    {3, 96, 1200, false, false, MRG_F32}};
/* The correctness checks per class (edges: sizes that are no multiple of
 * any tile, several K splits). */
static const shape CHECK_LARGE[] = {{37, 45, 70, false, true, MRG_BF16},
                                    {33, 19, 41, true, false, MRG_F32}};
static const shape CHECK_SMALL[] = {{3, 45, 2100, false, true, MRG_BF16},
                                    {5, 29, 1500, true, false, MRG_F16}};

/* A device buffer of n elements of dt filled with values in [-1, 1). */
static mrg_status rand_buffer(mrg_cl_ctx *c, int64_t n, mrg_dtype dt, unsigned seed,
                              mrg_buffer *b, float **host) {
    size_t es = mrg_dtype_size(dt), bytes = (size_t)n * es;
    void *h = malloc(bytes ? bytes : 1);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    if (!h || !f) {
        free(h);
        free(f);
        return mrg_error(MRG_ERR_OOM, "out of host memory");
    }
    uint64_t r = 0x9e3779b97f4a7c15ull * (seed + 1);
    for (int64_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        float v = (float)((double)(r >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
        if (dt == MRG_BF16) {
            uint16_t x = mrg_f32_to_bf16(v);
            ((uint16_t *)h)[i] = x;
            v = mrg_bf16_to_f32(x);
        } else if (dt == MRG_F16) {
            uint16_t x = mrg_f32_to_f16(v);
            ((uint16_t *)h)[i] = x;
            v = mrg_f16_to_f32(x);
        } else {
            ((float *)h)[i] = v;
        }
        f[i] = v;
    }
    cl_int err;
    b->handle = clCreateBuffer(c->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, h,
                               &err);
    b->bytes = bytes;
    free(h);
    if (err != CL_SUCCESS) {
        free(f);
        return mrg_cl_fail(err, "tune: allocating");
    }
    if (host)
        *host = f;
    else
        free(f);
    return MRG_OK;
}

/* Runs shape s with program g on fresh buffers; with check, compares C with
 * a double-precision product on the host (*ok), else times reps runs after
 * a warm-up (*seconds). */
static mrg_status run_shape(mrg_cl_ctx *c, const mrg_cl_gemm_prog *g, const shape *s, bool check,
                            int reps, bool *ok, double *seconds) {
    mrg_buffer A = {0}, B = {0}, C = {0};
    float *ha = NULL, *hb = NULL, *hc = NULL;
    const int64_t M = s->M, N = s->N, K = s->K;
    mrg_status st = rand_buffer(c, M * K, MRG_F32, 1, &A, check ? &ha : NULL);
    if (st == MRG_OK) st = rand_buffer(c, K * N, s->bdt, 2, &B, check ? &hb : NULL);
    if (st == MRG_OK) st = rand_buffer(c, M * N, MRG_F32, 3, &C, check ? &hc : NULL);
    const int64_t lda = s->ta ? M : K, ldb = s->tb ? K : N;
    mrg_ptr pa = {&A, 0, MRG_F32}, pb = {&B, 0, s->bdt}, pc = {&C, 0, MRG_F32};
    const float beta = check ? 0.5f : 0.0f;
    if (st == MRG_OK && check) {
        st = mrg_cl_gemm_own(c, g, s->ta, s->tb, M, N, K, 1.25f, pa, lda, 0, pb, ldb, 0, beta, pc,
                             N, 0, 1);
        float *got = malloc((size_t)(M * N) * sizeof *got);
        if (st == MRG_OK && !got) st = mrg_error(MRG_ERR_OOM, "out of host memory");
        if (st == MRG_OK) {
            cl_int err = clEnqueueReadBuffer(c->queue, (cl_mem)C.handle, CL_TRUE, 0,
                                             (size_t)(M * N) * 4, got, 0, NULL, NULL);
            if (err != CL_SUCCESS) st = mrg_cl_fail(err, "tune: reading");
        }
        *ok = st == MRG_OK;
        for (int64_t m = 0; st == MRG_OK && m < M && *ok; m++)
            for (int64_t n = 0; n < N && *ok; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)ha[s->ta ? k * M + m : m * K + k] *
                           hb[s->tb ? n * K + k : k * N + n];
                double want = 1.25 * acc + beta * hc[m * N + n];
                *ok = fabs(got[m * N + n] - want) <= 1e-4 * (1 + fabs(want)) * sqrt((double)K);
            }
        free(got);
    } else if (st == MRG_OK) {
        st = mrg_cl_gemm_own(c, g, s->ta, s->tb, M, N, K, 1.0f, pa, lda, 0, pb, ldb, 0, 0.0f, pc,
                             N, 0, 1);
        if (st == MRG_OK && clFinish(c->queue) != CL_SUCCESS)
            st = mrg_error(MRG_ERR_DEVICE, "tune: clFinish");
        double t0 = mrg_now_s();
        for (int r = 0; r < reps && st == MRG_OK; r++)
            st = mrg_cl_gemm_own(c, g, s->ta, s->tb, M, N, K, 1.0f, pa, lda, 0, pb, ldb, 0, 0.0f,
                                 pc, N, 0, 1);
        if (st == MRG_OK && clFinish(c->queue) != CL_SUCCESS)
            st = mrg_error(MRG_ERR_DEVICE, "tune: clFinish");
        *seconds = (mrg_now_s() - t0) / reps;
    }
    clFinish(c->queue);
    if (A.handle) clReleaseMemObject((cl_mem)A.handle);
    if (B.handle) clReleaseMemObject((cl_mem)B.handle);
    if (C.handle) clReleaseMemObject((cl_mem)C.handle);
    free(ha);
    free(hb);
    free(hc);
    return st;
}

static void describe(const mrg_cl_gemm_params *p, char *buf, size_t n) {
    snprintf(buf, n, "TM %d TN %d TK %d WM %d WN %d VW %d | small-M WG %d lanes %d KC %d", p->tm,
             p->tn, p->tk, p->wm, p->wn, p->vw, p->sm_wg, p->sm_lanes, p->sm_kc);
}

/* Every valid candidate of one class around base (base first). */
static int candidates(const mrg_cl_ctx *c, bool large, const mrg_cl_gemm_params *base,
                      mrg_cl_gemm_params *out, int max) {
    int n = 0;
    out[n++] = *base;
    static const int TILE[] = {32, 64, 128}, TK[] = {8, 16, 32}, W[] = {2, 4, 8}, VW[] = {1, 2, 4};
    static const int SWG[] = {64, 128, 256}, LANES[] = {4, 8, 16, 32},
                     KC[] = {256, 512, 1024, 2048};
    mrg_cl_gemm_params p = *base;
    if (large) {
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                for (int k = 0; k < 3; k++)
                    for (int wm = 0; wm < 3; wm++)
                        for (int wn = 0; wn < 3; wn++)
                            for (int v = 0; v < 3 && n < max; v++) {
                                p.tm = TILE[a], p.tn = TILE[b], p.tk = TK[k];
                                p.wm = W[wm], p.wn = W[wn], p.vw = VW[v];
                                size_t wg = (size_t)(p.tm / p.wm) * (size_t)(p.tn / p.wn);
                                if (wg < 16 || memcmp(&p, base, sizeof p) == 0) continue;
                                if (mrg_cl_gemm_check(c, &p) == MRG_OK) out[n++] = p;
                            }
    } else {
        for (int w = 0; w < 3; w++)
            for (int l = 0; l < 4; l++)
                for (int k = 0; k < 4 && n < max; k++) {
                    p.sm_wg = SWG[w], p.sm_lanes = LANES[l], p.sm_kc = KC[k];
                    if (memcmp(&p, base, sizeof p) == 0) continue;
                    if (mrg_cl_gemm_check(c, &p) == MRG_OK) out[n++] = p;
                }
    }
    mrg_clear_error();
    return n;
}

/* Searches one class; *best keeps the winner (base when nothing beats it). */
static mrg_status search(mrg_cl_ctx *c, bool large, const mrg_opencl_tune_opts *o, FILE *log,
                         mrg_cl_gemm_params *best) {
    enum { MAX = 1024 };
    mrg_cl_gemm_params *all = malloc(MAX * sizeof *all);
    if (!all) return mrg_error(MRG_ERR_OOM, "out of host memory");
    int n = candidates(c, large, best, all, MAX);
    /* a budget takes the base and candidates spread evenly over the rest */
    int take = o->budget > 0 && o->budget < n ? o->budget : n;
    const shape *shapes = large ? (o->quick ? LARGE_QUICK : LARGE) : (o->quick ? SMALL_QUICK : SMALL);
    int nshapes = large ? (o->quick ? 2 : 3) : (o->quick ? 2 : 4);
    const shape *checks = large ? CHECK_LARGE : CHECK_SMALL;
    if (log)
        fprintf(log, "%s GEMMs: %d of %d candidates\n", large ? "large" : "small-M", take, n);
    double best_t = INFINITY;
    mrg_status st = MRG_OK;
    for (int i = 0; i < take && st == MRG_OK; i++) {
        int idx = take == n || i == 0 ? i : 1 + (int)((int64_t)(i - 1) * (n - 1) / (take - 1));
        mrg_cl_gemm_params p = all[idx];
        char what[160];
        describe(&p, what, sizeof what);
        mrg_cl_gemm_prog g;
        if (mrg_cl_gemm_build(c, &p, &g) != MRG_OK) {
            if (log) fprintf(log, "  %s: skipped (%s)\n", what, mrg_last_error());
            mrg_clear_error();
            continue;
        }
        bool ok = true;
        for (int s = 0; s < 2 && ok && st == MRG_OK; s++)
            st = run_shape(c, &g, &checks[s], true, 0, &ok, NULL);
        double total = 0;
        for (int s = 0; s < nshapes && ok && st == MRG_OK; s++) {
            double t = 0;
            st = run_shape(c, &g, &shapes[s], false, o->quick ? 1 : 5, NULL, &t);
            total += t;
        }
        mrg_cl_gemm_release(&g);
        if (st != MRG_OK) break;
        if (!ok) {
            /* a kernel that computes wrong results on this driver */
            if (log) fprintf(log, "  %s: WRONG RESULTS, not used\n", what);
            continue;
        }
        if (log) fprintf(log, "  %s: %.3f ms\n", what, total * 1e3);
        if (total < best_t) {
            best_t = total;
            *best = p;
        }
    }
    free(all);
    if (st == MRG_OK && !isfinite(best_t))
        st = mrg_error(MRG_ERR_DEVICE, "tune: no candidate built and computed correctly");
    return st;
}

mrg_status mrg_opencl_tune(mrg_device *dev, const mrg_opencl_tune_opts *o, FILE *log) {
    if (!dev || !dev->be || strcmp(dev->be->kind, "opencl"))
        return mrg_error(MRG_ERR_UNSUPPORTED, "tune: %s is not an OpenCL device",
                         mrg_device_name(dev));
    mrg_opencl_tune_opts defaults = {0, false, false};
    if (!o) o = &defaults;
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_cl_gemm_params best = mrg_cl_gemm_default(c);
    mrg_status st = search(c, true, o, log, &best);
    if (st == MRG_OK) st = search(c, false, o, log, &best);
    if (st != MRG_OK) return mrg_error_context(st, "tuning %s", mrg_device_name(dev));
    /* the winner serves this device from now on */
    mrg_cl_gemm_prog g;
    st = mrg_cl_gemm_build(c, &best, &g);
    if (st != MRG_OK) return st;
    clFinish(c->queue);
    mrg_cl_gemm_release(&c->gemm);
    c->gemm = g;
    snprintf(c->gemm_origin, sizeof c->gemm_origin, "tuned (this run)");
    char what[160], key[300], path[4200];
    describe(&best, what, sizeof what);
    mrg_cl_tune_key(c, key, sizeof key);
    if (log) fprintf(log, "best for %s: %s\n", key, what);
    if (o->no_write) return MRG_OK;
    if (!mrg_cl_tune_cache_path(path, sizeof path))
        return mrg_error(MRG_ERR_IO, "tune: no cache directory (set XDG_CACHE_HOME or HOME)");
    st = mrg_cl_tune_cache_write(path, key, &best);
    if (st != MRG_OK) return mrg_error_context(st, "writing the tuning cache");
    if (log) fprintf(log, "written to %s\n", path);
    return MRG_OK;
}

mrg_status mrg_opencl_gemm_describe(mrg_device *dev, char *buf, size_t n) {
    if (!dev || !dev->be || strcmp(dev->be->kind, "opencl"))
        return mrg_error(MRG_ERR_UNSUPPORTED, "%s is not an OpenCL device", mrg_device_name(dev));
    mrg_cl_ctx *c = mrg_cl_of(dev);
    char what[160];
    describe(&c->gemm.p, what, sizeof what);
    snprintf(buf, n, "%s, %s%s", what, c->gemm_origin,
             c->gemm_clblast_first ? "; f32 with M > 16 on CLBlast (MRG_CL_GEMM=own: not)" : "");
    return MRG_OK;
}
