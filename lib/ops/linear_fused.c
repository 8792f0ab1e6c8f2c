/* Fused linear layers for training: a linear layer together with the op
 * that consumes its output, recorded as one node, so that the step does
 * not keep the layer's output (mrg/ops.h).
 *
 *   mrg_linear_add      r + x·wᵀ + bias: the sum is written over the
 *                       product (the same add, in place)
 *   mrg_linear_permute  the product in a temporary that goes back to the
 *                       arena once it is copied into the permuted output
 *   mrg_linear_rope_heads  the same with RoPE between product and permute
 *   mrg_layernorm_linear_permute  the same with a LayerNorm before the
 *                       product, whose output is a temporary too (made
 *                       again in the backward)
 *   mrg_permute_linear_add  r + permute(x)·wᵀ + bias: the permuted x is a
 *                       temporary, made again in the backward
 *
 * Forward values and gradients are those of the composition bit for bit:
 * the same kernels run on the same values (the permute and the add's
 * backward only move values), and the gradients reach x, w, bias and r
 * in the composition's order. In a transformer block these remove the
 * output projection's and second MLP layer's outputs (kept only until the
 * residual add) and the fused qkv projection's output (kept only until it
 * was split into heads). */
#include "ops/matmul_internal.h"

mrg_status ops_add_into(mrg_tensor *r, mrg_tensor *y) {
    return ops_binary_into("residual add", MRG_BIN_ADD, r, y, y);
}

/* ---- r + linear ---------------------------------------------------------- */

/* in: x, w, bias (or NULL), r; the product's geometry (ops_mm_save). The
 * add's backward (dr = dy) comes first, then the linear's with dc = dy. */
static mrg_status linear_add_backward(mrg_node *n) {
    mrg_tensor *dy = n->out->grad, *r = n->in[3];
    if (mrg_wants_grad(r)) MRG_TRY(mrg_accum_grad(r, dy));
    return ops_mm_backward(n, dy, 0);
}

mrg_tensor *mrg_linear_add(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias, mrg_tensor *r) {
    MRG_NULL_GUARD(x, w, r);
    if (!ops_linear_check("linear_add", x, w, bias)) return NULL;
    bool fits = x->ndim >= 2 && r->ndim == x->ndim && r->dtype == MRG_F32 && r->dev == x->dev &&
                mrg_last_dim(r) == w->shape[0];
    for (int i = 0; fits && i + 1 < x->ndim; i++) fits = r->shape[i] == x->shape[i];
    if (!fits) return mrg_add(r, mrg_linear(x, w, bias)); /* broadcasting, checks there */
    mm_geom g;
    int64_t shape[MRG_MAX_DIMS];
    if (!ops_mm_plan("linear_add", x, w, false, true, bias, &g, shape)) return NULL;
    mrg_device *dev = x->dev;
    mrg_tensor *y = mrg_tensor_new(dev, MRG_F32, x->ndim, shape);
    if (!y) return NULL;
    MRG_TRY_NULL(ops_mm_run(&g, x, w, bias, y));
    MRG_TRY_NULL(ops_add_into(r, y));
    mrg_tensor *const ins[4] = {x, w, bias, r};
    mrg_node *n = mrg_record(y, "linear_add", linear_add_backward, 4, ins);
    if (n) ops_mm_save(n, &g);
    return y;
}

/* ---- permute(linear) ----------------------------------------------------- */

/* The view of the product that is permuted, the RoPE applied to it first
 * when rope is set (the view is then (B, T, H, D)), and whether the
 * product's input is layernorm(x) (eps; the node's in[3], in[4] are the
 * LayerNorm's w and b, saved[0], saved[1] its mean and rstd). */
typedef struct heads_view {
    int nd;
    int64_t shape[MRG_MAX_DIMS];
    int perm[MRG_MAX_DIMS];
    bool rope;
    int64_t pos0;
    float theta;
    int layout;
    bool norm;
    float eps;
} heads_view;

/* RoPE (or its inverse) of src, a (B, T, H, D) view v, into dst. */
static mrg_status rope_view(mrg_device *dev, const heads_view *v, mrg_ptr src, mrg_ptr dst,
                            bool inverse) {
    return dev->be->rope(dev, src, dst, v->shape[0], v->shape[1], v->shape[2], v->shape[3],
                         v->pos0, v->theta, v->layout, inverse);
}

/* in: x, w, bias (or NULL); aux: the heads_view. */
static mrg_status linear_permute_backward(mrg_node *n) {
    const heads_view *v = n->aux;
    mrg_tensor *x = n->in[0], *w = n->in[1];
    mrg_device *dev = x->dev;
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i + 1 < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    mrg_tensor *dc = mrg_tensor_new(dev, MRG_F32, x->ndim, shape); /* the product's gradient */
    OPS_ALLOC_OR_FAIL(dc);
    MRG_TRY(ops_permute_copy(dev, mrg_ptr_of(n->out->grad), mrg_ptr_of(dc), v->nd, v->shape,
                             v->perm, true));
    if (v->rope) { /* the rotation's gradient: the inverse rotation */
        mrg_tensor *dr = mrg_tensor_new(dev, MRG_F32, x->ndim, shape);
        OPS_ALLOC_OR_FAIL(dr);
        MRG_TRY(rope_view(dev, v, mrg_ptr_of(dc), mrg_ptr_of(dr), true));
        dc = dr;
    }
    if (!v->norm) return ops_mm_backward(n, dc, 0);
    /* the product's input was layernorm(x): made again, and its gradient
     * goes through the LayerNorm's backward */
    mrg_tensor *ln_w = n->in[3], *ln_b = n->in[4];
    mrg_tensor *nx = ops_layernorm_temp(x, ln_w, ln_b, v->eps, NULL, NULL);
    OPS_ALLOC_OR_FAIL(nx);
    nx->requires_grad = mrg_wants_grad(x) || mrg_wants_grad(ln_w) || mrg_wants_grad(ln_b);
    mrg_node sub = *n;
    sub.in[0] = nx;
    sub.n_in = 3;
    mrg_status st = ops_mm_backward(&sub, dc, 0);
    if (st == MRG_OK && nx->grad)
        st = ops_layernorm_grads(x, ln_w, ln_b, n->saved[0], n->saved[1], nx->grad);
    mrg_grad_pool_give(nx->grad);
    nx->grad = NULL;
    return st;
}

/* Whether shape (nd) views n elements and perm permutes nd axes. */
static bool view_fits(int nd, const int64_t *shape, const int *perm, int64_t n) {
    if (nd < 1 || nd > MRG_MAX_DIMS || !shape || !perm) return false;
    bool seen[MRG_MAX_DIMS] = {false};
    int64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] < 0 || perm[i] < 0 || perm[i] >= nd || seen[perm[i]]) return false;
        seen[perm[i]] = true;
        numel *= shape[i];
    }
    return numel == n;
}

/* permute(view(a·wᵀ + bias)), a = x or, with v0->norm, layernorm(x, ln_w,
 * ln_b); with RoPE on the view first when v0->rope; the view and
 * permutation already checked. */
static mrg_tensor *linear_heads(const char *op, mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias,
                                mrg_tensor *ln_w, mrg_tensor *ln_b, const heads_view *v0) {
    mm_geom g;
    int64_t c_shape[MRG_MAX_DIMS], y_shape[MRG_MAX_DIMS];
    if (!ops_mm_plan(op, x, w, false, true, bias, &g, c_shape)) return NULL;
    mrg_device *dev = x->dev;
    heads_view *v = mrg_step_malloc(dev, sizeof *v);
    if (!v) return NULL;
    *v = *v0;
    for (int i = 0; i < v->nd; i++) y_shape[i] = v->shape[v->perm[i]];
    mrg_tensor *y = mrg_tensor_new(dev, MRG_F32, v->nd, y_shape);
    int64_t rows = mrg_rows(x);
    mrg_tensor *mean = v->norm ? mrg_tensor_new(dev, MRG_F32, 1, &rows) : NULL;
    mrg_tensor *rstd = v->norm ? mrg_tensor_new(dev, MRG_F32, 1, &rows) : NULL;
    if (!y || (v->norm && (!mean || !rstd))) return NULL;
    /* the normed input, the product (and its rotation) live only until
     * permuted into y */
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    mrg_tensor *a = v->norm ? ops_layernorm_temp(x, ln_w, ln_b, v->eps, mean, rstd) : x;
    mrg_tensor *c = a ? mrg_tensor_new(dev, MRG_F32, x->ndim, c_shape) : NULL;
    mrg_status st = c ? ops_mm_run(&g, a, w, bias, c) : MRG_ERR_OOM;
    if (st == MRG_OK && v->rope) {
        mrg_tensor *r = mrg_tensor_new(dev, MRG_F32, x->ndim, c_shape);
        st = r ? rope_view(dev, v, mrg_ptr_of(c), mrg_ptr_of(r), false) : MRG_ERR_OOM;
        c = r;
    }
    if (st == MRG_OK)
        st = ops_permute_copy(dev, mrg_ptr_of(c), mrg_ptr_of(y), v->nd, v->shape, v->perm, false);
    mrg_arena_release(dev, &mark);
    if (st != MRG_OK) return NULL;
    mrg_tensor *const ins[5] = {x, w, bias, ln_w, ln_b};
    mrg_node *n = mrg_record(y, op, linear_permute_backward, v->norm ? 5 : 3, ins);
    if (n) {
        ops_mm_save(n, &g);
        n->aux = v;
        n->saved[0] = mean;
        n->saved[1] = rstd;
    }
    return y;
}

mrg_tensor *mrg_linear_permute(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias, int ndim,
                               const int64_t *shape, const int *perm) {
    MRG_NULL_GUARD(x, w);
    if (!ops_linear_check("linear_permute", x, w, bias)) return NULL;
    int64_t n_out = mrg_numel(x) / mrg_last_dim(x) * w->shape[0];
    if (x->ndim < 2 || mrg_last_dim(x) == 0 || !view_fits(ndim, shape, perm, n_out))
        return mrg_permute(mrg_reshape(mrg_linear(x, w, bias), ndim, shape), perm); /* it says why */
    heads_view v = {.nd = ndim};
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        v.perm[i] = perm[i];
    }
    return linear_heads("linear_permute", x, w, bias, NULL, NULL, &v);
}

/* A LayerNorm vector (C) or NULL that the fused path takes. */
static bool norm_vec_fits(const mrg_tensor *v, const mrg_tensor *x) {
    return !v || (v->dev == x->dev && v->dtype == MRG_F32 && v->ndim == 1 &&
                  v->shape[0] == mrg_last_dim(x));
}

mrg_tensor *mrg_layernorm_linear_permute(mrg_tensor *x, mrg_tensor *ln_w, mrg_tensor *ln_b,
                                         float eps, mrg_tensor *w, mrg_tensor *bias, int ndim,
                                         const int64_t *shape, const int *perm) {
    MRG_NULL_GUARD(x, w);
    if (!ops_linear_check("layernorm_linear_permute", x, w, bias)) return NULL;
    int64_t n_out = mrg_numel(x) / mrg_last_dim(x) * w->shape[0];
    if (x->ndim < 2 || mrg_last_dim(x) == 0 || !view_fits(ndim, shape, perm, n_out) ||
        !(eps >= 0.0f) || !norm_vec_fits(ln_w, x) || !norm_vec_fits(ln_b, x))
        return mrg_linear_permute(mrg_layernorm(x, ln_w, ln_b, eps), w, bias, ndim, shape, perm);
    heads_view v = {.nd = ndim, .norm = true, .eps = eps};
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        v.perm[i] = perm[i];
    }
    return linear_heads("layernorm_linear_permute", x, w, bias, ln_w, ln_b, &v);
}

mrg_tensor *mrg_linear_rope_heads(mrg_tensor *x, mrg_tensor *w, int64_t heads, int64_t pos0,
                                  float theta, mrg_rope_layout layout) {
    MRG_NULL_GUARD(x, w);
    if (!ops_linear_check("linear_rope_heads", x, w, NULL)) return NULL;
    int64_t N = w->shape[0];
    bool fits = x->ndim == 3 && heads >= 1 && N % heads == 0 && (N / heads) % 2 == 0 &&
                pos0 >= 0 && theta > 0.0f &&
                (layout == MRG_ROPE_HALF || layout == MRG_ROPE_INTERLEAVED);
    int64_t B = x->ndim == 3 ? x->shape[0] : 0, T = x->ndim == 3 ? x->shape[1] : 0;
    if (!fits) { /* the composition says what is wrong */
        mrg_tensor *y = mrg_linear(x, w, NULL);
        if (!y || x->ndim != 3 || heads < 1 || N % heads != 0)
            return mrg_rope(y, pos0, theta, layout); /* (its message) */
        y = mrg_rope(mrg_reshape(y, MRG_SHAPE(B, T, heads, N / heads)), pos0, theta, layout);
        return mrg_permute(y, (const int[]){0, 2, 1, 3});
    }
    heads_view v = {.nd = 4,
                    .shape = {B, T, heads, N / heads},
                    .perm = {0, 2, 1, 3},
                    .rope = true,
                    .pos0 = pos0,
                    .theta = theta,
                    .layout = (int)layout};
    return linear_heads("linear_rope_heads", x, w, NULL, NULL, NULL, &v);
}

/* ---- r + permute(x)·wᵀ ----------------------------------------------------- */

/* in: x, w, bias (or NULL), r; i[4..4+nd) the permutation of x's axes; the
 * product's geometry (ops_mm_save). The product's input m is x permuted,
 * viewed with r's leading dims. */
static mrg_tensor *merged(mrg_tensor *x, const mrg_tensor *r, int64_t K, const int *perm) {
    mrg_device *dev = x->dev;
    int64_t m_shape[MRG_MAX_DIMS];
    for (int i = 0; i + 1 < r->ndim; i++) m_shape[i] = r->shape[i];
    m_shape[r->ndim - 1] = K;
    mrg_tensor *m = mrg_tensor_new(dev, MRG_F32, r->ndim, m_shape);
    if (!m || ops_permute_copy(dev, mrg_ptr_of(x), mrg_ptr_of(m), x->ndim, x->shape, perm,
                               false) != MRG_OK)
        return NULL;
    return m;
}

static mrg_status permute_linear_add_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *w = n->in[1], *r = n->in[3], *dy = n->out->grad;
    int perm[MRG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = (int)n->i[4 + i];
    /* the add's backward, then the product's with m = permute(x) again */
    if (mrg_wants_grad(r)) MRG_TRY(mrg_accum_grad(r, dy));
    mrg_tensor *m = merged(x, r, w->shape[1], perm);
    OPS_ALLOC_OR_FAIL(m);
    m->requires_grad = mrg_wants_grad(x);
    mrg_node sub = *n;
    sub.in[0] = m;
    sub.n_in = 3;
    mrg_status st = ops_mm_backward(&sub, dy, 0);
    /* the permute's backward */
    if (st == MRG_OK && m->grad) {
        mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
        st = dx ? ops_permute_copy(x->dev, mrg_ptr_of(m->grad), mrg_ptr_of(dx), x->ndim, x->shape,
                                   perm, true)
                : MRG_ERR_OOM;
        if (st == MRG_OK) st = mrg_accum_grad(x, dx);
    }
    mrg_grad_pool_give(m->grad);
    m->grad = NULL;
    return st;
}

mrg_tensor *mrg_permute_linear_add(mrg_tensor *x, const int *perm, mrg_tensor *w,
                                   mrg_tensor *bias, mrg_tensor *r) {
    MRG_NULL_GUARD(x, w, r);
    bool fits = perm && x->dtype == MRG_F32 && r->dtype == MRG_F32 && r->dev == x->dev &&
                r->ndim >= 2 && w->ndim == 2 && mrg_last_dim(r) == w->shape[0] &&
                view_fits(x->ndim, x->shape, perm,
                          mrg_numel(r) / (w->shape[0] ? w->shape[0] : 1) * w->shape[1]);
    if (!fits) { /* the composition says what is wrong */
        mrg_tensor *m = mrg_permute(x, perm);
        if (!m || r->ndim < 1 || w->ndim != 2) return mrg_add(r, mrg_linear(m, w, bias));
        int64_t shape[MRG_MAX_DIMS];
        for (int i = 0; i + 1 < r->ndim; i++) shape[i] = r->shape[i];
        shape[r->ndim - 1] = w->shape[1];
        return mrg_linear_add(mrg_reshape(m, r->ndim, shape), w, bias, r);
    }
    mrg_device *dev = x->dev;
    mrg_tensor *y = mrg_tensor_like(r, MRG_F32);
    if (!y) return NULL;
    /* m = permute(x) viewed (..., K) only while the product needs it */
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    mrg_tensor *m = merged(x, r, w->shape[1], perm);
    mm_geom g;
    int64_t shape[MRG_MAX_DIMS];
    mrg_status st = m && ops_linear_check("permute_linear_add", m, w, bias) &&
                            ops_mm_plan("permute_linear_add", m, w, false, true, bias, &g, shape)
                        ? ops_mm_run(&g, m, w, bias, y)
                        : MRG_ERR_INVALID_ARG;
    mrg_arena_release(dev, &mark);
    if (st == MRG_OK) st = ops_add_into(r, y);
    if (st != MRG_OK) return NULL;
    mrg_tensor *const ins[4] = {x, w, bias, r};
    mrg_node *n = mrg_record(y, "permute_linear_add", permute_linear_add_backward, 4, ins);
    if (n) {
        ops_mm_save(n, &g);
        for (int i = 0; i < x->ndim; i++) n->i[4 + i] = perm[i];
    }
    return y;
}
