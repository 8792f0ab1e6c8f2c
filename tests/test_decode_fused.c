/* The fused decoding ops (ops/decode.c) on every device against the CPU,
 * where each op is its composition of golden-tested ops:
 *   - mrg_linears (three weights of three dtypes in one call), mrg_swiglu_linear
 *     and mrg_linear_residual for 1..64 rows (several passes of the kernel's
 *     row block) and 65 rows (composed on every backend), against the
 *     composition written out here: bit for bit on the CPU, within
 *     RTOL · |want| + ATOL_REL · max |want| elsewhere;
 *   - mrg_rope_store_kv (both RoPE layouts, f32/bf16/f16 caches, rows out of
 *     order; 3 rows, and 20: two launches of 16 rows at most): the rotated q
 *     and the whole caches; on the CPU the stored keys
 *     are exactly mrg_rope's, rounded to the cache dtype; elsewhere within
 *     one rounding step of the cache dtype;
 *   - mrg_sdpa_decode (plain and grouped heads, with and without a key mask
 *     and a row map, every cache dtype) against mrg_sdpa_cache: bit for bit
 *     on the CPU, within RTOL elsewhere;
 *   - refusals: a row outside the cache, a length beyond it.
 * (Gradients: the fused kernels serve only calls without gradients; with
 * gradients every op is its recorded composition, checked by test_grad.) */
#include <math.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "testutil.h"

#define RTOL 1e-4
#define ATOL_REL 1e-5

/* got vs want (n floats): exact, or within tolerance rtol/atol_rel. */
static bool close_to(const char *what, const float *got, const float *want, int64_t n, bool exact,
                     double rtol, double atol_rel) {
    double mx = test_max_abs(want, n);
    for (int64_t i = 0; i < n; i++) {
        bool ok = exact ? memcmp(&got[i], &want[i], 4) == 0
                        : fabs((double)got[i] - want[i]) <= rtol * fabs(want[i]) + atol_rel * mx;
        if (!ok) {
            fprintf(stderr, "%s: element %lld: %.9g vs %.9g\n", what, (long long)i, got[i],
                    want[i]);
            return false;
        }
    }
    return true;
}

static float *host(const mrg_tensor *t) {
    float *h = t ? malloc(sizeof(float) * (size_t)mrg_numel(t)) : NULL;
    if (h && mrg_tensor_to_f32(t, h) != MRG_OK) {
        free(h);
        h = NULL;
    }
    CHECK(h != NULL);
    return h;
}

/* ---- GEMVs ------------------------------------------------------------------ */

static void test_gemvs(mrg_device *cpu, mrg_device *dev, const char *dname) {
    bool exact = dev == cpu;
    const int64_t K = 200, Nq = 24, Nk = 8, F = 40;
    float *xw = malloc(sizeof(float) * 65 * K), *wq = malloc(sizeof(float) * Nq * K);
    float *wk = malloc(sizeof(float) * Nk * K), *wv = malloc(sizeof(float) * Nk * K);
    float *wg = malloc(sizeof(float) * F * K), *wu = malloc(sizeof(float) * F * K);
    float *wd = malloc(sizeof(float) * K * F), *rr = malloc(sizeof(float) * 65 * K);
    test_fill_uniform(xw, 65 * K, 1, -1, 1);
    test_fill_uniform(wq, Nq * K, 2, -0.3f, 0.3f);
    test_fill_uniform(wk, Nk * K, 3, -0.3f, 0.3f);
    test_fill_uniform(wv, Nk * K, 4, -0.3f, 0.3f);
    test_fill_uniform(wg, F * K, 5, -0.3f, 0.3f);
    test_fill_uniform(wu, F * K, 6, -0.3f, 0.3f);
    test_fill_uniform(wd, K * F, 7, -0.3f, 0.3f);
    test_fill_uniform(rr, 65 * K, 8, -2, 2);
    mrg_device *ds[2] = {cpu, dev};
    mrg_tensor *W[2][7];
    for (int i = 0; i < 2; i++) {
        W[i][0] = test_param_f32(ds[i], MRG_F32, MRG_SHAPE(Nq, K), wq, false, "wq");
        W[i][1] = test_param_f32(ds[i], MRG_BF16, MRG_SHAPE(Nk, K), wk, false, "wk");
        W[i][2] = test_param_f32(ds[i], MRG_F16, MRG_SHAPE(Nk, K), wv, false, "wv");
        W[i][3] = test_param_f32(ds[i], MRG_BF16, MRG_SHAPE(F, K), wg, false, "wg");
        W[i][4] = test_param_f32(ds[i], MRG_BF16, MRG_SHAPE(F, K), wu, false, "wu");
        W[i][5] = test_param_f32(ds[i], MRG_F16, MRG_SHAPE(K, F), wd, false, "wd");
        W[i][6] = test_param_f32(ds[i], MRG_F32, MRG_SHAPE(Nq, K), wq, false, "wq2");
    }
    static const int64_t Ms[8] = {1, 3, 4, 5, 16, 17, 64, 65};
    for (int mi = 0; mi < 8; mi++) {
        int64_t M = Ms[mi];
        char what[320];
        /* the reference: the composition on the CPU */
        mrg_tensor *xc = mrg_tensor_from_f32(cpu, MRG_SHAPE(M, 1, K), xw);
        mrg_tensor *want3[3] = {mrg_linear(xc, W[0][0], NULL), mrg_linear(xc, W[0][1], NULL),
                                mrg_linear(xc, W[0][2], NULL)};
        mrg_tensor *hc = mrg_tensor_from_f32(cpu, MRG_SHAPE(M, 1, F), xw);
        mrg_tensor *wantg =
            mrg_mul(mrg_silu(mrg_linear(xc, W[0][3], NULL)), mrg_linear(xc, W[0][4], NULL));
        mrg_tensor *wantr =
            mrg_add(mrg_tensor_from_f32(cpu, MRG_SHAPE(M, 1, K), rr), mrg_linear(hc, W[0][5], NULL));
        /* the fused ops on dev */
        mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(M, 1, K), xw);
        mrg_tensor *h = mrg_tensor_from_f32(dev, MRG_SHAPE(M, 1, F), xw);
        mrg_tensor *got3[3];
        mrg_tensor *const w3[3] = {W[1][0], W[1][1], W[1][2]};
        CHECK_OK(mrg_linears(x, 3, w3, got3));
        mrg_tensor *gotg = mrg_swiglu_linear(x, W[1][3], W[1][4]);
        mrg_tensor *gotr =
            mrg_linear_residual(h, W[1][5], mrg_tensor_from_f32(dev, MRG_SHAPE(M, 1, K), rr));
        mrg_tensor *gots[5] = {got3[0], got3[1], got3[2], gotg, gotr};
        mrg_tensor *wants[5] = {want3[0], want3[1], want3[2], wantg, wantr};
        static const char *names[5] = {"linears q f32", "linears k bf16", "linears v f16",
                                       "swiglu_linear bf16", "linear_residual f16"};
        for (int j = 0; j < 5; j++) {
            CHECK(gots[j] && wants[j]);
            if (!gots[j] || !wants[j]) continue;
            CHECK(mrg_same_shape(gots[j], wants[j]));
            float *g = host(gots[j]), *w = host(wants[j]);
            snprintf(what, sizeof what, "%s %s M %lld", dname, names[j], (long long)M);
            if (g && w) CHECK(close_to(what, g, w, mrg_numel(wants[j]), exact, RTOL, ATOL_REL));
            free(g);
            free(w);
        }
        mrg_step_reset(cpu);
        mrg_step_reset(dev);
    }
    /* refusals: a weight that does not fit, other gate/up sizes */
    mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(1, F), xw), *o3[3];
    mrg_tensor *const bad[1] = {W[1][0]};
    CHECK(mrg_linears(x, 1, bad, o3) != MRG_OK);
    CHECK(strstr(mrg_last_error(), "expected x (..., in)") != NULL);
    x = mrg_tensor_from_f32(dev, MRG_SHAPE(1, K), xw);
    CHECK(mrg_swiglu_linear(x, W[1][3], W[1][6]) == NULL);
    CHECK(strstr(mrg_last_error(), "other output sizes") != NULL);
    mrg_step_reset(dev);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 7; j++) mrg_tensor_free(W[i][j]);
    free(xw), free(wq), free(wk), free(wv), free(wg), free(wu), free(wd), free(rr);
}

/* ---- RoPE + cache store, and decode attention --------------------------------- */

enum { R = 24, LMAX = 9, D = 8, BMAX = 20 };

/* Cache rows of nb batch rows: 3 out of order, or 20 in reverse. */
static const int32_t *rows_for(int64_t nb) {
    static const int32_t three[3] = {2, 0, 3};
    static int32_t twenty[BMAX];
    for (int i = 0; i < BMAX; i++) twenty[i] = R - 1 - i;
    return nb == 3 ? three : twenty;
}

/* A persistent cache (R, Hkv, LMAX, D) of dtype dt holding vals. */
static mrg_tensor *cache_of(mrg_device *dev, mrg_dtype dt, int64_t Hkv, const float *vals) {
    return test_param_f32(dev, dt, MRG_SHAPE(R, Hkv, LMAX, D), vals, false, "cache");
}

static void test_rope_store(mrg_device *cpu, mrg_device *dev, const char *dname) {
    const int64_t H = 4, Hkv = 2, pos = 5, n = R * Hkv * LMAX * D;
    float qh[BMAX * 4 * D], kh[BMAX * 2 * D], vh[BMAX * 2 * D], kc[R * 2 * LMAX * D],
        vc[R * 2 * LMAX * D];
    test_fill_uniform(qh, BMAX * H * D, 11, -1, 1);
    test_fill_uniform(kh, BMAX * Hkv * D, 12, -1, 1);
    test_fill_uniform(vh, BMAX * Hkv * D, 13, -1, 1);
    test_fill_uniform(kc, n, 14, -1, 1);
    test_fill_uniform(vc, n, 15, -1, 1);
    static const mrg_dtype dts[3] = {MRG_F32, MRG_BF16, MRG_F16};
    for (int64_t B = 3; B <= BMAX; B += BMAX - 3)
    for (int layout = 0; layout <= 1; layout++)
        for (int di = 0; di < 3; di++) {
            mrg_dtype dt = dts[di];
            const int32_t *rows = rows_for(B);
            mrg_device *ds[2] = {cpu, dev};
            float *q_out[2] = {0}, *k_out[2] = {0}, *v_out[2] = {0};
            for (int i = 0; i < 2; i++) {
                mrg_tensor *kt = cache_of(ds[i], dt, Hkv, kc), *vt = cache_of(ds[i], dt, Hkv, vc);
                mrg_tensor *q = mrg_tensor_from_f32(ds[i], MRG_SHAPE(B, H, 1, D), qh);
                mrg_tensor *k = mrg_tensor_from_f32(ds[i], MRG_SHAPE(B, Hkv, 1, D), kh);
                mrg_tensor *v = mrg_tensor_from_f32(ds[i], MRG_SHAPE(B, Hkv, 1, D), vh);
                mrg_tensor *qr = mrg_rope_store_kv(q, k, v, kt, vt, rows, pos, 10000.0f,
                                                   (mrg_rope_layout)layout);
                CHECK(qr != NULL);
                q_out[i] = host(qr);
                k_out[i] = host(kt);
                v_out[i] = host(vt);
                mrg_tensor_free(kt);
                mrg_tensor_free(vt);
                mrg_step_reset(ds[i]);
            }
            /* on the CPU: the keys are mrg_rope's, rounded to dt, at their rows */
            mrg_tensor *kr = mrg_rope(mrg_tensor_from_f32(cpu, MRG_SHAPE(B, 1, Hkv, D), kh), pos,
                                      10000.0f, (mrg_rope_layout)layout);
            float *kw = host(kr);
            mrg_step_reset(cpu);
            char what[320];
            snprintf(what, sizeof what, "%s rope_store_kv B %lld layout %d %s", dname,
                     (long long)B, layout, mrg_dtype_name(dt));
            bool ok = q_out[0] && q_out[1] && k_out[0] && k_out[1] && v_out[0] && v_out[1] && kw;
            CHECK(ok);
            if (!ok) continue;
            for (int64_t b = 0; b < B && dev == cpu; b++)
                for (int64_t h = 0; h < Hkv; h++)
                    for (int64_t d = 0; d < D; d++) {
                        float r = kw[(b * Hkv + h) * D + d];
                        float want = dt == MRG_BF16  ? mrg_bf16_to_f32(mrg_f32_to_bf16(r))
                                     : dt == MRG_F16 ? mrg_f16_to_f32(mrg_f32_to_f16(r))
                                                     : r;
                        float got = k_out[0][((rows[b] * Hkv + h) * LMAX + pos) * D + d];
                        CHECK(memcmp(&got, &want, 4) == 0);
                    }
            /* one rounding step of the cache dtype (f32: RTOL) */
            double rt = dt == MRG_BF16 ? 1.0 / 128 : dt == MRG_F16 ? 1.0 / 1024 : RTOL;
            bool exact = dev == cpu;
            CHECK(close_to(what, q_out[1], q_out[0], B * H * D, exact, RTOL, ATOL_REL));
            CHECK(close_to(what, k_out[1], k_out[0], n, exact, rt, ATOL_REL));
            CHECK(close_to(what, v_out[1], v_out[0], n, exact, rt, ATOL_REL));
            for (int i = 0; i < 2; i++) free(q_out[i]), free(k_out[i]), free(v_out[i]);
            free(kw);
        }
    /* refusal: a row outside the cache */
    mrg_tensor *kt = cache_of(dev, MRG_F32, Hkv, kc), *vt = cache_of(dev, MRG_F32, Hkv, vc);
    mrg_tensor *q = mrg_tensor_from_f32(dev, MRG_SHAPE(3, H, 1, D), qh);
    mrg_tensor *k = mrg_tensor_from_f32(dev, MRG_SHAPE(3, Hkv, 1, D), kh);
    CHECK(mrg_rope_store_kv(q, k, k, kt, vt, (const int32_t[]){0, 1, R}, pos, 1e4f,
                            MRG_ROPE_HALF) == NULL);
    CHECK(strstr(mrg_last_error(), "row 24") != NULL);
    CHECK(mrg_rope_store_kv(q, k, k, kt, vt, rows_for(3), LMAX, 1e4f, MRG_ROPE_HALF) == NULL);
    CHECK(strstr(mrg_last_error(), "positions") != NULL);
    mrg_tensor_free(kt);
    mrg_tensor_free(vt);
    mrg_step_reset(dev);
}

static void test_sdpa(mrg_device *cpu, mrg_device *dev, const char *dname) {
    const int64_t len = 7;
    float kc[R * 2 * LMAX * D], vc[R * 2 * LMAX * D], qh[BMAX * 4 * D], mk[BMAX * 7];
    test_fill_uniform(kc, R * 2 * LMAX * D, 21, -1, 1);
    test_fill_uniform(vc, R * 2 * LMAX * D, 22, -1, 1);
    test_fill_uniform(qh, BMAX * 4 * D, 23, -1.5f, 1.5f);
    for (int i = 0; i < BMAX * len; i++) mk[i] = (i % 5 == 2) ? -1e9f : 0.0f;
    static const mrg_dtype dts[3] = {MRG_F32, MRG_BF16, MRG_F16};
    for (int64_t B = 3; B <= BMAX; B += BMAX - 3)
    for (int64_t Hkv = 1; Hkv <= 2; Hkv++) /* H 4: grouped (G 4, G 2) */
        for (int masked = 0; masked <= 1; masked++)
            for (int pr = 0; pr <= 1; pr++)
                for (int di = 0; di < 3; di++) {
                    const int64_t H = 4;
                    const int32_t *rows = pr ? rows_for(B) : NULL;
                    float *out[2] = {0};
                    mrg_device *ds[2] = {cpu, dev};
                    for (int i = 0; i < 2; i++) {
                        mrg_tensor *kt = cache_of(ds[i], dts[di], Hkv, kc);
                        mrg_tensor *vt = cache_of(ds[i], dts[di], Hkv, vc);
                        mrg_tensor *q = mrg_tensor_from_f32(ds[i], MRG_SHAPE(B, H, 1, D), qh);
                        mrg_tensor *m =
                            masked ? mrg_tensor_from_f32(ds[i], MRG_SHAPE(B, len), mk) : NULL;
                        /* the CPU's reference is the composed op itself */
                        mrg_tensor *o = i == 0 && dev != cpu
                                            ? mrg_sdpa_cache(q, kt, vt, rows, len, m, true, 0.35f)
                                            : mrg_sdpa_decode(q, kt, vt, rows, len, m, 0.35f);
                        out[i] = host(o);
                        if (dev == cpu && i == 1) { /* bit for bit the composition */
                            float *w = host(mrg_sdpa_cache(q, kt, vt, rows, len, m, true, 0.35f));
                            if (w && out[1])
                                CHECK(close_to("cpu sdpa_decode", out[1], w, B * H * D, true, 0, 0));
                            free(w);
                        }
                        mrg_tensor_free(kt);
                        mrg_tensor_free(vt);
                        mrg_step_reset(ds[i]);
                    }
                    char what[320];
                    snprintf(what, sizeof what, "%s sdpa_decode B %lld Hkv %lld mask %d rows %d %s",
                             dname, (long long)B, (long long)Hkv, masked, pr,
                             mrg_dtype_name(dts[di]));
                    CHECK(out[0] && out[1]);
                    if (out[0] && out[1])
                        CHECK(close_to(what, out[1], out[0], B * H * D, dev == cpu, RTOL, ATOL_REL));
                    free(out[0]);
                    free(out[1]);
                }
    /* refusals */
    mrg_tensor *kt = cache_of(dev, MRG_F32, 2, kc), *vt = cache_of(dev, MRG_F32, 2, vc);
    mrg_tensor *q = mrg_tensor_from_f32(dev, MRG_SHAPE(3, 4, 1, D), qh);
    CHECK(mrg_sdpa_decode(q, kt, vt, NULL, LMAX + 1, NULL, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "positions") != NULL);
    CHECK(mrg_sdpa_decode(q, kt, vt, (const int32_t[]){0, R + 1, 1}, 3, NULL, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "row 25") != NULL);
    mrg_tensor_free(kt);
    mrg_tensor_free(vt);
    mrg_step_reset(dev);
}

int main(void) {
    char devs[8][32];
    int nd = test_devices(devs, 8);
    mrg_device *cpu = mrg_device_open("cpu");
    CHECK(cpu != NULL);
    if (!cpu) return test_finish("decode_fused");
    mrg_grad_set_enabled(cpu, false);
    for (int d = 0; d < nd; d++) {
        mrg_device *dev = strcmp(devs[d], "cpu") ? mrg_device_open(devs[d]) : cpu;
        CHECK(dev != NULL);
        if (!dev) continue;
        mrg_grad_set_enabled(dev, false);
        test_gemvs(cpu, dev, devs[d]);
        test_rope_store(cpu, dev, devs[d]);
        test_sdpa(cpu, dev, devs[d]);
        if (dev != cpu) mrg_device_free(dev);
    }
    mrg_device_free(cpu);
    return test_finish("decode_fused");
}
