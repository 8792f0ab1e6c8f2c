/* ViT patch embedding as a reshape + permute + linear (a convolution whose
 * stride equals its kernel), composed of recorded ops:
 *
 *   img (B, C, H, W) → (B, C, gh, P, gw, P) → permute (B, gh, gw, C, P, P)
 *   → (B, gh·gw, C·P·P) · w (D, C·P·P)ᵀ + bias → (B, gh·gw, D). */
#include "ops/ops_common.h"

mrg_tensor *mrg_patch_embed(mrg_tensor *img, mrg_tensor *w, mrg_tensor *bias) {
    MRG_NULL_GUARD(img, w);
    mrg_tensor *const ins[3] = {img, w, bias};
    if (!ops_check_device("patch_embed", 3, ins)) return NULL;
    if (!ops_check_f32("patch_embed", "img", img) || !ops_check_float("patch_embed", "w", w))
        return NULL;
    if (img->ndim != 4 || w->ndim != 4 || w->shape[2] != w->shape[3] ||
        w->shape[1] != img->shape[1])
        OPS_FAIL("patch_embed: img %s and w %s: expected (B, C, H, W) and (D, C, P, P)",
                 OPS_SHAPE(img), OPS_SHAPE(w));
    int64_t B = img->shape[0], C = img->shape[1], H = img->shape[2], W = img->shape[3];
    int64_t D = w->shape[0], P = w->shape[2];
    if (P < 1 || H % P != 0 || W % P != 0)
        OPS_FAIL("patch_embed: image %lldx%lld is not a multiple of the patch size %lld",
                 (long long)H, (long long)W, (long long)P);
    if (bias && !ops_check_f32("patch_embed", "bias", bias)) return NULL;
    if (bias && (bias->ndim != 1 || bias->shape[0] != D))
        OPS_FAIL("patch_embed: bias %s must be (%lld,)", OPS_SHAPE(bias), (long long)D);
    int64_t gh = H / P, gw = W / P;
    static const int perm[6] = {0, 2, 4, 1, 3, 5};
    mrg_tensor *x = mrg_reshape(img, MRG_SHAPE(B, C, gh, P, gw, P));
    x = mrg_permute(x, perm); /* (B, gh, gw, C, P, P) */
    x = mrg_reshape(x, MRG_SHAPE(B, gh * gw, C * P * P));
    mrg_tensor *w2 = mrg_reshape(w, MRG_SHAPE(D, C * P * P));
    return mrg_linear(x, w2, bias);
}
