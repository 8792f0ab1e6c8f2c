/* Embedding lookup and its backward (cl/kernels/embedding.cl). */
#include "cl/cl.h"

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
