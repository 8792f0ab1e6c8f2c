/* Axis sums (cl/kernels/reduce.cl). */
#include "cl/cl.h"

mrg_status mrg_cl_reduce_sum(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                             int64_t inner, float scale) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (x.dt != MRG_F32 || y.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: reduce_sum: f32 only");
    if (inner == 1) { /* a row reduction: one work-group per output */
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_reduce_sum_rows);
        mrg_cl_arg_ptr(&a, x);
        mrg_cl_arg_ptr(&a, y);
        mrg_cl_arg_long(&a, n);
        mrg_cl_arg_float(&a, scale);
        return mrg_cl_enqueue_rows(c, &a, outer, "reduce_sum");
    }
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_reduce_sum_cols);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_long(&a, inner);
    mrg_cl_arg_float(&a, scale);
    mrg_cl_arg_long(&a, outer * inner);
    return mrg_cl_enqueue_1d(c, &a, outer * inner, "reduce_sum");
}
