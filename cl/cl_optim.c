/* AdamW, Σ x² and gradient clipping (cl/kernels/optim.cl). The clip scale
 * stays on the device: no host round trip inside a training step. */
#include "cl/cl.h"

/* The fixed number of partial sums of sum_squares (deterministic order). */
#define SUMSQ_GROUPS 256

mrg_status mrg_cl_adamw(mrg_device *dev, mrg_ptr p, mrg_ptr g, mrg_ptr m, mrg_ptr v, int64_t n,
                        float lr, float b1, float b2, float eps, float wd, float bc1,
                        float bc2) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (p.dt != MRG_F32 || g.dt != MRG_F32 || m.dt != MRG_F32 || v.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: adamw: f32 only");
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_adamw);
    mrg_cl_arg_ptr(&a, p);
    mrg_cl_arg_ptr(&a, g);
    mrg_cl_arg_ptr(&a, m);
    mrg_cl_arg_ptr(&a, v);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_float(&a, lr);
    mrg_cl_arg_float(&a, b1);
    mrg_cl_arg_float(&a, b2);
    mrg_cl_arg_float(&a, eps);
    mrg_cl_arg_float(&a, wd);
    mrg_cl_arg_float(&a, bc1);
    mrg_cl_arg_float(&a, bc2);
    return mrg_cl_enqueue_1d(c, &a, n, "adamw");
}

mrg_status mrg_cl_sum_squares(mrg_device *dev, mrg_ptr x, int64_t n, mrg_ptr acc) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (x.dt != MRG_F32 || acc.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: sum_squares: f32 only");
    if (n <= 0) return MRG_OK;
    size_t wg = c->tune.red_wg;
    int64_t groups = (n + (int64_t)wg - 1) / (int64_t)wg;
    if (groups > SUMSQ_GROUPS) groups = SUMSQ_GROUPS;
    cl_mem part;
    mrg_status st = mrg_cl_scratch(c, (size_t)groups * sizeof(float), &part);
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_sumsq_partial);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_mem(&a, part);
    size_t global = (size_t)groups * wg;
    st = mrg_cl_enqueue(c, &a, 1, &global, &wg, "sum_squares");
    if (st != MRG_OK) return st;
    mrg_cl_args f = mrg_cl_args_begin(c, MRG_CLK_sumsq_finish);
    mrg_cl_arg_mem(&f, part);
    mrg_cl_arg_int(&f, (int)groups);
    mrg_cl_arg_ptr(&f, acc);
    return mrg_cl_enqueue_rows(c, &f, 1, "sum_squares");
}

mrg_status mrg_cl_clip_scale(mrg_device *dev, mrg_ptr sumsq, mrg_ptr x, int64_t n,
                             float max_norm) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (sumsq.dt != MRG_F32 || x.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: clip_scale: f32 only");
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_clip_scale);
    mrg_cl_arg_ptr(&a, sumsq);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_float(&a, max_norm);
    return mrg_cl_enqueue_1d(c, &a, n, "clip_scale");
}
