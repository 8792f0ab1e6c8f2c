/* Embedding lookup and its backward (cl/kernels/embedding.cl). */
#include <stdint.h>

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
    if (n <= 0 || D <= 0) return MRG_OK;
    if (n > INT32_MAX) /* the row links are int */
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: embedding_backward: %lld rows, above 2^31",
                         (long long)n);
    /* scratch: the links (3n ints), then the block sums (n × D) */
    cl_mem s;
    mrg_status st = mrg_cl_scratch(c, (size_t)(3 * n + n * D) * sizeof(float), &s);
    if (st != MRG_OK) return st;
    const cl_ulong loff = 0, poff = (cl_ulong)(3 * n);
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_embedding_links);
    mrg_cl_arg_ptr(&a, ids);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_long(&a, V);
    mrg_cl_arg_mem(&a, s);
    mrg_cl_arg(&a, sizeof loff, &loff);
    st = mrg_cl_enqueue_1d(c, &a, n, "embedding_backward");
    if (st != MRG_OK) return st;
    size_t local[2] = {mrg_cl_cols_wg(c, D), 1};
    size_t global[2] = {(size_t)D, (size_t)n};
    mrg_cl_args p = mrg_cl_args_begin(c, MRG_CLK_embedding_backward_partial);
    mrg_cl_arg_ptr(&p, dy);
    mrg_cl_arg_mem(&p, s);
    mrg_cl_arg(&p, sizeof loff, &loff);
    mrg_cl_arg_mem(&p, s);
    mrg_cl_arg(&p, sizeof poff, &poff);
    mrg_cl_arg_long(&p, n);
    mrg_cl_arg_long(&p, D);
    st = mrg_cl_enqueue(c, &p, 2, global, local, "embedding_backward");
    if (st != MRG_OK) return st;
    mrg_cl_args f = mrg_cl_args_begin(c, MRG_CLK_embedding_backward_finish);
    mrg_cl_arg_ptr(&f, ids);
    mrg_cl_arg_mem(&f, s);
    mrg_cl_arg(&f, sizeof loff, &loff);
    mrg_cl_arg_mem(&f, s);
    mrg_cl_arg(&f, sizeof poff, &poff);
    mrg_cl_arg_ptr(&f, dw);
    mrg_cl_arg_long(&f, n);
    mrg_cl_arg_long(&f, D);
    return mrg_cl_enqueue(c, &f, 2, global, local, "embedding_backward");
}
