/* The finding head's loss for pretrain-vit: weighted cross-entropy or
 * weighted squared error (see vit_head_loss.h). */
#include "train/vit_head_loss.h"

#include <stdlib.h>

#include "mrg/ops.h"

/* weights (n, 2) on the host: per row w_i / Σ w scaled by in_target at the
 * target's column and by off_target at the other; goals (n, 2), filled
 * unless NULL: the squared error's +1 at the target's column, −1 at the
 * other */
static float *row_weights(const int32_t *targets, int64_t n, float pos_weight, float in_target,
                          float off_target, float *goals) {
    float *w = calloc((size_t)n * 2, sizeof *w);
    if (!w) return NULL;
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += targets[i] ? pos_weight : 1.0;
    for (int64_t i = 0; i < n; i++) {
        int t = targets[i] ? 1 : 0;
        float wi = (float)((t ? pos_weight : 1.0) / total);
        w[i * 2 + t] = in_target * wi;
        w[i * 2 + 1 - t] = off_target * wi;
        if (goals) {
            goals[i * 2 + t] = 1.0f;
            goals[i * 2 + 1 - t] = -1.0f;
        }
    }
    return w;
}

/* −Σ log_softmax(logits) ⊙ W, W[i][t_i] = w_i / Σ w and 0 elsewhere */
static mrg_tensor *weighted_cross_entropy(mrg_device *dev, mrg_tensor *logits, const int32_t *targets,
                                          int64_t n, float pos_weight) {
    float *w = row_weights(targets, n, pos_weight, 1.0f, 0.0f, NULL);
    if (!w) {
        mrg_error(MRG_ERR_OOM, "pretrain-vit: out of memory");
        return NULL;
    }
    mrg_tensor *weights = mrg_tensor_from_f32(dev, MRG_SHAPE(n, 2), w); /* (n, 2) */
    free(w);
    if (!weights) return NULL;
    mrg_tensor *picked = mrg_mul(mrg_log_softmax(logits), weights);     /* (n, 2) */
    mrg_tensor *sum = mrg_sum(mrg_sum(picked, 1, false), 0, false);      /* (1) */
    return sum ? mrg_scale(sum, -1.0f) : NULL;
}

/* Σ (logits − S)² ⊙ W, W[i][j] = ½·w_i / Σ w */
static mrg_tensor *weighted_squared_error(mrg_device *dev, mrg_tensor *logits, const int32_t *targets,
                                          int64_t n, float pos_weight) {
    float *goals = malloc(sizeof(float) * (size_t)n * 2);
    float *w = goals ? row_weights(targets, n, pos_weight, 0.5f, 0.5f, goals) : NULL;
    if (!w) {
        free(goals);
        mrg_error(MRG_ERR_OOM, "pretrain-vit: out of memory");
        return NULL;
    }
    mrg_tensor *weights = mrg_tensor_from_f32(dev, MRG_SHAPE(n, 2), w); /* (n, 2) */
    mrg_tensor *s = mrg_tensor_from_f32(dev, MRG_SHAPE(n, 2), goals);   /* (n, 2) */
    free(w);
    free(goals);
    if (!weights || !s) return NULL;
    mrg_tensor *d = mrg_sub(logits, s);                                  /* (n, 2) */
    return mrg_sum(mrg_sum(mrg_mul(mrg_mul(d, d), weights), 1, false), 0, false); /* (1) */
}

mrg_tensor *vit_head_loss(mrg_device *dev, mrg_tensor *logits, const int32_t *targets, int64_t n,
                          float pos_weight, mrg_vit_head_loss kind) {
    if (kind == MRG_VIT_HEAD_SQUARED) return weighted_squared_error(dev, logits, targets, n, pos_weight);
    return weighted_cross_entropy(dev, logits, targets, n, pos_weight);
}
