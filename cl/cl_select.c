/* Decoding's choice of the next tokens (cl/kernels/select.cl): one
 * work-group per row of logits, one launch per decoding step. The kernel's
 * header explains its phases and the precision of its scores (double where
 * the device has it: c->fp64). */
#include "cl/cl.h"

mrg_status mrg_cl_select_topk(mrg_device *dev, const mrg_select_dims *d, mrg_ptr logits,
                              mrg_ptr hist_in, mrg_ptr src, mrg_ptr tok, mrg_ptr hist_out,
                              mrg_ptr work, mrg_ptr out) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    const bool hist = d->n_hist > 0 || tok.buf;
    if (logits.dt != MRG_F32 || (hist && (!hist_out.buf || hist_out.dt != MRG_I32)) || work.dt != MRG_I32 ||
        out.dt != MRG_I32 || d->R < 1 || d->V < 1 || d->V > INT32_MAX || d->k < 1 ||
        d->k > MRG_SELECT_MAX_K || d->n_hist < 0 || d->n_hist + (tok.buf != NULL) > d->L ||
        (d->n_hist > 0 && !hist_in.buf))
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: select_topk: R %lld, V %lld, k %d, "
                         "history %lld of %lld", (long long)d->R, (long long)d->V, d->k,
                         (long long)d->n_hist, (long long)d->L);
    if (work.off % 2 != 0) /* read as doubles: 8-byte aligned (the arena aligns more) */
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: select_topk: work at an odd offset");
    if (!hist) hist_out = out; /* a stand-in: no history is read or written */
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_select_topk);
    mrg_cl_arg_ptr(&a, logits);
    mrg_cl_arg_long(&a, d->V);
    mrg_cl_arg_ptr(&a, d->n_hist > 0 ? hist_in : hist_out); /* unread without history */
    mrg_cl_arg_long(&a, d->n_hist > 0 ? d->R_in : 0);
    mrg_cl_arg_long(&a, d->n_hist);
    mrg_cl_arg_ptr(&a, src.buf ? src : hist_out); /* stand-ins are never read */
    mrg_cl_arg_int(&a, src.buf != NULL);
    mrg_cl_arg_ptr(&a, tok.buf ? tok : hist_out);
    mrg_cl_arg_int(&a, tok.buf != NULL);
    mrg_cl_arg_ptr(&a, hist_out);
    mrg_cl_arg_long(&a, d->L);
    mrg_cl_arg_ptr(&a, work);
    mrg_cl_arg_ptr(&a, out);
    mrg_cl_arg_int(&a, d->k);
    mrg_cl_arg_int(&a, d->log_softmax);
    mrg_cl_arg_float(&a, d->penalty);
    mrg_cl_arg_int(&a, d->eos);
    return mrg_cl_enqueue_rows(c, &a, d->R, "select_topk");
}
