/* Reverse-mode autograd over an op tape (one tape per device).
 *
 * Ops record themselves while gradients are enabled and an input requires a
 * gradient. mrg_backward() walks the tape backwards and accumulates into
 * .grad of every tensor that requires one. Parameter gradients are persistent
 * and accumulate across calls (micro-batches) until mrg_zero_grad(); the tape
 * and step tensors are cleared by mrg_step_reset(). */
#ifndef MRG_AUTOGRAD_H
#define MRG_AUTOGRAD_H

#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* loss must hold one element; its gradient is seeded with 1 (times scale). */
mrg_status mrg_backward(mrg_tensor *loss);
mrg_status mrg_backward_scaled(mrg_tensor *loss, float scale);
/* Enables or disables recording; returns the previous setting, so a no_grad
 * scope reads: bool prev = mrg_grad_set_enabled(dev, false); ...;
 * mrg_grad_set_enabled(dev, prev); */
bool mrg_grad_set_enabled(mrg_device *dev, bool enabled);
bool mrg_grad_enabled(const mrg_device *dev);
mrg_status mrg_zero_grad(mrg_tensor *const *params, int n);
/* Number of nodes on the tape (for tests and diagnostics). */
int mrg_tape_size(const mrg_device *dev);

#ifdef __cplusplus
}
#endif
#endif
