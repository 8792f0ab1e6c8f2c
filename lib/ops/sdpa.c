/* Scaled dot-product attention with grouped-query heads, composed of
 * recorded ops (so its backward is theirs):
 *
 *   q (B, H, Tq, D) → (B·Hkv, G·Tq, D)   the G = H/Hkv query heads of one kv
 *                                       head are adjacent, so a view
 *   k, v (B, Hkv, Tk, D) → (B·Hkv, Tk, D)
 *   s = (scale·q) · kᵀ                   (B·Hkv, G·Tq, Tk), one batched GEMM
 *   s += key_mask                        viewed (B, Hkv·G·Tq, Tk) + (B, 1, Tk)
 *   p = softmax(s) over Tk               viewed (B·H, Tq, Tk) so that the causal
 *                                       mask sees query index r % Tq
 *   o = p · v                            (B·Hkv, G·Tq, D) = (B, H, Tq, D)
 *
 * q is scaled before the product (G·Tq·D multiplies instead of G·Tq·Tk). */
#include "ops/ops_common.h"

mrg_tensor *mrg_sdpa(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                     bool causal, float scale) {
    MRG_NULL_GUARD(q, k, v);
    mrg_tensor *const ins[4] = {q, k, v, key_mask};
    if (!ops_check_device("sdpa", 4, ins)) return NULL;
    if (!ops_check_f32("sdpa", "q", q) || !ops_check_f32("sdpa", "k", k) ||
        !ops_check_f32("sdpa", "v", v))
        return NULL;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        OPS_FAIL("sdpa: q %s, k %s, v %s must be 4-D (B, heads, T, D)", OPS_SHAPE(q),
                 OPS_SHAPE(k), OPS_SHAPE(v));
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Tk = k->shape[2], Dv = v->shape[3];
    if (k->shape[0] != B || k->shape[3] != D || v->shape[0] != B || v->shape[1] != Hkv ||
        v->shape[2] != Tk)
        OPS_FAIL("sdpa: q %s, k %s, v %s: expected k, v (B, Hkv, Tk, D) for q (B, H, Tq, D)",
                 OPS_SHAPE(q), OPS_SHAPE(k), OPS_SHAPE(v));
    if (Hkv < 1 || H % Hkv != 0)
        OPS_FAIL("sdpa: q heads %lld are not a multiple of kv heads %lld", (long long)H,
                 (long long)Hkv);
    if (causal && Tq > Tk)
        OPS_FAIL("sdpa: causal attention with Tq %lld > Tk %lld", (long long)Tq, (long long)Tk);
    if (key_mask) {
        if (!ops_check_f32("sdpa", "key_mask", key_mask)) return NULL;
        if (key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != Tk)
            OPS_FAIL("sdpa: key_mask %s must be (B, Tk) = (%lld, %lld)", OPS_SHAPE(key_mask),
                     (long long)B, (long long)Tk);
    }
    int64_t G = H / Hkv;
    mrg_tensor *qr = mrg_reshape(mrg_scale(q, scale), MRG_SHAPE(B * Hkv, G * Tq, D));
    mrg_tensor *kr = mrg_reshape(k, MRG_SHAPE(B * Hkv, Tk, D));
    mrg_tensor *vr = mrg_reshape(v, MRG_SHAPE(B * Hkv, Tk, Dv));
    mrg_tensor *s = mrg_matmul(qr, kr, false, true); /* (B·Hkv, G·Tq, Tk) */
    if (key_mask)
        s = mrg_add(mrg_reshape(s, MRG_SHAPE(B, Hkv * G * Tq, Tk)),
                    mrg_reshape(key_mask, MRG_SHAPE(B, 1, Tk)));
    mrg_tensor *p = mrg_softmax(mrg_reshape(s, MRG_SHAPE(B * H, Tq, Tk)), causal);
    mrg_tensor *o = mrg_matmul(mrg_reshape(p, MRG_SHAPE(B * Hkv, G * Tq, Tk)), vr, false, false);
    return mrg_reshape(o, MRG_SHAPE(B, H, Tq, Dv));
}
