/* Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_) on the
 * device, without reading anything back.
 *
 * The clip itself needs only Σ g² (mrg_sum_squares_into a 1-element step
 * accumulator, then mrg_clip_scale on every gradient). The accumulator
 * comes from the step arena rather than a persistent per-device tensor:
 * that keeps no state between calls, costs one bump allocation, and the
 * norm tensor handed back is a step tensor anyway (valid until
 * mrg_step_reset). The reported norm is mrg_global_norm of the gradients,
 * which turns a non-finite Σ g² into a non-finite norm, as in PyTorch. */
#include "mrg/ops.h"
#include "mrg/optim.h"

mrg_status mrg_clip_grad_norm(mrg_tensor *const *params, int n, float max_norm,
                              mrg_tensor **norm_out) {
    if (norm_out) *norm_out = NULL;
    if (n < 0 || (n > 0 && !params))
        return mrg_error(MRG_ERR_INVALID_ARG, "clip_grad_norm: no parameters");
    if (max_norm != max_norm)
        return mrg_error(MRG_ERR_INVALID_ARG, "clip_grad_norm: max_norm is NaN");
    mrg_device *dev = NULL;
    int count = 0;
    for (int i = 0; i < n; i++) {
        const mrg_tensor *p = params[i];
        if (!p) return mrg_error(MRG_ERR_INVALID_ARG, "clip_grad_norm: parameter %d is NULL", i);
        if (!dev) dev = p->dev;
        if (p->dev != dev)
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "clip_grad_norm: parameters on different devices (%s, %s)",
                             mrg_device_name(dev), mrg_device_name(p->dev));
        if (!p->grad) continue;
        if (p->grad->dtype != MRG_F32)
            return mrg_error(MRG_ERR_INVALID_ARG, "clip_grad_norm: gradient of %s is not f32",
                             p->name);
        count++;
    }
    if (!dev) {
        if (norm_out)
            return mrg_error(MRG_ERR_INVALID_ARG, "clip_grad_norm: no parameters to measure");
        return MRG_OK;
    }
    /* the gradients, in parameter order */
    mrg_tensor **gs = mrg_step_malloc(dev, (size_t)(count ? count : 1) * sizeof *gs);
    if (!gs) return mrg_error(MRG_ERR_OOM, "clip_grad_norm: out of host memory");
    count = 0;
    for (int i = 0; i < n; i++)
        if (params[i]->grad) gs[count++] = params[i]->grad;

    mrg_tensor *sumsq = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1));
    if (!sumsq) return MRG_ERR_OOM;
    for (int i = 0; i < count; i++) MRG_TRY(mrg_sum_squares_into(sumsq, gs[i]));
    if (norm_out && count == 0) {
        *norm_out = sumsq; /* no gradients: the norm is 0 */
    } else if (norm_out) {
        mrg_status st = mrg_global_norm(gs, count, sumsq, norm_out);
        if (st != MRG_OK) return mrg_error_context(st, "clip_grad_norm");
    }
    if (max_norm > 0.0f)
        for (int i = 0; i < count; i++)
            MRG_TRY(mrg_clip_scale(gs[i], sumsq, max_norm));
    return MRG_OK;
}
