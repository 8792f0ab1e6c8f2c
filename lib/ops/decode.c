/* Fused decoding ops: the few launches one decoded token needs per layer.
 *
 * Each op here is defined as a composition of the ops above it (mrg_linear,
 * mrg_silu, mrg_mul, mrg_add, mrg_rope, mrg_copy_into/mrg_copy_region,
 * mrg_sdpa_cache); a backend that fills the matching optional entry
 * (gemv_fused, rope_store_kv, sdpa_decode in core/backend.h) runs it as
 * one kernel instead, and one whose entry is NULL (the CPU) runs the
 * composition, so its results are those of the unfused code, bit for bit.
 * The fused entries serve small batches only (decoding: at most
 * MRG_DECODE_MAX_ROWS rows, one position, no gradients); larger ones are
 * composed on every backend.
 *
 * On OpenCL a LLaMA layer then decodes a token in 8 launches: RMSNorm,
 * q/k/v projections, RoPE + cache store, attention, output projection +
 * residual, RMSNorm, gate/up projections + SwiGLU, down projection +
 * residual (mrg bench lm counts them under tools/clcount). */
#include "ops/ops_common.h"

/* Whether the fused entry may serve M rows of x. Under bf16-mixed
 * precision the products round their operands (ops/matmul.c), which the
 * fused kernels do not: composed then. */
static bool fusable(const void *entry, const mrg_tensor *x, int64_t M) {
    return entry && M >= 1 && M <= MRG_DECODE_MAX_ROWS && !mrg_grad_enabled(x->dev) &&
           x->dev->precision == MRG_PRECISION_F32;
}

static bool check_weight(const char *op, const mrg_tensor *x, const mrg_tensor *w) {
    if (!ops_check_weight(op, "w", w, MRG_KERNEL_GEMM)) return false;
    if (w->ndim != 2 || w->shape[1] != mrg_last_dim(x)) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: x %s and w %s: expected x (..., in) and w (out, in)",
                  op, OPS_SHAPE(x), OPS_SHAPE(w));
        return false;
    }
    return true;
}

/* x (..., K) as M rows, and a new f32 tensor (..., N) for an output. */
static mrg_tensor *out_like(const mrg_tensor *x, int64_t N) {
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = N;
    return mrg_tensor_new(x->dev, MRG_F32, x->ndim, shape);
}

mrg_status mrg_linears(mrg_tensor *x, int n, mrg_tensor *const *w, mrg_tensor **out) {
    if (!x || !w || !out || n < 1 || n > 3)
        return mrg_error(MRG_ERR_INVALID_ARG, "linears: NULL argument or %d weights (1..3)", n);
    for (int i = 0; i < n; i++) out[i] = NULL;
    if (!ops_check_f32("linears", "x", x) || x->ndim < 1) return MRG_ERR_INVALID_ARG;
    for (int i = 0; i < n; i++) {
        if (!w[i]) return mrg_error(MRG_ERR_INVALID_ARG, "linears: weight %d is NULL", i);
        mrg_tensor *const ins[2] = {x, w[i]};
        if (!ops_check_device("linears", 2, ins) || !check_weight("linears", x, w[i]))
            return MRG_ERR_INVALID_ARG;
    }
    mrg_device *dev = x->dev;
    int64_t K = mrg_last_dim(x), M = mrg_numel(x) / (K ? K : 1);
    if (!fusable((const void *)dev->be->gemv_fused, x, M) || x->requires_grad || K == 0) {
        for (int i = 0; i < n; i++)
            if (!(out[i] = mrg_linear(x, w[i], NULL))) return MRG_ERR_DEVICE; /* message set */
        return MRG_OK;
    }
    mrg_ptr pw[3], po[3];
    int64_t N[3];
    for (int i = 0; i < n; i++) {
        N[i] = w[i]->shape[0];
        if (!(out[i] = out_like(x, N[i]))) return MRG_ERR_OOM;
        pw[i] = mrg_ptr_of(w[i]);
        po[i] = mrg_ptr_of(out[i]);
    }
    return dev->be->gemv_fused(dev, mrg_ptr_of(x), M, K, n, pw, N, po, MRG_EPI_NONE,
                               mrg_ptr_null());
}

mrg_tensor *mrg_swiglu_linear(mrg_tensor *x, mrg_tensor *w_gate, mrg_tensor *w_up) {
    MRG_NULL_GUARD(x, w_gate, w_up);
    mrg_tensor *const ins[3] = {x, w_gate, w_up};
    if (!ops_check_device("swiglu_linear", 3, ins) || !ops_check_f32("swiglu_linear", "x", x))
        return NULL;
    if (x->ndim < 1 || !check_weight("swiglu_linear", x, w_gate) ||
        !check_weight("swiglu_linear", x, w_up))
        return NULL;
    if (w_gate->shape[0] != w_up->shape[0])
        OPS_FAIL("swiglu_linear: gate %s and up %s have other output sizes", OPS_SHAPE(w_gate),
                 OPS_SHAPE(w_up));
    mrg_device *dev = x->dev;
    int64_t K = mrg_last_dim(x), M = mrg_numel(x) / (K ? K : 1);
    if (!fusable((const void *)dev->be->gemv_fused, x, M) || x->requires_grad || K == 0)
        return mrg_mul(mrg_silu(mrg_linear(x, w_gate, NULL)), mrg_linear(x, w_up, NULL));
    mrg_tensor *y = out_like(x, w_gate->shape[0]);
    if (!y) return NULL;
    const mrg_ptr pw[2] = {mrg_ptr_of(w_gate), mrg_ptr_of(w_up)};
    const int64_t N[2] = {w_gate->shape[0], w_up->shape[0]};
    const mrg_ptr po[2] = {mrg_ptr_of(y), mrg_ptr_null()};
    if (dev->be->gemv_fused(dev, mrg_ptr_of(x), M, K, 2, pw, N, po, MRG_EPI_SWIGLU,
                            mrg_ptr_null()) != MRG_OK)
        return NULL;
    return y;
}

mrg_tensor *mrg_linear_residual(mrg_tensor *x, mrg_tensor *w, mrg_tensor *r) {
    MRG_NULL_GUARD(x, w, r);
    mrg_tensor *const ins[3] = {x, w, r};
    if (!ops_check_device("linear_residual", 3, ins) ||
        !ops_check_f32("linear_residual", "x", x) || !ops_check_f32("linear_residual", "r", r))
        return NULL;
    if (x->ndim < 1 || !check_weight("linear_residual", x, w)) return NULL;
    mrg_device *dev = x->dev;
    int64_t K = mrg_last_dim(x), M = mrg_numel(x) / (K ? K : 1);
    bool same = r->ndim == x->ndim && mrg_last_dim(r) == w->shape[0];
    for (int i = 0; same && i + 1 < x->ndim; i++) same = r->shape[i] == x->shape[i];
    if (!fusable((const void *)dev->be->gemv_fused, x, M) || x->requires_grad ||
        r->requires_grad || !same || K == 0)
        return mrg_add(r, mrg_linear(x, w, NULL)); /* broadcasting and shape checks there */
    mrg_tensor *y = out_like(x, w->shape[0]);
    if (!y) return NULL;
    const mrg_ptr pw[1] = {mrg_ptr_of(w)}, po[1] = {mrg_ptr_of(y)};
    const int64_t N[1] = {w->shape[0]};
    if (dev->be->gemv_fused(dev, mrg_ptr_of(x), M, K, 1, pw, N, po, MRG_EPI_RESIDUAL,
                            mrg_ptr_of(r)) != MRG_OK)
        return NULL;
    return y;
}

/* ---- RoPE and the KV cache store ------------------------------------------ */

/* Batch rows [b0, b0 + n) that sit in consecutive cache rows. */
static int64_t run_length(const int32_t *rows, int64_t B, int64_t b0) {
    if (!rows) return B - b0;
    int64_t n = 1;
    while (b0 + n < B && rows[b0 + n] == rows[b0] + n) n++;
    return n;
}

mrg_tensor *mrg_rope_store_kv(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *k_cache,
                              mrg_tensor *v_cache, const int32_t *rows, int64_t pos, float theta,
                              mrg_rope_layout layout) {
    MRG_NULL_GUARD(q, k, v, k_cache, v_cache);
    mrg_tensor *const ins[5] = {q, k, v, k_cache, v_cache};
    if (!ops_check_device("rope_store_kv", 5, ins)) return NULL;
    if (!ops_check_f32("rope_store_kv", "q", q) || !ops_check_f32("rope_store_kv", "k", k) ||
        !ops_check_f32("rope_store_kv", "v", v))
        return NULL;
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k_cache->ndim != 4 ||
        !mrg_same_shape(k, v) || !mrg_same_shape(k_cache, v_cache) ||
        k_cache->dtype != v_cache->dtype || k_cache->dtype == MRG_I32)
        OPS_FAIL("rope_store_kv: q %s, k %s, v %s, caches %s %s %s: expected q (B, H, T, D), k "
                 "and v (B, Hkv, T, D), float caches (R, Hkv, max_len, D)",
                 OPS_SHAPE(q), OPS_SHAPE(k), OPS_SHAPE(v), OPS_SHAPE(k_cache),
                 OPS_SHAPE(v_cache), mrg_dtype_name(k_cache->dtype));
    int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], D = q->shape[3];
    int64_t R = k_cache->shape[0], Hkv = k_cache->shape[1], Lmax = k_cache->shape[2];
    if (k->shape[0] != B || k->shape[1] != Hkv || k->shape[2] != T || k->shape[3] != D ||
        k_cache->shape[3] != D || D % 2 != 0)
        OPS_FAIL("rope_store_kv: q %s, k %s, cache %s do not fit (even head size)", OPS_SHAPE(q),
                 OPS_SHAPE(k), OPS_SHAPE(k_cache));
    if (pos < 0 || pos + T > Lmax)
        OPS_FAIL("rope_store_kv: positions [%lld, %lld) outside the cache's %lld", (long long)pos,
                 (long long)(pos + T), (long long)Lmax);
    if (!ops_check_cache_rows("rope_store_kv", rows, B, R)) return NULL;
    mrg_device *dev = q->dev;
    if (T == 1 && fusable((const void *)dev->be->rope_store_kv, q, B) && !q->requires_grad &&
        !k->requires_grad && !v->requires_grad) {
        mrg_tensor *qr = mrg_tensor_new(dev, MRG_F32, 4, q->shape);
        if (!qr) return NULL;
        if (dev->be->rope_store_kv(dev, mrg_ptr_of(q), mrg_ptr_of(qr), mrg_ptr_of(k),
                                   mrg_ptr_of(v), mrg_ptr_of(k_cache), mrg_ptr_of(v_cache), rows,
                                   B, H, Hkv, D, Lmax, pos, theta, (int)layout) != MRG_OK)
            return NULL;
        return qr;
    }
    /* composed: RoPE on (B, T, heads, D) views, then one copy per run of
     * consecutive cache rows (as llama_cache_write) */
    mrg_tensor *qt = T == 1 ? mrg_reshape(q, MRG_SHAPE(B, 1, H, D)) : mrg_transpose(q, 1, 2);
    mrg_tensor *kt = T == 1 ? mrg_reshape(k, MRG_SHAPE(B, 1, Hkv, D)) : mrg_transpose(k, 1, 2);
    qt = mrg_rope(qt, pos, theta, layout);
    kt = mrg_rope(kt, pos, theta, layout);
    mrg_tensor *qr = T == 1 ? mrg_reshape(qt, MRG_SHAPE(B, H, 1, D)) : mrg_transpose(qt, 1, 2);
    mrg_tensor *kr = T == 1 ? mrg_reshape(kt, MRG_SHAPE(B, Hkv, 1, D)) : mrg_transpose(kt, 1, 2);
    if (!qr || !kr) return NULL;
    for (int64_t b0 = 0, n; b0 < B; b0 += n) {
        n = run_length(rows, B, b0);
        mrg_tensor *ks = n == B ? kr : mrg_slice(kr, 0, b0, n);
        mrg_tensor *vs = n == B ? v : mrg_slice(v, 0, b0, n);
        if (!ks || !vs) return NULL;
        const int64_t at[4] = {rows ? rows[b0] : b0, 0, pos, 0}, zero[4] = {0, 0, 0, 0};
        if (mrg_copy_region(k_cache, at, ks, zero, ks->shape) != MRG_OK ||
            mrg_copy_region(v_cache, at, vs, zero, vs->shape) != MRG_OK)
            return NULL;
    }
    return qr;
}

/* ---- attention of one new position over the cache --------------------------- */

mrg_tensor *mrg_sdpa_decode(mrg_tensor *q, mrg_tensor *k_cache, mrg_tensor *v_cache,
                            const int32_t *rows, int64_t len, mrg_tensor *key_mask, float scale) {
    MRG_NULL_GUARD(q, k_cache, v_cache);
    mrg_device *dev = q->dev;
    int64_t B = q->ndim == 4 ? q->shape[0] : 0;
    bool fused = q->ndim == 4 && q->shape[2] == 1 && k_cache->ndim == 4 && v_cache->ndim == 4 &&
                 q->dev == k_cache->dev && q->dev == v_cache->dev &&
                 fusable((const void *)dev->be->sdpa_decode, q, B) && !q->requires_grad &&
                 (!key_mask || key_mask->dev == dev);
    if (!fused) return mrg_sdpa_cache(q, k_cache, v_cache, rows, len, key_mask, true, scale);
    /* the checks of the composed op, without its work: an invalid call
     * fails the same way on every backend */
    if (!ops_check_f32("sdpa_decode", "q", q)) return NULL;
    int64_t H = q->shape[1], D = q->shape[3];
    int64_t R = k_cache->shape[0], Hkv = k_cache->shape[1], Lmax = k_cache->shape[2];
    int64_t Dv = v_cache->shape[3];
    if (k_cache->dtype == MRG_I32 || v_cache->dtype != k_cache->dtype ||
        k_cache->shape[3] != D || v_cache->shape[0] != R || v_cache->shape[1] != Hkv ||
        v_cache->shape[2] != Lmax)
        OPS_FAIL("sdpa_decode: q %s, k_cache %s, v_cache %s: expected float caches (R, Hkv, "
                 "max_len, D) of one dtype",
                 OPS_SHAPE(q), OPS_SHAPE(k_cache), OPS_SHAPE(v_cache));
    if (!ops_check_heads("sdpa_decode", H, Hkv)) return NULL;
    if (len < 1 || len > Lmax)
        OPS_FAIL("sdpa_decode: %lld positions outside the cache's [1, %lld]", (long long)len,
                 (long long)Lmax);
    if (!ops_check_cache_rows("sdpa_decode", rows, B, R)) return NULL;
    if (key_mask && (!ops_check_f32("sdpa_decode", "key_mask", key_mask) ||
                     key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != len))
        OPS_FAIL("sdpa_decode: key_mask %s must be f32 (B, len) = (%lld, %lld)",
                 OPS_SHAPE(key_mask), (long long)B, (long long)len);
    mrg_tensor *o = mrg_tensor_new(dev, MRG_F32, 4, (const int64_t[]){B, H, 1, Dv});
    mrg_tensor *s = mrg_tensor_new(dev, MRG_F32, 2, (const int64_t[]){B * H, len}); /* scratch */
    if (!o || !s) return NULL;
    if (dev->be->sdpa_decode(dev, mrg_ptr_of(q), mrg_ptr_of(k_cache), mrg_ptr_of(v_cache),
                             key_mask ? mrg_ptr_of(key_mask) : mrg_ptr_null(), mrg_ptr_of(s),
                             mrg_ptr_of(o), rows, B, H, Hkv, D, Dv, Lmax, len, scale) != MRG_OK)
        return NULL;
    return o;
}
