/* Images on the host: PNG/JPEG loading (stb_image), DICOM loading (DCMTK,
 * when built with it), bilinear resize, mean/std normalisation and a PNG
 * writer.
 *
 * An mrg_image is float, planar (channels, height, width), row-major, with
 * values in [0, 1] after loading (8-bit / 255, 16-bit / 65535). Loading
 * always gives 3 channels: grayscale is replicated, alpha is dropped without
 * compositing (as PIL's convert("RGB") does). */
#ifndef MRG_IMAGE_H
#define MRG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_image {
    int channels, height, width;
    float *data; /* (channels, height, width), malloc'd */
} mrg_image;

/* Allocates an image of the given size (contents zero). */
mrg_status mrg_image_alloc(mrg_image *img, int channels, int height, int width);
void mrg_image_free(mrg_image *img);

/* PNG or JPEG, 8- or 16-bit, gray / gray+alpha / RGB / RGBA → (3, H, W) in
 * [0, 1]. MRG_ERR_IO/NOT_FOUND for an unreadable file, MRG_ERR_FORMAT for a
 * corrupt or unsupported one; the message names the file.
 *
 * DICOM (recognised by "DICM" at byte 128, or a name ending in .dcm or
 * .dicom): the first frame of a MONOCHROME1/2 image, 8 or 16 bits
 * allocated, through the modality LUT or rescale, then the VOI LUT, else
 * the first window, else the frame's min–max, to [0, 1] with 1 white
 * (lib/io/dicom.h); replicated to 3 channels like a gray PNG. A window
 * centred at 2^(n-1) of width 2^n over n-bit data loads exactly as a PNG
 * of the same pixels. Several frames: the first, with a warning on
 * stderr. Colour, float pixels and transfer syntaxes without a decoder
 * give MRG_ERR_UNSUPPORTED, as does any DICOM file in a build without
 * DCMTK. */
mrg_status mrg_image_load(const char *path, mrg_image *out);
/* The same from an encoded file in memory; name is used in messages (and
 * its extension to recognise a DICOM data set without a preamble). */
mrg_status mrg_image_decode(const void *data, size_t len, const char *name, mrg_image *out);
/* True when this build reads DICOM (DCMTK was found at configure time). */
bool mrg_image_reads_dicom(void);

/* Bilinear resize to (height, width), matching PyTorch
 * F.interpolate(mode="bilinear", align_corners=False, antialias=False):
 * half-pixel centres, source coordinate (dst + 0.5) * in/out - 0.5 clamped
 * at 0, edge pixels repeated. No antialiasing, so unlike PIL's resize it does
 * not low-pass when shrinking. out must not alias in. */
mrg_status mrg_image_resize(const mrg_image *in, int height, int width, mrg_image *out);

/* x[c] = (x[c] - mean[c]) / std[c] in place, one mean/std per channel. */
mrg_status mrg_image_normalize(mrg_image *img, const float *mean, const float *std);

/* Load, resize (skipped when the size already matches) and normalise:
 * the model input pipeline. mean/std may be NULL to skip normalisation. */
mrg_status mrg_image_load_for_model(const char *path, int height, int width, const float *mean,
                                    const float *std, mrg_image *out);

/* Writes an 8-bit PNG from an image with 1 or 3 channels (values in [0, 1],
 * clamped, rounded to nearest). Written atomically (temporary file +
 * rename). */
mrg_status mrg_image_save_png(const char *path, const mrg_image *img);

#ifdef __cplusplus
}
#endif
#endif
