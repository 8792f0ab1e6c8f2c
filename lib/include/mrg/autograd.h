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
/* Told during a backward when gradients are complete, so that work on them
 * (data parallelism's sums over the ranks) runs while the backward goes on.
 * A parameter's gradient is complete once the walk has passed the first
 * node of the tape that reads it (a node's backward writes only the
 * gradients of its own inputs; an activation checkpoint's recompute may
 * read any parameter, so none is complete before the walk passes it). */
typedef struct mrg_grad_watch {
    mrg_tensor *const *params; /* the tensors watched */
    int n;
    /* params[i]'s gradient gets nothing more from this backward (called
     * once per parameter, unused ones first, then in the walk's order) */
    mrg_status (*complete)(void *ctx, int i);
    /* after every node (may be NULL): a moment to let other work advance */
    mrg_status (*tick)(void *ctx);
    void *ctx;
} mrg_grad_watch;
/* mrg_backward_scaled, calling watch's functions as gradients complete. */
mrg_status mrg_backward_watched(mrg_tensor *loss, float scale, const mrg_grad_watch *watch);
/* Enables or disables recording; returns the previous setting, so a no_grad
 * scope reads: bool prev = mrg_grad_set_enabled(dev, false); ...;
 * mrg_grad_set_enabled(dev, prev); */
bool mrg_grad_set_enabled(mrg_device *dev, bool enabled);
bool mrg_grad_enabled(const mrg_device *dev);
mrg_status mrg_zero_grad(mrg_tensor *const *params, int n);
/* Activation checkpointing: y = fn(ctx, x), where y has x's shape (a
 * residual block). With gradients on and x requiring one, fn runs without
 * recording and only y is kept; its activations go back to the arena at once.
 * The backward runs fn again with recording on and backpropagates through
 * that copy, then releases it too: one block's activations at a time instead
 * of all of them. fn must be deterministic; ctx must live until the backward
 * (mrg_step_malloc). Without gradients this is fn(ctx, x). */
typedef mrg_tensor *(*mrg_checkpoint_fn)(void *ctx, mrg_tensor *x);
mrg_tensor *mrg_checkpoint(mrg_tensor *x, mrg_checkpoint_fn fn, void *ctx);

/* Number of nodes on the tape (for tests and diagnostics). */
int mrg_tape_size(const mrg_device *dev);

#ifdef __cplusplus
}
#endif
#endif
