/* Elementwise kernels (cl/kernels/elementwise.cl): fill, convert, strided
 * copy, broadcasting binary ops, activations and their backward. */
#include <string.h>

#include "cl/cl.h"

static mrg_status need_f32(mrg_ptr p, const char *op, const char *what) {
    if (p.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: %s: %s must be f32, not %s", op, what,
                         mrg_dtype_name(p.dt));
    return MRG_OK;
}

mrg_status mrg_cl_fill(mrg_device *dev, mrg_ptr dst, int64_t n, float value) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (dst.dt != MRG_F32 && dst.dt != MRG_I32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: fill: dtype %s", mrg_dtype_name(dst.dt));
    mrg_cl_args a = mrg_cl_args_begin(c, dst.dt == MRG_F32 ? MRG_CLK_fill_f32 : MRG_CLK_fill_i32);
    mrg_cl_arg_ptr(&a, dst);
    mrg_cl_arg_long(&a, n);
    if (dst.dt == MRG_F32)
        mrg_cl_arg_float(&a, value);
    else
        mrg_cl_arg_int(&a, (int)value);
    return mrg_cl_enqueue_1d(c, &a, n, "fill");
}

mrg_status mrg_cl_convert(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int64_t n) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = need_f32(dst, "convert", "dst");
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_convert_to_f32);
    mrg_cl_arg_ptr(&a, src);
    mrg_cl_arg_int(&a, (int)src.dt);
    mrg_cl_arg_ptr(&a, dst);
    mrg_cl_arg_long(&a, n);
    return mrg_cl_enqueue_1d(c, &a, n, "convert");
}

/* Packs up to 6 values into a long8 (unused lanes 1 for shapes, 0 else). */
static cl_long8 pack8(int ndim, const int64_t *v, int64_t fill) {
    cl_long8 r;
    for (int i = 0; i < 8; i++) r.s[i] = i < ndim ? v[i] : fill;
    return r;
}

/* The (ndim, shape, stride0, stride1) arguments of a strided kernel. */
static void arg_strided(mrg_cl_args *a, int ndim, const int64_t *shape, const int64_t *s0,
                        const int64_t *s1) {
    mrg_cl_arg_int(a, ndim);
    cl_long8 sh = pack8(ndim, shape, 1), p0 = pack8(ndim, s0, 0), p1 = pack8(ndim, s1, 0);
    mrg_cl_arg(a, sizeof sh, &sh);
    mrg_cl_arg(a, sizeof p0, &p0);
    mrg_cl_arg(a, sizeof p1, &p1);
}

static int64_t shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

mrg_status mrg_cl_copy_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                               const int64_t *shape, const int64_t *src_stride,
                               const int64_t *dst_stride, bool accumulate) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (ndim < 0 || ndim > 6)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: copy_strided: ndim %d > 6", ndim);
    if (mrg_dtype_size(src.dt) != 4 || mrg_dtype_size(dst.dt) != 4)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: copy_strided: 4-byte dtypes only");
    if (accumulate && (src.dt != MRG_F32 || dst.dt != MRG_F32))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: copy_strided: accumulate needs f32");
    int64_t n = shape_numel(ndim, shape);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_copy_strided);
    mrg_cl_arg_ptr(&a, src);
    mrg_cl_arg_ptr(&a, dst);
    arg_strided(&a, ndim, shape, src_stride, dst_stride);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_int(&a, accumulate ? 1 : 0);
    return mrg_cl_enqueue_1d(c, &a, n, "copy_strided");
}

static bool float_dtype(mrg_dtype dt) { return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16; }

mrg_status mrg_cl_convert_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                                  const int64_t *shape, const int64_t *src_stride,
                                  const int64_t *dst_stride) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (ndim < 0 || ndim > 6)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: convert_strided: ndim %d > 6", ndim);
    if (!float_dtype(src.dt) || !float_dtype(dst.dt))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: convert_strided: %s to %s",
                         mrg_dtype_name(src.dt), mrg_dtype_name(dst.dt));
    int64_t n = shape_numel(ndim, shape);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_convert_strided);
    mrg_cl_arg_ptr(&a, src);
    mrg_cl_arg_int(&a, (int)src.dt);
    mrg_cl_arg_ptr(&a, dst);
    mrg_cl_arg_int(&a, (int)dst.dt);
    arg_strided(&a, ndim, shape, src_stride, dst_stride);
    mrg_cl_arg_long(&a, n);
    return mrg_cl_enqueue_1d(c, &a, n, "convert_strided");
}

mrg_status mrg_cl_binary(mrg_device *dev, mrg_binop op, mrg_ptr a_, mrg_ptr b_, mrg_ptr out,
                         int ndim, const int64_t *shape, const int64_t *a_stride,
                         const int64_t *b_stride) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (ndim < 0 || ndim > 6)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: binary: ndim %d > 6", ndim);
    mrg_status st = need_f32(a_, "binary", "a");
    if (st == MRG_OK) st = need_f32(b_, "binary", "b");
    if (st == MRG_OK) st = need_f32(out, "binary", "out");
    if (st != MRG_OK) return st;
    int64_t n = shape_numel(ndim, shape);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_binary);
    mrg_cl_arg_ptr(&a, a_);
    mrg_cl_arg_ptr(&a, b_);
    mrg_cl_arg_ptr(&a, out);
    mrg_cl_arg_int(&a, (int)op);
    arg_strided(&a, ndim, shape, a_stride, b_stride);
    mrg_cl_arg_long(&a, n);
    return mrg_cl_enqueue_1d(c, &a, n, "binary");
}

mrg_status mrg_cl_unary(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr y, int64_t n,
                        float alpha) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = need_f32(x, "unary", "x");
    if (st == MRG_OK) st = need_f32(y, "unary", "y");
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_unary);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_int(&a, (int)op);
    mrg_cl_arg_float(&a, alpha);
    return mrg_cl_enqueue_1d(c, &a, n, "unary");
}

mrg_status mrg_cl_unary_backward(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr dy,
                                 mrg_ptr dx, int64_t n) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (op != MRG_UN_GELU && op != MRG_UN_SILU)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: unary_backward: GELU and SiLU only");
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_unary_backward);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, dy);
    mrg_cl_arg_ptr(&a, dx);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_int(&a, (int)op);
    return mrg_cl_enqueue_1d(c, &a, n, "unary_backward");
}
