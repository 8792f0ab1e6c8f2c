/* Axis sums on the CPU (mrg_sum, mrg_mean, bias gradients). */
#include <stdlib.h>

#include "cpu/cpu.h"

/* Elements per partial sum when one long row is split across threads; a
 * fixed size keeps the result independent of the thread count. */
#define SUM_CHUNK 65536
#define SUM_COL_BLOCK 64

/* y[i] = scale · Σ_j x[j·inner + i] for i < ni (ni <= SUM_COL_BLOCK), each
 * column summed in row order */
CPU_CLONES_EXACT static void sum_col_block(const float *x, float *y, int64_t n, int64_t inner, int64_t ni,
                                           float scale) {
    double acc[SUM_COL_BLOCK] = {0};
    for (int64_t j = 0; j < n; j++) {
        const float *xr = x + j * inner;
        for (int64_t i = 0; i < ni; i++) acc[i] += xr[i];
    }
    for (int64_t i = 0; i < ni; i++) y[i] = (float)(acc[i] * scale);
}

mrg_status cpu_reduce_sum(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                          int64_t inner, float scale) {
    (void)dev;
    if (outer < 0 || n < 0 || inner < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu reduce_sum: negative size");
    mrg_status st = cpu_check("reduce_sum", "x", x, outer * n * inner, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("reduce_sum", "y", y, outer * inner, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    if (inner == 1 && n > SUM_CHUNK) {
        /* long contiguous rows: fixed chunks in parallel, combined in order */
        int64_t nch = (n + SUM_CHUNK - 1) / SUM_CHUNK;
        double *part = malloc((size_t)(outer * nch) * sizeof(double));
        if (!part) return mrg_error(MRG_ERR_OOM, "cpu reduce_sum: out of host memory");
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < outer * nch; p++) {
            int64_t o = p / nch, j0 = (p % nch) * SUM_CHUNK;
            int64_t len = n - j0 < SUM_CHUNK ? n - j0 : SUM_CHUNK;
            const float *xr = px + o * n + j0;
            double s = 0.0;
            for (int64_t j = 0; j < len; j++) s += xr[j];
            part[p] = s;
        }
        for (int64_t o = 0; o < outer; o++) {
            double s = 0.0;
            for (int64_t c = 0; c < nch; c++) s += part[o * nch + c];
            py[o] = (float)(s * scale);
        }
        free(part);
        return MRG_OK;
    }
    if (inner == 1) {
#pragma omp parallel for if (outer * n > CPU_PAR_MIN && outer > 1) schedule(static)
        for (int64_t o = 0; o < outer; o++) {
            const float *xr = px + o * n;
            double s = 0.0;
            for (int64_t j = 0; j < n; j++) s += xr[j];
            py[o] = (float)(s * scale);
        }
        return MRG_OK;
    }
    /* (outer, n, inner): each task sums a block of inner columns over n */
    int64_t nblk = (inner + SUM_COL_BLOCK - 1) / SUM_COL_BLOCK;
#pragma omp parallel for if (outer * n * inner > CPU_PAR_MIN && outer * nblk > 1) schedule(static)
    for (int64_t p = 0; p < outer * nblk; p++) {
        int64_t o = p / nblk, i0 = (p % nblk) * SUM_COL_BLOCK;
        int64_t ni = inner - i0 < SUM_COL_BLOCK ? inner - i0 : SUM_COL_BLOCK;
        sum_col_block(px + o * n * inner + i0, py + o * inner + i0, n, inner, ni, scale);
    }
    return MRG_OK;
}
