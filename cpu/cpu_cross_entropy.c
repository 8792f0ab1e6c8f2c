/* Cross-entropy over rows of logits (and its backward) on the CPU. Every
 * row subtracts its max; sums are accumulated in double so the results
 * match PyTorch to ~1e-6 relative. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* logsumexp of a row, in double. */
static double row_lse(const float *x, int64_t V) {
    float mx = x[0];
    for (int64_t j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    return (double)mx + log(cpu_sum_exp_shifted(x, mx, V));
}

/* Counts the rows that take part; an invalid target is an error. */
static mrg_status count_targets(const char *kernel, const int32_t *t, int64_t rows, int64_t V,
                                int ignore, int64_t *count) {
    int64_t c = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (t[r] == ignore) continue;
        if (t[r] < 0 || t[r] >= V)
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "cpu %s: target %d of row %lld is outside [0, %lld)", kernel,
                             (int)t[r], (long long)r, (long long)V);
        c++;
    }
    *count = c;
    return MRG_OK;
}

static mrg_status check_ce(const char *kernel, mrg_ptr logits, mrg_ptr targets, int64_t rows,
                           int64_t V) {
    if (rows < 0 || V < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: bad size (%lld rows, V = %lld)", kernel,
                         (long long)rows, (long long)V);
    mrg_status st = cpu_check(kernel, "logits", logits, rows * V, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check(kernel, "targets", targets, rows, CPU_DT(MRG_I32));
    return st;
}

mrg_status cpu_cross_entropy(mrg_device *dev, mrg_ptr logits, mrg_ptr targets, mrg_ptr loss,
                             int64_t rows, int64_t V, int ignore) {
    (void)dev;
    mrg_status st = check_ce("cross_entropy", logits, targets, rows, V);
    if (st == MRG_OK) st = cpu_check("cross_entropy", "loss", loss, 1, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *x = cpu_f32(logits);
    const int32_t *t = cpu_i32(targets);
    int64_t count = 0;
    st = count_targets("cross_entropy", t, rows, V, ignore, &count);
    if (st != MRG_OK) return st;
    if (count == 0) {
        *cpu_f32(loss) = 0.0f;
        return MRG_OK;
    }
    /* per-row losses, then a sequential sum: the same bits for any number
     * of threads */
    double *row_loss = malloc((size_t)rows * sizeof(double));
    if (!row_loss) return mrg_error(MRG_ERR_OOM, "cpu cross_entropy: out of host memory");
#pragma omp parallel for if (rows * V > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * V;
        row_loss[r] = t[r] == ignore ? 0.0 : row_lse(xr, V) - (double)xr[t[r]];
    }
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) total += row_loss[r];
    free(row_loss);
    *cpu_f32(loss) = (float)(total / (double)count);
    return MRG_OK;
}

mrg_status cpu_cross_entropy_backward(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                      mrg_ptr dloss, mrg_ptr dlogits, int64_t rows, int64_t V,
                                      int ignore) {
    (void)dev;
    mrg_status st = check_ce("cross_entropy_backward", logits, targets, rows, V);
    if (st == MRG_OK) st = cpu_check("cross_entropy_backward", "dloss", dloss, 1, CPU_DT(MRG_F32));
    if (st == MRG_OK)
        st = cpu_check("cross_entropy_backward", "dlogits", dlogits, rows * V, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *x = cpu_f32(logits);
    const int32_t *t = cpu_i32(targets);
    float *dx = cpu_f32(dlogits);
    int64_t count = 0;
    st = count_targets("cross_entropy_backward", t, rows, V, ignore, &count);
    if (st != MRG_OK) return st;
    double scale = count ? (double)*cpu_f32(dloss) / (double)count : 0.0;
#pragma omp parallel for if (rows * V > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * V;
        float *dr = dx + r * V;
        if (t[r] == ignore) {
            memset(dr, 0, (size_t)V * sizeof(float));
            continue;
        }
        double lse = row_lse(xr, V);
        /* softmax − onehot, times dloss / count (the target's probability
         * first, in case dlogits aliases logits) */
        double pt = (double)expf((float)((double)xr[t[r]] - lse));
        /* the exponents, their exps in place, the scaling (element by
         * element, so dr may alias xr) */
        for (int64_t j = 0; j < V; j++) dr[j] = (float)((double)xr[j] - lse);
        cpu_exp(dr, dr, V);
        for (int64_t j = 0; j < V; j++) dr[j] = (float)((double)dr[j] * scale);
        dr[t[r]] = (float)((pt - 1.0) * scale);
    }
    return MRG_OK;
}
