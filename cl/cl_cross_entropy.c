/* Cross-entropy and its backward (cl/kernels/cross_entropy.cl). The loss
 * mean and the counted-row total stay on the device: no host round trip
 * inside a training step. */
#include "cl/cl.h"

mrg_status mrg_cl_cross_entropy(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                mrg_ptr loss, int64_t rows, int64_t V, int ignore) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (logits.dt != MRG_F32 || targets.dt != MRG_I32 || loss.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: cross_entropy: dtypes");
    cl_mem part;
    mrg_status st = mrg_cl_scratch(c, (size_t)(rows > 0 ? rows : 1) * 2 * sizeof(float), &part);
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_ce_rows);
    mrg_cl_arg_ptr(&a, logits);
    mrg_cl_arg_ptr(&a, targets);
    mrg_cl_arg_mem(&a, part);
    mrg_cl_arg_long(&a, V);
    mrg_cl_arg_int(&a, ignore);
    st = mrg_cl_enqueue_rows(c, &a, rows, "cross_entropy");
    if (st != MRG_OK) return st;
    mrg_cl_args f = mrg_cl_args_begin(c, MRG_CLK_ce_finish);
    mrg_cl_arg_mem(&f, part);
    mrg_cl_arg_long(&f, rows);
    mrg_cl_arg_ptr(&f, loss);
    return mrg_cl_enqueue_rows(c, &f, 1, "cross_entropy");
}

mrg_status mrg_cl_cross_entropy_backward(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                         mrg_ptr dloss, mrg_ptr dlogits, int64_t rows,
                                         int64_t V, int ignore) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (logits.dt != MRG_F32 || targets.dt != MRG_I32 || dloss.dt != MRG_F32 ||
        dlogits.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: cross_entropy_backward: dtypes");
    cl_mem cnt;
    mrg_status st = mrg_cl_scratch(c, sizeof(float), &cnt);
    if (st != MRG_OK) return st;
    mrg_cl_args k = mrg_cl_args_begin(c, MRG_CLK_ce_count);
    mrg_cl_arg_ptr(&k, targets);
    mrg_cl_arg_long(&k, rows);
    mrg_cl_arg_long(&k, V);
    mrg_cl_arg_int(&k, ignore);
    mrg_cl_arg_mem(&k, cnt);
    st = mrg_cl_enqueue_rows(c, &k, 1, "cross_entropy_backward");
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_ce_backward_rows);
    mrg_cl_arg_ptr(&a, logits);
    mrg_cl_arg_ptr(&a, targets);
    mrg_cl_arg_ptr(&a, dloss);
    mrg_cl_arg_mem(&a, cnt);
    mrg_cl_arg_ptr(&a, dlogits);
    mrg_cl_arg_long(&a, V);
    mrg_cl_arg_int(&a, ignore);
    return mrg_cl_enqueue_rows(c, &a, rows, "cross_entropy_backward");
}
