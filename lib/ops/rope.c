/* Rotary position embedding on x (B, T, H, D); the backward rotates the
 * gradient back by the same angles (the rotation is orthogonal). */
#include "ops/ops_common.h"

/* i[0] = pos0, i[1] = layout; f[0] = theta. */
static mrg_status rope_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *dy = n->out->grad;
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(x->dev->be->rope(x->dev, mrg_ptr_of(dy), mrg_ptr_of(dx), x->shape[0], x->shape[1],
                             x->shape[2], x->shape[3], n->i[0], n->f[0], (int)n->i[1], true));
    return mrg_accum_grad(x, dx);
}

mrg_tensor *mrg_rope(mrg_tensor *x, int64_t pos0, float theta, mrg_rope_layout layout) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32("rope", "x", x)) return NULL;
    if (x->ndim != 4) OPS_FAIL("rope: x must be (B, T, H, D), got %s", OPS_SHAPE(x));
    if (x->shape[3] % 2 != 0) OPS_FAIL("rope: head dim D of x %s must be even", OPS_SHAPE(x));
    if (pos0 < 0) OPS_FAIL("rope: pos0 %lld must be >= 0", (long long)pos0);
    if (!(theta > 0.0f)) OPS_FAIL("rope: theta %g must be > 0", (double)theta);
    if (layout != MRG_ROPE_HALF && layout != MRG_ROPE_INTERLEAVED)
        OPS_FAIL("rope: unknown layout %d", (int)layout);
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32);
    if (!y) return NULL;
    MRG_TRY_NULL(x->dev->be->rope(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), x->shape[0], x->shape[1],
                                  x->shape[2], x->shape[3], pos0, theta, (int)layout, false));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, "rope", rope_backward, 1, ins);
    if (n) {
        n->i[0] = pos0;
        n->i[1] = layout;
        n->f[0] = theta;
    }
    return y;
}
