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

/* The layers' output with a residual r added (r NULL: without), as one
 * fused op (mrg_linear_add) so that the step does not keep the layer's own
 * output: r + attention(x), r + cross-attention(x, context). */
mrg_tensor *mrg_nn_attention_residual(const mrg_nn_attention *a, mrg_tensor *x,
                                      mrg_tensor *key_mask, mrg_tensor *r);
mrg_tensor *mrg_nn_cross_attention_residual(const mrg_nn_cross_attention *a, mrg_tensor *x,
                                            mrg_tensor *context, mrg_tensor *key_mask,
                                            mrg_tensor *r);

#define MRG_NN_TRY(expr)                                                                           \
    do {                                                                                           \
        mrg_status st_ = (expr);                                                                   \
        if (st_ != MRG_OK) return st_;                                                             \
    } while (0)

#endif
