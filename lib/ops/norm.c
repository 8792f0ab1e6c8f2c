/* Normalisations over the last axis: LayerNorm, RMSNorm, L2 normalisation.
 * The forward saves its per-row statistics (mean, rstd, norm) for the
 * backward kernels. */
#include "ops/ops_common.h"

/* Checks an optional per-channel vector (C) of an op. */
static bool check_vec(const char *op, const char *name, const mrg_tensor *v, int64_t C,
                      bool any_float) {
    if (!v) return true;
    if (any_float ? !ops_check_weight(op, name, v, MRG_KERNEL_RMSNORM) : !ops_check_f32(op, name, v))
        return false;
    if (v->ndim != 1 || v->shape[0] != C) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: %s %s must have shape (%lld,)", op, name,
                  OPS_SHAPE(v), (long long)C);
        return false;
    }
    return true;
}

/* Rows of x viewed as (rows, C): a step tensor of shape (rows). */
static mrg_tensor *row_stats(const mrg_tensor *x) {
    int64_t rows = mrg_rows(x);
    return mrg_tensor_new(x->dev, MRG_F32, 1, &rows);
}

/* A gradient buffer for an optional parameter, or NULL when not wanted. */
static mrg_tensor *param_grad(mrg_tensor *p, bool *fail) {
    if (!mrg_wants_grad(p)) return NULL;
    mrg_tensor *g = mrg_tensor_like(p, MRG_F32);
    if (!g) *fail = true;
    return g;
}

static mrg_status accum_pair(mrg_tensor *x, mrg_tensor *dx, mrg_tensor *p, mrg_tensor *dp,
                             mrg_tensor *q, mrg_tensor *dq) {
    MRG_TRY(mrg_accum_grad(x, dx));
    if (dp) MRG_TRY(mrg_accum_grad(p, dp));
    if (dq) MRG_TRY(mrg_accum_grad(q, dq));
    return MRG_OK;
}

/* ---- LayerNorm ---------------------------------------------------------- */

/* in: x, w, b; saved: mean, rstd (rows). */
static mrg_status layernorm_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *dy = n->out->grad;
    bool fail = false;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    mrg_tensor *dw = param_grad(w, &fail), *db = param_grad(b, &fail);
    if (!dx || fail) return MRG_ERR_OOM;
    MRG_TRY(x->dev->be->layernorm_backward(
        x->dev, mrg_ptr_of(x), w ? mrg_ptr_of(w) : mrg_ptr_null(), mrg_ptr_of(n->saved[0]),
        mrg_ptr_of(n->saved[1]), mrg_ptr_of(dy), mrg_ptr_of(dx),
        dw ? mrg_ptr_of(dw) : mrg_ptr_null(), db ? mrg_ptr_of(db) : mrg_ptr_null(), mrg_rows(x),
        mrg_last_dim(x)));
    return accum_pair(x, dx, w, dw, b, db);
}

mrg_tensor *mrg_layernorm(mrg_tensor *x, mrg_tensor *w, mrg_tensor *b, float eps) {
    MRG_NULL_GUARD(x);
    mrg_tensor *const ins[3] = {x, w, b};
    if (!ops_check_device("layernorm", 3, ins)) return NULL;
    if (!ops_check_f32("layernorm", "x", x)) return NULL;
    if (x->ndim < 1) OPS_FAIL("layernorm: x must have at least 1 dim");
    int64_t C = mrg_last_dim(x);
    if (!check_vec("layernorm", "w", w, C, false) || !check_vec("layernorm", "b", b, C, false))
        return NULL;
    if (!(eps >= 0.0f)) OPS_FAIL("layernorm: eps %g must be >= 0", (double)eps);
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32), *mean = row_stats(x), *rstd = row_stats(x);
    if (!y || !mean || !rstd) return NULL;
    MRG_TRY_NULL(x->dev->be->layernorm(x->dev, mrg_ptr_of(x), w ? mrg_ptr_of(w) : mrg_ptr_null(),
                                       b ? mrg_ptr_of(b) : mrg_ptr_null(), mrg_ptr_of(y),
                                       mrg_ptr_of(mean), mrg_ptr_of(rstd), mrg_rows(x), C, eps));
    mrg_node *n = mrg_record(y, "layernorm", layernorm_backward, 3, ins);
    if (n) {
        n->saved[0] = mean;
        n->saved[1] = rstd;
    }
    return y;
}

/* ---- RMSNorm ------------------------------------------------------------ */

/* in: x, w; saved: rstd (rows). A frozen bf16/f16 w gets no gradient. */
static mrg_status rmsnorm_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *w = n->in[1], *dy = n->out->grad;
    bool fail = false;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32), *dw = param_grad(w, &fail);
    if (!dx || fail) return MRG_ERR_OOM;
    MRG_TRY(x->dev->be->rmsnorm_backward(x->dev, mrg_ptr_of(x), w ? mrg_ptr_of(w) : mrg_ptr_null(),
                                         mrg_ptr_of(n->saved[0]), mrg_ptr_of(dy), mrg_ptr_of(dx),
                                         dw ? mrg_ptr_of(dw) : mrg_ptr_null(), mrg_rows(x),
                                         mrg_last_dim(x)));
    return accum_pair(x, dx, w, dw, NULL, NULL);
}

mrg_tensor *mrg_rmsnorm(mrg_tensor *x, mrg_tensor *w, float eps) {
    MRG_NULL_GUARD(x);
    mrg_tensor *const ins[2] = {x, w};
    if (!ops_check_device("rmsnorm", 2, ins)) return NULL;
    if (!ops_check_f32("rmsnorm", "x", x)) return NULL;
    if (x->ndim < 1) OPS_FAIL("rmsnorm: x must have at least 1 dim");
    int64_t C = mrg_last_dim(x);
    if (!check_vec("rmsnorm", "w", w, C, true)) return NULL;
    if (!(eps >= 0.0f)) OPS_FAIL("rmsnorm: eps %g must be >= 0", (double)eps);
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32), *rstd = row_stats(x);
    if (!y || !rstd) return NULL;
    MRG_TRY_NULL(x->dev->be->rmsnorm(x->dev, mrg_ptr_of(x), w ? mrg_ptr_of(w) : mrg_ptr_null(),
                                     mrg_ptr_of(y), mrg_ptr_of(rstd), mrg_rows(x), C, eps));
    mrg_node *n = mrg_record(y, "rmsnorm", rmsnorm_backward, 2, ins);
    if (n) n->saved[0] = rstd;
    return y;
}

/* ---- L2 normalisation --------------------------------------------------- */

/* in: x; out y; saved: norm (rows); f[0] = eps. */
static mrg_status l2norm_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *y = n->out, *dy = y->grad;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(x->dev->be->l2norm_backward(x->dev, mrg_ptr_of(x), mrg_ptr_of(y),
                                        mrg_ptr_of(n->saved[0]), mrg_ptr_of(dy), mrg_ptr_of(dx),
                                        mrg_rows(x), mrg_last_dim(x), n->f[0]));
    return mrg_accum_grad(x, dx);
}

mrg_tensor *mrg_l2_normalize(mrg_tensor *x, float eps) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32("l2_normalize", "x", x)) return NULL;
    if (x->ndim < 1) OPS_FAIL("l2_normalize: x must have at least 1 dim");
    if (!(eps > 0.0f)) OPS_FAIL("l2_normalize: eps %g must be > 0", (double)eps);
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32), *norm = row_stats(x);
    if (!y || !norm) return NULL;
    MRG_TRY_NULL(x->dev->be->l2norm(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), mrg_ptr_of(norm),
                                    mrg_rows(x), mrg_last_dim(x), eps));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, "l2_normalize", l2norm_backward, 1, ins);
    if (n) {
        n->saved[0] = norm;
        n->f[0] = eps;
    }
    return y;
}
