/* Sum and mean over one axis. The backward broadcasts dy back over the
 * reduced axis with a stride-0 copy. */
#include "ops/ops_common.h"

/* x viewed as (outer, n, inner) around axis i[0]; f[0] = scale (1 or 1/n). */
static mrg_status reduce_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *dy = n->out->grad;
    int axis = (int)n->i[0];
    int64_t shape[3] = {ops_prod(x->shape, 0, axis), x->shape[axis],
                        ops_prod(x->shape, axis + 1, x->ndim)};
    int64_t src_stride[3] = {shape[2], 0, 1};
    int64_t dst_stride[3] = {shape[1] * shape[2], shape[2], 1};
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    mrg_device *dev = x->dev;
    MRG_TRY(dev->be->copy_strided(dev, mrg_ptr_of(dy), mrg_ptr_of(dx), 3, shape, src_stride,
                                  dst_stride, false));
    if (n->f[0] != 1.0f)
        MRG_TRY(dev->be->unary(dev, MRG_UN_SCALE, mrg_ptr_of(dx), mrg_ptr_of(dx), mrg_numel(dx),
                               n->f[0]));
    return mrg_accum_grad(x, dx);
}

/* Without keepdim the axis is dropped; reducing a 1-D tensor gives shape
 * (1,) rather than a 0-dim tensor, like mrg_cross_entropy's loss. */
static mrg_tensor *reduce(const char *name, mrg_tensor *x, int axis, bool keepdim, bool mean) {
    MRG_NULL_GUARD(x);
    if (!ops_check_f32(name, "x", x)) return NULL;
    int ax;
    if (!ops_axis(name, x->ndim, axis, &ax)) return NULL;
    int64_t n_ax = x->shape[ax];
    if (mean && n_ax == 0) OPS_FAIL("%s: axis %d of x %s is empty", name, axis, OPS_SHAPE(x));
    int64_t shape[MRG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != ax) shape[nd++] = x->shape[i];
        else if (keepdim) shape[nd++] = 1;
    }
    if (nd == 0) shape[nd++] = 1;
    mrg_tensor *y = mrg_tensor_new(x->dev, MRG_F32, nd, shape);
    if (!y) return NULL;
    float scale = mean ? 1.0f / (float)n_ax : 1.0f;
    MRG_TRY_NULL(x->dev->be->reduce_sum(x->dev, mrg_ptr_of(x), mrg_ptr_of(y),
                                        ops_prod(x->shape, 0, ax), n_ax,
                                        ops_prod(x->shape, ax + 1, x->ndim), scale));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, name, reduce_backward, 1, ins);
    if (n) {
        n->i[0] = ax;
        n->f[0] = scale;
    }
    return y;
}

mrg_tensor *mrg_sum(mrg_tensor *x, int axis, bool keepdim) {
    return reduce("sum", x, axis, keepdim, false);
}

mrg_tensor *mrg_mean(mrg_tensor *x, int axis, bool keepdim) {
    return reduce("mean", x, axis, keepdim, true);
}
