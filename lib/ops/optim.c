/* Optimizer ops (in place, never recorded on the tape): the AdamW update of
 * one parameter, and the pieces of global gradient-norm clipping (Σ x² into
 * an accumulator, the norm, the clip factor). lib/train builds AdamW and
 * mrg_clip_grad_norm from these; the kernels are cpu/cpu_optim.c and the
 * OpenCL adamw / sumsq / clip_scale kernels. */
#include "ops/ops_common.h"

/* "op: name must be a 1-element f32 tensor on x's device". */
static bool check_scalar(const char *op, const char *name, const mrg_tensor *s,
                         const mrg_tensor *x) {
    if (s->dtype == MRG_F32 && mrg_numel(s) == 1 && s->dev == x->dev) return true;
    mrg_error(MRG_ERR_INVALID_ARG, "%s: %s must be a 1-element f32 tensor on %s (got %s %s)", op,
              name, x->dev->name, mrg_dtype_name(s->dtype), OPS_SHAPE(s));
    return false;
}

mrg_status mrg_adamw_update(mrg_tensor *p, const mrg_tensor *g, mrg_tensor *m, mrg_tensor *v,
                            float lr, float beta1, float beta2, float eps, float weight_decay,
                            float bc1, float bc2) {
    if (!p || !g || !m || !v) return mrg_error(MRG_ERR_INVALID_ARG, "adamw update: NULL tensor");
    mrg_tensor *const ts[4] = {p, (mrg_tensor *)g, m, v};
    if (!ops_check_device("adamw update", 4, ts)) return MRG_ERR_INVALID_ARG;
    for (int i = 0; i < 4; i++) {
        if (ts[i]->dtype != MRG_F32 || !mrg_same_shape(ts[i], p))
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "adamw update: parameter, gradient and moments must be f32 of one "
                             "shape (parameter %s %s, tensor %d %s %s)",
                             mrg_dtype_name(p->dtype), OPS_SHAPE(p), i,
                             mrg_dtype_name(ts[i]->dtype), OPS_SHAPE(ts[i]));
    }
    mrg_device *dev = p->dev;
    return dev->be->adamw(dev, mrg_ptr_of(p), mrg_ptr_of(g), mrg_ptr_of(m), mrg_ptr_of(v),
                          mrg_numel(p), lr, beta1, beta2, eps, weight_decay, bc1, bc2);
}

mrg_status mrg_sum_squares_into(mrg_tensor *acc, const mrg_tensor *x) {
    if (!acc || !x) return mrg_error(MRG_ERR_INVALID_ARG, "sum_squares: NULL tensor");
    if (!ops_check_f32("sum_squares", "x", x) || !check_scalar("sum_squares", "acc", acc, x))
        return MRG_ERR_INVALID_ARG;
    return x->dev->be->sum_squares(x->dev, mrg_ptr_of(x), mrg_numel(x), mrg_ptr_of(acc));
}

mrg_status mrg_clip_scale(mrg_tensor *x, const mrg_tensor *sumsq, float max_norm) {
    if (!x || !sumsq) return mrg_error(MRG_ERR_INVALID_ARG, "clip_scale: NULL tensor");
    if (!ops_check_f32("clip_scale", "x", x) || !check_scalar("clip_scale", "sumsq", sumsq, x))
        return MRG_ERR_INVALID_ARG;
    return x->dev->be->clip_scale(x->dev, mrg_ptr_of(sumsq), mrg_ptr_of(x), mrg_numel(x),
                                  max_norm);
}

/* ---- global norm -------------------------------------------------------- */

/* A tensor viewed as (rows, last dim) for the L2-norm kernel. */
static void rows_cols(const mrg_tensor *t, int64_t *rows, int64_t *cols) {
    *cols = t->ndim ? mrg_last_dim(t) : 1;
    *rows = t->ndim ? mrg_rows(t) : 1;
}

/* The backend has no square-root kernel, so the norm comes from the L2-norm
 * kernel, which takes square roots of sums of squares: each tensor, viewed
 * as (rows, last dim), gives its row norms into one vector, and the norm of
 * that vector is sqrt(Σ_rows ‖row‖²) = sqrt(Σ x²). That kernel is called
 * with eps 0 (max(‖x‖, 0) = ‖x‖ exactly; its normalised output is scratch).
 * Because max() may swallow a NaN, the result gets 0·sumsq added, which is
 * 0 unless the sum is NaN or infinite. */
static mrg_status global_norm(mrg_device *dev, mrg_tensor *const *xs, int n,
                              const mrg_tensor *sumsq, mrg_tensor **out) {
    int64_t total_rows = 0, scratch_n = 1;
    for (int i = 0; i < n; i++) {
        int64_t r, c;
        rows_cols(xs[i], &r, &c);
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
        rows_cols(xs[i], &r, &c);
        mrg_ptr dst = mrg_ptr_of(norms);
        dst.off += off;
        MRG_TRY(dev->be->l2norm(dev, mrg_ptr_of(xs[i]), mrg_ptr_of(scratch), dst, r, c, 0.0f));
        off += r;
    }
    /* (norm of the row norms) + 0·Σ x² */
    MRG_TRY(dev->be->l2norm(dev, mrg_ptr_of(norms), mrg_ptr_of(scratch), mrg_ptr_of(norm), 1,
                            total_rows, 0.0f));
    MRG_TRY(dev->be->unary(dev, MRG_UN_SCALE, mrg_ptr_of(sumsq), mrg_ptr_of(guard), 1, 0.0f));
    int64_t one = 1, unit = 1;
    MRG_TRY(dev->be->binary(dev, MRG_BIN_ADD, mrg_ptr_of(norm), mrg_ptr_of(guard), mrg_ptr_of(res),
                            1, &one, &unit, &unit));
    *out = res;
    return MRG_OK;
}

mrg_status mrg_global_norm(mrg_tensor *const *xs, int n, const mrg_tensor *sumsq,
                           mrg_tensor **out) {
    if (out) *out = NULL;
    if (!out || !xs || n < 1 || !sumsq)
        return mrg_error(MRG_ERR_INVALID_ARG, "global_norm: no tensors");
    for (int i = 0; i < n; i++) {
        if (!xs[i]) return mrg_error(MRG_ERR_INVALID_ARG, "global_norm: tensor %d is NULL", i);
        if (!ops_check_f32("global_norm", "every tensor", xs[i])) return MRG_ERR_INVALID_ARG;
    }
    if (!ops_check_device("global_norm", n, xs) ||
        !check_scalar("global_norm", "sumsq", sumsq, xs[0]))
        return MRG_ERR_INVALID_ARG;
    return global_norm(xs[0]->dev, xs, n, sumsq, out);
}
