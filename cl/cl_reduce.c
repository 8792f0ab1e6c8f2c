/* Axis sums (cl/kernels/reduce.cl): row sums one work-group per row; column
 * sums in two deterministic passes (mrg_cl_colsum, also used by the norm
 * affine gradients). */
#include "cl/cl.h"

int64_t mrg_cl_col_parts(int64_t n) {
    return n > MRG_CL_COL_BLOCK ? (n + MRG_CL_COL_BLOCK - 1) / MRG_CL_COL_BLOCK : 1;
}

size_t mrg_cl_cols_wg(const mrg_cl_ctx *c, int64_t cols) {
    return cols < (int64_t)c->tune.wg1d ? (size_t)cols : c->tune.wg1d;
}

mrg_status mrg_cl_colsum_finish(mrg_cl_ctx *c, cl_mem part, int64_t poff, int64_t nparts,
                                int64_t inner, int64_t outer, float scale, mrg_ptr y,
                                const char *op) {
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_colsum_finish);
    cl_ulong po = (cl_ulong)poff;
    mrg_cl_arg_mem(&a, part);
    mrg_cl_arg(&a, sizeof po, &po);
    mrg_cl_arg_long(&a, nparts);
    mrg_cl_arg_long(&a, inner);
    mrg_cl_arg_float(&a, scale);
    mrg_cl_arg_ptr(&a, y);
    size_t local[2] = {mrg_cl_cols_wg(c, inner), 1};
    size_t global[2] = {(size_t)inner, (size_t)outer};
    return mrg_cl_enqueue(c, &a, 2, global, local, op);
}

mrg_status mrg_cl_reduce_sum(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                             int64_t inner, float scale) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (x.dt != MRG_F32 || y.dt != MRG_F32)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: reduce_sum: f32 only");
    if (outer <= 0 || inner <= 0) return MRG_OK;
    if (inner == 1) { /* a row reduction: one work-group per output */
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_reduce_sum_rows);
        mrg_cl_arg_ptr(&a, x);
        mrg_cl_arg_ptr(&a, y);
        mrg_cl_arg_long(&a, n);
        mrg_cl_arg_float(&a, scale);
        return mrg_cl_enqueue_rows(c, &a, outer, "reduce_sum");
    }
    /* columns: partial sums of COL_BLOCK rows, then their sum */
    int64_t nparts = mrg_cl_col_parts(n);
    cl_mem part = NULL;
    if (nparts > 1) {
        mrg_status st = mrg_cl_scratch(c, (size_t)(outer * nparts * inner) * sizeof(float), &part);
        if (st != MRG_OK) return st;
    }
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_colsum_partial);
    mrg_cl_arg_ptr(&a, x);
    if (nparts > 1) {
        cl_ulong zero = 0;
        mrg_cl_arg_mem(&a, part);
        mrg_cl_arg(&a, sizeof zero, &zero);
    } else {
        mrg_cl_arg_ptr(&a, y);
    }
    mrg_cl_arg_long(&a, n);
    mrg_cl_arg_long(&a, inner);
    mrg_cl_arg_float(&a, nparts > 1 ? 1.0f : scale);
    size_t local[3] = {mrg_cl_cols_wg(c, inner), 1, 1};
    size_t global[3] = {(size_t)inner, (size_t)nparts, (size_t)outer};
    mrg_status st = mrg_cl_enqueue(c, &a, 3, global, local, "reduce_sum");
    if (st != MRG_OK || nparts == 1) return st;
    return mrg_cl_colsum_finish(c, part, 0, nparts, inner, outer, scale, y, "reduce_sum");
}
