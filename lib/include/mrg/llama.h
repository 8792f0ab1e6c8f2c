/* LLaMA decoder: configuration, loading (Hugging Face directories and
 * llama2.c checkpoints), forward passes from token ids or from input
 * embeddings, and a KV cache for incremental decoding.
 *
 * Weights stay in their storage dtype (f32, bf16 or f16) as frozen
 * parameters; compute is f32. Every forward is differentiable with respect
 * to its input embeddings (gradients flow through the frozen weights), so a
 * vision prefix fed as embeddings can be trained through the decoder.
 *
 * Typical decoding loop:
 *   mrg_kv_cache *kv = mrg_kv_cache_new(m, 1, max_T);
 *   logits = mrg_llama_forward_ids(m, prompt (1, T), NULL, kv, true);   (1, V)
 *   loop: pick id; mrg_step_reset(dev);
 *         logits = mrg_llama_forward_ids(m, id (1, 1), NULL, kv, true);
 * The cache is persistent and survives mrg_step_reset(). */
#ifndef MRG_LLAMA_H
#define MRG_LLAMA_H

#include "mrg/ops.h"
#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_llama_config {
    int dim;        /* model width D */
    int hidden_dim; /* SwiGLU width */
    int n_layers;
    int n_heads;    /* query heads H; head size D / H */
    int n_kv_heads; /* key/value heads Hkv (H a multiple of Hkv) */
    int vocab_size;
    int max_seq;    /* longest position the model was trained for */
    float norm_eps; /* RMSNorm epsilon */
    float rope_theta;
    mrg_rope_layout rope_layout; /* HALF for Hugging Face, INTERLEAVED for llama2.c */
    bool tied_embeddings;        /* the classifier is the token embedding table */
    int bos_id, eos_id;
} mrg_llama_config;

/* Checks the config for consistency (positive sizes, H % Hkv, D % H, even
 * head size); MRG_ERR_INVALID_ARG with a message otherwise. */
mrg_status mrg_llama_config_check(const mrg_llama_config *cfg);

/* Reads a Hugging Face config.json (hidden_size, intermediate_size,
 * num_attention_heads, num_key_value_heads, num_hidden_layers, vocab_size,
 * rms_norm_eps, rope_theta, tie_word_embeddings, max_position_embeddings,
 * bos/eos_token_id). Layout is MRG_ROPE_HALF. */
mrg_status mrg_llama_config_read_hf(const char *path, mrg_llama_config *cfg);

typedef struct mrg_llama_layer {
    mrg_tensor *attn_norm;     /* (D) */
    mrg_tensor *wq;            /* (H·Dh, D) */
    mrg_tensor *wk, *wv;       /* (Hkv·Dh, D) */
    mrg_tensor *wo;            /* (D, H·Dh) */
    mrg_tensor *ffn_norm;      /* (D) */
    mrg_tensor *w_gate, *w_up; /* (F, D) */
    mrg_tensor *w_down;        /* (D, F) */
} mrg_llama_layer;

typedef struct mrg_llama {
    mrg_llama_config cfg;
    mrg_device *dev;
    mrg_tensor *tok_emb;     /* (V, D) */
    mrg_llama_layer *layers; /* n_layers */
    mrg_tensor *norm;        /* (D) final RMSNorm */
    mrg_tensor *lm_head;     /* (V, D); == tok_emb when tied */
    /* Training forwards (gradients on, no KV cache) keep only each block's
     * input and recompute the block in the backward, so a 7B model's step
     * holds one block's activations instead of all 32. On by default for
     * weights of 1 GiB or more; the gradients are the same either way. */
    bool checkpoint_blocks;
} mrg_llama;

/* Options for loading. weight_dtype < 0 keeps each tensor's storage dtype;
 * MRG_F32 / MRG_BF16 / MRG_F16 converts every weight on load. */
typedef struct mrg_llama_load_opts {
    int weight_dtype;
} mrg_llama_load_opts;

/* path: a directory (Hugging Face: config.json + model.safetensors or a
 * sharded model.safetensors.index.json) or a llama2.c .bin file.
 * opts may be NULL (keep storage dtypes). */
mrg_llama *mrg_llama_load(const char *path, mrg_device *dev, const mrg_llama_load_opts *opts);
mrg_llama *mrg_llama_load_hf(const char *dir, mrg_device *dev, const mrg_llama_load_opts *opts);
mrg_llama *mrg_llama_load_llama2c(const char *path, mrg_device *dev,
                                  const mrg_llama_load_opts *opts);

/* A model with zero-filled weights of dtype dt (to be filled by a loader,
 * mrg_st_load_into, or training when trainable). Norm weights are ones. */
mrg_llama *mrg_llama_create(const mrg_llama_config *cfg, mrg_dtype dt, bool trainable,
                            mrg_device *dev);
void mrg_llama_free(mrg_llama *m);

/* Fills up to max parameter tensors (each once, named in the Hugging Face
 * scheme); returns the total count. */
int mrg_llama_params(mrg_llama *m, mrg_tensor **out, int max);
/* Bytes held by the weights on the device. */
size_t mrg_llama_weight_bytes(const mrg_llama *m);

/* Writes dir/config.json and dir/model.safetensors (Hugging Face names,
 * storage dtypes kept). The directory must exist. */
mrg_status mrg_llama_save_hf(const mrg_llama *m, const char *dir);

/* ---- KV cache ---------------------------------------------------------- */

typedef struct mrg_kv_cache {
    mrg_device *dev;
    int n_layers;
    int64_t batch;    /* rows in use (the batch a forward must have) */
    int64_t capacity; /* rows allocated */
    int64_t n_kv_heads, max_len, head_dim;
    int64_t len;    /* positions filled so far */
    mrg_dtype dtype; /* of the cached keys and values: f32 (default), bf16, f16 */
    mrg_tensor **k; /* n_layers persistent (capacity, Hkv, max_len, Dh) of dtype */
    mrg_tensor **v;
    /* row[b]: the row of k[l] and v[l] that holds batch row b (capacity
     * entries, a permutation). Reordering permutes it instead of moving the
     * cached keys and values; only a row that is repeated is copied. */
    int32_t *row;
} mrg_kv_cache;

/* A cache of `batch` rows (its capacity) and max_len positions, f32. */
mrg_kv_cache *mrg_kv_cache_new(const mrg_llama *m, int64_t batch, int64_t max_len);
/* The same with keys and values stored as dtype: MRG_F32, or MRG_BF16 /
 * MRG_F16 (half the memory and decode reads; each key and value is rounded
 * to nearest even when written, attention computes in f32). */
mrg_kv_cache *mrg_kv_cache_new_dtype(const mrg_llama *m, int64_t batch, int64_t max_len,
                                     mrg_dtype dtype);
void mrg_kv_cache_free(mrg_kv_cache *c);
/* Forgets every position (len = 0); the memory is kept. */
void mrg_kv_cache_clear(mrg_kv_cache *c);
/* Rolls back to len positions (len <= current). */
mrg_status mrg_kv_cache_truncate(mrg_kv_cache *c, int64_t len);
/* Reorders along the batch axis: row b becomes old row src[b] (b < batch,
 * repeats allowed), as beam search needs after choosing beams. The cached
 * data stays where it is (c->row changes); a row taken twice or more is
 * copied once per extra use. */
mrg_status mrg_kv_cache_reorder(mrg_kv_cache *c, const int32_t *src);
/* The same with a new row count n (1 <= n <= capacity): row b < n becomes
 * old row src[b]. Beam search prefills one row (select {0}, n = 1, before
 * the prompt), then fans it out to the beams (src {0, 0, 0}, n = 3). */
mrg_status mrg_kv_cache_select(mrg_kv_cache *c, const int32_t *src, int64_t n);

/* ---- forward ----------------------------------------------------------- */

/* ids I32 (B, T) → input embeddings (B, T, D) f32 (the frozen table). */
mrg_tensor *mrg_llama_embed(mrg_llama *m, mrg_tensor *ids);

/* The decoder stack on input embeddings x (B, T, D):
 *   key_mask: additive (B, T_total) f32 or NULL, T_total = cached len + T
 *             (0 keep, large negative drop), combined with causal masking;
 *   cache:    NULL (positions 0..T−1), or a cache whose len is the position
 *             of x's first token; the new keys/values are appended and
 *             cache->len advances by T.
 * Token t of x sits at position cache->len + t (0 + t without a cache) in
 * every row. Rows of different lengths can be left-padded with masked
 * positions: RoPE attention depends only on relative positions, so a
 * left-padded row gives the same results as the unpadded sequence.
 * Returns the final-normed hidden states (B, T, D). */
mrg_tensor *mrg_llama_hidden(mrg_llama *m, mrg_tensor *x, mrg_tensor *key_mask,
                             mrg_kv_cache *cache);
/* Hidden states (..., D) → logits (..., V). */
mrg_tensor *mrg_llama_logits(mrg_llama *m, mrg_tensor *h);

/* Logits from input embeddings x (B, T, D): (B, T, V), or only the last
 * position (B, V) when last_only (no (T, V) product is computed). */
mrg_tensor *mrg_llama_forward(mrg_llama *m, mrg_tensor *x, mrg_tensor *key_mask,
                              mrg_kv_cache *cache, bool last_only);
/* The same from token ids I32 (B, T). */
mrg_tensor *mrg_llama_forward_ids(mrg_llama *m, mrg_tensor *ids, mrg_tensor *key_mask,
                                  mrg_kv_cache *cache, bool last_only);

/* ---- scoring ------------------------------------------------------------ */

/* *nll = -Σ_{t=first}^{n-1} ln p(ids[t] | ids[0..t)), natural log, summed in
 * double from one forward of ids[0..n-1) (positions 0..n-2; the last id is
 * only predicted, so n - 1 <= max_seq). 1 <= first < n: ids[0..first) are
 * given and not scored (BOS, a prompt). Gradients are off during the call;
 * it ends with mrg_step_reset(m->dev). */
mrg_status mrg_llama_nll(mrg_llama *m, const int32_t *ids, int n, int first, double *nll);

#ifdef __cplusplus
}
#endif
#endif
