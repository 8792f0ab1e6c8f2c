/* Row softmax / log-softmax and its backward (cl/kernels/softmax.cl): one
 * work-group per row with local-memory reductions. */
#include "cl/cl.h"

mrg_status mrg_cl_softmax(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t rows, int64_t cols,
                          int64_t causal_tq, bool log) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("softmax", 2, (mrg_ptr[]){x, y});
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_softmax_rows);
    mrg_cl_arg_ptr(&a, x);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_long(&a, causal_tq > 0 ? causal_tq : 0);
    mrg_cl_arg_int(&a, log);
    return mrg_cl_enqueue_rows(c, &a, rows, "softmax");
}

mrg_status mrg_cl_softmax_backward(mrg_device *dev, mrg_ptr y, mrg_ptr dy, mrg_ptr dx,
                                   int64_t rows, int64_t cols, bool log) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("softmax_backward", 3, (mrg_ptr[]){y, dy, dx});
    if (st != MRG_OK) return st;
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_softmax_backward_rows);
    mrg_cl_arg_ptr(&a, y);
    mrg_cl_arg_ptr(&a, dy);
    mrg_cl_arg_ptr(&a, dx);
    mrg_cl_arg_long(&a, cols);
    mrg_cl_arg_int(&a, log);
    return mrg_cl_enqueue_rows(c, &a, rows, "softmax_backward");
}
