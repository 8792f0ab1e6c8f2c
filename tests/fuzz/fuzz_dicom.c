/* Fuzzes DICOM input (mrg_image_decode of a ".dcm" name, so every input
 * reaches DCMTK: Part 10 files and bare data sets alike) and the model
 * input pipeline after it. Decoded values must lie in [0, 1]. Without
 * DCMTK (a build without MRG_DICOM) every input must be refused with a
 * message. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "mrg/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mrg_image img, small;
    mrg_clear_error();
    mrg_status st = mrg_image_decode(data, size, "fuzz.dcm", &img);
    fuzz_expect_message(st, "mrg_image_decode (DICOM)");
    if (st != MRG_OK) return 0;
    size_t n = (size_t)img.channels * (size_t)img.height * (size_t)img.width;
    for (size_t i = 0; i < n; i++)
        if (!(img.data[i] >= 0.0f && img.data[i] <= 1.0f)) {
            fprintf(stderr, "fuzz: decoded DICOM value %g outside [0, 1]\n", img.data[i]);
            abort();
        }
    if (mrg_image_resize(&img, 24, 24, &small) != MRG_OK) abort();
    mrg_image_free(&small);
    mrg_image_free(&img);
    return 0;
}
