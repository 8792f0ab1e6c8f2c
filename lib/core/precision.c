/* The GEMM precision of a device (mrg_set_precision): under bf16-mixed
 * every product rounds its operands to bf16 (ops/matmul.c). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

mrg_precision mrg_set_precision(mrg_device *dev, mrg_precision p) {
    if (!dev) return MRG_PRECISION_F32;
    mrg_precision prev = (mrg_precision)dev->precision;
    dev->precision = p == MRG_PRECISION_BF16_MIXED ? MRG_PRECISION_BF16_MIXED : MRG_PRECISION_F32;
    return prev;
}

mrg_precision mrg_get_precision(const mrg_device *dev) {
    return dev ? (mrg_precision)dev->precision : MRG_PRECISION_F32;
}

const char *mrg_precision_name(mrg_precision p) {
    switch (p) {
    case MRG_PRECISION_F32: return "f32";
    case MRG_PRECISION_BF16_MIXED: return "bf16-mixed";
    }
    return NULL;
}

mrg_status mrg_precision_parse(const char *s, mrg_precision *out) {
    if (s && !strcmp(s, "f32")) *out = MRG_PRECISION_F32;
    else if (s && !strcmp(s, "bf16-mixed")) *out = MRG_PRECISION_BF16_MIXED;
    else
        return mrg_error(MRG_ERR_INVALID_ARG, "precision \"%s\": expected f32 or bf16-mixed",
                         s ? s : "");
    return MRG_OK;
}
