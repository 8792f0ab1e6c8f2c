/* Scaled dot-product attention with grouped-query heads.
 *
 * mrg_sdpa runs the backend's fused kernel pair (flash style: key tiles and
 * an online softmax, no (Tq × Tk) score matrix in memory; core/backend.h):
 * the forward saves only the output and the per-row logsumexp (B, H, Tq),
 * the backward recomputes the scores tile by tile.
 *
 * mrg_sdpa_composed is the same attention composed of recorded ops (so its
 * backward is theirs), kept as the reference the fused kernels are tested
 * against:
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
 * q is scaled before the product (G·Tq·D multiplies instead of G·Tq·Tk);
 * the fused kernels do the same, so both see the same scaled q. */
#include "ops/ops_common.h"

/* OPS_FAIL for a bool function. */
#define SDPA_FAIL(...)                                                       \
    do {                                                                     \
        mrg_error(MRG_ERR_INVALID_ARG, __VA_ARGS__);                         \
        return false;                                                        \
    } while (0)

/* Shape checks shared by both versions; fills the sizes (R = B, cap = Tk). */
static bool sdpa_check(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                       bool causal, float scale, mrg_sdpa_dims *dims) {
    mrg_tensor *const ins[4] = {q, k, v, key_mask};
    if (!ops_check_device("sdpa", 4, ins)) return false;
    if (!ops_check_f32("sdpa", "q", q) || !ops_check_f32("sdpa", "k", k) ||
        !ops_check_f32("sdpa", "v", v))
        return false;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        SDPA_FAIL("sdpa: q %s, k %s, v %s must be 4-D (B, heads, T, D)", OPS_SHAPE(q),
                 OPS_SHAPE(k), OPS_SHAPE(v));
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Tk = k->shape[2], Dv = v->shape[3];
    if (k->shape[0] != B || k->shape[3] != D || v->shape[0] != B || v->shape[1] != Hkv ||
        v->shape[2] != Tk)
        SDPA_FAIL("sdpa: q %s, k %s, v %s: expected k, v (B, Hkv, Tk, D) for q (B, H, Tq, D)",
                 OPS_SHAPE(q), OPS_SHAPE(k), OPS_SHAPE(v));
    if (!ops_check_heads("sdpa", H, Hkv)) return false;
    if (Tk < 1 || D < 1 || Dv < 1)
        SDPA_FAIL("sdpa: k %s, v %s: no keys or an empty head", OPS_SHAPE(k), OPS_SHAPE(v));
    if (causal && Tq > Tk)
        SDPA_FAIL("sdpa: causal attention with Tq %lld > Tk %lld", (long long)Tq, (long long)Tk);
    if (key_mask) {
        if (!ops_check_f32("sdpa", "key_mask", key_mask)) return false;
        if (key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != Tk)
            SDPA_FAIL("sdpa: key_mask %s must be (B, Tk) = (%lld, %lld)", OPS_SHAPE(key_mask),
                     (long long)B, (long long)Tk);
    }
    *dims = (mrg_sdpa_dims){B, H, Hkv, Tq, Tk, D, Dv, B, Tk, causal, scale};
    return true;
}

mrg_tensor *mrg_sdpa_composed(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                              bool causal, float scale) {
    MRG_NULL_GUARD(q, k, v);
    mrg_sdpa_dims d;
    if (!sdpa_check(q, k, v, key_mask, causal, scale, &d)) return NULL;
    int64_t B = d.B, H = d.H, Hkv = d.Hkv, Tq = d.Tq, Tk = d.Tk, D = d.D, Dv = d.Dv;
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

/* in: q, k, v, key_mask; out: o; saved: lse (B, H, Tq); f[0] scale, flag[0] causal. */
static mrg_status sdpa_backward(mrg_node *n) {
    mrg_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *mask = n->in[3], *o = n->out;
    mrg_sdpa_dims d = {q->shape[0], q->shape[1], k->shape[1], q->shape[2], k->shape[2],
                       q->shape[3], v->shape[3], q->shape[0], k->shape[2], n->flag[0], n->f[0]};
    mrg_tensor *dq = mrg_tensor_like(q, MRG_F32), *dk = mrg_tensor_like(k, MRG_F32),
               *dv = mrg_tensor_like(v, MRG_F32);
    if (!dq || !dk || !dv) return MRG_ERR_OOM;
    MRG_TRY(q->dev->be->sdpa_backward(q->dev, &d, mrg_ptr_of(q), mrg_ptr_of(k), mrg_ptr_of(v),
                                      mask ? mrg_ptr_of(mask) : mrg_ptr_null(), mrg_ptr_of(o),
                                      mrg_ptr_of(n->saved[0]), mrg_ptr_of(o->grad),
                                      mrg_ptr_of(dq), mrg_ptr_of(dk), mrg_ptr_of(dv)));
    MRG_TRY(mrg_accum_grad(q, dq));
    MRG_TRY(mrg_accum_grad(k, dk));
    return mrg_accum_grad(v, dv);
}

mrg_tensor *mrg_sdpa(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                     bool causal, float scale) {
    MRG_NULL_GUARD(q, k, v);
    mrg_sdpa_dims d;
    if (!sdpa_check(q, k, v, key_mask, causal, scale, &d)) return NULL;
    mrg_device *dev = q->dev;
    /* a backend without the fused pair still runs the composed version */
    if (!dev->be->sdpa || !dev->be->sdpa_backward)
        return mrg_sdpa_composed(q, k, v, key_mask, causal, scale);
    if (key_mask && mrg_grad_enabled(dev) && key_mask->requires_grad)
        OPS_FAIL("sdpa: no gradient flows to key_mask (use mrg_sdpa_composed)");
    mrg_tensor *o = mrg_tensor_new(dev, MRG_F32, 4, (const int64_t[]){d.B, d.H, d.Tq, d.Dv});
    mrg_tensor *lse = mrg_tensor_new(dev, MRG_F32, 3, (const int64_t[]){d.B, d.H, d.Tq});
    if (!o || !lse) return NULL;
    MRG_TRY_NULL(dev->be->sdpa(dev, &d, mrg_ptr_of(q), mrg_ptr_of(k), mrg_ptr_of(v),
                               key_mask ? mrg_ptr_of(key_mask) : mrg_ptr_null(), mrg_ptr_null(),
                               mrg_ptr_of(o), mrg_ptr_of(lse)));
    mrg_tensor *const ins[4] = {q, k, v, key_mask};
    mrg_node *n = mrg_record(o, "sdpa", sdpa_backward, 4, ins);
    if (n) {
        n->saved[0] = lse;
        n->f[0] = scale;
        n->flag[0] = causal;
    }
    return o;
}
