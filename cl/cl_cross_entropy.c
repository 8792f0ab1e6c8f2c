/* Cross-entropy, AdamW, Σ x² and gradient clipping (cl/kernels/train.cl).
 * The loss mean, the counted-row total and the clip scale stay on the
 * device: no host round trip inside a training step. */
#include "cl/cl.h"

/* The fixed number of partial sums of sum_squares (deterministic order). */
#define SUMSQ_GROUPS 256

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
