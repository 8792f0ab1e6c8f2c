/* Rotary position embedding, embedding lookup (and its deterministic
 * backward) and axis sums on the CPU. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* ---- RoPE ------------------------------------------------------------------- */

mrg_status cpu_rope(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t T,
                    int64_t heads, int64_t D, int64_t pos0, float theta, int layout,
                    bool inverse) {
    (void)dev;
    if (outer < 0 || T < 0 || heads < 0 || D < 2 || D % 2 != 0 || pos0 < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu rope: bad size (head dim %lld must be even)",
                         (long long)D);
    if (layout != 0 && layout != 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu rope: unknown layout %d", layout);
    int64_t n = outer * T * heads * D;
    mrg_status st = cpu_check("rope", "x", x, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("rope", "y", y, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    if (n == 0) return MRG_OK;
    int64_t half = D / 2;
    /* cos/sin table (T, D/2), computed in f32 the way Hugging Face and
     * llama2.c do (inv_freq = 1/theta^(2i/D), angle = pos·inv_freq) so the
     * rounding of large angles matches theirs */
    float *cs = malloc((size_t)(T * half) * 2 * sizeof(float));
    if (!cs) return mrg_error(MRG_ERR_OOM, "cpu rope: out of host memory");
    float *sn = cs + T * half;
    for (int64_t i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)D);
        for (int64_t t = 0; t < T; t++) {
            float ang = (float)(pos0 + t) * inv_freq;
            cs[t * half + i] = cosf(ang);
            sn[t * half + i] = inverse ? -sinf(ang) : sinf(ang);
        }
    }
    const float *px = cpu_f32(x);
    float *py = cpu_f32(y);
    /* the pair (a, b) of rotation i: HALF (i, i + D/2), INTERLEAVED (2i, 2i+1) */
    int64_t step = layout == 0 ? 1 : 2, other = layout == 0 ? half : 1;
#pragma omp parallel for if (n > CPU_PAR_MIN && outer * T > 1) schedule(static)
    for (int64_t ot = 0; ot < outer * T; ot++) {
        int64_t t = ot % T;
        const float *c = cs + t * half, *s = sn + t * half;
        for (int64_t h = 0; h < heads; h++) {
            const float *xv = px + (ot * heads + h) * D;
            float *yv = py + (ot * heads + h) * D;
            for (int64_t i = 0; i < half; i++) {
                float a = xv[i * step], b = xv[i * step + other];
                yv[i * step] = a * c[i] - b * s[i];
                yv[i * step + other] = a * s[i] + b * c[i];
            }
        }
    }
    free(cs);
    return MRG_OK;
}

/* ---- embedding ---------------------------------------------------------------- */

mrg_status cpu_embedding(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                         int64_t D, int64_t V) {
    (void)dev;
    if (n < 0 || D < 1 || V < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu embedding: bad size");
    mrg_status st = cpu_check("embedding", "w", w, V * D, CPU_FLOATS);
    if (st == MRG_OK) st = cpu_check("embedding", "ids", ids, n, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("embedding", "out", out, n * D, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const int32_t *pid = cpu_i32(ids);
    const char *pw = cpu_addr(w);
    size_t es = cpu_dtype_size(w.dt);
    float *po = cpu_f32(out);
#pragma omp parallel for if (n * D > CPU_PAR_MIN && n > 1) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        int64_t id = pid[i];
        if (id < 0 || id >= V)
            memset(po + i * D, 0, (size_t)D * sizeof(float));
        else
            cpu_to_f32(w.dt, pw + (size_t)(id * D) * es, po + i * D, D);
    }
    return MRG_OK;
}

/* Columns per task: every task walks all ids in order, so repeated ids add
 * up in the same order whatever the thread count. */
#define EMB_COL_BLOCK 32

mrg_status cpu_embedding_backward(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                  int64_t n, int64_t D, int64_t V) {
    (void)dev;
    if (n < 0 || D < 1 || V < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu embedding_backward: bad size");
    mrg_status st = cpu_check("embedding_backward", "dy", dy, n * D, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("embedding_backward", "ids", ids, n, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("embedding_backward", "dw", dw, V * D, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const int32_t *pid = cpu_i32(ids);
    const float *pg = cpu_f32(dy);
    float *pw = cpu_f32(dw);
    int64_t nblk = (D + EMB_COL_BLOCK - 1) / EMB_COL_BLOCK;
#pragma omp parallel for if (n * D > CPU_PAR_MIN && nblk > 1) schedule(static)
    for (int64_t q = 0; q < nblk; q++) {
        int64_t d0 = q * EMB_COL_BLOCK, nd = D - d0 < EMB_COL_BLOCK ? D - d0 : EMB_COL_BLOCK;
        for (int64_t i = 0; i < n; i++) {
            int64_t id = pid[i];
            if (id < 0 || id >= V) continue; /* its forward row was zero */
            float *wr = pw + id * D + d0;
            const float *gr = pg + i * D + d0;
            for (int64_t j = 0; j < nd; j++) wr[j] += gr[j];
        }
    }
    return MRG_OK;
}

/* ---- reduce_sum --------------------------------------------------------------- */

/* Elements per partial sum when one long row is split across threads; a
 * fixed size keeps the result independent of the thread count. */
#define SUM_CHUNK 65536
#define SUM_COL_BLOCK 64

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
        double acc[SUM_COL_BLOCK] = {0};
        for (int64_t j = 0; j < n; j++) {
            const float *xr = px + (o * n + j) * inner + i0;
            for (int64_t i = 0; i < ni; i++) acc[i] += xr[i];
        }
        float *yr = py + o * inner + i0;
        for (int64_t i = 0; i < ni; i++) yr[i] = (float)(acc[i] * scale);
    }
    return MRG_OK;
}
