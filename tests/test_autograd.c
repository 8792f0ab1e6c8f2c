/* Autograd semantics on every test device: no_grad scopes, the tape size,
 * gradient accumulation across micro-batches and mrg_zero_grad, frozen
 * parameters (no gradient buffer, but gradients flow through them), a value
 * used twice, backward_scaled, a watched backward (each parameter's
 * gradient reported complete once, when nothing more will add to it, also
 * through an activation checkpoint), and errors instead of aborts. */
#include <string.h>

#include "testutil.h"

/* Host reference of y = x · wᵀ for x (n, k), w (m, k). */
static void host_matmul_t(const float *x, const float *w, float *y, int n, int k, int m) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int t = 0; t < k; t++) s += (double)x[i * k + t] * w[j * k + t];
            y[i * m + j] = (float)s;
        }
}

/* loss = Σ out (a (1) tensor). */
static mrg_tensor *sum_all(mrg_tensor *out) {
    if (!out) return NULL;
    return mrg_sum(mrg_reshape(out, MRG_SHAPE(1, mrg_numel(out))), 1, false);
}

static void test_no_grad_and_tape(mrg_device *dev) {
    float xv[6] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f};
    mrg_tensor *p = test_param_f32(dev, MRG_F32, MRG_SHAPE(2, 3), xv, true, "p");
    mrg_tensor *c = test_param_f32(dev, MRG_F32, MRG_SHAPE(2, 3), xv, false, "c");
    if (!p || !c) goto out;
    CHECK(p->trainable && p->requires_grad && p->grad != NULL);
    CHECK(!c->trainable && !c->requires_grad && c->grad == NULL);

    mrg_step_reset(dev);
    CHECK(mrg_grad_enabled(dev));
    CHECK(mrg_tape_size(dev) == 0);

    /* ops on tensors that need no gradient record nothing */
    mrg_tensor *y = mrg_gelu(mrg_mul(c, c));
    CHECK(y && !y->requires_grad);
    CHECK(mrg_tape_size(dev) == 0);

    /* each op on a parameter records one node */
    y = mrg_mul(p, c);
    CHECK(y && y->requires_grad);
    CHECK(mrg_tape_size(dev) == 1);
    y = mrg_gelu(y);
    CHECK(mrg_tape_size(dev) == 2);

    /* no_grad scope: nothing is recorded and results need no gradient */
    bool prev = mrg_grad_set_enabled(dev, false);
    CHECK(prev == true);
    CHECK(!mrg_grad_enabled(dev));
    mrg_tensor *z = mrg_silu(mrg_mul(p, p));
    CHECK(z && !z->requires_grad);
    CHECK(mrg_tape_size(dev) == 2);
    /* the forward is still computed: silu(p²) */
    float zh[6];
    CHECK(z && mrg_tensor_to_f32(z, zh) == MRG_OK);
    for (int i = 0; z && i < 6; i++) {
        double v = (double)xv[i] * xv[i];
        CHECK(fabs(zh[i] - v / (1 + exp(-v))) < 1e-5 * (1 + fabs(v)));
    }
    CHECK(mrg_grad_set_enabled(dev, prev) == false);
    CHECK(mrg_grad_enabled(dev));

    /* step_reset clears the tape */
    mrg_step_reset(dev);
    CHECK(mrg_tape_size(dev) == 0);
out:
    mrg_tensor_free(p);
    mrg_tensor_free(c);
    mrg_step_reset(dev);
}

/* Two micro-batches through one linear layer: the parameter gradients are
 * the sum of both (kept across mrg_step_reset), until mrg_zero_grad. */
static void test_accumulation(mrg_device *dev) {
    enum { N = 3, K = 4, M = 2 };
    float wv[M * K], x1[N * K], x2[N * K];
    test_fill_uniform(wv, M * K, 1, -1, 1);
    test_fill_uniform(x1, N * K, 2, -1, 1);
    test_fill_uniform(x2, N * K, 3, -1, 1);
    mrg_tensor *w = test_param_f32(dev, MRG_F32, MRG_SHAPE(M, K), wv, true, "w");
    if (!w) return;
    /* d/dw Σ (x wᵀ) = column sums of x, one row per output */
    float want[M * K], want1[M * K];
    for (int j = 0; j < M; j++)
        for (int t = 0; t < K; t++) {
            double s1 = 0, s2 = 0;
            for (int i = 0; i < N; i++) s1 += x1[i * K + t], s2 += x2[i * K + t];
            want1[j * K + t] = (float)s1;
            want[j * K + t] = (float)(s1 + s2);
        }
    const float *xs[2] = {x1, x2};
    for (int b = 0; b < 2; b++) {
        mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(N, K), xs[b]);
        mrg_tensor *loss = sum_all(mrg_linear(x, w, NULL));
        CHECK(loss != NULL);
        if (loss) CHECK_OK(mrg_backward(loss));
        mrg_step_reset(dev);
        if (b == 0) CHECK(test_tensor_close("grad after micro-batch 1", w->grad, want1, 1e-5, 1e-6));
    }
    CHECK(w->grad != NULL);
    CHECK(test_tensor_close("grad accumulated over 2 micro-batches", w->grad, want, 1e-5, 1e-6));

    /* the scaled seed: backward_scaled(loss, 0.5) adds half the gradient */
    mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(N, K), x1);
    mrg_tensor *loss = sum_all(mrg_linear(x, w, NULL));
    CHECK(loss && mrg_backward_scaled(loss, 0.5f) == MRG_OK);
    mrg_step_reset(dev);
    float want3[M * K];
    for (int i = 0; i < M * K; i++) want3[i] = want[i] + 0.5f * want1[i];
    CHECK(test_tensor_close("grad after backward_scaled", w->grad, want3, 1e-5, 1e-6));

    CHECK_OK(mrg_zero_grad(&w, 1));
    float zero[M * K] = {0};
    CHECK(test_tensor_close("grad after zero_grad", w->grad, zero, 0, 0));
    mrg_tensor_free(w);
}

/* Frozen weights (f32 and bf16) get no gradient buffer; the input's
 * gradient flows through them: d/dx Σ g·(x wᵀ) = g·w. */
static void test_frozen(mrg_device *dev) {
    enum { N = 3, K = 5, M = 4 };
    float xv[N * K], wv[M * K], gv[N * M];
    test_fill_uniform(xv, N * K, 4, -1, 1);
    test_fill_uniform(wv, M * K, 5, -1, 1);
    test_fill_uniform(gv, N * M, 6, -1, 1);
    const mrg_dtype dts[2] = {MRG_F32, MRG_BF16};
    for (int d = 0; d < 2; d++) {
        mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(N, K), xv, true, "x");
        mrg_tensor *w = test_param_f32(dev, dts[d], MRG_SHAPE(M, K), wv, false, "w");
        mrg_tensor *g = test_param_f32(dev, MRG_F32, MRG_SHAPE(N, M), gv, false, "g");
        if (!x || !w || !g) goto next;
        CHECK(w->grad == NULL && !w->requires_grad);
        /* the weight as actually stored */
        float ws[M * K];
        CHECK_OK(mrg_tensor_to_f32(w, ws));
        mrg_tensor *y = mrg_linear(x, w, NULL);
        CHECK(y && y->requires_grad);
        mrg_tensor *loss = test_dot_loss(y, g);
        CHECK(loss && mrg_backward(loss) == MRG_OK);
        CHECK(w->grad == NULL);
        float want[N * K];
        for (int i = 0; i < N; i++)
            for (int t = 0; t < K; t++) {
                double s = 0;
                for (int j = 0; j < M; j++) s += (double)gv[i * M + j] * ws[j * K + t];
                want[i * K + t] = (float)s;
            }
        CHECK(test_tensor_close(d ? "dx through frozen bf16 w" : "dx through frozen f32 w",
                                x->grad, want, 1e-5, 1e-6));
        /* forward agrees with the host */
        float yw[N * M];
        host_matmul_t(xv, ws, yw, N, K, M);
        CHECK(test_tensor_close("frozen forward", y, yw, 1e-5, 1e-6));
    next:
        mrg_tensor_free(x);
        mrg_tensor_free(w);
        mrg_tensor_free(g);
        mrg_step_reset(dev);
    }
}

/* y = x·x + x uses x three times: dy/dx = 2x + 1 (gradients add up). */
static void test_reuse(mrg_device *dev) {
    float xv[5] = {-2.0f, -0.5f, 0.0f, 0.75f, 3.0f};
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(5), xv, true, "x");
    if (!x) return;
    mrg_tensor *loss = sum_all(mrg_add(mrg_mul(x, x), x));
    CHECK(loss && mrg_backward(loss) == MRG_OK);
    float want[5];
    for (int i = 0; i < 5; i++) want[i] = 2 * xv[i] + 1;
    CHECK(test_tensor_close("reuse grad", x->grad, want, 1e-6, 1e-7));
    float lv = 0;
    CHECK(loss && mrg_tensor_item(loss, &lv) == MRG_OK);
    double s = 0;
    for (int i = 0; i < 5; i++) s += (double)xv[i] * xv[i] + xv[i];
    CHECK(fabs(lv - s) < 1e-5);
    mrg_tensor_free(x);
    mrg_step_reset(dev);
}

/* What a watched backward reported: the order, a copy of each gradient
 * at the moment it was called complete, the ticks. */
enum { WATCHED = 4, WATCH_MAX = 64 };
typedef struct watch_log {
    mrg_tensor *const *params;
    int order[WATCHED], calls, ticks;
    float seen[WATCHED][WATCH_MAX];
} watch_log;

static mrg_status on_complete(void *ctx, int i) {
    watch_log *w = ctx;
    CHECK(i >= 0 && i < WATCHED && w->calls < WATCHED);
    if (i < 0 || i >= WATCHED || w->calls >= WATCHED) return MRG_OK;
    w->order[w->calls++] = i;
    CHECK(mrg_numel(w->params[i]) <= WATCH_MAX);
    if (w->params[i]->grad) CHECK_OK(mrg_tensor_to_f32(w->params[i]->grad, w->seen[i]));
    return MRG_OK;
}

static mrg_status on_tick(void *ctx) {
    ((watch_log *)ctx)->ticks++;
    return MRG_OK;
}

/* the checkpointed block: x·s, s a (M) parameter */
static mrg_tensor *scale_block(void *ctx, mrg_tensor *x) { return mrg_mul(x, (mrg_tensor *)ctx); }

/* loss = g · (lin(lin(x, w1)·s, w2) + lin(x, w1)) with w1 read twice, s
 * inside an activation checkpoint (when asked), and w3 never read. Each
 * gradient must be reported once and be final when reported: what was seen
 * then equals the gradient after the backward, bit for bit. */
static void test_watched(mrg_device *dev, bool checkpointed) {
    enum { N = 3, K = 4, M = 5 };
    float xv[N * K], w1v[M * K], w2v[M * M], sv[M], w3v[6], gv[N * M];
    test_fill_uniform(xv, N * K, 11, -1, 1);
    test_fill_uniform(w1v, M * K, 12, -1, 1);
    test_fill_uniform(w2v, M * M, 13, -1, 1);
    test_fill_uniform(sv, M, 14, 0.5f, 1.5f);
    test_fill_uniform(w3v, 6, 15, -1, 1);
    test_fill_uniform(gv, N * M, 16, -1, 1);
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(N, K), xv, false, "x");
    mrg_tensor *w1 = test_param_f32(dev, MRG_F32, MRG_SHAPE(M, K), w1v, true, "w1");
    mrg_tensor *w2 = test_param_f32(dev, MRG_F32, MRG_SHAPE(M, M), w2v, true, "w2");
    mrg_tensor *s = test_param_f32(dev, MRG_F32, MRG_SHAPE(M), sv, true, "s");
    mrg_tensor *w3 = test_param_f32(dev, MRG_F32, MRG_SHAPE(6), w3v, true, "w3");
    mrg_tensor *g = test_param_f32(dev, MRG_F32, MRG_SHAPE(N, M), gv, false, "g");
    mrg_tensor *params[WATCHED] = {w1, w2, s, w3};
    if (!x || !w1 || !w2 || !s || !w3 || !g) goto out;
    CHECK_OK(mrg_zero_grad(params, WATCHED));
    mrg_tensor *h = mrg_linear(x, w1, NULL);
    mrg_tensor *hs = checkpointed ? mrg_checkpoint(h, scale_block, s) : scale_block(s, h);
    mrg_tensor *y = mrg_add(mrg_linear(hs, w2, NULL), mrg_linear(x, w1, NULL));
    mrg_tensor *loss = test_dot_loss(y, g);
    CHECK(loss != NULL);
    if (!loss) goto out;
    int nodes = mrg_tape_size(dev);
    watch_log log = {.params = params};
    mrg_grad_watch watch = {params, WATCHED, on_complete, on_tick, &log};
    CHECK_OK(mrg_backward_watched(loss, 1.0f, &watch));
    CHECK(log.calls == WATCHED);
    CHECK(log.ticks == nodes);
    for (int a = 0; a < log.calls; a++)
        for (int b = 0; b < a; b++) CHECK(log.order[a] != log.order[b]);
    /* w3 is read by nothing: reported first (with a checkpoint on the
     * tape, not before the walk has passed it: its recompute might read it) */
    if (!checkpointed) CHECK(log.calls > 0 && log.order[0] == 3);
    /* w2's last use comes after w1's first: reported before w1 */
    int at[WATCHED] = {0};
    for (int a = 0; a < log.calls; a++) at[log.order[a]] = a;
    CHECK(at[1] < at[0]);
    for (int i = 0; i < WATCHED; i++) {
        float now[WATCH_MAX];
        CHECK_OK(mrg_tensor_to_f32(params[i]->grad, now));
        CHECK(memcmp(now, log.seen[i], sizeof(float) * (size_t)mrg_numel(params[i])) == 0);
    }
    /* and the gradients are those of a plain backward */
    float want[WATCHED][WATCH_MAX];
    for (int i = 0; i < WATCHED; i++) CHECK_OK(mrg_tensor_to_f32(params[i]->grad, want[i]));
    mrg_step_reset(dev);
    CHECK_OK(mrg_zero_grad(params, WATCHED));
    h = mrg_linear(x, w1, NULL);
    hs = checkpointed ? mrg_checkpoint(h, scale_block, s) : scale_block(s, h);
    y = mrg_add(mrg_linear(hs, w2, NULL), mrg_linear(x, w1, NULL));
    loss = test_dot_loss(y, g);
    CHECK(loss && mrg_backward(loss) == MRG_OK);
    for (int i = 0; i < WATCHED; i++) {
        float now[WATCH_MAX];
        CHECK_OK(mrg_tensor_to_f32(params[i]->grad, now));
        CHECK(memcmp(now, want[i], sizeof(float) * (size_t)mrg_numel(params[i])) == 0);
    }
out:
    mrg_tensor_free(x);
    mrg_tensor_free(w1);
    mrg_tensor_free(w2);
    mrg_tensor_free(s);
    mrg_tensor_free(w3);
    mrg_tensor_free(g);
    mrg_step_reset(dev);
}

/* Misuse gives an error status, not an abort. */
static void test_errors(mrg_device *dev) {
    float xv[4] = {1, 2, 3, 4};
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(2, 2), xv, true, "x");
    if (!x) return;
    mrg_tensor *y = mrg_mul(x, x); /* 4 elements: not a scalar loss */
    CHECK(y != NULL);
    mrg_clear_error();
    CHECK(mrg_backward(y) != MRG_OK);
    CHECK(strlen(mrg_last_error()) > 0);
    mrg_clear_error();
    CHECK(mrg_backward(NULL) != MRG_OK);
    /* ops propagate NULL */
    CHECK(mrg_gelu(NULL) == NULL);
    CHECK(mrg_add(x, NULL) == NULL);
    /* bad shapes and ids: NULL with a message */
    float bv[6] = {0};
    mrg_tensor *b = mrg_tensor_from_f32(dev, MRG_SHAPE(3, 2), bv);
    mrg_clear_error();
    CHECK(mrg_matmul(x, b, false, false) == NULL); /* (2,2)·(3,2): K differs */
    CHECK(strlen(mrg_last_error()) > 0);
    mrg_clear_error();
    CHECK(mrg_add(x, b) == NULL); /* (2,2) + (3,2) do not broadcast */
    CHECK(strlen(mrg_last_error()) > 0);
    int32_t ids[3] = {0, 5, 1};   /* 5 is outside a (2, 2) table */
    mrg_tensor *it = mrg_tensor_from_i32(dev, MRG_SHAPE(3), ids);
    mrg_clear_error();
    CHECK(it && mrg_embedding(x, it) == NULL);
    CHECK(strlen(mrg_last_error()) > 0);
    mrg_tensor_free(x);
    mrg_step_reset(dev);
}

int main(void) {
    test_device_iter it = {0};
    while (test_next_device(&it)) {
        mrg_device *dev = it.dev;
        int before = mrg_test_failures;
        test_no_grad_and_tape(dev);
        test_accumulation(dev);
        test_frozen(dev);
        test_reuse(dev);
        test_watched(dev, false);
        test_watched(dev, true);
        test_errors(dev);
        fprintf(stderr, "%s: %d failures\n", it.name, mrg_test_failures - before);
    }
    return it.count ? test_finish("test_autograd") : TEST_SKIP;
}
