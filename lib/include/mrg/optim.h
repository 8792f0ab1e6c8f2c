/* Optimizer kernels: the AdamW update and gradient-norm clipping run on the
 * device, with no host round trip. */
#ifndef MRG_OPTIM_H
#define MRG_OPTIM_H

#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_adamw_opts {
    float lr, beta1, beta2, eps, weight_decay;
} mrg_adamw_opts;

/* Defaults: lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight decay 1e-6. */
mrg_adamw_opts mrg_adamw_defaults(void);

typedef struct mrg_adamw mrg_adamw;

/* Keeps first and second moments for each trainable parameter. */
mrg_adamw *mrg_adamw_create(mrg_tensor *const *params, int n, const mrg_adamw_opts *opts);
void mrg_adamw_free(mrg_adamw *opt);
/* One update with learning rate lr (PyTorch AdamW semantics: decoupled
 * weight decay p -= lr·wd·p, bias-corrected moments). Increments the step. */
mrg_status mrg_adamw_step(mrg_adamw *opt, float lr);
int64_t mrg_adamw_steps(const mrg_adamw *opt);
/* Moments of parameter i (for checkpoints). */
mrg_tensor *mrg_adamw_moment(mrg_adamw *opt, int i, int which /* 0: m, 1: v */);
mrg_status mrg_adamw_set_steps(mrg_adamw *opt, int64_t steps);

/* Scales all gradients so that their global L2 norm is at most max_norm
 * (like torch.nn.utils.clip_grad_norm_, factor max_norm/(norm + 1e-6) when
 * larger). The norm before clipping is left in a device scalar, readable
 * with mrg_tensor_item(*norm_out) when norm_out is not NULL. max_norm <= 0
 * only measures. */
mrg_status mrg_clip_grad_norm(mrg_tensor *const *params, int n, float max_norm,
                              mrg_tensor **norm_out);

#ifdef __cplusplus
}
#endif
#endif
