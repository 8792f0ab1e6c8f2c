/* A two-layer MLP (Linear 8→16, GELU, Linear 16→5, cross-entropy with
 * ignore index −100) trained for 50 AdamW steps from the initial weights in
 * tests/golden/mlp.safetensors (tools/ref/mlp_ref.py). On every device the
 * 50 losses must match PyTorch's (float64 reference) to 1e-4 relative, and
 * every device must match the first one to 1e-4; the final weights must
 * match PyTorch's to 1e-3 relative (floor 1e-4 × the largest weight: after
 * 50 steps AdamW's normalised update amplifies f32 rounding in the weights
 * somewhat more than in the loss). */
#include <string.h>

#include "testutil.h"

#define STEPS 50
#define MAX_DEV 8

/* Hyper-parameters as in tools/ref/mlp_ref.py */
static const mrg_adamw_opts OPTS = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .weight_decay = 0.01f};

static const char *PNAMES[4] = {"w1", "b1", "w2", "b2"};

/* Trains on dev; losses[STEPS]. Returns false when something failed. */
static bool train(mrg_device *dev, const mrg_st_file *f, float *losses) {
    bool ok = false;
    mrg_tensor *p[4] = {0};
    mrg_adamw *opt = NULL;
    for (int i = 0; i < 4; i++)
        if (!(p[i] = test_param(dev, f, PNAMES[i], MRG_F32, true))) goto out;
    mrg_tensor *x = test_param(dev, f, "x", MRG_F32, false);       /* (16, 8) */
    mrg_tensor *t = test_param(dev, f, "targets", MRG_I32, false); /* (16) */
    if (!x || !t) goto out2;
    opt = mrg_adamw_create(p, 4, &OPTS);
    CHECK(opt != NULL);
    if (!opt) goto out2;
    for (int s = 0; s < STEPS; s++) {
        CHECK_OK(mrg_zero_grad(p, 4));
        mrg_tensor *h = mrg_gelu(mrg_linear(x, p[0], p[1]));   /* (16, 16) */
        mrg_tensor *logits = mrg_linear(h, p[2], p[3]);        /* (16, 5) */
        mrg_tensor *loss = mrg_cross_entropy(logits, t, -100); /* (1) */
        if (!loss || mrg_tensor_item(loss, &losses[s]) != MRG_OK ||
            mrg_backward(loss) != MRG_OK || mrg_adamw_step(opt, OPTS.lr) != MRG_OK) {
            fprintf(stderr, "%s: step %d failed: %s\n", mrg_device_name(dev), s,
                    mrg_last_error());
            CHECK(false);
            goto out2;
        }
        mrg_step_reset(dev);
    }
    CHECK(mrg_adamw_steps(opt) == STEPS);
    ok = true;
    for (int i = 0; i < 4; i++) {
        char key[32], what[64];
        snprintf(key, sizeof key, "%s_final", PNAMES[i]);
        snprintf(what, sizeof what, "%s final %s", mrg_device_name(dev), PNAMES[i]);
        int64_t n;
        float *want = test_golden_f32(f, key, &n);
        bool good = want && test_tensor_close(what, p[i], want, 1e-3, 1e-4 * test_max_abs(want, n));
        CHECK(good);
        free(want);
    }
out2:
    mrg_adamw_free(opt);
    mrg_tensor_free(x);
    mrg_tensor_free(t);
out:
    for (int i = 0; i < 4; i++) mrg_tensor_free(p[i]);
    mrg_step_reset(dev);
    return ok;
}

int main(void) {
    mrg_st_file *f = test_golden_open("mlp.safetensors");
    if (!f) return test_finish("test_mlp");
    int64_t nl = 0;
    float *ref = test_golden_f32(f, "losses", &nl);
    CHECK(ref && nl == STEPS);
    char names[MAX_DEV][32];
    int nd = test_devices(names, MAX_DEV);
    static float losses[MAX_DEV][STEPS];
    int first = -1;
    for (int d = 0; ref && nl == STEPS && d < nd; d++) {
        mrg_device *dev = test_device_open(names[d]);
        if (!dev) continue;
        if (train(dev, f, losses[d])) {
            double worst = 0;
            for (int s = 0; s < STEPS; s++)
                worst = fmax(worst, fabs(losses[d][s] - ref[s]) / fabs(ref[s]));
            fprintf(stderr,
                    "%s: loss %.6f -> %.6f (PyTorch %.6f -> %.6f), max relative difference "
                    "%.1e\n",
                    names[d], losses[d][0], losses[d][STEPS - 1], ref[0], ref[STEPS - 1], worst);
            char what[128];
            snprintf(what, sizeof what, "%s losses vs PyTorch", names[d]);
            CHECK(test_close(what, losses[d], ref, STEPS, 1e-4, 0));
            if (first < 0) {
                first = d;
            } else {
                snprintf(what, sizeof what, "%s losses vs %s", names[d], names[first]);
                CHECK(test_close(what, losses[d], losses[first], STEPS, 1e-4, 0));
            }
            /* it learned something */
            CHECK(losses[d][STEPS - 1] < 0.5f * losses[d][0]);
        }
        mrg_device_free(dev);
    }
    free(ref);
    mrg_st_close(f);
    return test_finish("test_mlp");
}
