/* The loss of pretrain-vit's finding head (lib/train/pretrain_vit.c), on
 * its own so that tests can hold it against a host computation. */
#ifndef MRG_TRAIN_VIT_HEAD_LOSS_H
#define MRG_TRAIN_VIT_HEAD_LOSS_H
#include <stdint.h>

#include "mrg/pretrain.h"
#include "mrg/tensor.h"

/* logits (n, 2): per (study, finding), the "not positive" and "positive"
 * logits; targets[i] ∈ {0, 1} on the host. Each row's term is weighted
 * pos_weight when its target is 1 and 1 otherwise, and the loss is the
 * weighted mean of the terms: Σ_i w_i·term_i / Σ_i w_i, a scalar (1).
 *   MRG_VIT_HEAD_CROSS_ENTROPY: term_i = −log softmax(logits_i)[t_i]
 *   MRG_VIT_HEAD_SQUARED:       term_i = ½·Σ_j (logits_ij − s_ij)², with
 *                               s_i = (−1, +1) for t_i = 1, (+1, −1) else.
 * NULL with a message on failure. */
mrg_tensor *vit_head_loss(mrg_device *dev, mrg_tensor *logits, const int32_t *targets, int64_t n,
                          float pos_weight, mrg_vit_head_loss kind);

#endif
