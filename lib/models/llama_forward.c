/* LLaMA forward pass: pre-norm decoder blocks with grouped-query causal
 * attention (RoPE on q and k) and a SwiGLU MLP, on input embeddings, with an
 * optional additive key-padding mask and an optional KV cache.
 *
 * Every step is an op from mrg/ops.h, so the pass runs on any device and is
 * differentiable with respect to the input embeddings. The only non-op is
 * the write of new keys/values into the persistent cache (llama_cache.c).
 * Decoding reads the cached past in place (mrg_sdpa_cache, no copy of the
 * prefix per token); with gradients the attention takes the current
 * chunk's keys from the op graph, so they still flow through a prefill
 * that starts at an empty cache. */
#include <math.h>

#include "models/llama_internal.h"

/* (B, T, n, Dh) → (B, n, T, Dh). For T == 1 the layouts coincide and a
 * reshape (a view) is enough. */
static mrg_tensor *to_heads(mrg_tensor *x) {
    if (!x) return NULL;
    if (x->shape[1] == 1)
        return mrg_reshape(x, 4, (const int64_t[]){x->shape[0], x->shape[2], 1, x->shape[3]});
    return mrg_permute(x, (const int[]){0, 2, 1, 3});
}

/* (B, n, T, Dh) → (B, T, n·Dh) */
static mrg_tensor *from_heads(mrg_tensor *x) {
    if (!x) return NULL;
    int64_t B = x->shape[0], n = x->shape[1], T = x->shape[2], Dh = x->shape[3];
    mrg_tensor *y = T == 1 ? x : mrg_permute(x, (const int[]){0, 2, 1, 3});
    return mrg_reshape(y, 3, (const int64_t[]){B, T, n * Dh});
}

/* Keys or values of the whole visible sequence (B, Hkv, pos0 + T, Dh) for
 * a forward that needs gradients, after the current chunk cur (B, Hkv, T,
 * Dh) was written to the cache tensor `cached`: the cached past [0, pos0)
 * followed by cur itself, so that the graph reaches cur. */
static mrg_tensor *with_past(mrg_kv_cache *c, mrg_tensor *cached, int64_t pos0, mrg_tensor *cur) {
    if (!cur || pos0 == 0) return cur;
    mrg_tensor *parts[2] = {llama_cache_past(c, cached, pos0), cur}; /* (B, Hkv, pos0, Dh) */
    return parts[0] ? mrg_concat(parts, 2, 2) : NULL;
}

/* One block decoding one position per row through the cache, without
 * gradients: x (B, 1, D) → (B, 1, D). The fused decoding ops (ops/decode.c)
 * are the same ops as block()'s, composed where the backend has no fused
 * kernel (bit for bit the same results there); on OpenCL each is one
 * launch, 8 per layer. */
static mrg_tensor *decode_block(mrg_llama *m, int l, mrg_tensor *x, mrg_tensor *mask,
                                mrg_kv_cache *cache, int64_t pos0) {
    const mrg_llama_config *c = &m->cfg;
    const mrg_llama_layer *L = &m->layers[l];
    int64_t B = x->shape[0], H = c->n_heads, Hkv = c->n_kv_heads, Dh = c->dim / c->n_heads;
    mrg_tensor *h = mrg_rmsnorm(x, L->attn_norm, c->norm_eps); /* (B, 1, D) */
    mrg_tensor *const w[3] = {L->wq, L->wk, L->wv};
    mrg_tensor *qkv[3];
    if (!h || mrg_linears(h, 3, w, qkv) != MRG_OK) return NULL;
    mrg_tensor *q = mrg_reshape(qkv[0], 4, (const int64_t[]){B, H, 1, Dh});
    mrg_tensor *k = mrg_reshape(qkv[1], 4, (const int64_t[]){B, Hkv, 1, Dh});
    mrg_tensor *v = mrg_reshape(qkv[2], 4, (const int64_t[]){B, Hkv, 1, Dh});
    q = llama_cache_rope_store(cache, l, q, k, v, c->rope_theta, (mrg_rope_layout)c->rope_layout);
    mrg_tensor *a = llama_cache_attend_decode(cache, l, q, pos0 + 1, mask, 1.0f / sqrtf((float)Dh));
    x = mrg_linear_residual(from_heads(a), L->wo, x);          /* (B, 1, D) */
    h = mrg_rmsnorm(x, L->ffn_norm, c->norm_eps);
    return mrg_linear_residual(mrg_swiglu_linear(h, L->w_gate, L->w_up), L->w_down, x);
}

/* One block: x (B, T, D) → (B, T, D). */
static mrg_tensor *block(mrg_llama *m, int l, mrg_tensor *x, mrg_tensor *mask, mrg_kv_cache *cache,
                         int64_t pos0) {
    const mrg_llama_config *c = &m->cfg;
    const mrg_llama_layer *L = &m->layers[l];
    int64_t B = x->shape[0], T = x->shape[1];
    int64_t H = c->n_heads, Hkv = c->n_kv_heads, Dh = c->dim / c->n_heads;
    if (cache && T == 1 && pos0 > 0 && !mrg_grad_enabled(m->dev))
        return decode_block(m, l, x, mask, cache, pos0);

    /* attention */
    mrg_tensor *h = mrg_rmsnorm(x, L->attn_norm, c->norm_eps); /* (B, T, D) */
    mrg_tensor *q, *k, *v; /* (B, H, T, Dh), (B, Hkv, T, Dh) x 2 */
    static const int perm[4] = {0, 2, 1, 3};
    if (T == 1) { /* the head layouts coincide: views */
        q = mrg_reshape(mrg_linear(h, L->wq, NULL), 4, (const int64_t[]){B, T, H, Dh});
        k = mrg_reshape(mrg_linear(h, L->wk, NULL), 4, (const int64_t[]){B, T, Hkv, Dh});
        v = to_heads(mrg_reshape(mrg_linear(h, L->wv, NULL), 4, (const int64_t[]){B, T, Hkv, Dh}));
        q = to_heads(mrg_rope(q, pos0, c->rope_theta, c->rope_layout));
        k = to_heads(mrg_rope(k, pos0, c->rope_theta, c->rope_layout));
    } else { /* one op each, which keeps only the rotated copy in heads */
        q = mrg_linear_rope_heads(h, L->wq, H, pos0, c->rope_theta, c->rope_layout);
        k = mrg_linear_rope_heads(h, L->wk, Hkv, pos0, c->rope_theta, c->rope_layout);
        v = mrg_linear_permute(h, L->wv, NULL, 4, (const int64_t[]){B, T, Hkv, Dh}, perm);
    }
    if (!q || !k || !v) return NULL;
    float scale = 1.0f / sqrtf((float)Dh);
    mrg_tensor *a; /* (B, H, T, Dh) */
    if (cache) {
        if (llama_cache_write(cache, l, k, v) != MRG_OK) return NULL;
        if (pos0 > 0 && !q->requires_grad && !k->requires_grad && !v->requires_grad) {
            /* decoding: the past is read where it lies in the cache */
            a = llama_cache_attend(cache, l, q, pos0 + T, mask, scale);
        } else {
            k = with_past(cache, cache->k[l], pos0, k); /* (B, Hkv, pos0 + T, Dh) */
            v = with_past(cache, cache->v[l], pos0, v);
            a = mrg_sdpa(q, k, v, mask, true, scale);
        }
    } else {
        a = mrg_sdpa(q, k, v, mask, true, scale);
    }
    /* the residual adds are fused into the projections; for T > 1 the
     * heads are merged inside the op too (no copy kept) */
    x = T == 1 ? mrg_linear_add(from_heads(a), L->wo, NULL, x)
               : mrg_permute_linear_add(a, perm, L->wo, NULL, x); /* (B, T, D) */

    /* SwiGLU MLP, one op that keeps only the (B, T, F) gate and up outputs */
    return mrg_rmsnorm_swiglu_add(x, L->ffn_norm, c->norm_eps, L->w_gate, L->w_up, L->w_down);
}

/* A block as a checkpoint function (training without a cache). */
typedef struct block_ctx {
    mrg_llama *m;
    int layer;
    mrg_tensor *mask;
} block_ctx;

static mrg_tensor *block_fn(void *ctx, mrg_tensor *x) {
    const block_ctx *b = ctx;
    return block(b->m, b->layer, x, b->mask, NULL, 0);
}

static mrg_tensor *checkpointed_block(mrg_llama *m, int l, mrg_tensor *x, mrg_tensor *mask) {
    block_ctx *b = mrg_step_malloc(m->dev, sizeof *b);
    if (!b) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    *b = (block_ctx){m, l, mask};
    return mrg_checkpoint(x, block_fn, b);
}

mrg_tensor *mrg_llama_embed(mrg_llama *m, mrg_tensor *ids) {
    if (!m || !ids) return NULL;
    if (ids->dtype != MRG_I32) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama embed: ids must be i32 (got %s)",
                  mrg_dtype_name(ids->dtype));
        return NULL;
    }
    return mrg_embedding(m->tok_emb, ids);
}

mrg_tensor *mrg_llama_hidden(mrg_llama *m, mrg_tensor *x, mrg_tensor *key_mask,
                             mrg_kv_cache *cache) {
    if (!m || !x) return NULL;
    const mrg_llama_config *c = &m->cfg;
    char s[96];
    if (x->ndim != 3 || x->shape[2] != c->dim || x->dtype != MRG_F32 || x->shape[0] < 1 ||
        x->shape[1] < 1) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama: input embeddings must be f32 (B, T, %d), got %s %s",
                  c->dim, mrg_dtype_name(x->dtype), mrg_shape_str(x, s, sizeof s));
        return NULL;
    }
    int64_t B = x->shape[0], T = x->shape[1], pos0 = cache ? cache->len : 0;
    if (cache) {
        if (cache->dev != m->dev || cache->n_layers != c->n_layers ||
            cache->n_kv_heads != c->n_kv_heads || cache->head_dim != c->dim / c->n_heads) {
            mrg_error(MRG_ERR_INVALID_ARG, "llama: the KV cache was made for another model");
            return NULL;
        }
        if (cache->batch != B) {
            mrg_error(MRG_ERR_INVALID_ARG, "llama: batch %lld but the KV cache holds %lld",
                      (long long)B, (long long)cache->batch);
            return NULL;
        }
        if (pos0 + T > cache->max_len) {
            mrg_error(MRG_ERR_INVALID_ARG,
                      "llama: %lld cached + %lld new positions exceed the KV cache (%lld)",
                      (long long)pos0, (long long)T, (long long)cache->max_len);
            return NULL;
        }
    }
    if (key_mask && (key_mask->ndim != 2 || key_mask->shape[0] != B ||
                     key_mask->shape[1] != pos0 + T || key_mask->dtype != MRG_F32)) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama: key mask must be f32 (%lld, %lld), got %s",
                  (long long)B, (long long)(pos0 + T), mrg_shape_str(key_mask, s, sizeof s));
        return NULL;
    }
    bool ckpt = m->checkpoint_blocks && !cache && x->requires_grad && mrg_grad_enabled(m->dev);
    for (int l = 0; l < c->n_layers && x; l++)
        x = ckpt ? checkpointed_block(m, l, x, key_mask) : block(m, l, x, key_mask, cache, pos0);
    if (!x) return NULL;
    if (cache) cache->len = pos0 + T;
    return mrg_rmsnorm(x, m->norm, c->norm_eps); /* (B, T, D) */
}

mrg_tensor *mrg_llama_logits(mrg_llama *m, mrg_tensor *h) {
    if (!m || !h) return NULL;
    return mrg_linear(h, m->lm_head, NULL); /* (..., V) */
}

mrg_tensor *mrg_llama_forward(mrg_llama *m, mrg_tensor *x, mrg_tensor *key_mask,
                              mrg_kv_cache *cache, bool last_only) {
    mrg_tensor *h = mrg_llama_hidden(m, x, key_mask, cache); /* (B, T, D) */
    if (!h) return NULL;
    if (!last_only) return mrg_llama_logits(m, h); /* (B, T, V) */
    int64_t B = h->shape[0], T = h->shape[1];
    mrg_tensor *last = mrg_slice(h, 1, T - 1, 1); /* (B, 1, D) */
    return mrg_llama_logits(m, mrg_reshape(last, 2, (const int64_t[]){B, m->cfg.dim})); /* (B, V) */
}

mrg_tensor *mrg_llama_forward_ids(mrg_llama *m, mrg_tensor *ids, mrg_tensor *key_mask,
                                  mrg_kv_cache *cache, bool last_only) {
    if (ids && ids->ndim != 2) {
        char s[96];
        mrg_error(MRG_ERR_INVALID_ARG, "llama: ids must be (B, T), got %s",
                  mrg_shape_str(ids, s, sizeof s));
        return NULL;
    }
    return mrg_llama_forward(m, mrg_llama_embed(m, ids), key_mask, cache, last_only);
}
