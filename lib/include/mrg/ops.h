/* Differentiable tensor operations.
 *
 * Every op returns a new step tensor (f32 unless noted), or NULL with a
 * message in mrg_last_error(). Ops propagate NULL: when any input is NULL
 * they return NULL without touching the message, so a chain such as
 * `mrg_add(mrg_matmul(x, w, false, true), b)` needs one check at its end.
 * When gradients are enabled and an input requires a gradient, the op
 * records its backward on the device's tape (see autograd.h).
 *
 * Activations are f32. Weights (the `w` arguments of linear, matmul's b,
 * embedding) may be f32, bf16 or f16. */
#ifndef MRG_OPS_H
#define MRG_OPS_H

#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear algebra --------------------------------------------------- */

/* a (..., M, K) [or (..., K, M) with trans_a], b (..., K, N) [or (..., N, K)
 * with trans_b] → (..., M, N). b's leading (batch) dims must equal a's, or b
 * is 2-D and shared by every batch. b may be bf16/f16. */
mrg_tensor *mrg_matmul(mrg_tensor *a, mrg_tensor *b, bool trans_a, bool trans_b);
/* x (..., in) · w (out, in)ᵀ + bias (out) → (..., out); bias may be NULL. */
mrg_tensor *mrg_linear(mrg_tensor *x, mrg_tensor *w, mrg_tensor *bias);

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
 * causal as in mrg_softmax; scale usually 1/√D → (B, H, Tq, D). */
mrg_tensor *mrg_sdpa(mrg_tensor *q, mrg_tensor *k, mrg_tensor *v, mrg_tensor *key_mask,
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

#ifdef __cplusplus
}
#endif
#endif
