/* RoPE: rotates head vectors by their positions (cl/kernels/rope.cl). */
#include <stdint.h>

#include "cl/cl.h"

mrg_status mrg_cl_rope(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t T,
                       int64_t heads, int64_t D, int64_t pos0, float theta, int layout,
                       bool inverse) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (x.dt != MRG_F32 || y.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: rope: f32 only");
    if (D <= 0 || D % 2 != 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: rope: head size %lld is not even",
                         (long long)D);
    if (D > INT32_MAX) /* the kernel takes the head size as int */
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: rope: head size %lld above 2^31",
                         (long long)D);
    if (layout != 0 && layout != 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: rope: unknown layout %d", layout);
    int64_t npairs = outer * T * heads * (D / 2);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_rope);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_long(&a, T);
    mrg_cl_arg_long(&a, heads);
    mrg_cl_arg_int(&a, (int)D);
    mrg_cl_arg_long(&a, pos0);
    mrg_cl_arg_float(&a, theta);
    mrg_cl_arg_int(&a, layout);
    mrg_cl_arg_int(&a, inverse);
    mrg_cl_arg_long(&a, npairs);
    return mrg_cl_enqueue_1d(c, &a, npairs, "rope");
}
