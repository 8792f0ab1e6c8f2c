/* Rotary position embedding on the CPU (forward, and the inverse rotation
 * that is its backward). */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* heads vectors of D at one position rotated by (c, s) (D/2 each); the pair
 * (a, b) of rotation i is (x[i·step], x[i·step + other]). y may be x. */
CPU_CLONES_EXACT static void rotate_heads(const float *x, float *y, int64_t heads, int64_t D, int64_t step,
                                          int64_t other, const float *c, const float *s) {
    int64_t half = D / 2;
    for (int64_t h = 0; h < heads; h++) {
        const float *xv = x + h * D;
        float *yv = y + h * D;
        for (int64_t i = 0; i < half; i++) {
            float a = xv[i * step], b = xv[i * step + other];
            yv[i * step] = a * c[i] - b * s[i];
            yv[i * step + other] = a * s[i] + b * c[i];
        }
    }
}

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
        rotate_heads(px + ot * heads * D, py + ot * heads * D, heads, D, step, other, cs + t * half, sn + t * half);
    }
    free(cs);
    return MRG_OK;
}
