/* Multi-head self-attention (timm's fused-qkv layout) and cross-attention. */
#include <math.h>

#include "nn/nn_internal.h"
#include "mrg/ops.h"

static mrg_status check_heads(const char *name, int64_t dim, int heads) {
    if (heads <= 0 || dim <= 0 || dim % heads)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "attention %s: dim %lld is not a multiple of %d heads", name,
                         (long long)dim, heads);
    return MRG_OK;
}

static bool check_input(const char *what, const mrg_tensor *x, int64_t dim) {
    if (x->ndim != 3 || x->shape[2] != dim) {
        char s[96];
        mrg_error(MRG_ERR_INVALID_ARG, "%s: input %s, expected (B, T, %lld)", what,
                  mrg_shape_str(x, s, sizeof s), (long long)dim);
        return false;
    }
    return true;
}

mrg_status mrg_nn_attention_init(mrg_nn_attention *a, mrg_nn_ctx *ctx, const char *name,
                                 int64_t dim, int heads) {
    MRG_NN_TRY(check_heads(name, dim, heads));
    char pn[64];
    a->dim = dim;
    a->heads = heads;
    MRG_NN_TRY(mrg_nn_join(pn, name, "qkv"));
    MRG_NN_TRY(mrg_nn_linear_init(&a->qkv, ctx, pn, dim, 3 * dim, true));
    MRG_NN_TRY(mrg_nn_join(pn, name, "proj"));
    return mrg_nn_linear_init(&a->proj, ctx, pn, dim, dim, true);
}

/* o (B, H, T, hd) → (B, T, H·hd): heads back side by side, then the output
 * projection. */
static mrg_tensor *merge_heads(const mrg_nn_linear *proj, mrg_tensor *o, int64_t B, int64_t T,
                               int64_t D, mrg_tensor *r) {
    static const int perm[4] = {0, 2, 1, 3};
    /* with a residual, one op that keeps no merged copy */
    if (r) return mrg_permute_linear_add(o, perm, proj->weight, proj->bias, r);
    mrg_tensor *m = mrg_reshape(mrg_permute(o, perm), MRG_SHAPE(B, T, D)); /* (B, T, H·hd) */
    return mrg_nn_linear_forward(proj, m);                                 /* (B, T, D) */
}

/* (B, T, 3D) viewed (B, T, 3, H, hd) → (3, B, H, T, hd) */
static const int qkv_perm[5] = {2, 0, 3, 1, 4};

/* The attention of the heads qkv (3, B, H, T, hd), merged and projected
 * (+ r). */
static mrg_tensor *attend(const mrg_nn_attention *a, mrg_tensor *qkv, int64_t B, int64_t T,
                          mrg_tensor *key_mask, mrg_tensor *r) {
    int64_t D = a->dim, H = a->heads, hd = D / H;
    /* slices along the first axis are views */
    mrg_tensor *q = mrg_reshape(mrg_slice(qkv, 0, 0, 1), MRG_SHAPE(B, H, T, hd));
    mrg_tensor *k = mrg_reshape(mrg_slice(qkv, 0, 1, 1), MRG_SHAPE(B, H, T, hd));
    mrg_tensor *v = mrg_reshape(mrg_slice(qkv, 0, 2, 1), MRG_SHAPE(B, H, T, hd));
    mrg_tensor *o = mrg_sdpa(q, k, v, key_mask, false, 1.0f / sqrtf((float)hd)); /* (B, H, T, hd) */
    return merge_heads(&a->proj, o, B, T, D, r);
}

mrg_tensor *mrg_nn_attention_forward(const mrg_nn_attention *a, mrg_tensor *x,
                                     mrg_tensor *key_mask) {
    if (!x || !check_input("self-attention", x, a->dim)) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], H = a->heads, hd = a->dim / H;
    mrg_tensor *qkv =
        mrg_linear_permute(x, a->qkv.weight, a->qkv.bias, MRG_SHAPE(B, T, 3, H, hd), qkv_perm);
    return attend(a, qkv, B, T, key_mask, NULL);
}

mrg_tensor *mrg_nn_attention_prenorm(const mrg_nn_attention *a, const mrg_nn_layernorm *norm,
                                     mrg_tensor *x, mrg_tensor *key_mask) {
    if (!x || !check_input("self-attention", x, a->dim)) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], H = a->heads, hd = a->dim / H;
    mrg_tensor *qkv = mrg_layernorm_linear_permute(x, norm->weight, norm->bias, norm->eps,
                                                   a->qkv.weight, a->qkv.bias,
                                                   MRG_SHAPE(B, T, 3, H, hd), qkv_perm);
    return attend(a, qkv, B, T, key_mask, x);
}

mrg_status mrg_nn_cross_attention_init(mrg_nn_cross_attention *a, mrg_nn_ctx *ctx, const char *name,
                                       int64_t dim, int64_t ctx_dim, int heads) {
    MRG_NN_TRY(check_heads(name, dim, heads));
    char pn[64];
    a->dim = dim;
    a->ctx_dim = ctx_dim;
    a->heads = heads;
    MRG_NN_TRY(mrg_nn_join(pn, name, "q"));
    MRG_NN_TRY(mrg_nn_linear_init(&a->q, ctx, pn, dim, dim, true));
    MRG_NN_TRY(mrg_nn_join(pn, name, "k"));
    MRG_NN_TRY(mrg_nn_linear_init(&a->k, ctx, pn, ctx_dim, dim, true));
    MRG_NN_TRY(mrg_nn_join(pn, name, "v"));
    MRG_NN_TRY(mrg_nn_linear_init(&a->v, ctx, pn, ctx_dim, dim, true));
    MRG_NN_TRY(mrg_nn_join(pn, name, "proj"));
    return mrg_nn_linear_init(&a->proj, ctx, pn, dim, dim, true);
}

/* x (B, T, in) → projection split into heads (B, H, T, hd) */
static mrg_tensor *project_heads(const mrg_nn_linear *l, mrg_tensor *x, int64_t H, int64_t hd) {
    /* (B, T, H·hd) viewed (B, T, H, hd) → (B, H, T, hd) */
    static const int perm[4] = {0, 2, 1, 3};
    return mrg_linear_permute(x, l->weight, l->bias, MRG_SHAPE(x->shape[0], x->shape[1], H, hd),
                              perm);
}

mrg_tensor *mrg_nn_cross_attention_forward(const mrg_nn_cross_attention *a, mrg_tensor *x,
                                           mrg_tensor *context, mrg_tensor *key_mask) {
    return mrg_nn_cross_attention_residual(a, x, context, key_mask, NULL);
}

mrg_tensor *mrg_nn_cross_attention_residual(const mrg_nn_cross_attention *a, mrg_tensor *x,
                                            mrg_tensor *context, mrg_tensor *key_mask,
                                            mrg_tensor *r) {
    if (!x || !context || !check_input("cross-attention query", x, a->dim) ||
        !check_input("cross-attention context", context, a->ctx_dim))
        return NULL;
    if (context->shape[0] != x->shape[0]) {
        mrg_error(MRG_ERR_INVALID_ARG,
                  "cross-attention: batch %lld of the queries, %lld of the context",
                  (long long)x->shape[0], (long long)context->shape[0]);
        return NULL;
    }
    int64_t B = x->shape[0], Tq = x->shape[1], D = a->dim, H = a->heads, hd = D / H;
    mrg_tensor *q = project_heads(&a->q, x, H, hd);       /* (B, H, Tq, hd) */
    mrg_tensor *k = project_heads(&a->k, context, H, hd); /* (B, H, Tk, hd) */
    mrg_tensor *v = project_heads(&a->v, context, H, hd); /* (B, H, Tk, hd) */
    mrg_tensor *o =
        mrg_sdpa(q, k, v, key_mask, false, 1.0f / sqrtf((float)hd)); /* (B, H, Tq, hd) */
    return merge_heads(&a->proj, o, B, Tq, D, r);
}
