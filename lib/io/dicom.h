/* DICOM images, private to lib/io: the attributes and first frame that
 * DCMTK reads (dicom_read.cc, built with MRG_DICOM) and their rendering to
 * grayscale in [0, 1] (dicom_render.c, plain C).
 *
 * Rendering follows the DICOM grayscale pipeline (PS3.3 C.7.6.3, C.11):
 * stored value (BitsStored bits at HighBit, two's complement when
 * PixelRepresentation = 1) → modality LUT or RescaleSlope/Intercept →
 * VOI LUT, else the first window (VOILUTFunction LINEAR, LINEAR_EXACT or
 * SIGMOID), else the frame's minimum–maximum → [0, 1], inverted for
 * MONOCHROME1 so that 1 is always white. A window of centre 2^(n-1) and
 * width 2^n over n-bit unsigned data gives stored / (2^n - 1): the value a
 * PNG of the same pixels loads to (lib/io/image.c). */
#ifndef MRG_IO_DICOM_H
#define MRG_IO_DICOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A modality or VOI lookup table (PS3.3 C.11.1, C.11.2): input x maps to
 * data[clamp(x - first, 0, n - 1)], an output of `bits` bits. */
typedef struct mrg_dicom_lut {
    int n;          /* entries, 1..65536 (0 = no table) */
    int first;      /* first input value mapped */
    int bits;       /* bits per entry, 8..16 */
    uint16_t *data; /* n entries, malloc'd */
} mrg_dicom_lut;

typedef enum mrg_dicom_voi_function {
    MRG_DICOM_VOI_LINEAR = 0,
    MRG_DICOM_VOI_LINEAR_EXACT,
    MRG_DICOM_VOI_SIGMOID,
} mrg_dicom_voi_function;

typedef struct mrg_dicom_frame {
    int rows, cols;
    int frames;                  /* NumberOfFrames (1 when absent); only the first is read */
    int bits_allocated;          /* 8 or 16 */
    int bits_stored, high_bit;   /* 1..bits_allocated, bits_stored - 1..bits_allocated - 1 */
    bool pixel_signed;           /* PixelRepresentation 1 */
    bool monochrome1;            /* else MONOCHROME2 */
    double slope, intercept;     /* 1, 0 when absent */
    mrg_dicom_lut modality_lut;  /* replaces slope/intercept when n > 0 */
    mrg_dicom_lut voi_lut;       /* first item of VOILUTSequence; preferred over the window */
    bool has_window;
    double window_center, window_width; /* the first of each */
    mrg_dicom_voi_function voi_function;
    void *pixels; /* the first frame, rows * cols samples of bits_allocated bits, host order */
} mrg_dicom_frame;

/* True when data starts with a DICOM Part 10 preamble: 128 bytes, "DICM". */
bool mrg_dicom_sniff(const void *data, size_t len);

/* Parses a DICOM file held in memory (Part 10 with or without the
 * preamble, or a bare data set) and reads its first frame, decompressing
 * it with DCMTK's JPEG, JPEG-LS and RLE decoders when it is encapsulated.
 * Checks the image's size against mrg/limits.h before allocating the
 * frame; out->frames tells the caller whether there were others to warn
 * about. MRG_ERR_FORMAT for a malformed file, MRG_ERR_UNSUPPORTED for one
 * this reader does not handle (colour, a transfer syntax without a
 * decoder, float pixels); the message names the file. Free *out with
 * mrg_dicom_frame_free (also after an error). Only in builds with DCMTK
 * (MRG_HAVE_DICOM). */
mrg_status mrg_dicom_read(const void *data, size_t len, const char *name, mrg_dicom_frame *out);
void mrg_dicom_frame_free(mrg_dicom_frame *f);

/* Renders the frame into gray[rows * cols] (row-major) in [0, 1]. */
void mrg_dicom_render(const mrg_dicom_frame *f, float *gray);

#ifdef __cplusplus
}
#endif
#endif
