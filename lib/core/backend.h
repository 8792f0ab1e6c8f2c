/* The backend interface (internal). A backend is a vtable of buffer
 * management and kernel functions, as in ggml-backend. lib/ops calls only
 * these; cpu/ and cl/ implement them. A new backend is one new folder that
 * fills this table and exposes a registry entry (core/registry.h).
 *
 * Op families: one name X per family in every layer, so that
 * `git ls-files '*X*'` finds them all:
 *   lib/ops/X.c        front end (shape checks, dispatch) and backward rule
 *   cpu/cpu_X.c        CPU kernels
 *   cl/cl_X.c          OpenCL host code;  cl/kernels/X.cl  its kernels
 *   tests              the op's rows in tests/util/opcases.c (run against
 *                      tests/golden/ops/<op>.safetensors from
 *                      tools/ref/ops_ref.py by test_ops_golden, by test_grad
 *                      and by test_backends_agree); the kernel entries in
 *                      tests/test_cpu_kernels.c
 *
 *   family         ops (mrg_...)                     backend entries
 *   elementwise    add sub mul scale gelu silu       fill convert copy_strided
 *                                                    convert_strided binary unary
 *                                                    unary_backward
 *   shape          reshape permute transpose concat  (none of its own: the
 *                  slice copy copy_into              elementwise copy_strided, convert)
 *   matmul         matmul linear                     gemm
 *   softmax        softmax log_softmax               softmax softmax_backward
 *   norm           layernorm rmsnorm l2_normalize    layernorm rmsnorm l2norm (+ _backward)
 *   rope           rope                              rope
 *   embedding      embedding                         embedding embedding_backward
 *   reduce         sum mean                          reduce_sum
 *   cross_entropy  cross_entropy                     cross_entropy cross_entropy_backward
 *   optim          adamw_update sum_squares_into     adamw sum_squares clip_scale
 *                  clip_scale global_norm            (no-grad: lib/train's AdamW, clipping)
 *   sdpa           sdpa                              sdpa sdpa_backward (fused, flash style)
 *                  sdpa_cache (sdpa_cache.c)         gemm on the KV cache in place, softmax
 *   patch_embed    patch_embed                       (composed of recorded ops)
 *   decode         linears swiglu_linear             gemv_fused rope_store_kv sdpa_decode
 *                  linear_residual rope_store_kv     (optional; NULL: composed)
 *                  sdpa_decode
 *   select         select_topk (decoding's choice    select_topk
 *                  of the next tokens)
 *
 * Conventions for every kernel:
 *   - a mrg_ptr names a buffer plus an ELEMENT offset and the element dtype;
 *   - all arrays are contiguous row-major unless explicit strides are given;
 *   - kernels are enqueued in order; none may read data back to the host
 *     except download()/sync();
 *   - outputs are overwritten unless the comment says "accumulates" (+=);
 *   - float dtypes other than f32 appear only where a comment allows them
 *     (weights: gemm operand B, embedding table, convert source);
 *   - a kernel returns MRG_OK or sets a message (mrg_error) and returns an
 *     error status; unsupported dtype combinations give MRG_ERR_UNSUPPORTED. */
#ifndef MRG_CORE_BACKEND_H
#define MRG_CORE_BACKEND_H

#include "mrg/limits.h"
#include "mrg/tensor.h"

typedef struct mrg_ptr {
    mrg_buffer *buf;
    int64_t off; /* elements */
    mrg_dtype dt;
} mrg_ptr;

/* A device buffer. `handle` is the host pointer (cpu) or cl_mem (opencl). */
struct mrg_buffer {
    void *handle;
    size_t bytes;
};

/* Sizes of one fused attention call (the sdpa entries below). */
typedef struct mrg_sdpa_dims {
    int64_t B, H, Hkv; /* query batch, query heads, kv heads (H % Hkv == 0) */
    int64_t Tq, Tk;    /* queries, keys (Tk >= 1; causal needs Tq <= Tk) */
    int64_t D, Dv;     /* head dims of q/k and of v/o */
    int64_t R, cap;    /* k, v hold R rows of cap >= Tk positions (plain: R = B, cap = Tk) */
    bool causal;       /* query t sees keys j <= t + Tk − Tq */
    float scale;
} mrg_sdpa_dims;

/* Sizes and options of one token choice (select_topk; lib/ops/select.c). */
typedef struct mrg_select_dims {
    int64_t R, V;     /* rows of logits (R, V) */
    int64_t L;        /* entries per history row: hist_in (R_in, L), hist_out (>= R, L) */
    int64_t R_in;     /* rows of hist_in (0 when n_hist is 0) */
    int64_t n_hist;   /* entries each row takes from its source row of hist_in */
    int k;            /* candidates per row, 1..MRG_SELECT_MAX_K */
    bool log_softmax; /* scores: the row's log-softmax (else its logits) */
    float penalty;    /* repetition penalty > 0 (1: none) */
    int eos;          /* the id whose score becomes −inf, or −1 */
} mrg_select_dims;

typedef enum mrg_binop { MRG_BIN_ADD, MRG_BIN_SUB, MRG_BIN_MUL } mrg_binop;

/* Epilogues of the fused decoding GEMV (gemv_fused). */
enum { MRG_EPI_NONE, MRG_EPI_SWIGLU, MRG_EPI_RESIDUAL };

typedef enum mrg_unop {
    MRG_UN_GELU,  /* exact erf form */
    MRG_UN_SILU,
    MRG_UN_SCALE, /* y = alpha·x */
    /* y = x rounded to the nearest bf16 (ties to even; NaN stays NaN), kept
     * as f32: the operands of a bf16-mixed GEMM (no derivative). */
    MRG_UN_ROUND_BF16,
} mrg_unop;

typedef struct mrg_backend {
    const char *kind; /* "cpu" or "opencl" */

    /* ---- lifetime and memory ---- */
    void (*destroy)(mrg_device *dev);
    /* Allocates `bytes` (> 0) of device memory into buf->handle;
     * MRG_ERR_OOM when the device is full. */
    mrg_status (*buffer_alloc)(mrg_device *dev, mrg_buffer *buf, size_t bytes);
    void (*buffer_free)(mrg_device *dev, mrg_buffer *buf);
    mrg_status (*upload)(mrg_device *dev, mrg_buffer *buf, size_t off_bytes, const void *src,
                         size_t bytes);
    /* Blocks until the bytes are on the host (waits for queued kernels). */
    mrg_status (*download)(mrg_device *dev, mrg_buffer *buf, size_t off_bytes, void *dst,
                           size_t bytes);
    mrg_status (*sync)(mrg_device *dev);

    /* ---- kernels ---- */

    /* dst[0..n) = value. dst f32 or i32 (value cast to int). */
    mrg_status (*fill)(mrg_device *dev, mrg_ptr dst, int64_t n, float value);

    /* dst[0..n) = (f32) src[0..n). src f32/bf16/f16/i32, dst f32. */
    mrg_status (*convert)(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int64_t n);

    /* Strided copy of a 4-byte dtype (f32 or i32) over `shape` (ndim <= 6):
     * dst[Σ i_k·dst_stride_k] (+)= src[Σ i_k·src_stride_k].
     * accumulate: += (f32 only). Strides in elements, relative to the
     * ptr offsets. Covers permute, concat, slice and their backwards. */
    mrg_status (*copy_strided)(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                               const int64_t *shape, const int64_t *src_stride,
                               const int64_t *dst_stride, bool accumulate);

    /* Strided conversion between float dtypes (f32, bf16, f16; dst and src
     * may have the same one): dst[Σ i_k·dst_stride_k] = src[...] rounded to
     * nearest even. A KV cache stored in bf16/f16 is written and read with it. */
    mrg_status (*convert_strided)(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                                  const int64_t *shape, const int64_t *src_stride,
                                  const int64_t *dst_stride);

    /* out[i] = a[·] op b[·] over `shape` (ndim <= 6), out contiguous;
     * a and b addressed with their strides (0 on broadcast axes). */
    mrg_status (*binary)(mrg_device *dev, mrg_binop op, mrg_ptr a, mrg_ptr b, mrg_ptr out,
                         int ndim, const int64_t *shape, const int64_t *a_stride,
                         const int64_t *b_stride);

    /* y[0..n) = f(x) (x and y may alias). */
    mrg_status (*unary)(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr y, int64_t n,
                        float alpha);
    /* dx[0..n) = dy · f'(x) for GELU and SILU. */
    mrg_status (*unary_backward)(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr dy,
                                 mrg_ptr dx, int64_t n);

    /* Batched row-major GEMM, C = alpha·op(A)·op(B) + beta·C for
     * b in [0, batch): A + b·stride_a, B + b·stride_b, C + b·stride_c.
     * op(A) is M×K, op(B) is K×N, C is M×N; lda/ldb/ldc are the row strides
     * of A, B, C as stored (A stored K×M when trans_a). A and C f32;
     * B f32, bf16 or f16. stride_b may be 0 (shared weight). */
    mrg_status (*gemm)(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                       mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                       int64_t ldc, int64_t stride_c, int64_t batch);
    /* gemm whose A and B hold bf16 values only (MRG_UN_ROUND_BF16 output or
     * bf16 storage): the backend may multiply them with bf16 instructions
     * (bf16 × bf16 → f32 accumulation), which gives gemm's result up to the
     * order of the sums, since every product of two bf16 values is exact in
     * f32. Same arguments as gemm. NULL: the front end calls gemm. */
    mrg_status (*gemm_bf16)(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                            int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                            mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                            int64_t ldc, int64_t stride_c, int64_t batch);

    /* Row softmax (or log-softmax) of x (rows, cols) into y.
     * causal_tq > 0: row r is query q = r % causal_tq; column j is masked
     * (probability 0) when j > q + cols − causal_tq. */
    mrg_status (*softmax)(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t rows, int64_t cols,
                          int64_t causal_tq, bool log);
    /* softmax: dx = y·(dy − Σ dy·y); log-softmax: dx = dy − exp(y)·Σ dy. */
    mrg_status (*softmax_backward)(mrg_device *dev, mrg_ptr y, mrg_ptr dy, mrg_ptr dx,
                                   int64_t rows, int64_t cols, bool log);

    /* Fused scaled dot-product attention (flash style: tiles of keys, an
     * online softmax, no Tq × Tk score matrix in memory), all f32:
     *   q (B, H, Tq, D) → o (B, H, Tq, Dv), lse (B, H, Tq) (buf NULL: not written)
     *   k (R, Hkv, cap, D), v (R, Hkv, cap, Dv): batch item b reads kv row
     *     rows[b] (i32, B entries; buf NULL: row b), positions [0, Tk);
     *   query head h uses kv head h / (H / Hkv); mask (B, Tk) additive or
     *   buf NULL;
     *   s = (scale·q)·kᵀ + mask (scale·q rounded to f32 first, as mrg_scale),
     *   causal entries dropped; o = softmax(s)·v; lse = log Σ exp(s) per row.
     * A row whose every key is −inf gets NaN (as a softmax of such a row). */
    mrg_status (*sdpa)(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                       mrg_ptr v, mrg_ptr mask, mrg_ptr rows, mrg_ptr o, mrg_ptr lse);
    /* Its backward (FlashAttention-2: scores recomputed tile by tile from
     * lse, D_i = Σ dO∘O per row), with rows NULL and R = B, cap = Tk:
     * writes dq (B, H, Tq, D), dk (B, Hkv, Tk, D), dv (B, Hkv, Tk, Dv);
     * dk and dv sum over the H / Hkv query heads of each kv head. */
    mrg_status (*sdpa_backward)(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                                mrg_ptr v, mrg_ptr mask, mrg_ptr o, mrg_ptr lse, mrg_ptr dout,
                                mrg_ptr dq, mrg_ptr dk, mrg_ptr dv);

    /* LayerNorm over cols; w, b may have buf == NULL (no affine).
     * Writes mean and rstd (rows) for the backward. */
    mrg_status (*layernorm)(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr b, mrg_ptr y,
                            mrg_ptr mean, mrg_ptr rstd, int64_t rows, int64_t cols, float eps);
    /* dx (rows, cols); dw, db (cols) summed over rows (skipped when buf NULL). */
    mrg_status (*layernorm_backward)(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr mean,
                                     mrg_ptr rstd, mrg_ptr dy, mrg_ptr dx, mrg_ptr dw,
                                     mrg_ptr db, int64_t rows, int64_t cols);
    /* y = x · rstd · w with rstd = 1/sqrt(mean(x²) + eps); w any float dtype
     * or buf NULL. Writes rstd (rows). */
    mrg_status (*rmsnorm)(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr y, mrg_ptr rstd,
                          int64_t rows, int64_t cols, float eps);
    mrg_status (*rmsnorm_backward)(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr rstd,
                                   mrg_ptr dy, mrg_ptr dx, mrg_ptr dw, int64_t rows,
                                   int64_t cols);

    /* x (outer, T, heads, D) → y: the vector at (o, t, h) is rotated by the
     * angles (pos0 + t)·theta^(−2i/D), i < D/2; inverse rotates by the
     * negated angles (the backward). layout (as mrg_rope_layout): 0 pairs
     * (i, i + D/2), 1 pairs (2i, 2i + 1). x, y may alias. */
    mrg_status (*rope)(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t T,
                       int64_t heads, int64_t D, int64_t pos0, float theta, int layout,
                       bool inverse);

    /* out (n, D) = w[ids[i]] with w (V, D) any float dtype, ids i32 (n).
     * An id outside [0, V) gives a zero row. */
    mrg_status (*embedding)(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                            int64_t D, int64_t V);
    /* dw (V, D) accumulates dy (n, D) rows at ids (deterministic order). */
    mrg_status (*embedding_backward)(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                     int64_t n, int64_t D, int64_t V);

    /* y[o, i] = scale · Σ_j x[o, j, i] for x viewed as (outer, n, inner). */
    mrg_status (*reduce_sum)(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                             int64_t inner, float scale);

    /* y = x / max(‖x‖, eps) per row; writes norm (rows) = max(‖x‖, eps). */
    mrg_status (*l2norm)(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, int64_t rows,
                         int64_t cols, float eps);
    /* dx = (dy − y·Σ dy·y)/norm where ‖x‖ > eps, else dy/eps. */
    mrg_status (*l2norm_backward)(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm,
                                  mrg_ptr dy, mrg_ptr dx, int64_t rows, int64_t cols,
                                  float eps);

    /* loss (1 element) = mean over rows with targets != ignore of
     * logsumexp(row) − row[target]; 0 when every row is ignored. */
    mrg_status (*cross_entropy)(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                mrg_ptr loss, int64_t rows, int64_t V, int ignore);
    /* dlogits = dloss[0] · (softmax(row) − onehot(target)) / count for
     * counted rows, 0 for ignored rows. */
    mrg_status (*cross_entropy_backward)(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                         mrg_ptr dloss, mrg_ptr dlogits, int64_t rows,
                                         int64_t V, int ignore);

    /* PyTorch AdamW on n elements (all f32):
     *   p -= lr·wd·p; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
     *   p -= lr · (m / bc1) / (sqrt(v / bc2) + eps),
     * with bc1 = 1 − b1^t and bc2 = 1 − b2^t computed by the caller. */
    mrg_status (*adamw)(mrg_device *dev, mrg_ptr p, mrg_ptr g, mrg_ptr m, mrg_ptr v, int64_t n,
                        float lr, float b1, float b2, float eps, float wd, float bc1,
                        float bc2);
    /* acc[0] += Σ x² over n elements. */
    mrg_status (*sum_squares)(mrg_device *dev, mrg_ptr x, int64_t n, mrg_ptr acc);
    /* x *= min(1, max_norm / (sqrt(sumsq[0]) + 1e-6)). */
    mrg_status (*clip_scale)(mrg_device *dev, mrg_ptr sumsq, mrg_ptr x, int64_t n,
                             float max_norm);

    /* ---- fused decoding (optional: NULL entries are composed by
     * lib/ops/decode.c of the kernels above). Batches of at most
     * MRG_DECODE_MAX_ROWS rows; rows is a host array of B cache rows or
     * NULL (row b). ---- */

    /* out_i (M, N_i) = x (M, K) · w_iᵀ for n_w (1..3) weights w_i (N_i, K)
     * of any float dtype, with epilogue: MRG_EPI_NONE; MRG_EPI_SWIGLU
     * (n_w 2, N_0 == N_1): out_0 = silu(x·w_0ᵀ)·(x·w_1ᵀ); MRG_EPI_RESIDUAL
     * (n_w 1): out_0 = r + x·w_0ᵀ (r (M, N_0) f32). */
    mrg_status (*gemv_fused)(mrg_device *dev, mrg_ptr x, int64_t M, int64_t K, int n_w,
                             const mrg_ptr *w, const int64_t *N, const mrg_ptr *out,
                             int epilogue, mrg_ptr r);
    /* q (B, H, D) → q_out rotated at position pos (as rope); k (B, Hkv, D)
     * rotated and v (B, Hkv, D) stored at position pos of cache rows rows[b]
     * of k_cache, v_cache (R, Hkv, Lmax, D) of dtype f32/bf16/f16. */
    mrg_status (*rope_store_kv)(mrg_device *dev, mrg_ptr q, mrg_ptr q_out, mrg_ptr k, mrg_ptr v,
                                mrg_ptr k_cache, mrg_ptr v_cache, const int32_t *rows, int64_t B,
                                int64_t H, int64_t Hkv, int64_t D, int64_t Lmax, int64_t pos,
                                float theta, int layout);
    /* out (B, H, Dv) = softmax(scale·q·kᵀ + key_mask)·v for q (B, H, D) over
     * positions [0, len) of cache rows rows[b], kv head h / (H / Hkv);
     * key_mask (B, len) f32 or buf NULL; scores: scratch of B·H·len f32. */
    mrg_status (*sdpa_decode)(mrg_device *dev, mrg_ptr q, mrg_ptr k_cache, mrg_ptr v_cache,
                              mrg_ptr key_mask, mrg_ptr scores, mrg_ptr out, const int32_t *rows,
                              int64_t B, int64_t H, int64_t Hkv, int64_t D, int64_t Dv,
                              int64_t Lmax, int64_t len, float scale);

    /* ---- decoding's choice of the next tokens (lib/ops/select.c) ---- */

    /* Per row r of logits (R, V) f32 (all other operands i32):
     *   history: row r of hist_out = the first n_hist entries of row src[r]
     *     of hist_in (src.buf NULL: row r; n_hist 0: hist_in unread; a
     *     source outside [0, R_in) gives n_hist ids −1), then
     *     tok[r] when tok.buf: n_hist (+ 1) ids; ids outside [0, V) are
     *     ignored by the penalty; hist_out.buf NULL when there are none;
     *   scores s: the logits in f32, or with log_softmax x − log Σ exp(x)
     *     in double (lib/generate/beam.c's log_softmax; on an OpenCL device
     *     without cl_khr_fp64, f32); then once per distinct id t of the
     *     history s[t] = s[t] < 0 ? s[t]·penalty : s[t]/penalty in the same
     *     precision (skipped when penalty is 1); then s[eos] = −inf;
     *   out (R, k, 3): the k best scores of the row, higher first and the
     *     lower id first on equal scores, NaN never: the id, then the score
     *     as an IEEE double in two 32-bit words (host byte order); id −1
     *     past the row's last candidate;
     *   work: scratch of R·V·2 words. */
    mrg_status (*select_topk)(mrg_device *dev, const mrg_select_dims *d, mrg_ptr logits,
                              mrg_ptr hist_in, mrg_ptr src, mrg_ptr tok, mrg_ptr hist_out,
                              mrg_ptr work, mrg_ptr out);
} mrg_backend;

/* Device object shared by all backends; backend-specific state hangs off ctx. */
typedef struct mrg_arena_chunk mrg_arena_chunk;
typedef struct mrg_tape mrg_tape;
typedef struct mrg_grad_slot mrg_grad_slot;

struct mrg_device {
    const mrg_backend *be;
    const struct mrg_backend_reg *reg; /* its registry entry (core/registry.h) */
    void *ctx;              /* backend state */
    char name[32];          /* "cpu", "opencl:0" */
    char description[256];
    /* step arena: device memory chunks in the order they are used, a bump
     * pointer in the current one (lib/core/arena.c) */
    mrg_arena_chunk *chunks, *arena_cur;
    size_t arena_used, arena_peak;
    /* gradients of step tensors (lib/core/grad_pool.c) */
    mrg_grad_slot *grad_slots;
    /* the largest chunk the arena may ask for (0: no limit); a backend sets
     * it at init (OpenCL: CL_DEVICE_MAX_MEM_ALLOC_SIZE) */
    size_t arena_max_chunk;
    /* device buffers the arena has allocated so far (a steady-state step
     * allocates none: tests check it) */
    uint64_t arena_chunk_allocs;
    size_t persistent_bytes;
    /* host-side list of step tensor structs, freed at reset */
    void **step_structs;
    size_t n_step_structs, cap_step_structs;
    mrg_tape *tape;
    bool grad_enabled;
    /* GEMM precision of mrg_matmul (mrg_set_precision) */
    int precision;
};

static inline mrg_ptr mrg_ptr_of(const mrg_tensor *t) {
    mrg_ptr p = {t ? t->buf : NULL, t ? t->offset : 0, t ? t->dtype : MRG_F32};
    return p;
}
static inline mrg_ptr mrg_ptr_null(void) {
    mrg_ptr p = {NULL, 0, MRG_F32};
    return p;
}

#endif
