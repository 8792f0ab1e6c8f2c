/* Row softmax / log-softmax (with the causal mask) on the CPU. Every row
 * subtracts its max; sums are accumulated in double so the results match
 * PyTorch to ~1e-6 relative. */
#include <math.h>
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
        sum = cpu_sum_exp_shifted(x, mx, valid);
        float lse = (float)log(sum);
        for (int64_t j = 0; j < valid; j++) y[j] = (x[j] - mx) - lse;
        for (int64_t j = valid; j < cols; j++) y[j] = -INFINITY;
    } else {
        /* y = e^(x − max), in place (x may be y), then summed in order */
        for (int64_t j = 0; j < valid; j++) y[j] = x[j] - mx;
        cpu_exp(y, y, valid);
        for (int64_t j = 0; j < valid; j++) sum += (double)y[j];
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
    mrg_status st = CPU_CHECK_F32("softmax_backward", {"y", y, n}, {"dy", dy, n}, {"dx", dx, n});
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
            /* exp(y) a chunk at a time into a scratch of its own, so that
             * dx may alias dy or y as in the plain loop */
            enum { CHUNK = 256 };
            float e[CHUNK];
            for (int64_t j0 = 0; j0 < cols; j0 += CHUNK) {
                int64_t m = cols - j0 < CHUNK ? cols - j0 : CHUNK;
                cpu_exp(yr + j0, e, m);
                for (int64_t j = 0; j < m; j++) dr[j0 + j] = gr[j0 + j] - e[j] * fs;
            }
        } else {
            /* dx = y·(dy − Σ dy·y) */
            for (int64_t j = 0; j < cols; j++) s += (double)gr[j] * yr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < cols; j++) dr[j] = yr[j] * (gr[j] - fs);
        }
    }
    return MRG_OK;
}
