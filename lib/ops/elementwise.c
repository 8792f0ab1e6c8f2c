/* The elementwise family: broadcasting binary ops (add, sub, mul), scaling
 * and the pointwise activations (exact GELU, SiLU).
 *
 * A binary op's forward runs one strided kernel over the broadcast shape; its
 * backward sums the output gradient over each input's broadcast axes. */
#include "ops/ops_common.h"

/* out[...] = dy[...] · other[broadcast] over dy's shape (the product rule
 * term of mul's backward, before the reduction to the input's shape). */
static mrg_tensor *times_other(mrg_tensor *dy, mrg_tensor *a, mrg_tensor *b, bool other_is_b) {
    int nd;
    int64_t shape[MRG_MAX_DIMS], as[MRG_MAX_DIMS], bs[MRG_MAX_DIMS], ds[MRG_MAX_DIMS];
    if (!ops_broadcast("mul", a, b, &nd, shape, as, bs)) return NULL;
    ops_contig_strides(nd, shape, ds);
    mrg_tensor *r = mrg_tensor_like(dy, MRG_F32);
    if (!r) return NULL;
    mrg_tensor *other = other_is_b ? b : a;
    mrg_device *dev = dy->dev;
    MRG_TRY_NULL(dev->be->binary(dev, MRG_BIN_MUL, mrg_ptr_of(dy), mrg_ptr_of(other),
                                 mrg_ptr_of(r), nd, shape, ds, other_is_b ? bs : as));
    return r;
}

static mrg_status add_sub_backward(mrg_node *n) {
    mrg_tensor *dy = n->out->grad;
    float sign_b = n->f[0]; /* +1 add, −1 sub */
    if (mrg_wants_grad(n->in[0])) {
        mrg_tensor *da = ops_reduce_to(dy, n->in[0], 1.0f);
        OPS_ALLOC_OR_FAIL(da);
        MRG_TRY(mrg_accum_grad(n->in[0], da));
    }
    if (mrg_wants_grad(n->in[1])) {
        mrg_tensor *db = ops_reduce_to(dy, n->in[1], sign_b);
        OPS_ALLOC_OR_FAIL(db);
        MRG_TRY(mrg_accum_grad(n->in[1], db));
    }
    return MRG_OK;
}

static mrg_status mul_backward(mrg_node *n) {
    mrg_tensor *dy = n->out->grad, *a = n->in[0], *b = n->in[1];
    if (mrg_wants_grad(a)) {
        mrg_tensor *t = times_other(dy, a, b, true); /* dy · b */
        mrg_tensor *da = t ? ops_reduce_to(t, a, 1.0f) : NULL;
        OPS_ALLOC_OR_FAIL(da);
        MRG_TRY(mrg_accum_grad(a, da));
    }
    if (mrg_wants_grad(b)) {
        mrg_tensor *t = times_other(dy, a, b, false); /* dy · a */
        mrg_tensor *db = t ? ops_reduce_to(t, b, 1.0f) : NULL;
        OPS_ALLOC_OR_FAIL(db);
        MRG_TRY(mrg_accum_grad(b, db));
    }
    return MRG_OK;
}

mrg_status ops_binary_into(const char *name, mrg_binop op, mrg_tensor *a, mrg_tensor *b,
                           mrg_tensor *out) {
    int nd;
    int64_t shape[MRG_MAX_DIMS], as[MRG_MAX_DIMS], bs[MRG_MAX_DIMS];
    if (!ops_broadcast(name, a, b, &nd, shape, as, bs)) return MRG_ERR_INVALID_ARG;
    return a->dev->be->binary(a->dev, op, mrg_ptr_of(a), mrg_ptr_of(b), mrg_ptr_of(out), nd, shape,
                              as, bs);
}

static mrg_tensor *binary(const char *name, mrg_binop op, mrg_tensor *a, mrg_tensor *b) {
    MRG_NULL_GUARD(a, b);
    mrg_tensor *const ins[2] = {a, b};
    if (!ops_check_device(name, 2, ins)) return NULL;
    if (!ops_check_f32(name, "a", a) || !ops_check_f32(name, "b", b)) return NULL;
    int nd;
    int64_t shape[MRG_MAX_DIMS], as[MRG_MAX_DIMS], bs[MRG_MAX_DIMS];
    if (!ops_broadcast(name, a, b, &nd, shape, as, bs)) return NULL;
    mrg_tensor *y = mrg_tensor_new(a->dev, MRG_F32, nd, shape);
    if (!y) return NULL;
    mrg_device *dev = a->dev;
    MRG_TRY_NULL(dev->be->binary(dev, op, mrg_ptr_of(a), mrg_ptr_of(b), mrg_ptr_of(y), nd, shape,
                                 as, bs));
    mrg_node *n = mrg_record(y, name, op == MRG_BIN_MUL ? mul_backward : add_sub_backward, 2,
                             ins);
    if (n) n->f[0] = op == MRG_BIN_SUB ? -1.0f : 1.0f;
    return y;
}

mrg_tensor *mrg_add(mrg_tensor *a, mrg_tensor *b) { return binary("add", MRG_BIN_ADD, a, b); }
mrg_tensor *mrg_sub(mrg_tensor *a, mrg_tensor *b) { return binary("sub", MRG_BIN_SUB, a, b); }
mrg_tensor *mrg_mul(mrg_tensor *a, mrg_tensor *b) { return binary("mul", MRG_BIN_MUL, a, b); }

/* dx = s · dy */
static mrg_status scale_backward(mrg_node *n) {
    mrg_tensor *dy = n->out->grad;
    mrg_tensor *dx = mrg_tensor_like(dy, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(dy->dev->be->unary(dy->dev, MRG_UN_SCALE, mrg_ptr_of(dy), mrg_ptr_of(dx),
                               mrg_numel(dy), n->f[0]));
    return mrg_accum_grad(n->in[0], dx);
}

mrg_tensor *mrg_scale(mrg_tensor *x, float s) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32("scale", "x", x)) return NULL;
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32);
    if (!y) return NULL;
    MRG_TRY_NULL(x->dev->be->unary(x->dev, MRG_UN_SCALE, mrg_ptr_of(x), mrg_ptr_of(y),
                                   mrg_numel(x), s));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, "scale", scale_backward, 1, ins);
    if (n) n->f[0] = s;
    return y;
}

/* ---- activations: dx = dy · f'(x) ---- */

static mrg_status activation_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *dy = n->out->grad;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    mrg_unop op = (mrg_unop)n->i[0];
    MRG_TRY(x->dev->be->unary_backward(x->dev, op, mrg_ptr_of(x), mrg_ptr_of(dy),
                                       mrg_ptr_of(dx), mrg_numel(x)));
    return mrg_accum_grad(x, dx);
}

static mrg_tensor *activation(const char *name, mrg_unop op, mrg_tensor *x) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32(name, "x", x)) return NULL;
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32);
    if (!y) return NULL;
    MRG_TRY_NULL(x->dev->be->unary(x->dev, op, mrg_ptr_of(x), mrg_ptr_of(y), mrg_numel(x), 0.0f));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, name, activation_backward, 1, ins);
    if (n) n->i[0] = op;
    return y;
}

mrg_tensor *mrg_gelu(mrg_tensor *x) { return activation("gelu", MRG_UN_GELU, x); }
mrg_tensor *mrg_silu(mrg_tensor *x) { return activation("silu", MRG_UN_SILU, x); }
