/* Helpers shared by the single-model training loops of lib/train
 * (pretrain_lm.c, pretrain_vit.c): the optimizer they start with and the
 * plain update they run after each forward. */
#ifndef MRG_TRAIN_INTERNAL_H
#define MRG_TRAIN_INTERNAL_H

#include "mrg/optim.h"
#include "mrg/tensor.h"

/* AdamW (lr, weight_decay, other settings default) over params[0..np),
 * their gradients zeroed. */
mrg_status train_adamw(mrg_tensor **params, int np, float lr, float weight_decay, mrg_adamw **out);

/* One update from a forward's loss (NULL when the forward failed: an error
 * "<what>: forward"): *loss_out gets its value, then backward, gradient
 * clipping to clip (*grad_norm gets the norm before clipping), AdamW at lr,
 * zeroed gradients. The step's tensors are released in every case. */
mrg_status train_update(mrg_device *dev, mrg_tensor *loss, const char *what, mrg_tensor **params,
                        int np, mrg_adamw *opt, float lr, float clip, float *loss_out,
                        float *grad_norm);

#endif
