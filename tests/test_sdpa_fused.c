/* The fused attention kernels (mrg_sdpa, backend entries sdpa and
 * sdpa_backward) on every device, against the composed reference
 * (mrg_sdpa_composed: GEMM, mask add, softmax, GEMM):
 *   - output and the gradients of q, k, v agree within RTOL (relative, with
 *     an absolute floor of RTOL × the tensor's largest magnitude, and of
 *     ATOL for gradients that are zero by cancellation, as with one key;
 *     f32 reorderings of the same sums differ by ~1e-6) on shapes that span
 *     several query and key tiles on both backends: causal and not, Tq < Tk,
 *     grouped and multi-query heads, head dims that are not multiples of the
 *     tile widths, Dv != D, and a key-padding mask with −inf and −1e9;
 *   - the results are the same bits run to run;
 *   - a row whose every key is masked with −inf is NaN in both versions
 *     (a softmax of such a row), and the other rows are unaffected;
 *   - the forward kernel reading k, v in place in a larger buffer through a
 *     row map (R rows of cap positions, the KV-cache layout) gives the same
 *     bits as on the gathered (B, Hkv, Tk, D) slices;
 *   - a key mask that wants a gradient is refused. */
#include <math.h>
#include <string.h>

#include "core/backend.h"
#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "testutil.h"

#define RTOL 1e-5
#define ATOL 1e-7

typedef struct attn_case {
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    bool causal;
    int mask; /* 0 none; 1 padding (−inf) and one −1e9 key; 2 sample 0 fully −inf */
} attn_case;

static const attn_case cases[] = {
    {2, 4, 2, 37, 70, 40, 24, true, 1},  /* GQA, Tq < Tk, Dv != D, several tiles */
    {1, 2, 2, 65, 65, 64, 64, true, 0},  /* square causal across tile edges */
    {2, 3, 1, 5, 130, 33, 33, false, 1}, /* multi-query, long keys */
    {1, 1, 1, 1, 1, 8, 8, false, 0},     /* one query, one key */
    {2, 2, 1, 6, 9, 16, 16, false, 2},   /* a fully masked sample */
};

typedef struct run_out {
    float *o, *dq, *dk, *dv;
} run_out;

static void run_free(run_out *r) {
    free(r->o);
    free(r->dq);
    free(r->dk);
    free(r->dv);
    memset(r, 0, sizeof *r);
}

/* Forward and backward of one version; returns host copies. */
static bool run(mrg_device *dev, const attn_case *c, bool fused, mrg_tensor *q, mrg_tensor *k,
                mrg_tensor *v, mrg_tensor *mask, mrg_tensor *g, run_out *out) {
    mrg_tensor *ps[3] = {q, k, v};
    if (mrg_zero_grad(ps, 3) != MRG_OK) return false;
    float scale = 1.0f / sqrtf((float)c->D);
    mrg_tensor *o = fused ? mrg_sdpa(q, k, v, mask, c->causal, scale)
                          : mrg_sdpa_composed(q, k, v, mask, c->causal, scale);
    if (!o || mrg_backward(test_dot_loss(o, g)) != MRG_OK) return false;
    out->o = test_download(o);
    out->dq = test_download(q->grad);
    out->dk = test_download(k->grad);
    out->dv = test_download(v->grad);
    mrg_step_reset(dev);
    return out->o && out->dq && out->dk && out->dv;
}

/* Compares non-NaN elements within RTOL; NaN must be NaN in both. */
static bool agree(const char *what, const float *got, const float *want, int64_t n) {
    double mx = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(want[i]) && fabs(want[i]) > mx) mx = fabs(want[i]);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(want[i]) != isnan(got[i])) {
            fprintf(stderr, "%s: element %lld: %g vs %g (NaN in one only)\n", what,
                    (long long)i, got[i], want[i]);
            return false;
        }
        double err = fabs((double)got[i] - want[i]), lim = RTOL * fmax(fabs(want[i]), mx) + ATOL;
        if (!isnan(want[i]) && err > lim) {
            fprintf(stderr, "%s: element %lld: %.9g vs %.9g\n", what, (long long)i, got[i],
                    want[i]);
            return false;
        }
    }
    return true;
}

static bool same_bits(const float *a, const float *b, int64_t n) {
    return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static void test_case(mrg_device *dev, const char *dname, const attn_case *c, int ci) {
    const int64_t nq = c->B * c->H * c->Tq * c->D, nk = c->B * c->Hkv * c->Tk * c->D;
    const int64_t nv = c->B * c->Hkv * c->Tk * c->Dv, no = c->B * c->H * c->Tq * c->Dv;
    float *qh = malloc(sizeof(float) * (size_t)nq), *kh = malloc(sizeof(float) * (size_t)nk);
    float *vh = malloc(sizeof(float) * (size_t)nv), *gh = malloc(sizeof(float) * (size_t)no);
    float *mh = calloc((size_t)(c->B * c->Tk), sizeof(float));
    test_fill_uniform(qh, nq, 100 + (unsigned)ci, -2, 2);
    test_fill_uniform(kh, nk, 200 + (unsigned)ci, -2, 2);
    test_fill_uniform(vh, nv, 300 + (unsigned)ci, -1, 1);
    test_fill_uniform(gh, no, 400 + (unsigned)ci, -1, 1);
    if (c->mask == 1) {
        for (int64_t j = c->Tk - 3; j < c->Tk; j++) mh[j] = -INFINITY; /* padding of sample 0 */
        mh[(c->B - 1) * c->Tk + c->Tk / 2] = -1e9f;
    } else if (c->mask == 2) {
        for (int64_t j = 0; j < c->Tk; j++) mh[j] = -INFINITY;
    }
    mrg_tensor *q = test_param_f32(dev, MRG_F32, MRG_SHAPE(c->B, c->H, c->Tq, c->D), qh, true, "q");
    mrg_tensor *k = test_param_f32(dev, MRG_F32, MRG_SHAPE(c->B, c->Hkv, c->Tk, c->D), kh, true, "k");
    mrg_tensor *v = test_param_f32(dev, MRG_F32, MRG_SHAPE(c->B, c->Hkv, c->Tk, c->Dv), vh, true, "v");
    mrg_tensor *g = test_param_f32(dev, MRG_F32, MRG_SHAPE(c->B, c->H, c->Tq, c->Dv), gh, false, "g");
    mrg_tensor *m = c->mask ? test_param_f32(dev, MRG_F32, MRG_SHAPE(c->B, c->Tk), mh, false, "m")
                            : NULL;
    run_out f1 = {0}, f2 = {0}, ref = {0};
    bool ok = run(dev, c, true, q, k, v, m, g, &f1) && run(dev, c, true, q, k, v, m, g, &f2) &&
              run(dev, c, false, q, k, v, m, g, &ref);
    CHECK(ok);
    if (ok) {
        char what[160];
        const char *names[4] = {"o", "dq", "dk", "dv"};
        const float *got[4] = {f1.o, f1.dq, f1.dk, f1.dv}, *again[4] = {f2.o, f2.dq, f2.dk, f2.dv};
        const float *want[4] = {ref.o, ref.dq, ref.dk, ref.dv};
        const int64_t n[4] = {no, nq, nk, nv};
        for (int t = 0; t < 4; t++) {
            snprintf(what, sizeof what, "%s case %d %s", dname, ci, names[t]);
            /* with a fully masked sample only the forward is compared
             * element by element (its gradients are NaN wholesale) */
            if (c->mask != 2 || t == 0) CHECK(agree(what, got[t], want[t], n[t]));
            CHECK(same_bits(got[t], again[t], n[t]));
        }
        if (c->mask == 2) {
            int64_t per_b = c->H * c->Tq * c->Dv;
            for (int64_t i = 0; i < no; i++) CHECK(isnan(f1.o[i]) == (i < per_b));
        }
    }
    run_free(&f1);
    run_free(&f2);
    run_free(&ref);
    mrg_tensor *ts[5] = {q, k, v, g, m};
    for (int i = 0; i < 5; i++) mrg_tensor_free(ts[i]);
    free(qh);
    free(kh);
    free(vh);
    free(gh);
    free(mh);
}

/* The forward entry on a KV-cache layout: k, v (R, Hkv, cap, D) read in
 * place through rows, against mrg_sdpa on the gathered slices. */
static void test_rows(mrg_device *dev, const char *dname) {
    const int64_t R = 3, Hkv = 2, cap = 75, D = 20, B = 2, H = 4, Tq = 3, Tk = 70;
    const int32_t rows[2] = {2, 0};
    float *kc = malloc(sizeof(float) * (size_t)(R * Hkv * cap * D));
    float *vc = malloc(sizeof(float) * (size_t)(R * Hkv * cap * D));
    float *ks = malloc(sizeof(float) * (size_t)(B * Hkv * Tk * D));
    float *vs = malloc(sizeof(float) * (size_t)(B * Hkv * Tk * D));
    float qh[2 * 4 * 3 * 20];
    test_fill_uniform(kc, R * Hkv * cap * D, 7, -1, 1);
    test_fill_uniform(vc, R * Hkv * cap * D, 8, -1, 1);
    test_fill_uniform(qh, B * H * Tq * D, 9, -1, 1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hkv; h++)
            for (int64_t t = 0; t < Tk; t++)
                for (int64_t d = 0; d < D; d++) {
                    int64_t src = ((rows[b] * Hkv + h) * cap + t) * D + d;
                    int64_t dst = ((b * Hkv + h) * Tk + t) * D + d;
                    ks[dst] = kc[src];
                    vs[dst] = vc[src];
                }
    mrg_grad_set_enabled(dev, false);
    mrg_tensor *q = mrg_tensor_from_f32(dev, MRG_SHAPE(B, H, Tq, D), qh);
    mrg_tensor *want = mrg_sdpa(q, mrg_tensor_from_f32(dev, MRG_SHAPE(B, Hkv, Tk, D), ks),
                                mrg_tensor_from_f32(dev, MRG_SHAPE(B, Hkv, Tk, D), vs), NULL,
                                true, 0.3f);
    mrg_tensor *kt = mrg_tensor_from_f32(dev, MRG_SHAPE(R, Hkv, cap, D), kc);
    mrg_tensor *vt = mrg_tensor_from_f32(dev, MRG_SHAPE(R, Hkv, cap, D), vc);
    mrg_tensor *rt = mrg_tensor_from_i32(dev, MRG_SHAPE(B), rows);
    mrg_tensor *got = mrg_tensor_new(dev, MRG_F32, 4, (const int64_t[]){B, H, Tq, D});
    CHECK(want && kt && vt && rt && got);
    if (want && kt && vt && rt && got) {
        mrg_sdpa_dims dims = {B, H, Hkv, Tq, Tk, D, D, R, cap, true, 0.3f};
        CHECK_OK(dev->be->sdpa(dev, &dims, mrg_ptr_of(q), mrg_ptr_of(kt), mrg_ptr_of(vt),
                               mrg_ptr_null(), mrg_ptr_of(rt), mrg_ptr_of(got), mrg_ptr_null()));
        float *a = test_download(got), *w = test_download(want);
        bool same = a && w && same_bits(a, w, B * H * Tq * D);
        if (!same) fprintf(stderr, "%s: sdpa through a row map differs\n", dname);
        CHECK(same);
        free(a);
        free(w);
    }
    mrg_step_reset(dev);
    mrg_grad_set_enabled(dev, true);
    free(kc);
    free(vc);
    free(ks);
    free(vs);
}

/* A key mask that wants a gradient: refused (no rule for it). */
static void test_refusals(mrg_device *dev) {
    float z[2 * 4] = {0};
    mrg_tensor *q = test_param_f32(dev, MRG_F32, MRG_SHAPE(1, 1, 2, 4), z, true, "q");
    mrg_tensor *m = test_param_f32(dev, MRG_F32, MRG_SHAPE(1, 2), z, true, "m");
    CHECK(mrg_sdpa(q, q, q, m, false, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "key_mask") != NULL);
    CHECK(mrg_sdpa_composed(q, q, q, m, false, 1.0f) != NULL); /* the composed one can */
    mrg_tensor *k0 = mrg_tensor_zeros(dev, MRG_F32, 4, (const int64_t[]){1, 1, 0, 4});
    CHECK(k0 == NULL || mrg_sdpa(q, k0, k0, NULL, false, 1.0f) == NULL); /* no keys */
    mrg_step_reset(dev);
    mrg_tensor_free(q);
    mrg_tensor_free(m);
}

int main(void) {
    for (test_device_iter it = {0}; test_next_device(&it);) {
        for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
            test_case(it.dev, it.name, &cases[i], i);
        test_rows(it.dev, it.name);
        test_refusals(it.dev);
    }
    return test_finish("sdpa_fused");
}
