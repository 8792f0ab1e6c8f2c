/* The DICOM grayscale pipeline from stored values to [0, 1] (see
 * lib/io/dicom.h). Plain C, no DCMTK: dicom_read.cc fills the frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/dicom.h"

bool mrg_dicom_sniff(const void *data, size_t len) {
    return data && len >= 132 && memcmp((const unsigned char *)data + 128, "DICM", 4) == 0;
}

void mrg_dicom_frame_free(mrg_dicom_frame *f) {
    if (!f) return;
    free(f->modality_lut.data);
    free(f->voi_lut.data);
    free(f->pixels);
    memset(f, 0, sizeof *f);
}

/* Sample i as the integer it stores: bits_stored bits ending at high_bit,
 * sign-extended when the representation is two's complement. */
static int32_t stored_value(const mrg_dicom_frame *f, size_t i) {
    uint32_t raw = f->bits_allocated == 8 ? ((const uint8_t *)f->pixels)[i]
                                          : ((const uint16_t *)f->pixels)[i];
    const int bits = f->bits_stored;
    uint32_t v = (raw >> (f->high_bit + 1 - bits)) & ((1u << bits) - 1u);
    if (f->pixel_signed && (v >> (bits - 1)) & 1u) return (int32_t)v - (int32_t)(1u << bits);
    return (int32_t)v;
}

/* LUT output for input x (rounded to the nearest entry), clamped at both
 * ends of the table as PS3.3 C.11.1 says. */
static double lut_lookup(const mrg_dicom_lut *lut, double x) {
    double k = floor(x - (double)lut->first + 0.5);
    if (!(k > 0)) k = 0; /* NaN too */
    if (k > lut->n - 1) k = lut->n - 1;
    return lut->data[(size_t)k];
}

static double modality_value(const mrg_dicom_frame *f, int32_t s) {
    if (f->modality_lut.n > 0) return lut_lookup(&f->modality_lut, s);
    return (double)s * f->slope + f->intercept;
}

/* A window that PS3.3 C.11.2.1.2 allows: LINEAR needs a width of at least
 * 1, the others a positive one. Others are ignored (min–max instead). */
static bool window_usable(const mrg_dicom_frame *f) {
    if (!f->has_window || !isfinite(f->window_center) || !isfinite(f->window_width)) return false;
    return f->voi_function == MRG_DICOM_VOI_LINEAR ? f->window_width >= 1 : f->window_width > 0;
}

/* Window x into [0, 1] (PS3.3 C.11.2.1.2-3). LINEAR is written as
 * (x - lo) / (w - 1) with lo its lower edge, equal to the standard's
 * ((x - (c - 0.5)) / (w - 1) + 0.5) but exact for the identity window
 * (c = 2^(n-1), w = 2^n, lo = 0). */
static double window(const mrg_dicom_frame *f, double x) {
    const double c = f->window_center, w = f->window_width;
    switch (f->voi_function) {
    case MRG_DICOM_VOI_LINEAR_EXACT:
        if (x <= c - w / 2) return 0;
        if (x > c + w / 2) return 1;
        return (x - c) / w + 0.5;
    case MRG_DICOM_VOI_SIGMOID:
        return 1.0 / (1.0 + exp(-4.0 * (x - c) / w));
    case MRG_DICOM_VOI_LINEAR:
    default: {
        const double lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2;
        if (x <= lo) return 0;
        if (x > hi) return 1;
        return (x - lo) / (w - 1);
    }
    }
}

void mrg_dicom_render(const mrg_dicom_frame *f, float *gray) {
    const size_t n = (size_t)f->rows * (size_t)f->cols;
    const bool use_lut = f->voi_lut.n > 0, use_window = !use_lut && window_usable(f);
    double lo = 0, range = 0;
    if (!use_lut && !use_window) { /* min–max over the frame's modality values */
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double m = modality_value(f, stored_value(f, i));
            if (m < mn) mn = m;
            if (m > mx) mx = m;
        }
        lo = mn;
        range = mx - mn;
    }
    const double lut_max = use_lut ? (double)((1u << f->voi_lut.bits) - 1u) : 1;
    for (size_t i = 0; i < n; i++) {
        double m = modality_value(f, stored_value(f, i)), y;
        if (use_lut)
            y = lut_lookup(&f->voi_lut, m) / lut_max;
        else if (use_window)
            y = window(f, m);
        else
            y = range > 0 ? (m - lo) / range : 0;
        if (!(y > 0)) y = 0; /* NaN too */
        if (y > 1) y = 1;
        gray[i] = (float)(f->monochrome1 ? 1 - y : y);
    }
}
