/* Helpers shared by the safetensors reader and writer (not installed). */
#ifndef MRG_IO_SAFETENSORS_INTERNAL_H
#define MRG_IO_SAFETENSORS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mrg/tensor.h"

/* The format stores little-endian data and we hand out pointers into the
 * mapping without byte swapping. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors support assumes a little-endian host"
#endif

/* The dtype tag used in safetensors headers. */
static inline const char *mrg_st_dtype_tag(mrg_dtype dt) {
    switch (dt) {
        case MRG_F32:
            return "F32";
        case MRG_BF16:
            return "BF16";
        case MRG_F16:
            return "F16";
        case MRG_I32:
            return "I32";
    }
    return "?";
}

static inline size_t mrg_st_dtype_bytes(mrg_dtype dt) {
    return dt == MRG_BF16 || dt == MRG_F16 ? 2 : 4;
}

static inline bool mrg_st_dtype_valid(mrg_dtype dt) {
    return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16 || dt == MRG_I32;
}

/* numel × element size without overflow; false when it does not fit. */
static inline bool mrg_st_span(int ndim, const int64_t *shape, size_t esize, uint64_t *out) {
    uint64_t n = esize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return false;
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n)) return false;
    }
    *out = n;
    return true;
}

/* "(2, 3, 4)" into buf. */
static inline const char *mrg_st_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

#endif
