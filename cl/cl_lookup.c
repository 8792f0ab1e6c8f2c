/* RoPE, embedding (and backward) and axis sums (cl/kernels/lookup.cl). */
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

mrg_status mrg_cl_embedding(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                            int64_t D, int64_t V) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (w.dt == MRG_I32 || ids.dt != MRG_I32 || out.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: embedding: w %s, ids %s, out %s",
                         mrg_dtype_name(w.dt), mrg_dtype_name(ids.dt), mrg_dtype_name(out.dt));
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_embedding);
    mrg_cl_arg_ptr(&a, w);
    mrg_cl_arg_int(&a, (int)w.dt);
    mrg_cl_arg_ptr(&a, ids);
    mrg_cl_arg_ptr(&a, out);
    mrg_cl_arg_long(&a, D);
    mrg_cl_arg_long(&a, V);
    mrg_cl_arg_long(&a, n * D);
    return mrg_cl_enqueue_1d(c, &a, n * D, "embedding");
}

mrg_status mrg_cl_embedding_backward(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                     int64_t n, int64_t D, int64_t V) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (dy.dt != MRG_F32 || ids.dt != MRG_I32 || dw.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: embedding_backward: dtypes");
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_embedding_backward);
    mrg_cl_arg_ptr(&a, dy);
    mrg_cl_arg_ptr(&a, ids);
    mrg_cl_arg_ptr(&a, dw);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_long(&a, D);
    mrg_cl_arg_long(&a, V);
    return mrg_cl_enqueue_1d(c, &a, D, "embedding_backward");
}

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
