/* Fused linear layers for training: a linear layer together with the op
 * that consumes its output, recorded as one node, so that the step does
 * not keep the layer's output (mrg/ops.h).
 *
 *   mrg_linear_add      r + x·wᵀ + bias: the sum is written over the
 *                       product (the same add, in place)
 *   mrg_linear_permute  the product in a temporary that goes back to the
 *                       arena once it is copied into the permuted output
 *
 * Forward values and gradients are those of the composition bit for bit:
 * the same kernels run on the same values (the permute and the add's
 * backward only move values), and the gradients reach x, w, bias and r
 * in the composition's order. In a transformer block these remove the
 * output projection's and second MLP layer's outputs (kept only until the
 * residual add) and the fused qkv projection's output (kept only until it
 * was split into heads). */
#include "ops/matmul_internal.h"

/* ---- r + linear ---------------------------------------------------------- */

/* in: x, w, bias (or NULL), r; the product's geometry (ops_mm_save). The
 * add's backward (dr = dy) comes first, then the linear's with dc = dy. */
static mrg_status linear_add_backward(mrg_node *n) {
    mrg_tensor *dy = n->out->grad, *r = n->in[3];
    if (mrg_wants_grad(r)) MRG_TRY(mrg_accum_grad(r, dy));
    return ops_mm_backward(n, dy);
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
    /* y = r + y, as mrg_add(r, y) computes it */
    int nd;
    int64_t bshape[MRG_MAX_DIMS], rs[MRG_MAX_DIMS], ys[MRG_MAX_DIMS];
    if (!ops_broadcast("linear_add", r, y, &nd, bshape, rs, ys)) return NULL;
    MRG_TRY_NULL(dev->be->binary(dev, MRG_BIN_ADD, mrg_ptr_of(r), mrg_ptr_of(y), mrg_ptr_of(y), nd,
                                 bshape, rs, ys));
    mrg_tensor *const ins[4] = {x, w, bias, r};
    mrg_node *n = mrg_record(y, "linear_add", linear_add_backward, 4, ins);
    if (n) ops_mm_save(n, &g);
    return y;
}

/* ---- permute(linear) ----------------------------------------------------- */

/* The view of the product that is permuted. */
typedef struct heads_view {
    int nd;
    int64_t shape[MRG_MAX_DIMS];
    int perm[MRG_MAX_DIMS];
} heads_view;

/* in: x, w, bias (or NULL); aux: the heads_view. */
static mrg_status linear_permute_backward(mrg_node *n) {
    const heads_view *v = n->aux;
    mrg_tensor *x = n->in[0], *w = n->in[1];
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i + 1 < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    mrg_tensor *dc = mrg_tensor_new(x->dev, MRG_F32, x->ndim, shape); /* the product's gradient */
    OPS_ALLOC_OR_FAIL(dc);
    MRG_TRY(ops_permute_copy(x->dev, mrg_ptr_of(n->out->grad), mrg_ptr_of(dc), v->nd, v->shape,
                             v->perm, true));
    return ops_mm_backward(n, dc);
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

mrg_tensor *mrg_linear_permute(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias, int ndim,
                               const int64_t *shape, const int *perm) {
    MRG_NULL_GUARD(x, w);
    if (!ops_linear_check("linear_permute", x, w, bias)) return NULL;
    int64_t n_out = mrg_numel(x) / mrg_last_dim(x) * w->shape[0];
    if (x->ndim < 2 || mrg_last_dim(x) == 0 || !view_fits(ndim, shape, perm, n_out))
        return mrg_permute(mrg_reshape(mrg_linear(x, w, bias), ndim, shape), perm); /* it says why */
    mm_geom g;
    int64_t c_shape[MRG_MAX_DIMS], y_shape[MRG_MAX_DIMS];
    if (!ops_mm_plan("linear_permute", x, w, false, true, bias, &g, c_shape)) return NULL;
    mrg_device *dev = x->dev;
    heads_view *v = mrg_step_malloc(dev, sizeof *v);
    if (!v) return NULL;
    v->nd = ndim;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = shape[i];
        v->perm[i] = perm[i];
        y_shape[i] = shape[perm[i]];
    }
    mrg_tensor *y = mrg_tensor_new(dev, MRG_F32, ndim, y_shape);
    if (!y) return NULL;
    /* the product lives only until it is permuted into y */
    mrg_arena_mark mark = mrg_arena_get_mark(dev);
    mrg_tensor *c = mrg_tensor_new(dev, MRG_F32, x->ndim, c_shape);
    mrg_status st = c ? ops_mm_run(&g, x, w, bias, c) : MRG_ERR_OOM;
    if (st == MRG_OK)
        st = ops_permute_copy(dev, mrg_ptr_of(c), mrg_ptr_of(y), ndim, shape, perm, false);
    mrg_arena_release(dev, &mark);
    if (st != MRG_OK) return NULL;
    mrg_tensor *const ins[3] = {x, w, bias};
    mrg_node *n = mrg_record(y, "linear_permute", linear_permute_backward, 3, ins);
    if (n) {
        ops_mm_save(n, &g);
        n->aux = v;
    }
    return y;
}
