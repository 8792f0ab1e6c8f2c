/* Linear, LayerNorm and the GELU MLP. */
#include "nn/nn_internal.h"
#include "mrg/ops.h"

mrg_status mrg_nn_linear_init(mrg_nn_linear *l, mrg_nn_ctx *ctx, const char *name, int64_t in,
                              int64_t out, bool bias) {
    if (in <= 0 || out <= 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "linear %s: sizes %lld -> %lld", name, (long long)in,
                         (long long)out);
    char pn[64];
    l->in = in;
    l->out = out;
    l->bias = NULL;
    MRG_NN_TRY(mrg_nn_join(pn, name, "weight"));
    MRG_NN_TRY(mrg_nn_param_st(ctx, pn, ctx->frozen_weight_dtype, MRG_SHAPE(out, in),
                               MRG_NN_TRUNC_NORMAL, 0.02f, &l->weight));
    if (bias) {
        MRG_NN_TRY(mrg_nn_join(pn, name, "bias"));
        MRG_NN_TRY(mrg_nn_param_st(ctx, pn, MRG_F32, MRG_SHAPE(out), MRG_NN_ZEROS, 0.0f, &l->bias));
    }
    return MRG_OK;
}

mrg_tensor *mrg_nn_linear_forward(const mrg_nn_linear *l, mrg_tensor *x) {
    return mrg_linear(x, l->weight, l->bias); /* (..., in) → (..., out) */
}

mrg_status mrg_nn_layernorm_init(mrg_nn_layernorm *l, mrg_nn_ctx *ctx, const char *name,
                                 int64_t dim, float eps) {
    if (dim <= 0 || !(eps > 0))
        return mrg_error(MRG_ERR_INVALID_ARG, "layernorm %s: dim %lld, eps %g", name,
                         (long long)dim, (double)eps);
    char pn[64];
    l->eps = eps;
    MRG_NN_TRY(mrg_nn_join(pn, name, "weight"));
    MRG_NN_TRY(mrg_nn_param_st(ctx, pn, MRG_F32, MRG_SHAPE(dim), MRG_NN_ONES, 0.0f, &l->weight));
    MRG_NN_TRY(mrg_nn_join(pn, name, "bias"));
    return mrg_nn_param_st(ctx, pn, MRG_F32, MRG_SHAPE(dim), MRG_NN_ZEROS, 0.0f, &l->bias);
}

mrg_tensor *mrg_nn_layernorm_forward(const mrg_nn_layernorm *l, mrg_tensor *x) {
    return mrg_layernorm(x, l->weight, l->bias, l->eps);
}

mrg_status mrg_nn_mlp_init(mrg_nn_mlp *m, mrg_nn_ctx *ctx, const char *name, int64_t dim,
                           int64_t hidden) {
    char pn[64];
    MRG_NN_TRY(mrg_nn_join(pn, name, "fc1"));
    MRG_NN_TRY(mrg_nn_linear_init(&m->fc1, ctx, pn, dim, hidden, true));
    MRG_NN_TRY(mrg_nn_join(pn, name, "fc2"));
    return mrg_nn_linear_init(&m->fc2, ctx, pn, hidden, dim, true);
}

mrg_tensor *mrg_nn_mlp_forward(const mrg_nn_mlp *m, mrg_tensor *x) {
    mrg_tensor *h = mrg_gelu(mrg_nn_linear_forward(&m->fc1, x)); /* (..., hidden) */
    return mrg_nn_linear_forward(&m->fc2, h);                    /* (..., dim) */
}
