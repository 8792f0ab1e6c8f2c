/* pretrain-vit's head losses (lib/train/vit_head_loss.c), on every test
 * device, at random logits and targets:
 *   - the value against the formula computed in double on the host, for
 *     cross-entropy and squared error, at pos_weight 1 and 4;
 *   - cross-entropy at pos_weight 1 against mrg_cross_entropy;
 *   - the gradient with respect to the logits against its closed form on
 *     the host (cross-entropy: w_i/Σw·(softmax − onehot); squared error:
 *     w_i/Σw·(logits − goals)) and against central differences of the
 *     device's own loss (h = 1e-2). */
#include <math.h>
#include <stdlib.h>

#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "testutil.h"
#include "train/vit_head_loss.h"

#define N 21 /* three studies of seven findings */

/* the loss in double on the host, and its gradient into grad (N, 2) */
static double host_loss(const float *l, const int32_t *t, float pos_weight, mrg_vit_head_loss kind,
                        double *grad) {
    double total = 0, loss = 0;
    for (int i = 0; i < N; i++) total += t[i] ? pos_weight : 1.0;
    for (int i = 0; i < N; i++) {
        double w = (t[i] ? pos_weight : 1.0) / total, a = l[2 * i], b = l[2 * i + 1];
        if (kind == MRG_VIT_HEAD_SQUARED) {
            double s0 = t[i] ? -1 : 1, s1 = -s0;
            loss += w * 0.5 * ((a - s0) * (a - s0) + (b - s1) * (b - s1));
            grad[2 * i] = w * (a - s0);
            grad[2 * i + 1] = w * (b - s1);
        } else {
            double m = fmax(a, b), lse = m + log(exp(a - m) + exp(b - m));
            loss -= w * ((t[i] ? b : a) - lse);
            grad[2 * i] = w * (exp(a - lse) - (t[i] ? 0 : 1));
            grad[2 * i + 1] = w * (exp(b - lse) - (t[i] ? 1 : 0));
        }
    }
    return loss;
}

static float device_loss(mrg_device *dev, mrg_tensor *x, const int32_t *t, float pw, mrg_vit_head_loss kind) {
    float v = NAN;
    mrg_tensor *loss = vit_head_loss(dev, x, t, N, pw, kind);
    if (loss) mrg_tensor_to_f32(loss, &v);
    mrg_step_reset(dev);
    return v;
}

static void check_case(mrg_device *dev, const float *l, const int32_t *t, float pw, mrg_vit_head_loss kind) {
    const char *name = kind == MRG_VIT_HEAD_SQUARED ? "squared" : "cross-entropy";
    double want_grad[2 * N];
    double want = host_loss(l, t, pw, kind, want_grad);
    mrg_tensor *x = test_param_f32(dev, MRG_F32, 2, (int64_t[]){N, 2}, l, true, "logits");
    if (!x) return;
    mrg_tensor *loss = vit_head_loss(dev, x, t, N, pw, kind);
    CHECK(loss != NULL);
    float got = NAN;
    if (loss) CHECK_OK(mrg_tensor_to_f32(loss, &got));
    if (!(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)))) {
        fprintf(stderr, "FAIL %s %s pos_weight %g: loss %.8g, host %.8g\n", mrg_device_name(dev), name, pw, got,
                want);
        CHECK(false);
    }
    if (loss) CHECK_OK(mrg_backward(loss));
    mrg_step_reset(dev);
    float *g = x->grad ? test_download(x->grad) : NULL;
    CHECK(g != NULL);
    bool prev = mrg_grad_set_enabled(dev, false);
    float xs[2 * N];
    for (int j = 0; g && j < 2 * N; j++) {
        bool ok = fabs(g[j] - want_grad[j]) <= 1e-5 + 1e-4 * fabs(want_grad[j]);
        for (int k = 0; k < 2 * N; k++) xs[k] = l[k];
        xs[j] = l[j] + 1e-2f;
        CHECK_OK(mrg_tensor_upload_f32(x, xs));
        double lp = device_loss(dev, x, t, pw, kind);
        xs[j] = l[j] - 1e-2f;
        CHECK_OK(mrg_tensor_upload_f32(x, xs));
        double lm = device_loss(dev, x, t, pw, kind);
        double num = (lp - lm) / ((double)(l[j] + 1e-2f) - (double)(l[j] - 1e-2f));
        ok = ok && fabs(g[j] - num) <= 1e-3 * fabs(num) + 2e-4;
        if (!ok)
            fprintf(stderr, "FAIL %s %s pos_weight %g: d/dlogit[%d] %.6g, closed form %.6g, differences %.6g\n",
                    mrg_device_name(dev), name, pw, j, g[j], want_grad[j], num);
        CHECK(ok);
    }
    mrg_grad_set_enabled(dev, prev);
    free(g);
    mrg_tensor_free(x);
}

/* cross-entropy at pos_weight 1 is mrg_cross_entropy (the plain mean) */
static void check_plain(mrg_device *dev, const float *l, const int32_t *t) {
    float ti[N];
    for (int i = 0; i < N; i++) ti[i] = (float)t[i];
    mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(N, 2), l);
    mrg_tensor *ids = test_param_f32(dev, MRG_I32, 1, (int64_t[]){N}, ti, false, "targets");
    float a = NAN, b = NAN;
    mrg_tensor *la = vit_head_loss(dev, x, t, N, 1.0f, MRG_VIT_HEAD_CROSS_ENTROPY);
    mrg_tensor *lb = ids ? mrg_cross_entropy(x, ids, -1) : NULL;
    CHECK(la && lb && mrg_tensor_to_f32(la, &a) == MRG_OK && mrg_tensor_to_f32(lb, &b) == MRG_OK);
    CHECK(fabsf(a - b) <= 1e-6f * fmaxf(1.0f, fabsf(b)));
    mrg_tensor_free(ids);
    mrg_step_reset(dev);
}

int main(void) {
    float l[2 * N];
    int32_t t[N];
    test_fill_uniform(l, 2 * N, 7, -2.0f, 2.0f);
    for (int i = 0; i < N; i++) t[i] = (i * 5 + 3) % 7 < 2; /* about 2 in 7 positive */
    for (test_device_iter it = {0}; test_next_device(&it);) {
        for (int k = 0; k < 2; k++) {
            mrg_vit_head_loss kind = k ? MRG_VIT_HEAD_SQUARED : MRG_VIT_HEAD_CROSS_ENTROPY;
            check_case(it.dev, l, t, 1.0f, kind);
            check_case(it.dev, l, t, 4.0f, kind);
        }
        check_plain(it.dev, l, t);
    }
    return test_finish("vit_head_loss");
}
