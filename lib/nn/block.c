/* Pre-LN transformer blocks: self-attention (timm's ViT Block) and
 * cross-attention. */
#include "nn/nn_internal.h"
#include "mrg/ops.h"

/* The LayerNorm <name>.<part>. */
static mrg_status norm_init(mrg_nn_layernorm *ln, mrg_nn_ctx *ctx, const char *name,
                            const char *part, int64_t dim, float eps) {
    char pn[64];
    MRG_NN_TRY(mrg_nn_join(pn, name, part));
    return mrg_nn_layernorm_init(ln, ctx, pn, dim, eps);
}

/* The feed-forward half every block ends with: <name>.norm2, <name>.mlp. */
static mrg_status ffn_init(mrg_nn_layernorm *norm2, mrg_nn_mlp *mlp, mrg_nn_ctx *ctx,
                           const char *name, int64_t dim, int64_t mlp_hidden, float eps) {
    char pn[64];
    MRG_NN_TRY(norm_init(norm2, ctx, name, "norm2", dim, eps));
    MRG_NN_TRY(mrg_nn_join(pn, name, "mlp"));
    return mrg_nn_mlp_init(mlp, ctx, pn, dim, mlp_hidden);
}

/* x + mlp(norm2(x)) as one op (mrg_layernorm_mlp_add: the step keeps fc1's
 * output only) */
static mrg_tensor *ffn_residual(const mrg_nn_layernorm *norm2, const mrg_nn_mlp *mlp,
                                mrg_tensor *x) {
    return mrg_layernorm_mlp_add(x, norm2->weight, norm2->bias, norm2->eps, mlp->fc1.weight,
                                 mlp->fc1.bias, mlp->fc2.weight, mlp->fc2.bias);
}

mrg_status mrg_nn_block_init(mrg_nn_block *b, mrg_nn_ctx *ctx, const char *name, int64_t dim,
                             int heads, int64_t mlp_hidden, float eps) {
    char pn[64];
    MRG_NN_TRY(norm_init(&b->norm1, ctx, name, "norm1", dim, eps));
    MRG_NN_TRY(mrg_nn_join(pn, name, "attn"));
    MRG_NN_TRY(mrg_nn_attention_init(&b->attn, ctx, pn, dim, heads));
    return ffn_init(&b->norm2, &b->mlp, ctx, name, dim, mlp_hidden, eps);
}

mrg_tensor *mrg_nn_block_forward(const mrg_nn_block *b, mrg_tensor *x, mrg_tensor *key_mask) {
    /* x (B, T, D); each residual add is fused into the layer's last linear */
    x = mrg_nn_attention_prenorm(&b->attn, &b->norm1, x, key_mask);
    if (!x) return NULL;
    return ffn_residual(&b->norm2, &b->mlp, x);
}

mrg_status mrg_nn_cross_block_init(mrg_nn_cross_block *b, mrg_nn_ctx *ctx, const char *name,
                                   int64_t dim, int64_t ctx_dim, int heads, int64_t mlp_hidden,
                                   float eps) {
    char pn[64];
    MRG_NN_TRY(norm_init(&b->norm1, ctx, name, "norm1", dim, eps));
    MRG_NN_TRY(norm_init(&b->norm_ctx, ctx, name, "norm_ctx", ctx_dim, eps));
    MRG_NN_TRY(mrg_nn_join(pn, name, "attn"));
    MRG_NN_TRY(mrg_nn_cross_attention_init(&b->attn, ctx, pn, dim, ctx_dim, heads));
    return ffn_init(&b->norm2, &b->mlp, ctx, name, dim, mlp_hidden, eps);
}

mrg_tensor *mrg_nn_cross_block_forward(const mrg_nn_cross_block *b, mrg_tensor *x,
                                       mrg_tensor *context, mrg_tensor *key_mask) {
    /* x (B, Tq, D), context (B, Tk, Dc) */
    mrg_tensor *c = mrg_nn_layernorm_forward(&b->norm_ctx, context);
    x = mrg_nn_cross_attention_residual(&b->attn, mrg_nn_layernorm_forward(&b->norm1, x), c,
                                        key_mask, x);
    if (!x) return NULL;
    return ffn_residual(&b->norm2, &b->mlp, x);
}
