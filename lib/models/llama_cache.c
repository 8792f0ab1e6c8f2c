/* The KV cache of a LLaMA model: per layer a persistent f32 key and value
 * tensor (B, Hkv, max_len, Dh). New positions are written with one strided
 * copy per tensor; reordering along the batch axis (beam search) gathers the
 * filled rows with the embedding kernel and copies them back. */
#include <stdlib.h>

#include "models/llama_internal.h"

mrg_kv_cache *mrg_kv_cache_new(const mrg_llama *m, int64_t batch, int64_t max_len) {
    if (!m) {
        mrg_error(MRG_ERR_INVALID_ARG, "kv cache: no model");
        return NULL;
    }
    if (batch <= 0 || max_len <= 0) {
        mrg_error(MRG_ERR_INVALID_ARG, "kv cache: batch %lld and length %lld must be positive",
                  (long long)batch, (long long)max_len);
        return NULL;
    }
    const mrg_llama_config *cfg = &m->cfg;
    mrg_kv_cache *c = calloc(1, sizeof *c);
    if (c) {
        c->k = calloc((size_t)cfg->n_layers, sizeof *c->k);
        c->v = calloc((size_t)cfg->n_layers, sizeof *c->v);
    }
    if (!c || !c->k || !c->v) {
        mrg_kv_cache_free(c);
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    c->dev = m->dev;
    c->n_layers = cfg->n_layers;
    c->batch = batch;
    c->capacity = batch;
    c->n_kv_heads = cfg->n_kv_heads;
    c->max_len = max_len;
    c->head_dim = cfg->dim / cfg->n_heads;
    const int64_t shape[4] = {batch, c->n_kv_heads, max_len, c->head_dim};
    for (int l = 0; l < c->n_layers; l++) {
        c->k[l] = mrg_tensor_new_persistent(m->dev, MRG_F32, 4, shape);
        c->v[l] = c->k[l] ? mrg_tensor_new_persistent(m->dev, MRG_F32, 4, shape) : NULL;
        if (!c->v[l]) {
            mrg_error_context(MRG_ERR_OOM, "kv cache (%lld x %lld positions)", (long long)batch,
                              (long long)max_len);
            mrg_kv_cache_free(c);
            return NULL;
        }
    }
    return c;
}

void mrg_kv_cache_free(mrg_kv_cache *c) {
    if (!c) return;
    for (int l = 0; l < c->n_layers; l++) {
        if (c->k) mrg_tensor_free(c->k[l]);
        if (c->v) mrg_tensor_free(c->v[l]);
    }
    free(c->k);
    free(c->v);
    free(c);
}

void mrg_kv_cache_clear(mrg_kv_cache *c) {
    if (c) c->len = 0;
}

mrg_status mrg_kv_cache_truncate(mrg_kv_cache *c, int64_t len) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: NULL");
    if (len < 0 || len > c->len)
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: cannot truncate %lld positions to %lld",
                         (long long)c->len, (long long)len);
    c->len = len;
    return MRG_OK;
}

/* Writes this layer's new keys and values k, v (B, Hkv, T, Dh) at position
 * c->len (the caller advances len once every layer is written). */
mrg_status llama_cache_write(mrg_kv_cache *c, int layer, mrg_tensor *k, mrg_tensor *v) {
    if (k->dtype != MRG_F32 || v->dtype != MRG_F32 || k->shape[0] != c->batch ||
        k->shape[1] != c->n_kv_heads || k->shape[3] != c->head_dim || !mrg_same_shape(k, v))
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: keys/values do not fit the cache");
    /* (B, Hkv, T, Dh) into positions [len, len + T) of the first B rows of
     * the cache tensors (capacity, Hkv, max_len, Dh) */
    const int64_t at[4] = {0, 0, c->len, 0};
    MRG_TRY(mrg_copy_into(c->k[layer], at, k));
    return mrg_copy_into(c->v[layer], at, v);
}

mrg_status mrg_kv_cache_reorder(mrg_kv_cache *c, const int32_t *src) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache reorder: NULL cache");
    return mrg_kv_cache_select(c, src, c->batch);
}

mrg_status mrg_kv_cache_select(mrg_kv_cache *c, const int32_t *src, int64_t nb) {
    if (!c || !src) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: NULL argument");
    int64_t B = c->batch, Hkv = c->n_kv_heads, L = c->len, M = c->max_len, Dh = c->head_dim;
    if (nb < 1 || nb > c->capacity)
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: %lld rows (capacity %lld)",
                         (long long)nb, (long long)c->capacity);
    bool identity = nb == B;
    for (int64_t b = 0; b < nb; b++) {
        if (src[b] < 0 || src[b] >= B)
            return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: row %d outside [0, %lld)",
                             (int)src[b], (long long)B);
        identity &= src[b] == b;
    }
    if (identity) return MRG_OK;
    if (L == 0) {
        c->batch = nb;
        return MRG_OK;
    }
    /* The cache seen as a table of (capacity·Hkv·max_len) rows of Dh: output
     * row (b, h, t) is input row (src[b], h, t), for the filled t < len only. */
    int64_t n = nb * Hkv * L;
    int32_t *ids = malloc(sizeof *ids * (size_t)n);
    if (!ids) return mrg_error(MRG_ERR_OOM, "out of host memory");
    for (int64_t b = 0, i = 0; b < nb; b++)
        for (int64_t h = 0; h < Hkv; h++)
            for (int64_t t = 0; t < L; t++)
                ids[i++] = (int32_t)(((int64_t)src[b] * Hkv + h) * M + t);
    mrg_status st = MRG_OK;
    bool prev = mrg_grad_set_enabled(c->dev, false);
    mrg_tensor *idt = mrg_tensor_from_i32(c->dev, 1, (const int64_t[]){n}, ids);
    free(ids);
    if (!idt) st = MRG_ERR_OOM;
    c->batch = nb;
    for (int l = 0; l < c->n_layers && st == MRG_OK; l++) {
        mrg_tensor *kv[2] = {c->k[l], c->v[l]};
        for (int j = 0; j < 2 && st == MRG_OK; j++) {
            mrg_tensor *table = mrg_reshape(kv[j], 2, (const int64_t[]){c->capacity * Hkv * M, Dh});
            mrg_tensor *rows = mrg_embedding(table, idt); /* (n, Dh) = (nb, Hkv, L, Dh) */
            mrg_tensor *r4 = mrg_reshape(rows, 4, (const int64_t[]){nb, Hkv, L, Dh});
            st = r4 ? mrg_copy_into(kv[j], (const int64_t[]){0, 0, 0, 0}, r4)
                    : mrg_error_context(MRG_ERR_DEVICE, "kv cache select");
        }
    }
    mrg_grad_set_enabled(c->dev, prev);
    if (st != MRG_OK) c->batch = B;
    return st;
}
