/* Symmetric InfoNCE (see nn.h), composed of differentiable ops. */
#include <stdlib.h>

#include "mrg/nn.h"
#include "mrg/ops.h"

mrg_tensor *mrg_nn_info_nce(mrg_tensor *za, mrg_tensor *zb, float temperature) {
    if (!za || !zb) return NULL;
    int64_t B = za->shape[0];
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
    if (!lab) {
        mrg_error(MRG_ERR_OOM, "InfoNCE: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < B; i++) lab[i] = (int32_t)i;
    mrg_tensor *labels = mrg_tensor_from_i32(za->dev, MRG_SHAPE(B), lab);
    free(lab);
    mrg_tensor *a = mrg_l2_normalize(za, 1e-12f), *b = mrg_l2_normalize(zb, 1e-12f);
    mrg_tensor *logits = mrg_scale(mrg_matmul(a, b, false, true), 1.0f / temperature); /* (B, B) */
    mrg_tensor *a2b = mrg_cross_entropy(logits, labels, -1);
    mrg_tensor *b2a = mrg_cross_entropy(mrg_transpose(logits, 0, 1), labels, -1);
    return mrg_scale(mrg_add(a2b, b2a), 0.5f);
}
