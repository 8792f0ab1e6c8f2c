/* Row softmax / log-softmax (with the causal mask) and cross-entropy on the
 * CPU. Every row subtracts its max; sums are accumulated in double so the
 * results match PyTorch to ~1e-6 relative. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* Softmax of the first `valid` entries of x (cols); the rest are masked:
 * probability exactly 0, log-probability −inf. x and y may alias. */
static void softmax_row(const float *x, float *y, int64_t cols, int64_t valid, bool log_out) {
    if (valid > cols) valid = cols;
    if (valid <= 0) {
        for (int64_t j = 0; j < cols; j++) y[j] = log_out ? -INFINITY : 0.0f;
        return;
    }
    float mx = x[0];
    for (int64_t j = 1; j < valid; j++) mx = x[j] > mx ? x[j] : mx;
    double sum = 0.0;
    if (log_out) {
        for (int64_t j = 0; j < valid; j++) sum += (double)expf(x[j] - mx);
        float lse = (float)log(sum);
        for (int64_t j = 0; j < valid; j++) y[j] = (x[j] - mx) - lse;
        for (int64_t j = valid; j < cols; j++) y[j] = -INFINITY;
    } else {
        for (int64_t j = 0; j < valid; j++) {
            float e = expf(x[j] - mx);
            y[j] = e;
            sum += (double)e;
        }
        double inv = 1.0 / sum;
        for (int64_t j = 0; j < valid; j++) y[j] = (float)((double)y[j] * inv);
        for (int64_t j = valid; j < cols; j++) y[j] = 0.0f;
    }
}

mrg_status cpu_softmax(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t rows, int64_t cols,
                       int64_t causal_tq, bool log_out) {
    (void)dev;
    if (rows < 0 || cols < 0 || causal_tq < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu softmax: negative size");
    mrg_status st = cpu_check("softmax", "x", x, rows * cols, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("softmax", "y", y, rows * cols, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
#pragma omp parallel for if (rows * cols > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        /* query q sees keys j <= q + cols − causal_tq (a KV cache of
         * cols − causal_tq earlier positions precedes the queries) */
        int64_t valid = cols;
        if (causal_tq > 0) valid = r % causal_tq + cols - causal_tq + 1;
        softmax_row(px + r * cols, py + r * cols, cols, valid, log_out);
    }
    return MRG_OK;
}

mrg_status cpu_softmax_backward(mrg_device *dev, mrg_ptr y, mrg_ptr dy, mrg_ptr dx,
                                int64_t rows, int64_t cols, bool log_out) {
    (void)dev;
    if (rows < 0 || cols < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu softmax_backward: negative size");
    int64_t n = rows * cols;
    mrg_status st = cpu_check("softmax_backward", "y", y, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("softmax_backward", "dy", dy, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("softmax_backward", "dx", dx, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *py = cpu_f32(y), *pdy = cpu_f32(dy);
    float *pdx = cpu_f32(dx);
#pragma omp parallel for if (n > CPU_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = py + r * cols, *gr = pdy + r * cols;
        float *dr = pdx + r * cols;
        double s = 0.0;
        if (log_out) {
            /* dx = dy − exp(y)·Σ dy */
            for (int64_t j = 0; j < cols; j++) s += gr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < cols; j++) dr[j] = gr[j] - expf(yr[j]) * fs;
        } else {
            /* dx = y·(dy − Σ dy·y) */
            for (int64_t j = 0; j < cols; j++) s += (double)gr[j] * yr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < cols; j++) dr[j] = yr[j] * (gr[j] - fs);
        }
    }
    return MRG_OK;
}

/* ---- cross-entropy --------------------------------------------------------- */

/* logsumexp of a row, in double. */
static double row_lse(const float *x, int64_t V) {
    float mx = x[0];
    for (int64_t j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < V; j++) sum += (double)expf(x[j] - mx);
    return (double)mx + log(sum);
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
        for (int64_t j = 0; j < V; j++)
            dr[j] = (float)((double)expf((float)((double)xr[j] - lse)) * scale);
        dr[t[r]] = (float)((pt - 1.0) * scale);
    }
    return MRG_OK;
}
