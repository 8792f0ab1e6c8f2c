/* Helpers shared by the layer files of lib/nn (not installed). */
#ifndef MRG_NN_INTERNAL_H
#define MRG_NN_INTERNAL_H

#include <stdio.h>

#include "mrg/nn.h"

/* out = a + "." + b; an error when it does not fit (names are <= 63 chars). */
static inline mrg_status mrg_nn_join(char out[64], const char *a, const char *b) {
    int n = snprintf(out, 64, "%s.%s", a, b);
    if (n < 0 || n >= 64)
        return mrg_error(MRG_ERR_INVALID_ARG, "parameter name '%s.%s' is too long", a, b);
    return MRG_OK;
}

/* mrg_nn_param with a status: *out is the new parameter or NULL. */
mrg_status mrg_nn_param_st(mrg_nn_ctx *ctx, const char *name, mrg_dtype dt, int ndim,
                           const int64_t *shape, mrg_nn_fill fill, float std, mrg_tensor **out);

/* x + attention(norm(x)): a pre-LN block's attention half as fused ops
 * that keep neither the LayerNorm's output, the qkv projection's nor the
 * merged heads (mrg_layernorm_linear_permute, mrg_permute_linear_add). */
mrg_tensor *mrg_nn_attention_prenorm(const mrg_nn_attention *a, const mrg_nn_layernorm *norm,
                                     mrg_tensor *x, mrg_tensor *key_mask);
/* r + cross-attention(x, context) (r NULL: without), the projection and
 * the residual add as one op. */
mrg_tensor *mrg_nn_cross_attention_residual(const mrg_nn_cross_attention *a, mrg_tensor *x,
                                            mrg_tensor *context, mrg_tensor *key_mask,
                                            mrg_tensor *r);

#define MRG_NN_TRY(expr)                                                                           \
    do {                                                                                           \
        mrg_status st_ = (expr);                                                                   \
        if (st_ != MRG_OK) return st_;                                                             \
    } while (0)

#endif
