/* Internal helpers shared by the LLaMA files (lib/models/llama*.c: the
 * model, its forward and KV cache, and the Hugging Face and llama2.c
 * checkpoint readers). Not installed. */
#ifndef MRG_MODELS_LLAMA_INTERNAL_H
#define MRG_MODELS_LLAMA_INTERNAL_H

#include "mrg/autograd.h"
#include "mrg/llama.h"
#include "mrg/ops.h"

/* One weight slot of the model: where the tensor pointer lives, its Hugging
 * Face name and its shape. */
typedef struct llama_slot {
    mrg_tensor **t;
    int ndim;
    int64_t shape[2];
    char name[80];
} llama_slot;

/* A model object with the config and no weights (every slot NULL). */
mrg_llama *llama_alloc(const mrg_llama_config *cfg, mrg_device *dev);
/* Fills up to max slots in a fixed order (embedding, layers, norm, classifier
 * unless tied); returns the total count. out may be NULL when max is 0. */
int llama_slots(mrg_llama *m, llama_slot *out, int max);
/* All slots in a calloc'd array (count in *n); NULL with a message. */
llama_slot *llama_slots_alloc(mrg_llama *m, int *n);
/* Points the classifier at the embedding table when tied. */
void llama_finish(mrg_llama *m);

/* The config as a Hugging Face config.json (llama_hf_config.c); a malloc'd
 * string, or NULL when out of memory. */
char *llama_config_to_hf_json(const mrg_llama_config *c, const char *torch_dtype);

/* Chooses the in-memory dtype of a weight stored as `stored`. */
static inline mrg_dtype llama_pick_dtype(const mrg_llama_load_opts *o, mrg_dtype stored) {
    return (o && o->weight_dtype >= 0) ? (mrg_dtype)o->weight_dtype : stored;
}

/* ---- the KV cache (llama_cache.c) -------------------------------------- */

/* Writes a layer's new keys and values k, v (B, Hkv, T, Dh) at position
 * c->len of each batch row (the caller advances len once per forward). */
mrg_status llama_cache_write(mrg_kv_cache *c, int layer, mrg_tensor *k, mrg_tensor *v);
/* Causal attention of q (B, H, T, Dh) over the first len positions of each
 * batch row of the cache, read in place → (B, H, T, Dh). No gradient. */
mrg_tensor *llama_cache_attend(mrg_kv_cache *c, int layer, mrg_tensor *q, int64_t len,
                               mrg_tensor *key_mask, float scale);
/* Decoding one position (llama_forward.c's decode_block): RoPE on q (B, H,
 * 1, Dh) and k at position c->len, k and v stored there in layer's cache
 * (mrg_rope_store_kv); returns the rotated q. */
mrg_tensor *llama_cache_rope_store(mrg_kv_cache *c, int layer, mrg_tensor *q, mrg_tensor *k,
                                   mrg_tensor *v, float theta, mrg_rope_layout layout);
/* Attention of q (B, H, 1, Dh) over len positions (mrg_sdpa_decode). */
mrg_tensor *llama_cache_attend_decode(mrg_kv_cache *c, int layer, mrg_tensor *q, int64_t len,
                                      mrg_tensor *key_mask, float scale);
/* The first len positions of each batch row of a cache tensor (c->k[l] or
 * c->v[l]) as a new (B, Hkv, len, Dh) tensor (a copy; for a forward that
 * needs gradients). */
mrg_tensor *llama_cache_past(mrg_kv_cache *c, mrg_tensor *cached, int64_t len);

#endif
