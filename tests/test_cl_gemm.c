/* The OpenCL GEMM kernels (cl/kernels/gemm.cl) for a representative set of
 * the parameter sets `mrg tune` searches, against a double-precision product
 * on the host: register-blocked and small-M (split-K) paths, B f32, bf16 and
 * f16, every transpose, sizes that are no multiple of any tile, M around the
 * small-M limit, batches with strides and padded leading dimensions, alpha,
 * beta (and NaN in C with beta 0). Then `mrg tune --quick --budget 2` end to
 * end: the cache file appears (written atomically) under XDG_CACHE_HOME with
 * this device's key, a device opened afterwards uses it, and a broken entry
 * falls back to the defaults. Skipped (77) without an OpenCL device. */
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#ifdef MRG_HAVE_OPENCL
#include "cl/cl.h"
#include "mrg/opencl.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

typedef struct gcase {
    int64_t M, N, K, batch;
} gcase;

/* Sizes: small-M (1, 3, 16; K over several splits), just above it, odd
 * sizes, exact tiles. */
static const gcase CASES[] = {{1, 1, 1, 1},     {1, 257, 1000, 1}, {3, 45, 2100, 2},
                              {16, 33, 70, 1},  {17, 45, 70, 1},   {37, 45, 70, 2},
                              {65, 130, 33, 1}, {128, 64, 128, 1}};

/* One GEMM with program g, compared with the host product. */
static bool one(mrg_device *dev, const mrg_cl_gemm_prog *g, const gcase *gc, bool ta, bool tb,
                mrg_dtype bdt, float beta) {
    const mrg_backend *be = dev->be;
    mrg_cl_ctx *c = mrg_cl_of(dev);
    const int64_t M = gc->M, N = gc->N, K = gc->K, Z = gc->batch;
    const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
    const int64_t sa = (ta ? K : M) * lda + 5, sb = (tb ? N : K) * ldb + 1, sc = M * ldc + 2;
    const int64_t na = 7 + Z * sa, nb = 3 + Z * sb, nc = 1 + Z * sc;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *cc = malloc(nc * 4), *got = malloc(nc * 4);
    uint16_t *b16 = malloc(nb * 2);
    for (int64_t i = 0; i < na; i++) a[i] = urand();
    for (int64_t i = 0; i < nb; i++) {
        float v = urand();
        if (bdt == MRG_BF16) b16[i] = mrg_f32_to_bf16(v), v = mrg_bf16_to_f32(b16[i]);
        if (bdt == MRG_F16) b16[i] = mrg_f32_to_f16(v), v = mrg_f16_to_f32(b16[i]);
        b[i] = v;
    }
    for (int64_t i = 0; i < nc; i++) cc[i] = beta == 0 ? NAN : urand();
    mrg_buffer A = {0}, B = {0}, C = {0};
    size_t bsz = bdt == MRG_F32 ? 4 : 2;
    CHECK_OK(be->buffer_alloc(dev, &A, na * 4));
    CHECK_OK(be->buffer_alloc(dev, &B, nb * bsz));
    CHECK_OK(be->buffer_alloc(dev, &C, nc * 4));
    CHECK_OK(be->upload(dev, &A, 0, a, na * 4));
    CHECK_OK(be->upload(dev, &B, 0, bdt == MRG_F32 ? (void *)b : (void *)b16, nb * bsz));
    CHECK_OK(be->upload(dev, &C, 0, cc, nc * 4));
    mrg_ptr pa = {&A, 7, MRG_F32}, pb = {&B, 3, bdt}, pc = {&C, 1, MRG_F32};
    CHECK_OK(mrg_cl_gemm_own(c, g, ta, tb, M, N, K, 0.75f, pa, lda, sa, pb, ldb, sb, beta, pc, ldc,
                             sc, Z));
    CHECK_OK(be->download(dev, &C, 0, got, nc * 4));
    bool ok = true;
    for (int64_t z = 0; z < Z && ok; z++)
        for (int64_t m = 0; m < M && ok; m++)
            for (int64_t n = 0; n < N && ok; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)a[7 + z * sa + (ta ? k * lda + m : m * lda + k)] *
                           b[3 + z * sb + (tb ? n * ldb + k : k * ldb + n)];
                int64_t ci = 1 + z * sc + m * ldc + n;
                double want = 0.75 * acc + (beta == 0 ? 0 : beta * cc[ci]);
                if (!(fabs(got[ci] - want) <= 1e-5 * (1 + fabs(want)) * sqrt((double)K))) {
                    fprintf(stderr,
                            "gemm M %lld N %lld K %lld batch %lld ta %d tb %d %s beta %g, "
                            "TM %d TN %d TK %d WM %d WN %d VW %d SM %d/%d/%d: C[%lld,%lld,%lld] "
                            "is %g, want %g\n",
                            (long long)M, (long long)N, (long long)K, (long long)Z, ta, tb,
                            mrg_dtype_name(bdt), beta, g->p.tm, g->p.tn, g->p.tk, g->p.wm,
                            g->p.wn, g->p.vw, g->p.sm_wg, g->p.sm_lanes, g->p.sm_kc, (long long)z,
                            (long long)m, (long long)n, got[ci], want);
                    ok = false;
                }
            }
    /* nothing outside C's blocks changed: the padding keeps its values */
    for (int64_t i = 0; i < nc && ok; i++) {
        int64_t r = i - 1, z = r / sc, w = r % sc;
        bool inside = r >= 0 && z < Z && w < M * ldc && w % ldc < N;
        if (!inside && !(got[i] == cc[i] || (isnan(got[i]) && isnan(cc[i])))) ok = false;
    }
    be->buffer_free(dev, &A);
    be->buffer_free(dev, &B);
    be->buffer_free(dev, &C);
    free(a), free(b), free(cc), free(got), free(b16);
    return ok;
}

/* Parameter sets across the search space: tiles 32..128, TK 8..32, 2..8
 * outputs per item, vector widths 1, 2, 4, small-M work-groups 64..256 with
 * 4..32 lanes and K chunks 256..2048. */
static const mrg_cl_gemm_params PARAMS[] = {
    {32, 32, 8, 2, 2, 1, 64, 4, 256},    {64, 32, 16, 4, 2, 2, 128, 8, 512},
    {32, 64, 32, 2, 8, 4, 256, 32, 2048}, {128, 64, 8, 8, 4, 4, 64, 16, 1024},
    {64, 128, 16, 8, 8, 2, 128, 32, 256},
};

static void test_kernels(mrg_device *dev) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    int n_params = (int)(sizeof PARAMS / sizeof *PARAMS);
    for (int pi = -1; pi < n_params; pi++) {
        mrg_cl_gemm_params p = pi < 0 ? mrg_cl_gemm_default(c) : PARAMS[pi];
        if (mrg_cl_gemm_check(c, &p) != MRG_OK) {
            fprintf(stderr, "  (parameter set %d does not fit this device: %s)\n", pi,
                    mrg_last_error());
            mrg_clear_error();
            continue;
        }
        mrg_cl_gemm_prog g;
        CHECK_OK(mrg_cl_gemm_build(c, &p, &g));
        if (!g.program) continue;
        int bad = 0;
        for (size_t ci = 0; ci < sizeof CASES / sizeof *CASES; ci++)
            for (int t = 0; t < 4; t++)
                for (int d = 0; d < 3; d++) {
                    mrg_dtype bdt = d == 0 ? MRG_F32 : d == 1 ? MRG_BF16 : MRG_F16;
                    /* beta 0 (NaN in C) and 0.5 alternate over the cases */
                    float beta = (ci + t + d) % 2 ? 0.5f : 0.0f;
                    if (!one(dev, &g, &CASES[ci], t & 1, t >> 1, bdt, beta)) bad++;
                }
        CHECK(bad == 0);
        mrg_cl_gemm_release(&g);
    }
}

/* mrg tune end to end through the command, then the cache in use. */
static void test_tune(mrg_device *dev) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "  (MRG_BIN unset: mrg tune not run)\n");
        return;
    }
    char dir[] = "/tmp/mrg-test-tune-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char out[8192];
    int rc = test_run_cmdf(out, sizeof out,
                           "XDG_CACHE_HOME=%s '%s' tune --device %s --quick --budget 2 2>&1", dir,
                           bin, mrg_device_name(dev));
    CHECK(rc == 0);
    CHECK(strstr(out, "best for") != NULL);
    char path[512], key[300];
    snprintf(path, sizeof path, "%s/mrg/opencl-gemm.json", dir);
    char *text = test_read_file(path, NULL);
    CHECK(text != NULL);
    mrg_cl_tune_key(mrg_cl_of(dev), key, sizeof key);
    CHECK(text && strstr(text, "\"sm_kc\"") != NULL);
    mrg_cl_gemm_params p;
    CHECK(mrg_cl_tune_cache_read(path, key, &p));
    CHECK(mrg_cl_gemm_check(mrg_cl_of(dev), &p) == MRG_OK);
    /* a device opened now uses the cached parameters */
    setenv("XDG_CACHE_HOME", dir, 1);
    mrg_device *again = mrg_device_open(mrg_device_name(dev));
    CHECK(again != NULL);
    char desc[400] = "";
    if (again) CHECK_OK(mrg_opencl_gemm_describe(again, desc, sizeof desc));
    CHECK(strstr(desc, "tuned") != NULL);
    mrg_cl_gemm_params got = again ? mrg_cl_of(again)->gemm.p : p;
    CHECK(memcmp(&got, &p, sizeof p) == 0);
    mrg_device_free(again);
    /* a broken entry (vector width 3): the defaults, not an error */
    p.vw = 3;
    CHECK_OK(mrg_cl_tune_cache_write(path, key, &p));
    again = mrg_device_open(mrg_device_name(dev));
    CHECK(again != NULL);
    if (again) CHECK_OK(mrg_opencl_gemm_describe(again, desc, sizeof desc));
    CHECK(strstr(desc, "default") != NULL);
    mrg_device_free(again);
    unsetenv("XDG_CACHE_HOME");
    free(text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
#endif

int main(void) {
#ifndef MRG_HAVE_OPENCL
    printf("test_cl_gemm: built without OpenCL, skipped\n");
    return TEST_SKIP;
#else
    /* the defaults under test, not a cache of the user's */
    char dir[] = "/tmp/mrg-test-nocache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    setenv("XDG_CACHE_HOME", dir, 1);
    int tested = 0;
    for (test_device_iter it = {0}; test_next_device(&it);) {
        if (mrg_device_is_cpu(it.dev)) continue;
        tested++;
        test_kernels(it.dev);
        test_tune(it.dev);
        setenv("XDG_CACHE_HOME", dir, 1);
    }
    rmdir(dir);
    if (!tested) {
        printf("test_cl_gemm: no OpenCL device, skipped\n");
        return TEST_SKIP;
    }
    return test_finish("test_cl_gemm");
#endif
}
