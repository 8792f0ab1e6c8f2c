/* Scaled dot-product attention over a KV cache, read where it lies.
 *
 * Decoding attends each new query to every cached position. Slicing the
 * first len positions out of the cache tensors (R, Hkv, max_len, D) would
 * copy the whole prefix, in every layer, for every token. Here the two
 * GEMMs of mrg_sdpa (ops/sdpa.c) read the cache in place instead: a
 * batch item (b, h) is the matrix at row rows[b], head h of the cache, so
 * the batch stride is max_len·D instead of len·D, and consecutive rows
 * rows[b0..b0+n) make one batched GEMM. Every GEMM item has the sizes and
 * operand values that mrg_sdpa gives it on the sliced copies, so the result
 * is the same, bit for bit, on a backend whose batched GEMM computes each
 * item alike whatever its batch (the CPU's and OpenCL's do).
 *
 *   q (B, H, Tq, D) → qr (B·Hkv, G·Tq, D)        G = H / Hkv
 *   s = (scale·q)·kᵀ   (B·Hkv, G·Tq, len)          k read in place
 *   s += key_mask (B, len); p = softmax(s) (causal: query i sees len−Tq+i)
 *   o = p·v            (B·Hkv, G·Tq, Dv) = (B, H, Tq, Dv), v read in place
 *
 * The caches may be bf16/f16 (the GEMMs' B operand converts on load).
 * Not recorded: no gradient reaches q or the cache (decoding only). */
#include "ops/ops_common.h"

/* The rows of q's batch that sit in consecutive cache rows from *b0. */
static int64_t run_length(const int32_t *rows, int64_t B, int64_t b0) {
    int64_t n = 1;
    while (b0 + n < B && rows && rows[b0 + n] == rows[b0] + n) n++;
    if (!rows) n = B - b0;
    return n;
}

/* c = a · cache (trans_b: a · cacheᵀ), one (M, N, K) product per batch item
 * (b, h): a (B·Hkv, M, K) and c (B·Hkv, M, N) are packed, the cache's item
 * is the (len, W) matrix at row rows[b], head h of (R, Hkv, Lmax, W), with
 * W = K under trans_b (keys) else N (values). One batched GEMM per run of
 * consecutive cache rows. */
static bool gemm_cache_rows(mrg_device *dev, const int32_t *rows, int64_t B, int64_t Hkv,
                            bool trans_b, int64_t M, int64_t N, int64_t K, mrg_tensor *a,
                            mrg_tensor *cache, mrg_tensor *c) {
    const int64_t W = trans_b ? K : N, Lmax = cache->shape[2];
    for (int64_t b0 = 0, n; b0 < B; b0 += n) {
        n = run_length(rows, B, b0);
        int64_t r0 = rows ? rows[b0] : b0;
        mrg_ptr pa = mrg_ptr_of(a), pb = mrg_ptr_of(cache), pc = mrg_ptr_of(c);
        pa.off += b0 * Hkv * M * K;
        pb.off += r0 * Hkv * Lmax * W;
        pc.off += b0 * Hkv * M * N;
        if (dev->be->gemm(dev, false, trans_b, M, N, K, 1.0f, pa, K, M * K, pb, W, Lmax * W, 0.0f,
                          pc, N, M * N, n * Hkv) != MRG_OK)
            return false;
    }
    return true;
}

mrg_tensor *mrg_sdpa_cache(mrg_tensor *q, mrg_tensor *k_cache, mrg_tensor *v_cache,
                           const int32_t *rows, int64_t len, mrg_tensor *key_mask, bool causal,
                           float scale) {
    MRG_NULL_GUARD(q, k_cache, v_cache);
    mrg_tensor *const ins[4] = {q, k_cache, v_cache, key_mask};
    if (!ops_check_device("sdpa_cache", 4, ins)) return NULL;
    if (!ops_check_f32("sdpa_cache", "q", q)) return NULL;
    if (k_cache->dtype == MRG_I32 || v_cache->dtype != k_cache->dtype)
        OPS_FAIL("sdpa_cache: caches of %s and %s (one float dtype: f32, bf16, f16)",
                 mrg_dtype_name(k_cache->dtype), mrg_dtype_name(v_cache->dtype));
    if (q->ndim != 4 || k_cache->ndim != 4 || v_cache->ndim != 4)
        OPS_FAIL("sdpa_cache: q %s, k_cache %s, v_cache %s must be 4-D", OPS_SHAPE(q),
                 OPS_SHAPE(k_cache), OPS_SHAPE(v_cache));
    int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3];
    int64_t R = k_cache->shape[0], Hkv = k_cache->shape[1], Lmax = k_cache->shape[2];
    int64_t Dv = v_cache->shape[3];
    if (k_cache->shape[3] != D || v_cache->shape[0] != R || v_cache->shape[1] != Hkv ||
        v_cache->shape[2] != Lmax)
        OPS_FAIL("sdpa_cache: q %s, k_cache %s, v_cache %s: expected caches (R, Hkv, max_len, D)",
                 OPS_SHAPE(q), OPS_SHAPE(k_cache), OPS_SHAPE(v_cache));
    if (!ops_check_heads("sdpa_cache", H, Hkv)) return NULL;
    if (len < 1 || len > Lmax)
        OPS_FAIL("sdpa_cache: %lld positions outside the cache's [1, %lld]", (long long)len,
                 (long long)Lmax);
    if (causal && Tq > len)
        OPS_FAIL("sdpa_cache: causal attention with Tq %lld > %lld positions", (long long)Tq,
                 (long long)len);
    if (!ops_check_cache_rows("sdpa_cache", rows, B, R)) return NULL;
    if (key_mask) {
        if (!ops_check_f32("sdpa_cache", "key_mask", key_mask)) return NULL;
        if (key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != len)
            OPS_FAIL("sdpa_cache: key_mask %s must be (B, len) = (%lld, %lld)",
                     OPS_SHAPE(key_mask), (long long)B, (long long)len);
    }
    mrg_device *dev = q->dev;
    if (mrg_grad_enabled(dev) && q->requires_grad)
        OPS_FAIL("sdpa_cache: no gradient flows through the cache read (use mrg_sdpa)");

    int64_t G = H / Hkv, M = G * Tq;
    mrg_tensor *qr = mrg_reshape(mrg_scale(q, scale), MRG_SHAPE(B * Hkv, M, D));
    mrg_tensor *s = mrg_tensor_new(dev, MRG_F32, 3, (const int64_t[]){B * Hkv, M, len});
    if (!qr || !s) return NULL;
    if (!gemm_cache_rows(dev, rows, B, Hkv, true, M, len, D, qr, k_cache, s)) return NULL;
    if (key_mask)
        s = mrg_add(mrg_reshape(s, MRG_SHAPE(B, Hkv * M, len)),
                    mrg_reshape(key_mask, MRG_SHAPE(B, 1, len)));
    mrg_tensor *p = mrg_reshape(mrg_softmax(mrg_reshape(s, MRG_SHAPE(B * H, Tq, len)), causal),
                                MRG_SHAPE(B * Hkv, M, len));
    mrg_tensor *o = mrg_tensor_new(dev, MRG_F32, 3, (const int64_t[]){B * Hkv, M, Dv});
    if (!p || !o) return NULL;
    if (!gemm_cache_rows(dev, rows, B, Hkv, false, M, Dv, len, p, v_cache, o)) return NULL;
    return mrg_reshape(o, MRG_SHAPE(B, H, Tq, Dv));
}
