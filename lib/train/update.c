/* The optimizer set-up and the plain update step of the pretraining loops
 * (see train_internal.h). */
#include "train/train_internal.h"

#include "mrg/autograd.h"

mrg_status train_adamw(mrg_tensor **params, int np, float lr, float weight_decay, mrg_adamw **out) {
    mrg_adamw_opts ao = mrg_adamw_defaults();
    ao.lr = lr;
    ao.weight_decay = weight_decay;
    *out = mrg_adamw_create(params, np, &ao);
    if (!*out) return MRG_ERR_OOM;
    return mrg_zero_grad(params, np);
}

mrg_status train_update(mrg_device *dev, mrg_tensor *loss, const char *what, mrg_tensor **params,
                        int np, mrg_adamw *opt, float lr, float clip, float *loss_out,
                        float *grad_norm) {
    mrg_status st = loss ? MRG_OK : mrg_error_context(MRG_ERR_DEVICE, "%s: forward", what);
    if (!st) st = mrg_tensor_item(loss, loss_out);
    if (!st) st = mrg_backward(loss);
    mrg_tensor *norm = NULL;
    if (!st) st = mrg_clip_grad_norm(params, np, clip, &norm);
    if (!st && norm) st = mrg_tensor_item(norm, grad_norm);
    if (!st) st = mrg_adamw_step(opt, lr);
    if (!st) st = mrg_zero_grad(params, np);
    mrg_step_reset(dev);
    return st;
}
