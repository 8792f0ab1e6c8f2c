/* Pointwise activations: exact GELU and SiLU, dx = dy · f'(x). */
#include "ops/ops_common.h"

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
