/* LayerNorm, RMSNorm and L2 normalisation (cl/kernels/norm.cl): one
 * work-group per row with local-memory reductions; affine gradients as
 * two-pass column sums (deterministic). */
#include "cl/cl.h"

mrg_status mrg_cl_layernorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr b, mrg_ptr y,
                            mrg_ptr mean, mrg_ptr rstd, int64_t rows, int64_t cols, float eps) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("layernorm", 6, (mrg_ptr[]){x, w, b, y, mean, rstd});
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_layernorm_rows);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, w);
    mrg_cl_arg_ptr(&a, b);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_ptr(&a, mean);
    mrg_cl_arg_ptr(&a, rstd);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_float(&a, eps);
    mrg_cl_arg_int(&a, w.buf != NULL);
    mrg_cl_arg_int(&a, b.buf != NULL);
    return mrg_cl_enqueue_rows(c, &a, rows, "layernorm");
}

/* dw[c] = Σ_r dy·(x − mean)·rstd and db[c] = Σ_r dy (mean optional), in
 * the two passes of the column sums (cl_reduce.c): deterministic. */
static mrg_status affine_grad(mrg_cl_ctx *c, mrg_ptr x, mrg_ptr mean, mrg_ptr rstd, mrg_ptr dy,
                              mrg_ptr dw, mrg_ptr db, int64_t rows, int64_t cols, const char *op) {
    if (!dw.buf && !db.buf) return MRG_OK;
    if (cols <= 0) return MRG_OK;
    int64_t nparts = mrg_cl_col_parts(rows);
    cl_mem part = NULL;
    mrg_ptr pw = dw, pb = db;
    mrg_buffer scratch;
    if (nparts > 1) { /* partials of dw at 0, of db after them */
        mrg_status st = mrg_cl_scratch(c, (size_t)(2 * nparts * cols) * sizeof(float), &part);
        if (st != MRG_OK) return st;
        scratch.handle = part;
        scratch.bytes = (size_t)(2 * nparts * cols) * sizeof(float);
        mrg_ptr w0 = {&scratch, 0, MRG_F32}, b0 = {&scratch, nparts * cols, MRG_F32};
        if (dw.buf) pw = w0;
        if (db.buf) pb = b0;
    }
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_norm_affine_partial);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, mean);
    mrg_cl_arg_ptr(&a, rstd);
    mrg_cl_arg_ptr(&a, dy);
    mrg_cl_arg_ptr(&a, pw);
    mrg_cl_arg_ptr(&a, pb);
    mrg_cl_arg_long(&a, rows);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_int(&a, mean.buf != NULL);
    mrg_cl_arg_int(&a, dw.buf != NULL);
    mrg_cl_arg_int(&a, db.buf != NULL);
    size_t local[2] = {mrg_cl_cols_wg(c, cols), 1};
    size_t global[2] = {(size_t)cols, (size_t)nparts};
    mrg_status st = mrg_cl_enqueue(c, &a, 2, global, local, op);
    if (st != MRG_OK || nparts == 1) return st;
    if (dw.buf) st = mrg_cl_colsum_finish(c, part, 0, nparts, cols, 1, 1.0f, dw, op);
    if (st == MRG_OK && db.buf)
        st = mrg_cl_colsum_finish(c, part, nparts * cols, nparts, cols, 1, 1.0f, db, op);
    return st;
}

mrg_status mrg_cl_layernorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr mean,
                                     mrg_ptr rstd, mrg_ptr dy, mrg_ptr dx, mrg_ptr dw,
                                     mrg_ptr db, int64_t rows, int64_t cols) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st =
        mrg_cl_check_f32("layernorm_backward", 8, (mrg_ptr[]){x, w, mean, rstd, dy, dx, dw, db});
    if (st != MRG_OK) return st;
    if (dx.buf) {
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_layernorm_backward_rows);
        mrg_cl_arg_ptr(&a, x);
        mrg_cl_arg_ptr(&a, w);
        mrg_cl_arg_ptr(&a, mean);
        mrg_cl_arg_ptr(&a, rstd);
        mrg_cl_arg_ptr(&a, dy);
        mrg_cl_arg_ptr(&a, dx);
        mrg_cl_arg_long(&a, cols);
        mrg_cl_arg_int(&a, w.buf != NULL);
        st = mrg_cl_enqueue_rows(c, &a, rows, "layernorm_backward");
        if (st != MRG_OK) return st;
    }
    return affine_grad(c, x, mean, rstd, dy, dw, db, rows, cols, "layernorm_backward");
}

static bool float_dtype(mrg_dtype dt) { return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16; }

mrg_status mrg_cl_rmsnorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr y, mrg_ptr rstd,
                          int64_t rows, int64_t cols, float eps) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("rmsnorm", 3, (mrg_ptr[]){x, y, rstd});
    if (st != MRG_OK) return st;
    if (w.buf && !float_dtype(w.dt))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: rmsnorm: weight dtype %s",
                         mrg_dtype_name(w.dt));
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_rmsnorm_rows);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, w);
    mrg_cl_arg_int(&a, (int)w.dt);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_ptr(&a, rstd);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_float(&a, eps);
    mrg_cl_arg_int(&a, w.buf != NULL);
    return mrg_cl_enqueue_rows(c, &a, rows, "rmsnorm");
}

mrg_status mrg_cl_rmsnorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr rstd,
                                   mrg_ptr dy, mrg_ptr dx, mrg_ptr dw, int64_t rows,
                                   int64_t cols) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("rmsnorm_backward", 5, (mrg_ptr[]){x, rstd, dy, dx, dw});
    if (st != MRG_OK) return st;
    if (w.buf && !float_dtype(w.dt))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: rmsnorm_backward: weight dtype %s",
                         mrg_dtype_name(w.dt));
    if (dx.buf) {
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_rmsnorm_backward_rows);
        mrg_cl_arg_ptr(&a, x);
        mrg_cl_arg_ptr(&a, w);
        mrg_cl_arg_int(&a, (int)w.dt);
        mrg_cl_arg_ptr(&a, rstd);
        mrg_cl_arg_ptr(&a, dy);
        mrg_cl_arg_ptr(&a, dx);
        mrg_cl_arg_long(&a, cols);
        mrg_cl_arg_int(&a, w.buf != NULL);
        st = mrg_cl_enqueue_rows(c, &a, rows, "rmsnorm_backward");
        if (st != MRG_OK) return st;
    }
    return affine_grad(c, x, mrg_ptr_null(), rstd, dy, dw, mrg_ptr_null(), rows, cols,
                       "rmsnorm_backward");
}

mrg_status mrg_cl_l2norm(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, int64_t rows,
                         int64_t cols, float eps) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("l2norm", 3, (mrg_ptr[]){x, y, norm});
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_l2norm_rows);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_ptr(&a, norm);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_float(&a, eps);
    return mrg_cl_enqueue_rows(c, &a, rows, "l2norm");
}

mrg_status mrg_cl_l2norm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm,
                                  mrg_ptr dy, mrg_ptr dx, int64_t rows, int64_t cols,
                                  float eps) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    (void)x; /* ‖x‖ > eps is norm > eps, and y = x / norm */
    mrg_status st = mrg_cl_check_f32("l2norm_backward", 4, (mrg_ptr[]){y, norm, dy, dx});
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_l2norm_backward_rows);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_ptr(&a, norm);
    mrg_cl_arg_ptr(&a, dy);
    mrg_cl_arg_ptr(&a, dx);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_float(&a, eps);
    return mrg_cl_enqueue_rows(c, &a, rows, "l2norm_backward");
}
