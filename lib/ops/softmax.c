/* Softmax and log-softmax over the last axis (optionally causal). */
#include "ops/ops_common.h"

/* dx from the saved output y = n->out; flag[0] = log-softmax. */
static mrg_status softmax_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *y = n->out, *dy = y->grad;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(x->dev->be->softmax_backward(x->dev, mrg_ptr_of(y), mrg_ptr_of(dy), mrg_ptr_of(dx),
                                         mrg_rows(x), mrg_last_dim(x), n->flag[0]));
    return mrg_accum_grad(x, dx);
}

static mrg_tensor *softmax_impl(const char *name, mrg_tensor *x, bool causal, bool log) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32(name, "x", x)) return NULL;
    if (x->ndim < 1) OPS_FAIL("%s: x must have at least 1 dim", name);
    int64_t causal_tq = 0;
    if (causal) {
        /* x (..., Tq, Tk): row r is query r % Tq */
        if (x->ndim < 2) OPS_FAIL("%s: causal needs x (..., Tq, Tk), got %s", name, OPS_SHAPE(x));
        causal_tq = x->shape[x->ndim - 2];
        if (causal_tq > mrg_last_dim(x))
            OPS_FAIL("%s: causal with Tq %lld > Tk %lld would mask whole rows (x %s)", name,
                     (long long)causal_tq, (long long)mrg_last_dim(x), OPS_SHAPE(x));
    }
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32);
    if (!y) return NULL;
    MRG_TRY_NULL(x->dev->be->softmax(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), mrg_rows(x),
                                     mrg_last_dim(x), causal_tq, log));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, name, softmax_backward, 1, ins);
    if (n) n->flag[0] = log;
    return y;
}

mrg_tensor *mrg_softmax(mrg_tensor *x, bool causal) {
    return softmax_impl("softmax", x, causal, false);
}

mrg_tensor *mrg_log_softmax(mrg_tensor *x) { return softmax_impl("log_softmax", x, false, true); }
