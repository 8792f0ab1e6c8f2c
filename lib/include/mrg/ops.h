/* Differentiable tensor operations.
 *
 * Every op returns a new step tensor (f32 unless noted), or NULL with a
 * message in mrg_last_error(); the in-place ops at the end return a status. Ops propagate NULL: when any input is NULL
 * they return NULL without touching the message, so a chain such as
 * `mrg_add(mrg_matmul(x, w, false, true), b)` needs one check at its end.
 * When gradients are enabled and an input requires a gradient, the op
 * records its backward on the device's tape (see autograd.h).
 *
 * Activations are f32. Weights (the `w` arguments of linear, matmul's b,
 * embedding) may be f32, bf16 or f16. */
#ifndef MRG_OPS_H
#define MRG_OPS_H

#include "mrg/limits.h"
#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear algebra --------------------------------------------------- */

/* a (..., M, K) [or (..., K, M) with trans_a], b (..., K, N) [or (..., N, K)
 * with trans_b] → (..., M, N). b's leading (batch) dims must equal a's, or b
 * is 2-D and shared by every batch. b may be bf16/f16. */
mrg_tensor *mrg_matmul(mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b);
/* Under the bf16-mixed precision of the device (mrg_set_precision,
 * mrg/tensor.h) both operands are rounded to bf16 and the sums are f32. */
/* x (..., in) · w (out, in)ᵀ + bias (out) → (..., out); bias may be NULL. */
mrg_tensor *mrg_linear(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias);

/* Fused linear layers for training (lib/ops/linear_fused.c): the same
 * values, bit for bit, as the composition in each comment, and the same
 * gradients, but the step keeps one activation where the composition kept
 * two (the linear layer's output is not kept).
 *
 * mrg_add(r, mrg_linear(x, w, bias)) with r of the output's shape (else it
 * is composed): a projection with its residual. */
mrg_tensor *mrg_linear_add(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias, mrg_tensor *r);
/* mrg_permute(mrg_reshape(mrg_linear(x, w, bias), ndim, shape), perm): a
 * projection split into heads, e.g. (B, T, H·hd) viewed (B, T, H, hd) and
 * permuted to (B, H, T, hd). */
mrg_tensor *mrg_linear_permute(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias, int ndim,
                               const int64_t *shape, const int *perm);
/* mrg_linear_permute(mrg_layernorm(x, ln_w, ln_b, eps), w, bias, ndim, shape,
 * perm): a pre-LN attention's projection into heads; the LayerNorm's output
 * is not kept (made again in the backward). */
mrg_tensor *mrg_layernorm_linear_permute(mrg_tensor *x, mrg_tensor *ln_w, mrg_tensor *ln_b,
                                         float eps, mrg_tensor *w, mrg_tensor *bias, int ndim,
                                         const int64_t *shape, const int *perm);
/* mrg_linear_add(mrg_reshape(mrg_permute(x, perm), ..., K), w, bias, r), the
 * permuted x viewed with r's leading dims: heads merged into an output
 * projection with its residual, e.g. x (B, H, T, hd), perm {0, 2, 1, 3}, r
 * (B, T, D). The permuted copy is not kept (made again in the backward). */
mrg_tensor *mrg_permute_linear_add(mrg_tensor *x, const int *perm, mrg_tensor *w,
                                   mrg_tensor *bias, mrg_tensor *r);
/* x + mrg_linear(mrg_gelu(mrg_linear(mrg_layernorm(x, ln_w, ln_b, eps), w1, b1)), w2, b2):
 * the feed-forward half of a pre-LN transformer block (lib/ops/block_fused.c),
 * which keeps fc1's output and recomputes the LayerNorm's and gelu's in the
 * backward. */
mrg_tensor *mrg_layernorm_mlp_add(mrg_tensor *x, mrg_tensor *ln_w, mrg_tensor *ln_b, float eps,
                                  mrg_tensor *w1, mrg_tensor *b1, mrg_tensor *w2, mrg_tensor *b2);
/* x + mrg_linear(mrg_mul(mrg_silu(mrg_linear(n, w_gate, NULL)), mrg_linear(n, w_up, NULL)),
 *                w_down, NULL) with n = mrg_rmsnorm(x, norm_w, eps): the SwiGLU half of a
 * LLaMA block, which keeps the gate's and up projection's outputs only. */
mrg_tensor *mrg_rmsnorm_swiglu_add(mrg_tensor *x, mrg_tensor *norm_w, float eps,
                                   mrg_tensor *w_gate, mrg_tensor *w_up, mrg_tensor *w_down);

/* ---- elementwise ------------------------------------------------------ */

/* NumPy broadcasting (trailing dims aligned, size 1 or missing broadcast). */
mrg_tensor *mrg_add(mrg_tensor *a, mrg_tensor *b);
mrg_tensor *mrg_sub(mrg_tensor *a, mrg_tensor *b);
mrg_tensor *mrg_mul(mrg_tensor *a, mrg_tensor *b);
mrg_tensor *mrg_scale(mrg_tensor *x, float s);
mrg_tensor *mrg_gelu(mrg_tensor *x); /* exact: 0.5·x·(1 + erf(x/√2)) */
mrg_tensor *mrg_silu(mrg_tensor *x); /* x·sigmoid(x) */

/* ---- normalisation and softmax (over the last axis) -------------------- */

/* causal: x is (..., Tq, Tk); element (i, j) is masked when
 * j > i + Tk − Tq (query i sits at absolute position Tk − Tq + i). */
mrg_tensor *mrg_softmax(mrg_tensor *x, bool causal);
mrg_tensor *mrg_log_softmax(mrg_tensor *x);
/* w, b (C) may be NULL (no affine). */
mrg_tensor *mrg_layernorm(mrg_tensor *x, mrg_tensor *w, mrg_tensor *b, float eps);
mrg_tensor *mrg_rmsnorm(mrg_tensor *x, mrg_tensor *w, float eps);
/* x / max(‖x‖₂, eps), like torch.nn.functional.normalize. */
mrg_tensor *mrg_l2_normalize(mrg_tensor *x, float eps);

/* ---- positional ------------------------------------------------------- */

typedef enum mrg_rope_layout {
    MRG_ROPE_HALF = 0,        /* Hugging Face: pairs (i, i + D/2) */
    MRG_ROPE_INTERLEAVED = 1, /* Meta / llama2.c: pairs (2i, 2i + 1) */
} mrg_rope_layout;

/* x (B, T, H, D): rotates each head vector at sequence position pos0 + t
 * with frequencies theta^(−2i/D). */
mrg_tensor *mrg_rope(mrg_tensor *x, int64_t pos0, float theta, mrg_rope_layout layout);
/* A fused linear layer (lib/ops/linear_fused.c, as mrg_linear_add above):
 * mrg_permute(mrg_rope(mrg_reshape(mrg_linear(x, w, NULL), B, T, heads, D),
 * pos0, theta, layout), {0, 2, 1, 3}) for x (B, T, in), a rotated query or
 * key projection split into heads (B, heads, T, D). */
mrg_tensor *mrg_linear_rope_heads(mrg_tensor *x, mrg_tensor *w, int64_t heads, int64_t pos0,
                                  float theta, mrg_rope_layout layout);

/* ---- lookup ----------------------------------------------------------- */

/* w (V, D) any float dtype, ids I32 (...) → (..., D). Out-of-range ids are
 * an error when the ids came from the host (their range is recorded at
 * upload); ids computed on the device and out of range give a zero row. */
mrg_tensor *mrg_embedding(mrg_tensor *w, mrg_tensor *ids);

/* ---- reductions and shapes -------------------------------------------- */

mrg_tensor *mrg_sum(mrg_tensor *x, int axis, bool keepdim);
mrg_tensor *mrg_mean(mrg_tensor *x, int axis, bool keepdim);
/* View with a new shape (same element count); one dim may be −1. */
mrg_tensor *mrg_reshape(mrg_tensor *x, int ndim, const int64_t *shape);
/* Copies; perm[i] is the input axis that becomes output axis i. */
mrg_tensor *mrg_permute(mrg_tensor *x, const int *perm);
mrg_tensor *mrg_transpose(mrg_tensor *x, int axis0, int axis1);
mrg_tensor *mrg_concat(mrg_tensor *const *xs, int n, int axis);
/* Elements [start, start + len) along axis (negative axis counts from the end). */
mrg_tensor *mrg_slice(mrg_tensor *x, int axis, int64_t start, int64_t len);
/* A contiguous f32 copy (converts bf16/f16); differentiable. */
mrg_tensor *mrg_copy(mrg_tensor *x);

/* ---- losses ----------------------------------------------------------- */

/* logits (N, V), targets I32 (N): mean over targets != ignore_index of
 * −log softmax(logits)[target] → shape (1). All ignored → 0. */
mrg_tensor *mrg_cross_entropy(mrg_tensor *logits, mrg_tensor *targets, int ignore_index);

/* ---- attention -------------------------------------------------------- */

/* q (B, H, Tq, D), k and v (B, Hkv, Tk, D) with H a multiple of Hkv
 * (grouped-query heads: query head h uses kv head h / (H/Hkv));
 * key_mask (B, Tk) additive (0 keep, −inf/large negative drop) or NULL;
 * causal as in mrg_softmax; scale usually 1/√D → (B, H, Tq, D).
 * Runs the backend's fused (flash-style) kernels: no (Tq × Tk) score matrix
 * is held, the backward recomputes it from the saved per-row logsumexp.
 * A query row whose every key is masked with −inf gives NaN (as softmax
 * does); key_mask gets no gradient (refused when it wants one). */
mrg_tensor *mrg_sdpa(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                     bool causal, float scale);
/* The same attention composed of recorded ops (batched GEMM, mask add,
 * softmax, batched GEMM; materialises every score matrix): the reference
 * the fused kernels are tested against. */
mrg_tensor *mrg_sdpa_composed(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
                              bool causal, float scale);
/* The same over the first len positions of a KV cache, read in place
 * instead of sliced out (decoding): k_cache (R, Hkv, max_len, D), v_cache
 * (R, Hkv, max_len, Dv); row b of q attends to cache row rows[b] (rows NULL:
 * row b); key_mask (B, len) or NULL → (B, H, Tq, Dv), equal to mrg_sdpa on
 * the gathered slices. No gradient (refused when q needs one). */
mrg_tensor *mrg_sdpa_cache(mrg_tensor *q, mrg_tensor *k_cache, mrg_tensor *v_cache,
                           const int32_t *rows, int64_t len, mrg_tensor *key_mask, bool causal,
                           float scale);

/* ---- vision ----------------------------------------------------------- */

/* ViT patch embedding (a convolution whose stride equals its kernel):
 * img (B, C, H, W), w (D, C, P, P), bias (D) or NULL → (B, (H/P)·(W/P), D),
 * patches in row-major order. */
mrg_tensor *mrg_patch_embed(mrg_tensor *img, mrg_tensor *w, mrg_tensor *bias);

/* ---- fused decoding ops (lib/ops/decode.c) ---------------------------------
 * Each is defined as the composition named in its comment and computed that
 * way on a backend without the fused kernel (the CPU: bit for bit as the
 * composition); OpenCL runs each as one kernel for decoding batches of at
 * most MRG_DECODE_MAX_ROWS rows without gradients (f32 sums in another
 * order: equal within rounding). Recorded for gradients when composed. */
#define MRG_DECODE_MAX_ROWS 64

/* out[i] = mrg_linear(x, w[i], NULL) for n (1..3) weights sharing x
 * (q/k/v projections). */
mrg_status mrg_linears(mrg_tensor *x, int n, mrg_tensor *const *w, mrg_tensor **out);
/* mrg_mul(mrg_silu(x·w_gateᵀ), x·w_upᵀ): the SwiGLU MLP's first half. */
mrg_tensor *mrg_swiglu_linear(mrg_tensor *x, mrg_tensor *w_gate, mrg_tensor *w_up);
/* mrg_add(r, x·wᵀ): a projection with its residual. */
mrg_tensor *mrg_linear_residual(mrg_tensor *x, mrg_tensor *w, mrg_tensor *r);
/* RoPE on q (B, H, T, D) and k (B, Hkv, T, D) at positions pos.., then k
 * and v (B, Hkv, T, D) stored at positions [pos, pos + T) of cache rows
 * rows[b] (NULL: b) of k_cache/v_cache (R, Hkv, max_len, D; f32, bf16 or
 * f16, rounded to nearest even). Returns the rotated q (B, H, T, D). Not
 * recorded (the cache is no graph node). */
mrg_tensor *mrg_rope_store_kv(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *k_cache,
                              mrg_tensor *v_cache, const int32_t *rows, int64_t pos, float theta,
                              mrg_rope_layout layout);
/* mrg_sdpa_cache(q, k_cache, v_cache, rows, len, key_mask, causal, scale)
 * for one new position per row (q (B, H, 1, D), causal or not alike). */
mrg_tensor *mrg_sdpa_decode(mrg_tensor *q, mrg_tensor *k_cache, mrg_tensor *v_cache,
                            const int32_t *rows, int64_t len, mrg_tensor *key_mask, float scale);

/* ---- decoding's choice of the next tokens (lib/ops/select.c) ---------------
 * The search of a decoding step run where the logits are, so that only the
 * chosen ids (and a beam's candidates) come back to the host. Never
 * recorded. */
/* For each row r of logits (R, V) f32, the k (1..MRG_SELECT_MAX_K) best
 * scores s, where
 *   - s is the row's logits (f32), or with log_softmax the row minus its
 *     log Σ exp, in double (as beam search keeps them; f32 on an OpenCL
 *     device without cl_khr_fp64, whose sums also run in another order:
 *     equal to the CPU's within rounding);
 *   - each distinct id t of the row's history gets s[t] < 0 ? s[t]·penalty
 *     : s[t] / penalty (penalty > 0; 1: none), then s[eos] = −inf (eos −1:
 *     none);
 *   - the history of row r (ids, i32) is the first n_hist entries of row
 *     src[r] of hist_in (src: R ids, or NULL: row r; hist_in (*, L), or
 *     NULL when n_hist is 0) followed by tok[r] (tok: R ids, or NULL:
 *     nothing); it is written to row r of hist_out (R' >= R, L), so the
 *     next step passes hist_out as its hist_in (the rows' histories stay
 *     on the device); without a history (n_hist 0, tok NULL) hist_out may
 *     be NULL;
 * ranked higher first, the lower id first on equal scores, NaN never.
 * Returns (R, k, 3) i32: per candidate its id (−1 past the row's last) and
 * the score as an IEEE double in two 32-bit words (mrg_select_unpack). */
mrg_tensor *mrg_select_topk(mrg_tensor *logits, mrg_tensor *hist_in, int64_t n_hist,
                            mrg_tensor *src, mrg_tensor *tok, mrg_tensor *hist_out, int k,
                            bool log_softmax, float penalty, int eos);
/* The ids and scores of n candidates of mrg_select_topk's output, read to
 * the host as packed (n · 3 words). */
void mrg_select_unpack(const int32_t *packed, int64_t n, int32_t *ids, double *scores);

/* ---- in place, never recorded ---------------------------------------------
 * These write into existing tensors and return a status. They are not
 * recorded on the autograd tape (no gradient flows through them): the
 * optimizer's update, gradient clipping and the KV cache use them. */

/* Copies src into the block of dst (same dtype, f32 or i32, same rank) that
 * starts at index start[i] along axis i and has src's shape; the block must
 * lie inside dst. E.g. a KV cache (B, H, max_len, D) takes new positions
 * (b, H, T, D) with start = {0, 0, pos, 0}. */
mrg_status mrg_copy_into(mrg_tensor *dst, const int64_t *start, const mrg_tensor *src);
/* Copies the block `shape` that starts at src_start in src into dst at
 * dst_start (same rank; the blocks must lie inside both). Same 4-byte dtype:
 * an exact copy; float dtypes (f32, bf16, f16) convert, rounding to nearest
 * even (a bf16/f16 KV cache is written and read this way). */
mrg_status mrg_copy_region(mrg_tensor *dst, const int64_t *dst_start, const mrg_tensor *src,
                           const int64_t *src_start, const int64_t *shape);

/* PyTorch AdamW on parameter p with gradient g and moments m, v (all f32,
 * one shape, one device):
 *   p -= lr·wd·p; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
 *   p -= lr · (m / bc1) / (sqrt(v / bc2) + eps),
 * with the bias corrections bc1 = 1 − b1^t and bc2 = 1 − b2^t given by the
 * caller (the optimizer knows the step t). */
mrg_status mrg_adamw_update(mrg_tensor *p, const mrg_tensor *g, mrg_tensor *m, mrg_tensor *v,
                            float lr, float beta1, float beta2, float eps, float weight_decay,
                            float bc1, float bc2);
/* acc[0] += Σ x² over every element of x (f32); acc is a 1-element f32
 * tensor on x's device. */
mrg_status mrg_sum_squares_into(mrg_tensor *acc, const mrg_tensor *x);
/* x *= min(1, max_norm / (sqrt(sumsq[0]) + 1e-6)) (the factor of
 * torch.nn.utils.clip_grad_norm_); sumsq is a 1-element f32 tensor. */
mrg_status mrg_clip_scale(mrg_tensor *x, const mrg_tensor *sumsq, float max_norm);
/* *out = a new (1,) step tensor holding sqrt(Σ_i Σ xs[i]²) over n >= 1 f32
 * tensors, given their sum of squares sumsq (from mrg_sum_squares_into):
 * NaN or inf in sumsq makes the norm NaN or inf, as in PyTorch. */
mrg_status mrg_global_norm(mrg_tensor *const *xs, int n, const mrg_tensor *sumsq,
                           mrg_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
