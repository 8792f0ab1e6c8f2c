/* mrg toy-train: a small end-to-end training run of the tensor layer
 * (two-layer MLP, GELU, cross-entropy, AdamW with gradient clipping) on a
 * synthetic three-arm spiral, on any device. It shows the same training API
 * the report generator uses, and that the loss falls and accuracy rises. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "mrg/mrg.h"

#define N_CLASSES 3

/* points (n, 2) on three noisy spiral arms, labels (n) */
static void make_spiral(float *x, int32_t *y, int n, unsigned seed) {
    srand(seed);
    for (int i = 0; i < n; i++) {
        int c = i % N_CLASSES;
        float r = (float)(i / N_CLASSES) / (float)(n / N_CLASSES);
        float noise = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.3f;
        float t = (float)c * 4.0f + 4.0f * r + noise;
        x[2 * i] = r * sinf(t);
        x[2 * i + 1] = r * cosf(t);
        y[i] = c;
    }
}

static void init_uniform(float *w, int64_t n, float bound, unsigned *state) {
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        w[i] = ((float)(*state >> 8) / 16777216.0f * 2.0f - 1.0f) * bound;
    }
}

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg toy-train [--device D] [--steps N] [--hidden H] [--lr LR]\n\n"
            "Trains a two-layer MLP (2 -> H -> 3, GELU) with AdamW on a synthetic\n"
            "spiral and prints the loss and accuracy as it goes.\n\n"
            "  --device D   cpu, opencl, opencl:N (default: see mrg --help)\n"
            "  --steps N    AdamW updates, 1..10000000 (default 300)\n"
            "  --hidden H   hidden units, 1..65536 (default 64)\n"
            "  --lr LR      learning rate, 0 < LR <= 1 (default 0.01)\n");
    return code;
}

int cmd_toy_train(int argc, char **argv) {
    const char *device = NULL;
    int steps = 300, hidden = 64;
    float lr = 0.01f;
    opt_spec specs[] = {
        OPT_STRING("--device", &device),
        OPT_INTEGER("--steps", &steps, 1, 10000000),
        OPT_INTEGER("--hidden", &hidden, 1, 65536),
        OPT_POSITIVE("--lr", &lr, 1),
    };
    int rc = opts_parse("toy-train", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    mrg_device *dev = opts_device("toy-train", device);
    if (!dev) return 2;
    printf("device %s: %s\n", mrg_device_name(dev), mrg_device_description(dev));

    enum { N = 300 };
    float *x = malloc(sizeof(float) * N * 2);
    int32_t *y = malloc(sizeof(int32_t) * N);
    int64_t H = hidden;
    float *w1 = malloc(sizeof(float) * (size_t)H * 2), *b1 = calloc((size_t)H, sizeof(float));
    float *w2 = malloc(sizeof(float) * (size_t)H * N_CLASSES), *b2 = calloc(N_CLASSES, sizeof(float));
    float *logits = malloc(sizeof(float) * N * N_CLASSES);
    rc = 1;
    make_spiral(x, y, N, 7);
    unsigned state = 1234;
    init_uniform(w1, H * 2, 1.0f / sqrtf(2.0f), &state);
    init_uniform(w2, H * N_CLASSES, 1.0f / sqrtf((float)H), &state);

    mrg_tensor *p[4] = {
        mrg_param_new(dev, MRG_F32, MRG_SHAPE(H, 2), true, "fc1.weight"),
        mrg_param_new(dev, MRG_F32, MRG_SHAPE(H), true, "fc1.bias"),
        mrg_param_new(dev, MRG_F32, MRG_SHAPE(N_CLASSES, H), true, "fc2.weight"),
        mrg_param_new(dev, MRG_F32, MRG_SHAPE(N_CLASSES), true, "fc2.bias"),
    };
    mrg_adamw *opt = NULL;
    if (!p[0] || !p[1] || !p[2] || !p[3] || mrg_tensor_upload(p[0], w1) || mrg_tensor_upload(p[1], b1) ||
        mrg_tensor_upload(p[2], w2) || mrg_tensor_upload(p[3], b2))
        goto fail;
    mrg_adamw_opts o = mrg_adamw_defaults();
    o.lr = lr;
    o.weight_decay = 1e-4f;
    opt = mrg_adamw_create(p, 4, &o);
    if (!opt) goto fail;

    for (int step = 1; step <= steps; step++) {
        mrg_tensor *xt = mrg_tensor_from_f32(dev, MRG_SHAPE(N, 2), x);
        mrg_tensor *yt = mrg_tensor_from_i32(dev, MRG_SHAPE(N), y);
        /* (N, 2) → (N, H) → (N, 3) */
        mrg_tensor *out = mrg_linear(mrg_gelu(mrg_linear(xt, p[0], p[1])), p[2], p[3]);
        mrg_tensor *loss = mrg_cross_entropy(out, yt, -100);
        float lv;
        if (!loss || mrg_zero_grad(p, 4) || mrg_backward(loss) ||
            mrg_clip_grad_norm(p, 4, 1.0f, NULL) || mrg_adamw_step(opt, lr) ||
            mrg_tensor_item(loss, &lv))
            goto fail;
        if (step % (steps / 10 ? steps / 10 : 1) == 0 || step == 1 || step == steps) {
            if (mrg_tensor_download(out, logits)) goto fail;
            int correct = 0;
            for (int i = 0; i < N; i++) {
                int best = 0;
                for (int c = 1; c < N_CLASSES; c++)
                    if (logits[i * N_CLASSES + c] > logits[i * N_CLASSES + best]) best = c;
                correct += best == y[i];
            }
            printf("step %4d  loss %.4f  accuracy %.1f%%\n", step, lv, 100.0 * correct / N);
            fflush(stdout);
        }
        mrg_step_reset(dev);
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "mrg toy-train: %s\n", mrg_last_error());
    mrg_adamw_free(opt);
    for (int i = 0; i < 4; i++) mrg_tensor_free(p[i]);
    mrg_device_free(dev);
    free(x); free(y); free(w1); free(b1); free(w2); free(b2); free(logits);
    return rc;
}
