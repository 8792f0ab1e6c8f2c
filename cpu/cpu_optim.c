/* Optimizer kernels on the CPU: AdamW, the squared norm for gradient
 * clipping and the clip scale. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* The decimal constant (0.999) a beta was most likely written as, when
 * rounding to 7 decimal places gives back the same f32: 1 − 0.999f is
 * 1.3e-5 away (relative) from PyTorch's 1 − 0.999, which it computes in
 * double. */
static double decimal_of(float b) {
    double d = (double)b, s = round(d * 1e7) / 1e7;
    return (float)s == b ? s : d;
}

typedef struct adamw_consts {
    float b1, b2, c1, c2, eps, decay, step, bc2_sqrt;
} adamw_consts;

/* Elements per task */
#define ADAMW_BLOCK 16384

/* The update of n elements (see cpu_adamw) */
CPU_CLONES_EXACT static void adamw_run(const adamw_consts *k, float *restrict pp, const float *restrict pg,
                                       float *restrict pm, float *restrict pv, int64_t n) {
    const float b1 = k->b1, b2 = k->b2, c1 = k->c1, c2 = k->c2, eps = k->eps, decay = k->decay,
                step = k->step, bc2_sqrt = k->bc2_sqrt;
    for (int64_t i = 0; i < n; i++) {
        float gi = pg[i];
        float mi = b1 * pm[i] + c1 * gi;
        float vi = b2 * pv[i] + c2 * gi * gi;
        pm[i] = mi;
        pv[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        pp[i] = pp[i] * decay - step * (mi / denom);
    }
}

/* PyTorch's single-tensor AdamW, in its order of operations:
 *   p ← p·(1 − lr·wd)
 *   m ← b1·m + (1 − b1)·g;  v ← b2·v + (1 − b2)·g²
 *   p ← p − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps) */
mrg_status cpu_adamw(mrg_device *dev, mrg_ptr p, mrg_ptr g, mrg_ptr m, mrg_ptr v, int64_t n,
                     float lr, float b1, float b2, float eps, float wd, float bc1, float bc2) {
    (void)dev;
    mrg_status st = cpu_check("adamw", "p", p, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("adamw", "g", g, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("adamw", "m", m, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("adamw", "v", v, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    if (!(bc1 > 0.0f) || !(bc2 > 0.0f))
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu adamw: bias corrections must be > 0");
    float *pp = cpu_f32(p), *pm = cpu_f32(m), *pv = cpu_f32(v);
    const float *pg = cpu_f32(g);
    /* PyTorch forms these scalars in double and rounds them to f32 once */
    float decay = (float)(1.0 - (double)lr * (double)wd);
    float step = (float)((double)lr / (double)bc1);
    float bc2_sqrt = (float)sqrt((double)bc2);
    float c1 = (float)(1.0 - decimal_of(b1)), c2 = (float)(1.0 - decimal_of(b2));
    const adamw_consts k = {b1, b2, c1, c2, eps, decay, step, bc2_sqrt};
    int64_t nblk = (n + ADAMW_BLOCK - 1) / ADAMW_BLOCK;
#pragma omp parallel for if (n > CPU_PAR_MIN) schedule(static)
    for (int64_t q = 0; q < nblk; q++) {
        int64_t i0 = q * ADAMW_BLOCK, len = n - i0 < ADAMW_BLOCK ? n - i0 : ADAMW_BLOCK;
        adamw_run(&k, pp + i0, pg + i0, pm + i0, pv + i0, len);
    }
    return MRG_OK;
}

/* Elements per partial sum: fixed, so the total does not depend on the
 * thread count. */
#define SQ_CHUNK 32768

mrg_status cpu_sum_squares(mrg_device *dev, mrg_ptr x, int64_t n, mrg_ptr acc) {
    (void)dev;
    mrg_status st = cpu_check("sum_squares", "x", x, n, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("sum_squares", "acc", acc, 1, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    const float *px = cpu_f32(x);
    int64_t nch = (n + SQ_CHUNK - 1) / SQ_CHUNK;
    double stack_part[64];
    double *part = nch <= 64 ? stack_part : malloc((size_t)nch * sizeof(double));
    if (!part) return mrg_error(MRG_ERR_OOM, "cpu sum_squares: out of host memory");
#pragma omp parallel for if (nch > 1) schedule(static)
    for (int64_t c = 0; c < nch; c++) {
        int64_t i0 = c * SQ_CHUNK, len = n - i0 < SQ_CHUNK ? n - i0 : SQ_CHUNK;
        double s = 0.0;
        for (int64_t i = 0; i < len; i++) s += (double)px[i0 + i] * px[i0 + i];
        part[c] = s;
    }
    double total = 0.0;
    for (int64_t c = 0; c < nch; c++) total += part[c];
    if (part != stack_part) free(part);
    float *pa = cpu_f32(acc);
    pa[0] = (float)((double)pa[0] + total);
    return MRG_OK;
}

mrg_status cpu_clip_scale(mrg_device *dev, mrg_ptr sumsq, mrg_ptr x, int64_t n, float max_norm) {
    (void)dev;
    mrg_status st = cpu_check("clip_scale", "sumsq", sumsq, 1, CPU_DT(MRG_F32));
    if (st == MRG_OK) st = cpu_check("clip_scale", "x", x, n, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (total_norm + 1e-6),
     * clamped to 1 */
    float coef = max_norm / (sqrtf(*cpu_f32(sumsq)) + 1e-6f);
    /* min(1, coef) as fminf: a NaN norm leaves x unscaled (the caller sees
     * the NaN in sumsq) */
    if (!(coef < 1.0f)) return MRG_OK;
    float *px = cpu_f32(x);
#pragma omp parallel for if (n > 4 * CPU_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) px[i] *= coef;
    return MRG_OK;
}
