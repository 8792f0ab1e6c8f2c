/* The bf16-mixed precision (mrg_set_precision, mrg.h ops), on every device:
 *   - the round-to-bf16 kernel equals the host's round to nearest even
 *     (ties, NaN, infinities, subnormals);
 *   - mrg_matmul forward and backward under bf16-mixed equal a float64
 *     product of the bf16-rounded operands (and of a rounded dC) to the
 *     f32 summation error, for shared and batched, transposed and not, f32
 *     and bf16 weights; on the CPU both the AVX512-BF16 kernel and the
 *     converted path (MRG_CPU_BF16=off) do;
 *   - a persistent weight's rounded copy follows an upload of new values;
 *   - the micro model's losses and gradients under bf16-mixed lie within
 *     stated tolerances of the float64 f32 reference and of PyTorch's bf16
 *     autocast on the same weights (tests/golden/model/expected*.safetensors,
 *     tools/ref/model_ref.py and bf16_ref.py); the tiny preset's within a
 *     stated tolerance of its own f32 loss and gradients, and its step
 *     needs no more arena memory than the f32 step;
 *   - the config key "precision". */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "models/model_internal.h"
#include "mrg/autograd.h"
#include "mrg/model.h"
#include "testutil.h"

/* ---- tolerances (what the test states) ---------------------------------
 * PRODUCT_TOL: a bf16-mixed product against float64 on the same rounded
 *   operands, relative to Σ|a·b| of each element: f32 summation only.
 * Model, bf16-mixed vs the f32 reference (float64 golden) on the same
 *   weights: losses within LOSS_VS_F32 (relative), the gradients of all
 *   parameters together within GRAD_VS_F32 (‖g − g_ref‖ / ‖g_ref‖), and
 *   each parameter's gradient within GRAD_PARAM_VS_F32 of its own norm
 *   (parameters whose gradient norm is below 1e-3 of the largest one are
 *   held to the same bound in absolute terms of 1e-3 of that largest one).
 * vs PyTorch autocast: LOSS_VS_AUTOCAST, GRAD_VS_AUTOCAST and
 *   GRAD_PARAM_VS_AUTOCAST likewise. Autocast also rounds each linear's
 *   output and the LLaMA's residual stream to bf16, which mrg keeps in f32,
 *   so autocast itself lies further from f32 than mrg does (measured here:
 *   autocast vs f32 gradients 8e-2 together, 0.27 for proj.norm.weight;
 *   mrg vs f32 2e-2 and 4e-2), and mrg vs autocast differ by about
 *   autocast's own distance (9e-2 together, 0.35 for proj.norm.weight);
 *   the bounds leave 1.5x of that. */
#define PRODUCT_TOL 2e-6
#define LOSS_VS_F32 1e-2
#define GRAD_VS_F32 5e-2
#define GRAD_PARAM_VS_F32 1.5e-1
#define LOSS_VS_AUTOCAST 2e-2
#define GRAD_VS_AUTOCAST 1.5e-1
#define GRAD_PARAM_VS_AUTOCAST 5e-1
/* tiny preset (random LLaMA kept in bf16 under bf16-mixed) vs its f32 run */
#define TINY_LOSS_VS_F32 1e-2
#define TINY_GRAD_VS_F32 5e-2

static float host_round(float x) { return mrg_bf16_to_f32(mrg_f32_to_bf16(x)); }

/* ---- the rounding kernel --------------------------------------------------- */

static void test_round(mrg_device *dev) {
    float x[16] = {1.0f, 1.00390625f /* tie: 1 + 2^-8 → 1 */, 1.01171875f /* tie → up */,
                   -3.14159265f, 1e-40f /* subnormal */, -1e-42f, 65504.0f, 3.3895e38f,
                   INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 1.0f + 1e-7f, 123456.789f, -7.8e-5f};
    mrg_tensor *t = mrg_tensor_from_f32(dev, MRG_SHAPE(16), x);
    mrg_tensor *r = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(16));
    CHECK(t && r);
    if (!t || !r) return;
    CHECK_OK(dev->be->unary(dev, MRG_UN_ROUND_BF16, mrg_ptr_of(t), mrg_ptr_of(r), 16, 0.0f));
    float *got = test_download(r);
    bool same = got != NULL;
    for (int i = 0; got && i < 16; i++) {
        float want = host_round(x[i]);
        bool ok = isnan(want) ? isnan(got[i]) : memcmp(&got[i], &want, sizeof want) == 0;
        if (!ok) fprintf(stderr, "  round_bf16(%g) = %g, want %g\n", (double)x[i], (double)got[i], (double)want);
        same &= ok;
    }
    CHECK(same);
    free(got);
    mrg_step_reset(dev);
}

/* ---- products ------------------------------------------------------------ */

typedef struct mm_case {
    const char *what;
    int64_t batch, M, N, K;
    bool ta, tb, shared;
    mrg_dtype bdt;
} mm_case;

/* element (i, j) of op(X) for X stored (rows, cols) row-major per batch */
static double at(const float *x, int64_t b, int64_t rows, int64_t cols, bool t, int64_t i,
                 int64_t j) {
    return t ? x[b * rows * cols + j * cols + i] : x[b * rows * cols + i * cols + j];
}

/* max over elements of |got − want| / Σ|terms| */
static double rel_err(const float *got, const double *want, const double *mag, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (mag[i] > 1e-30 ? mag[i] : 1e-30);
        if (e > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : e;
    }
    return worst;
}

static void run_case(mrg_device *dev, const mm_case *c, const char *path) {
    int64_t B = c->batch, M = c->M, N = c->N, K = c->K, nb = c->shared ? 1 : B;
    int64_t na = B * M * K, nbn = nb * K * N, nc = B * M * N;
    float *a = malloc(sizeof(float) * (size_t)na), *b = malloc(sizeof(float) * (size_t)nbn);
    float *g = malloc(sizeof(float) * (size_t)nc);
    test_fill_uniform(a, na, 11, -2, 2);
    test_fill_uniform(b, nbn, 12, -1, 1);
    test_fill_uniform(g, nc, 13, -1, 1);
    int64_t ashape[3] = {B, c->ta ? K : M, c->ta ? M : K};
    int64_t bshape[3] = {nb, c->tb ? N : K, c->tb ? K : N};
    mrg_tensor *ta = test_param_f32(dev, MRG_F32, 3, ashape, a, true, "a");
    mrg_tensor *tb = c->shared ? test_param_f32(dev, c->bdt, 2, bshape + 1, b, c->bdt == MRG_F32, "b")
                               : test_param_f32(dev, c->bdt, 3, bshape, b, c->bdt == MRG_F32, "b");
    mrg_tensor *tg = mrg_tensor_from_f32(dev, MRG_SHAPE(B, M, N), g);
    CHECK(ta && tb && tg);
    if (!ta || !tb || !tg) goto out;
    mrg_set_precision(dev, MRG_PRECISION_BF16_MIXED);
    mrg_tensor *y = mrg_matmul(ta, tb, c->ta, c->tb);
    mrg_tensor *loss = test_dot_loss(y, tg);
    mrg_set_precision(dev, MRG_PRECISION_F32); /* the backward keeps the forward's */
    CHECK(loss != NULL);
    if (!loss) goto out;
    CHECK_OK(mrg_backward(loss));
    float *gy = test_download(y), *ga = test_download(ta->grad);
    float *gb = tb->grad ? test_download(tb->grad) : NULL;
    /* float64 references on rounded operands (b stored bf16 is rounded already) */
    double *wy = calloc((size_t)nc, sizeof(double)), *my = calloc((size_t)nc, sizeof(double));
    double *wa = calloc((size_t)na, sizeof(double)), *ma = calloc((size_t)na, sizeof(double));
    double *wb = calloc((size_t)nbn, sizeof(double)), *mb = calloc((size_t)nbn, sizeof(double));
    for (int64_t i = 0; i < na; i++) a[i] = host_round(a[i]);
    for (int64_t i = 0; i < nbn; i++) b[i] = host_round(b[i]);
    for (int64_t i = 0; i < nc; i++) g[i] = host_round(g[i]);
    for (int64_t bi = 0; bi < B; bi++) {
        int64_t bj = c->shared ? 0 : bi;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                for (int64_t k = 0; k < K; k++) {
                    double p = at(a, bi, ashape[1], ashape[2], c->ta, i, k) *
                               at(b, bj, bshape[1], bshape[2], c->tb, k, j);
                    double gij = g[(bi * M + i) * N + j];
                    wy[(bi * M + i) * N + j] += p;
                    my[(bi * M + i) * N + j] += fabs(p);
                    /* dA(i,k) += g(i,j)·B(k,j); dB(k,j) += A(i,k)·g(i,j), at the stored place */
                    int64_t ia = c->ta ? bi * K * M + k * M + i : bi * M * K + i * K + k;
                    int64_t ib = c->tb ? bj * N * K + j * K + k : bj * K * N + k * N + j;
                    double pa = gij * at(b, bj, bshape[1], bshape[2], c->tb, k, j);
                    double pb = at(a, bi, ashape[1], ashape[2], c->ta, i, k) * gij;
                    wa[ia] += pa;
                    ma[ia] += fabs(pa);
                    wb[ib] += pb;
                    mb[ib] += fabs(pb);
                }
    }
    double ey = gy ? rel_err(gy, wy, my, nc) : INFINITY;
    double ea = ga ? rel_err(ga, wa, ma, na) : INFINITY;
    double eb = c->bdt == MRG_F32 ? (gb ? rel_err(gb, wb, mb, nbn) : INFINITY) : 0;
    printf("  %-28s %-10s y %.1e  dA %.1e  dB %.1e\n", c->what, path, ey, ea, eb);
    CHECK(ey <= PRODUCT_TOL && ea <= PRODUCT_TOL && eb <= PRODUCT_TOL);
    free(gy), free(ga), free(gb), free(wy), free(my), free(wa), free(ma), free(wb), free(mb);
out:
    mrg_step_reset(dev);
    mrg_tensor_free(ta);
    mrg_tensor_free(tb);
    free(a), free(b), free(g);
}

static const mm_case CASES[] = {
    {"linear 70x50x96", 1, 70, 50, 96, false, true, true, MRG_F32},
    {"linear bf16 weight", 2, 35, 50, 96, false, true, true, MRG_BF16},
    {"shared, b not transposed", 2, 40, 37, 64, false, false, true, MRG_F32},
    {"batched, trans_a", 3, 33, 40, 72, true, false, false, MRG_F32},
    {"batched, both transposed", 2, 48, 20, 100, true, true, false, MRG_F32},
    {"small (5x7x9)", 1, 5, 7, 9, false, true, true, MRG_F32},
    /* the AVX512-BF16 kernel's edges: two column blocks with a tail, odd K */
    {"wide 20x600x67", 1, 20, 600, 67, false, true, true, MRG_F32},
    {"batched trans_a 64x80x66", 2, 64, 80, 66, true, false, false, MRG_F32},
    /* op(B) packed from rows of B two at a time, odd K, a column tail */
    {"b not transposed, odd K 40x100x75", 1, 40, 100, 75, false, false, true, MRG_F32},
    {"bf16 b not transposed, odd K", 1, 40, 100, 75, false, false, true, MRG_BF16},
};

static void test_products(mrg_device *dev) {
    int n = (int)(sizeof CASES / sizeof CASES[0]);
    bool cpu = mrg_device_is_cpu(dev);
    for (int i = 0; i < n; i++) {
        run_case(dev, &CASES[i], cpu ? "native" : "device");
        if (cpu) { /* the converted path of CPUs without bf16 instructions */
            setenv("MRG_CPU_BF16", "off", 1);
            run_case(dev, &CASES[i], "converted");
            unsetenv("MRG_CPU_BF16");
        }
    }
}

/* The rounded copy of a persistent weight is made once per step and
 * follows an upload of new values. */
static void test_cache(mrg_device *dev) {
    float x[6] = {1, 2, 3, 4, 5, 6}, w1[6] = {1.001f, 0, 0, 0, 1, 0}, w2[6] = {2, 0, 0, 0, 3, 0};
    mrg_tensor *w = test_param_f32(dev, MRG_F32, MRG_SHAPE(2, 3), w1, true, "w");
    mrg_tensor *tx = mrg_tensor_from_f32(dev, MRG_SHAPE(2, 3), x);
    CHECK(w && tx);
    if (!w || !tx) return;
    mrg_set_precision(dev, MRG_PRECISION_BF16_MIXED);
    float *y1 = test_download(mrg_linear(tx, w, NULL));
    CHECK_OK(mrg_tensor_upload_f32(w, w2));
    float *y2 = test_download(mrg_linear(tx, w, NULL));
    mrg_set_precision(dev, MRG_PRECISION_F32);
    float want1[4] = {1.0f, 2.0f, 4.0f, 5.0f}; /* 1.001 rounds to 1 */
    float want2[4] = {2.0f, 6.0f, 8.0f, 15.0f};
    CHECK(y1 && y2 && test_close("cache, first weights", y1, want1, 4, 0, 0) &&
          test_close("cache, uploaded weights", y2, want2, 4, 0, 0));
    free(y1);
    free(y2);
    mrg_step_reset(dev);
    mrg_tensor_free(w);
}

/* ---- the models ------------------------------------------------------------ */

typedef struct grads {
    int n;
    const char *names[256];
    float *g[256];
    int64_t len[256];
    float loss[3];
    /* arena bytes the forward left (the activations the backward reads)
     * and the arena's peak over forward and backward */
    size_t kept, peak;
} grads;

static void grads_free(grads *r) {
    for (int i = 0; i < r->n; i++) free(r->g[i]);
    r->n = 0;
}

/* Losses and gradients of m on batch b. */
static bool run_model(mrg_model *m, const mrg_batch *b, grads *out) {
    mrg_device *dev = mrg_model_device(m);
    mrg_tensor *tp[256];
    memset(out, 0, sizeof *out);
    int nt = mrg_model_trainable(m, tp, out->names, 256);
    if (nt <= 0 || nt > 256 || mrg_zero_grad(tp, nt) != MRG_OK) return false;
    mrg_loss_parts lp;
    dev->arena_peak = dev->arena_used;
    bool ok = mrg_model_loss(m, b, &lp) == MRG_OK && mrg_tensor_item(lp.total, &out->loss[0]) == MRG_OK &&
              mrg_tensor_item(lp.lm, &out->loss[1]) == MRG_OK &&
              mrg_tensor_item(lp.con, &out->loss[2]) == MRG_OK;
    out->kept = dev->arena_used;
    ok = ok && mrg_backward(lp.total) == MRG_OK;
    out->peak = dev->arena_peak;
    for (int i = 0; ok && i < nt; i++) {
        out->g[i] = test_download(tp[i]->grad);
        out->len[i] = mrg_numel(tp[i]);
        ok = out->g[i] != NULL;
        out->n = i + 1;
    }
    mrg_step_reset(dev);
    mrg_zero_grad(tp, nt);
    return ok;
}

/* got vs want (same parameter order) as the tolerances above say. */
static void compare(const char *what, const grads *got, const grads *want, double loss_tol,
                    double grad_tol, double param_tol) {
    static const char *parts[3] = {"total", "lm", "con"};
    for (int i = 0; i < 3; i++) {
        double e = fabs((double)got->loss[i] - want->loss[i]) / fabs((double)want->loss[i]);
        printf("  %s: loss %-5s %.6f vs %.6f (rel %.1e)\n", what, parts[i], (double)got->loss[i],
               (double)want->loss[i], e);
        CHECK(e <= loss_tol);
    }
    CHECK(got->n == want->n && got->n > 0);
    double d2 = 0, r2 = 0, largest = 0, worst = 0;
    const char *worst_name = "";
    for (int p = 0; p < got->n && p < want->n; p++) {
        double n2 = 0;
        for (int64_t i = 0; i < want->len[p]; i++) n2 += (double)want->g[p][i] * want->g[p][i];
        if (sqrt(n2) > largest) largest = sqrt(n2);
    }
    for (int p = 0; p < got->n && p < want->n; p++) {
        CHECK(got->len[p] == want->len[p]);
        double pd = 0, pr = 0;
        for (int64_t i = 0; i < want->len[p] && got->len[p] == want->len[p]; i++) {
            double d = (double)got->g[p][i] - want->g[p][i];
            pd += d * d;
            pr += (double)want->g[p][i] * want->g[p][i];
        }
        d2 += pd;
        r2 += pr;
        double e = sqrt(pd) / fmax(sqrt(pr), 1e-3 * largest);
        if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e, worst_name = want->names[p];
    }
    double all = sqrt(d2 / r2);
    printf("  %s: %d gradients, together rel %.1e, worst parameter %s %.1e\n", what, got->n, all,
           worst_name, worst);
    CHECK(all <= grad_tol && worst <= param_tol);
}

/* The golden batch of tests/golden/model/expected.safetensors. */
static bool golden_batch(const mrg_st_file *exp, mrg_batch *b, grads *ref) {
    memset(b, 0, sizeof *b);
    const mrg_st_tensor *img = mrg_st_find(exp, "images"), *ids = mrg_st_find(exp, "report_ids");
    const mrg_st_tensor *len = mrg_st_find(exp, "report_len");
    if (!img || !ids || !len || img->ndim != 5 || ids->ndim != 2) return false;
    int64_t n;
    b->B = (int)img->shape[0];
    b->V = (int)img->shape[1];
    b->S = (int)img->shape[3];
    b->T = (int)ids->shape[1];
    b->images = test_golden_f32(exp, "images", &n);
    b->report_ids = malloc(ids->nbytes);
    b->report_len = malloc(len->nbytes);
    if (!b->images || !b->report_ids || !b->report_len) return false;
    memcpy(b->report_ids, ids->data, ids->nbytes);
    memcpy(b->report_len, len->data, len->nbytes);
    (void)ref;
    return true;
}

/* The losses and gradients of a golden file, in the order of names. */
static bool golden_grads(const mrg_st_file *f, const grads *like, grads *out) {
    memset(out, 0, sizeof *out);
    static const char *keys[3] = {"loss_total", "loss_lm", "loss_con"};
    for (int i = 0; i < 3; i++) {
        int64_t n;
        float *v = test_golden_f32(f, keys[i], &n);
        if (!v) return false;
        out->loss[i] = v[0];
        free(v);
    }
    for (int p = 0; p < like->n; p++) {
        char key[160];
        snprintf(key, sizeof key, "grad/%s", like->names[p]);
        out->names[p] = like->names[p];
        out->g[p] = test_golden_f32(f, key, &out->len[p]);
        out->n = p + 1;
        if (!out->g[p]) return false;
    }
    return true;
}

/* m's trainable weights into m2 (same names). */
static bool copy_trainable(mrg_model *from, mrg_model *to) {
    mrg_tensor *a[256], *b[256];
    const char *na[256], *nb[256];
    int n = mrg_model_trainable(from, a, na, 256), n2 = mrg_model_trainable(to, b, nb, 256);
    if (n != n2 || n <= 0 || n > 256) return false;
    for (int i = 0; i < n; i++)
        if (strcmp(na[i], nb[i]) || mrg_tensor_copy(b[i], a[i]) != MRG_OK) return false;
    return true;
}

static void test_micro(mrg_device *dev, const mrg_st_file *exp, const mrg_st_file *exp16) {
    mrg_batch b;
    CHECK(golden_batch(exp, &b, NULL));
    mrg_model *m32 = mrg_model_load(test_golden_path("model/ckpt"), dev);
    CHECK(m32 != NULL);
    if (!m32) goto out;
    /* the same weights under bf16-mixed, the LLaMA from the same files (held in bf16) */
    mrg_model_config cfg = *mrg_model_get_config(m32);
    cfg.precision = MRG_PRECISION_BF16_MIXED;
    char lm[4096];
    snprintf(lm, sizeof lm, "%s", test_golden_path("model/lm"));
    mrg_model *m16 = mrg_model_create(&cfg, dev, lm, NULL, NULL);
    CHECK(m16 && mrg_model_llama(m16)->tok_emb->dtype == MRG_BF16 && copy_trainable(m32, m16));
    grads f32 = {0}, mixed = {0}, gold = {0}, gold16 = {0};
    if (m16 && run_model(m16, &b, &mixed) && run_model(m32, &b, &f32)) {
        CHECK(golden_grads(exp, &mixed, &gold) && golden_grads(exp16, &mixed, &gold16));
        compare("micro f32 vs float64 golden", &f32, &gold, 1e-4, 1e-4, 1e-3);
        compare("micro bf16-mixed vs f32 golden", &mixed, &gold, LOSS_VS_F32, GRAD_VS_F32,
                GRAD_PARAM_VS_F32);
        compare("micro bf16-mixed vs torch autocast", &mixed, &gold16, LOSS_VS_AUTOCAST,
                GRAD_VS_AUTOCAST, GRAD_PARAM_VS_AUTOCAST);
        /* for scale: how far autocast itself lies from f32 (not checked) */
        int failures = mrg_test_failures;
        compare("(torch autocast vs f32 golden)", &gold16, &gold, 1, 1, 1e9);
        mrg_test_failures = failures;
        CHECK(mixed.loss[0] != f32.loss[0]); /* it did run in bf16 */
    } else {
        CHECK(false);
    }
    grads_free(&f32), grads_free(&mixed), grads_free(&gold), grads_free(&gold16);
    mrg_model_free(m16);
    mrg_model_free(m32);
out:
    free(b.images), free(b.report_ids), free(b.report_len);
}

/* tiny: bf16-mixed against f32 on the same weights (the random LLaMA of
 * the same seed, kept in bf16 by the bf16-mixed model). */
static void test_tiny(mrg_device *dev) {
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("tiny", &cfg));
    const char *tok = test_golden_path("model/lm/tokenizer.model");
    char tokp[4096];
    snprintf(tokp, sizeof tokp, "%s", tok);
    mrg_model *m32 = mrg_model_create(&cfg, dev, NULL, NULL, tokp);
    cfg.precision = MRG_PRECISION_BF16_MIXED;
    mrg_model *m16 = mrg_model_create(&cfg, dev, NULL, NULL, tokp);
    CHECK(m32 && m16 && copy_trainable(m32, m16));
    if (!m32 || !m16) goto out;
    mrg_batch b = {.B = 2, .V = cfg.n_views, .S = cfg.vit.image_size, .T = 12};
    size_t ni = (size_t)b.B * b.V * 3 * b.S * b.S;
    b.images = malloc(ni * sizeof(float));
    b.report_ids = malloc(sizeof(int32_t) * (size_t)(b.B * b.T));
    b.report_len = malloc(sizeof(int) * (size_t)b.B);
    test_fill_uniform(b.images, (int64_t)ni, 5, -1, 1);
    for (int i = 0; i < b.B * b.T; i++) b.report_ids[i] = 3 + (i * 37) % 90;
    b.report_len[0] = b.T;
    b.report_len[1] = b.T - 3;
    for (int t = b.T - 3; t < b.T; t++) b.report_ids[b.T + t] = -1;
    b.report_ids[b.T - 1] = 2;
    b.report_ids[2 * b.T - 4] = 2;
    grads f32 = {0}, mixed = {0};
    CHECK(run_model(m32, &b, &f32) && run_model(m16, &b, &mixed));
    compare("tiny bf16-mixed vs f32", &mixed, &f32, TINY_LOSS_VS_F32, TINY_GRAD_VS_F32,
            GRAD_PARAM_VS_F32);
    /* the step's memory: bf16-mixed keeps no rounded copies (of activations
     * or weights) beside their f32 originals, so it needs no more arena
     * than f32, after the forward and at its peak (it needed 1.4 times
     * f32's before the rounded operands became temporaries) */
    printf("  tiny step arena: f32 keeps %zu, peak %zu; bf16-mixed keeps %zu, peak %zu\n",
           f32.kept, f32.peak, mixed.kept, mixed.peak);
    CHECK(mixed.kept > 0 && mixed.kept <= f32.kept);
    CHECK(mixed.peak <= f32.peak);
    grads_free(&f32), grads_free(&mixed);
    free(b.images), free(b.report_ids), free(b.report_len);
out:
    mrg_model_free(m16);
    mrg_model_free(m32);
}

static void test_config(void) {
    mrg_model_config c;
    CHECK_OK(mrg_model_preset("micro", &c));
    CHECK(c.precision == MRG_PRECISION_F32);
    CHECK_OK(mrg_model_config_apply_json(&c, "{\"precision\": \"bf16-mixed\"}"));
    CHECK(c.precision == MRG_PRECISION_BF16_MIXED);
    char *j = mrg_model_config_to_json(&c);
    CHECK(j && strstr(j, "\"precision\":\t\"bf16-mixed\""));
    mrg_model_config d;
    CHECK_OK(mrg_model_preset("micro", &d));
    CHECK(j && mrg_model_config_apply_json(&d, j) == MRG_OK && d.precision == MRG_PRECISION_BF16_MIXED);
    free(j);
    CHECK(mrg_model_config_apply_json(&c, "{\"precision\": \"fp8\"}") == MRG_ERR_FORMAT);
    CHECK(strstr(mrg_last_error(), "precision") != NULL);
    mrg_precision p;
    CHECK(mrg_precision_parse("bf16", &p) == MRG_ERR_INVALID_ARG);
    CHECK(!strcmp(mrg_precision_name(MRG_PRECISION_BF16_MIXED), "bf16-mixed"));
}

int main(void) {
    test_config();
    mrg_st_file *exp = test_golden_open("model/expected.safetensors");
    mrg_st_file *exp16 = test_golden_open("model/expected_bf16.safetensors");
    for (test_device_iter it = {0}; test_next_device(&it);) {
        printf("%s\n", it.name);
        test_round(it.dev);
        test_products(it.dev);
        test_cache(it.dev);
        if (exp && exp16) test_micro(it.dev, exp, exp16);
        test_tiny(it.dev);
    }
    mrg_st_close(exp);
    mrg_st_close(exp16);
    return test_finish("bf16_mixed");
}
