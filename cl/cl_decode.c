/* Fused decoding kernels (cl/kernels/decode.cl): the GEMV with several
 * weights or an epilogue, RoPE + KV cache store, and attention of one new
 * position over the cache read in place. The host array of cache rows goes
 * to the kernels as an int16 argument, so no transfer precedes a launch:
 * one launch per 16 rows (a batch of up to MRG_DECODE_MAX_ROWS). */
#include "cl/cl.h"

static bool float_dtype(mrg_dtype dt) { return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16; }

/* The launch of batch rows [b0, b0 + nb), nb = min(B − b0, 16), and its
 * cache rows as the kernels' int16 argument (rows NULL: row b is b).
 * Returns nb. */
static int64_t rows_chunk(const int32_t *rows, int64_t B, int64_t b0, cl_int16 *rr) {
    int64_t nb = B - b0 < 16 ? B - b0 : 16;
    for (int i = 0; i < 16; i++)
        rr->s[i] = i < nb ? (rows ? rows[b0 + i] : (cl_int)(b0 + i)) : 0;
    return nb;
}

/* p moved on by n elements. */
static mrg_ptr ptr_at(mrg_ptr p, int64_t n) {
    p.off += n;
    return p;
}

mrg_status mrg_cl_gemv_fused(mrg_device *dev, mrg_ptr x, int64_t M, int64_t K, int n_w,
                             const mrg_ptr *w, const int64_t *N, const mrg_ptr *out, int epilogue,
                             mrg_ptr r) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (x.dt != MRG_F32 || n_w < 1 || n_w > 3 ||
        (epilogue == MRG_EPI_SWIGLU && (n_w != 2 || N[0] != N[1])) ||
        (epilogue == MRG_EPI_RESIDUAL && (n_w != 1 || r.dt != MRG_F32)))
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: gemv_fused: %d weights, epilogue %d", n_w,
                         epilogue);
    if (M < 1 || M > INT32_MAX || K > INT32_MAX)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: gemv_fused: M %lld, K %lld", (long long)M,
                         (long long)K);
    int64_t total = 0;
    for (int i = 0; i < n_w; i++) {
        if (!float_dtype(w[i].dt) || (epilogue != MRG_EPI_SWIGLU && out[i].dt != MRG_F32))
            return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: gemv_fused: weight %s",
                             mrg_dtype_name(w[i].dt));
        total += N[i];
    }
    if (epilogue != MRG_EPI_NONE) total = N[0];
    if (total > INT32_MAX) return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: gemv_fused: N above 2^31");
    mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_gemv_fused);
    mrg_cl_arg_int(&a, (int)M);
    mrg_cl_arg_int(&a, (int)K);
    mrg_cl_arg_ptr(&a, x);
    for (int i = 0; i < 3; i++) {
        mrg_ptr wi = i < n_w ? w[i] : w[0]; /* unused slots repeat weight 0 */
        mrg_cl_arg_ptr(&a, wi);
        mrg_cl_arg_int(&a, (int)wi.dt);
        mrg_cl_arg_int(&a, i < n_w ? (int)N[i] : 0);
    }
    for (int i = 0; i < 3; i++) {
        mrg_ptr oi = i < n_w && out[i].buf ? out[i] : out[0];
        mrg_cl_arg_ptr(&a, oi);
    }
    mrg_cl_arg_int(&a, epilogue);
    mrg_cl_arg_ptr(&a, epilogue == MRG_EPI_RESIDUAL ? r : x);
    size_t local = c->tune.gemv_wg, global = (size_t)total * local;
    return mrg_cl_enqueue(c, &a, 1, &global, &local, "gemv_fused");
}

mrg_status mrg_cl_rope_store_kv(mrg_device *dev, mrg_ptr q, mrg_ptr q_out, mrg_ptr k, mrg_ptr v,
                                mrg_ptr k_cache, mrg_ptr v_cache, const int32_t *rows, int64_t B,
                                int64_t H, int64_t Hkv, int64_t D, int64_t Lmax, int64_t pos,
                                float theta, int layout) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("rope_store_kv", 4, (mrg_ptr[]){q, q_out, k, v});
    if (st != MRG_OK) return st;
    if (!float_dtype(k_cache.dt) || v_cache.dt != k_cache.dt || D % 2 != 0 || D > INT32_MAX ||
        H > INT32_MAX || Hkv > INT32_MAX || (layout != 0 && layout != 1))
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: rope_store_kv: cache %s, D %lld, layout %d",
                         mrg_dtype_name(k_cache.dt), (long long)D, layout);
    for (int64_t b0 = 0; b0 < B && st == MRG_OK; b0 += 16) {
        cl_int16 rr;
        int64_t nb = rows_chunk(rows, B, b0, &rr);
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_rope_store_kv);
        mrg_cl_arg_ptr(&a, ptr_at(q, b0 * H * D));
        mrg_cl_arg_ptr(&a, ptr_at(q_out, b0 * H * D));
        mrg_cl_arg_ptr(&a, ptr_at(k, b0 * Hkv * D));
        mrg_cl_arg_ptr(&a, ptr_at(v, b0 * Hkv * D));
        mrg_cl_arg_ptr(&a, k_cache);
        mrg_cl_arg_ptr(&a, v_cache);
        mrg_cl_arg_int(&a, (int)k_cache.dt);
        mrg_cl_arg_int(&a, (int)H);
        mrg_cl_arg_int(&a, (int)Hkv);
        mrg_cl_arg_int(&a, (int)D);
        mrg_cl_arg_long(&a, Lmax);
        mrg_cl_arg_long(&a, pos);
        mrg_cl_arg_float(&a, theta);
        mrg_cl_arg_int(&a, layout);
        mrg_cl_arg(&a, sizeof rr, &rr);
        mrg_cl_arg_int(&a, (int)nb);
        st = mrg_cl_enqueue_1d(c, &a, nb * (H + Hkv) * (D / 2), "rope_store_kv");
    }
    return st;
}

mrg_status mrg_cl_sdpa_decode(mrg_device *dev, mrg_ptr q, mrg_ptr k_cache, mrg_ptr v_cache,
                              mrg_ptr key_mask, mrg_ptr scores, mrg_ptr out, const int32_t *rows,
                              int64_t B, int64_t H, int64_t Hkv, int64_t D, int64_t Dv,
                              int64_t Lmax, int64_t len, float scale) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    mrg_status st = mrg_cl_check_f32("sdpa_decode", 4, (mrg_ptr[]){q, key_mask, scores, out});
    if (st != MRG_OK) return st;
    if (!float_dtype(k_cache.dt) || v_cache.dt != k_cache.dt || Hkv < 1 || H % Hkv != 0 ||
        D > INT32_MAX || Dv > INT32_MAX || H > INT32_MAX)
        return mrg_error(MRG_ERR_INVALID_ARG, "opencl: sdpa_decode: cache %s, heads %lld/%lld",
                         mrg_dtype_name(k_cache.dt), (long long)H, (long long)Hkv);
    for (int64_t b0 = 0; b0 < B && st == MRG_OK; b0 += 16) {
        cl_int16 rr;
        int64_t nb = rows_chunk(rows, B, b0, &rr);
        mrg_ptr mb = key_mask.buf ? ptr_at(key_mask, b0 * len) : q; /* q: an unread stand-in */
        mrg_cl_args a = mrg_cl_args_begin(c, MRG_CLK_sdpa_decode);
        mrg_cl_arg_ptr(&a, ptr_at(q, b0 * H * D));
        mrg_cl_arg_ptr(&a, k_cache);
        mrg_cl_arg_ptr(&a, v_cache);
        mrg_cl_arg_int(&a, (int)k_cache.dt);
        mrg_cl_arg_ptr(&a, mb);
        mrg_cl_arg_int(&a, key_mask.buf != NULL);
        mrg_cl_arg_ptr(&a, ptr_at(scores, b0 * H * len));
        mrg_cl_arg_ptr(&a, ptr_at(out, b0 * H * Dv));
        mrg_cl_arg_int(&a, (int)H);
        mrg_cl_arg_int(&a, (int)Hkv);
        mrg_cl_arg_int(&a, (int)D);
        mrg_cl_arg_int(&a, (int)Dv);
        mrg_cl_arg_long(&a, Lmax);
        mrg_cl_arg_long(&a, len);
        mrg_cl_arg_float(&a, scale);
        mrg_cl_arg(&a, sizeof rr, &rr);
        st = mrg_cl_enqueue_rows(c, &a, nb * H, "sdpa_decode");
    }
    return st;
}
