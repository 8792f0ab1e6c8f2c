/* Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_) on the
 * device, without reading anything back.
 *
 * The clip itself needs only Σ g² (sum_squares into a 1-element step
 * accumulator, then clip_scale on every gradient). The accumulator comes
 * from the step arena rather than a persistent per-device tensor: that
 * keeps no state between calls, costs one bump allocation, and the norm
 * tensor handed back is a step tensor anyway (valid until mrg_step_reset). The backend has no
 * square-root kernel, so the reported norm comes from the L2-norm kernel,
 * which takes square roots of sums of squares: each gradient, viewed as
 * (rows, last dim), gives its row norms into one vector, and the norm of
 * that vector is the global norm sqrt(Σ_rows ‖row‖²) = sqrt(Σ g²). That
 * kernel is called with eps 0 (max(‖x‖, 0) = ‖x‖ exactly; its normalised
 * output is scratch). Because max() may swallow a NaN, the reported norm
 * gets 0·Σ g² added, which is 0 unless the sum is NaN or infinite — so a
 * non-finite gradient shows as a non-finite norm, as in PyTorch. */
#include "core/internal.h"
#include "mrg/optim.h"

/* A gradient viewed as (rows, cols) for the L2-norm kernel. */
static void rows_cols(const mrg_tensor *g, int64_t *rows, int64_t *cols) {
    *cols = g->ndim ? mrg_last_dim(g) : 1;
    *rows = g->ndim ? mrg_rows(g) : 1;
}

/* The norm sqrt(Σ g²) of the n gradients gs into a new (1,) step tensor;
 * sumsq holds Σ g² (used only to propagate NaN/inf). */
static mrg_status global_norm(mrg_device *dev, mrg_tensor *const *gs, int n, mrg_tensor *sumsq,
                              mrg_tensor **out) {
    int64_t total_rows = 0, scratch_n = 1;
    for (int i = 0; i < n; i++) {
        int64_t r, c;
        rows_cols(gs[i], &r, &c);
        total_rows += r;
        if (r * c > scratch_n) scratch_n = r * c;
    }
    if (total_rows > scratch_n) scratch_n = total_rows;
    mrg_tensor *norms = mrg_tensor_new(dev, MRG_F32, 1, &total_rows);
    mrg_tensor *scratch = mrg_tensor_new(dev, MRG_F32, 1, &scratch_n);
    mrg_tensor *norm = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(1));
    mrg_tensor *guard = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(1));
    mrg_tensor *res = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(1));
    if (!norms || !scratch || !norm || !guard || !res) return MRG_ERR_OOM;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t r, c;
        rows_cols(gs[i], &r, &c);
        mrg_ptr dst = mrg_ptr_of(norms);
        dst.off += off;
        MRG_TRY(dev->be->l2norm(dev, mrg_ptr_of(gs[i]), mrg_ptr_of(scratch), dst, r, c, 0.0f));
        off += r;
    }
    /* (norm of the row norms) + 0·Σ g² */
    MRG_TRY(dev->be->l2norm(dev, mrg_ptr_of(norms), mrg_ptr_of(scratch), mrg_ptr_of(norm), 1,
                            total_rows, 0.0f));
    MRG_TRY(dev->be->unary(dev, MRG_UN_SCALE, mrg_ptr_of(sumsq), mrg_ptr_of(guard), 1, 0.0f));
    int64_t one = 1, unit = 1;
    MRG_TRY(dev->be->binary(dev, MRG_BIN_ADD, mrg_ptr_of(norm), mrg_ptr_of(guard), mrg_ptr_of(res),
                            1, &one, &unit, &unit));
    *out = res;
    return MRG_OK;
}

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
                             dev->name, p->dev->name);
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
    for (int i = 0; i < count; i++)
        MRG_TRY(dev->be->sum_squares(dev, mrg_ptr_of(gs[i]), mrg_numel(gs[i]), mrg_ptr_of(sumsq)));
    if (norm_out && count == 0) {
        *norm_out = sumsq; /* no gradients: the norm is 0 */
    } else if (norm_out) {
        mrg_status st = global_norm(dev, gs, count, sumsq, norm_out);
        if (st != MRG_OK) return mrg_error_context(st, "clip_grad_norm");
    }
    if (max_norm > 0.0f)
        for (int i = 0; i < count; i++)
            MRG_TRY(dev->be->clip_scale(dev, mrg_ptr_of(sumsq), mrg_ptr_of(gs[i]),
                                        mrg_numel(gs[i]), max_norm));
    return MRG_OK;
}
