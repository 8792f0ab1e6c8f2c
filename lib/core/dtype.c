/* Element sizes, names and host-side conversions between f32, bf16 and f16. */
#include <math.h>
#include <string.h>

#include "mrg/tensor.h"

size_t mrg_dtype_size(mrg_dtype dt) {
    switch (dt) {
    case MRG_F32:
    case MRG_I32: return 4;
    case MRG_BF16:
    case MRG_F16: return 2;
    }
    return 0;
}

const char *mrg_dtype_name(mrg_dtype dt) {
    switch (dt) {
    case MRG_F32: return "f32";
    case MRG_BF16: return "bf16";
    case MRG_F16: return "f16";
    case MRG_I32: return "i32";
    }
    return "?";
}

static uint32_t f32_bits(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float v;
    memcpy(&v, &u, 4);
    return v;
}

float mrg_bf16_to_f32(uint16_t v) { return bits_f32((uint32_t)v << 16); }

uint16_t mrg_f32_to_bf16(float v) {
    uint32_t u = f32_bits(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    /* round to nearest, ties to even */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float mrg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: man · 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t mrg_f32_to_f16(float v) {
    uint32_t u = f32_bits(v);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t au = u & 0x7fffffffu;
    if (au > 0x7f800000u) return sign | 0x7e00u;            /* NaN */
    if (au >= 0x477ff000u) return sign | 0x7c00u;           /* overflow → inf (≥ 65520) */
    if (au < 0x38800000u) {
        /* subnormal half (|v| < 2^-14): round v / 2^-24 to an integer, ties to even */
        float f = bits_f32(au) * 16777216.0f;
        float r = nearbyintf(f); /* default rounding mode: ties to even */
        return sign | (uint16_t)r;
    }
    /* normal: drop 13 mantissa bits with round-to-nearest-even */
    uint32_t rounded = au + 0x0fffu + ((au >> 13) & 1u);
    return sign | (uint16_t)((rounded >> 13) - (112u << 10));
}
