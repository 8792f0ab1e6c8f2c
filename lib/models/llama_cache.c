/* The KV cache of a LLaMA model: per layer a persistent key and value
 * tensor (capacity, Hkv, max_len, Dh) of f32, or of bf16/f16 (half the
 * memory and the bytes each decoded token reads; keys and values are
 * rounded to nearest even when written and read back as f32), and a map c->row from batch rows to
 * the tensors' rows. New positions are written where they belong, with one
 * strided copy per run of consecutive rows; the attention reads the cache
 * in place (mrg_sdpa_cache). Reordering along the batch axis (beam search)
 * permutes the map; only a row chosen more than once is copied, into a row
 * no batch row uses. */
#include <stdlib.h>
#include <string.h>

#include "models/llama_internal.h"

mrg_kv_cache *mrg_kv_cache_new(const mrg_llama *m, int64_t batch, int64_t max_len) {
    return mrg_kv_cache_new_dtype(m, batch, max_len, MRG_F32);
}

mrg_kv_cache *mrg_kv_cache_new_dtype(const mrg_llama *m, int64_t batch, int64_t max_len,
                                     mrg_dtype dtype) {
    if (dtype != MRG_F32 && dtype != MRG_BF16 && dtype != MRG_F16) {
        mrg_error(MRG_ERR_INVALID_ARG, "kv cache: dtype %s (f32, bf16 or f16)",
                  mrg_dtype_name(dtype));
        return NULL;
    }
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
    c->row = malloc(sizeof *c->row * (size_t)batch);
    if (!c->row) {
        mrg_kv_cache_free(c);
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    for (int64_t b = 0; b < batch; b++) c->row[b] = (int32_t)b;
    c->dev = m->dev;
    c->dtype = dtype;
    c->n_layers = cfg->n_layers;
    c->batch = batch;
    c->capacity = batch;
    c->n_kv_heads = cfg->n_kv_heads;
    c->max_len = max_len;
    c->head_dim = cfg->dim / cfg->n_heads;
    const int64_t shape[4] = {batch, c->n_kv_heads, max_len, c->head_dim};
    for (int l = 0; l < c->n_layers; l++) {
        c->k[l] = mrg_tensor_new_persistent(m->dev, dtype, 4, shape);
        c->v[l] = c->k[l] ? mrg_tensor_new_persistent(m->dev, dtype, 4, shape) : NULL;
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
    free(c->row);
    free(c);
}

/* Nothing cached: batch row b may as well live in row b again, where every
 * batch row is one run. */
static void reset_rows(mrg_kv_cache *c) {
    for (int64_t b = 0; b < c->capacity; b++) c->row[b] = (int32_t)b;
}

void mrg_kv_cache_clear(mrg_kv_cache *c) {
    if (!c) return;
    c->len = 0;
    reset_rows(c);
}

mrg_status mrg_kv_cache_truncate(mrg_kv_cache *c, int64_t len) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: NULL");
    if (len < 0 || len > c->len)
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: cannot truncate %lld positions to %lld",
                         (long long)c->len, (long long)len);
    c->len = len;
    return MRG_OK;
}

/* Batch rows [b0, b0 + n) that sit in consecutive cache rows. */
static int64_t run_length(const mrg_kv_cache *c, int64_t b0) {
    int64_t n = 1;
    while (b0 + n < c->batch && c->row[b0 + n] == c->row[b0] + n) n++;
    return n;
}

/* Writes this layer's new keys and values k, v (B, Hkv, T, Dh) at position
 * c->len of each batch row (the caller advances len once every layer is
 * written). */
mrg_status llama_cache_write(mrg_kv_cache *c, int layer, mrg_tensor *k, mrg_tensor *v) {
    if (k->dtype != MRG_F32 || v->dtype != MRG_F32 || k->shape[0] != c->batch ||
        k->shape[1] != c->n_kv_heads || k->shape[3] != c->head_dim || !mrg_same_shape(k, v))
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache: keys/values do not fit the cache");
    for (int64_t b0 = 0, n; b0 < c->batch; b0 += n) {
        n = run_length(c, b0);
        mrg_tensor *ks = n == c->batch ? k : mrg_slice(k, 0, b0, n); /* views */
        mrg_tensor *vs = n == c->batch ? v : mrg_slice(v, 0, b0, n);
        if (!ks || !vs) return MRG_ERR_OOM;
        /* (n, Hkv, T, Dh) into positions [len, len + T) of cache rows
         * row[b0].. of the tensors (capacity, Hkv, max_len, Dh) */
        const int64_t at[4] = {c->row[b0], 0, c->len, 0};
        if (c->dtype == MRG_F32) {
            MRG_TRY(mrg_copy_into(c->k[layer], at, ks));
            MRG_TRY(mrg_copy_into(c->v[layer], at, vs));
        } else { /* rounded to the cache's dtype */
            static const int64_t zero[4] = {0, 0, 0, 0};
            MRG_TRY(mrg_copy_region(c->k[layer], at, ks, zero, ks->shape));
            MRG_TRY(mrg_copy_region(c->v[layer], at, vs, zero, vs->shape));
        }
    }
    return MRG_OK;
}

mrg_tensor *llama_cache_attend(mrg_kv_cache *c, int layer, mrg_tensor *q, int64_t len,
                               mrg_tensor *key_mask, float scale) {
    return mrg_sdpa_cache(q, c->k[layer], c->v[layer], c->row, len, key_mask, true, scale);
}

mrg_tensor *llama_cache_rope_store(mrg_kv_cache *c, int layer, mrg_tensor *q, mrg_tensor *k,
                                   mrg_tensor *v, float theta, mrg_rope_layout layout) {
    return mrg_rope_store_kv(q, k, v, c->k[layer], c->v[layer], c->row, c->len, theta, layout);
}

mrg_tensor *llama_cache_attend_decode(mrg_kv_cache *c, int layer, mrg_tensor *q, int64_t len,
                                      mrg_tensor *key_mask, float scale) {
    return mrg_sdpa_decode(q, c->k[layer], c->v[layer], c->row, len, key_mask, scale);
}

mrg_tensor *llama_cache_past(mrg_kv_cache *c, mrg_tensor *cached, int64_t len) {
    mrg_tensor **parts = mrg_step_malloc(c->dev, sizeof *parts * (size_t)c->batch);
    if (!parts) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    int np = 0;
    for (int64_t b0 = 0, n; b0 < c->batch; b0 += n) {
        n = run_length(c, b0);
        if (c->dtype != MRG_F32) { /* converted to f32 */
            const int64_t shape[4] = {n, c->n_kv_heads, len, c->head_dim};
            mrg_tensor *t = mrg_tensor_new(c->dev, MRG_F32, 4, shape);
            if (!t || mrg_copy_region(t, (const int64_t[]){0, 0, 0, 0}, cached,
                                      (const int64_t[]){c->row[b0], 0, 0, 0}, shape) != MRG_OK)
                return NULL;
            parts[np++] = t;
            continue;
        }
        mrg_tensor *rows = mrg_slice(cached, 0, c->row[b0], n); /* a view */
        parts[np++] = rows ? mrg_slice(rows, 2, 0, len) : NULL; /* (n, Hkv, len, Dh) */
        if (!parts[np - 1]) return NULL;
    }
    return np == 1 ? parts[0] : mrg_concat(parts, np, 0);
}

mrg_status mrg_kv_cache_reorder(mrg_kv_cache *c, const int32_t *src) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache reorder: NULL cache");
    return mrg_kv_cache_select(c, src, c->batch);
}

/* Copies positions [0, c->len) of cache row `from` into row `to`, in every
 * layer: one strided copy per tensor, in place. */
static mrg_status copy_row(mrg_kv_cache *c, int32_t from, int32_t to) {
    const int64_t shape[4] = {1, c->n_kv_heads, c->len, c->head_dim};
    for (int l = 0; l < c->n_layers; l++) {
        mrg_tensor *kv[2] = {c->k[l], c->v[l]};
        for (int j = 0; j < 2; j++)
            MRG_TRY(mrg_copy_region(kv[j], (const int64_t[]){to, 0, 0, 0}, kv[j],
                                    (const int64_t[]){from, 0, 0, 0}, shape));
    }
    return MRG_OK;
}

mrg_status mrg_kv_cache_select(mrg_kv_cache *c, const int32_t *src, int64_t nb) {
    if (!c || !src) return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: NULL argument");
    int64_t B = c->batch, cap = c->capacity;
    if (nb < 1 || nb > cap)
        return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: %lld rows (capacity %lld)",
                         (long long)nb, (long long)cap);
    for (int64_t b = 0; b < nb; b++)
        if (src[b] < 0 || src[b] >= B)
            return mrg_error(MRG_ERR_INVALID_ARG, "kv cache select: row %d outside [0, %lld)",
                             (int)src[b], (long long)B);
    if (c->len == 0) { /* nothing cached: nothing to move */
        c->batch = nb;
        reset_rows(c);
        return MRG_OK;
    }
    /* Batch row b takes over the cache row of old batch row src[b]; the
     * second and later takers of one cache row get a free row (one no batch
     * row keeps) and a copy of it. */
    int32_t *row = malloc(sizeof *row * (size_t)cap);
    unsigned char *taken = calloc((size_t)cap, 1);
    int64_t *copy_to = malloc(sizeof *copy_to * (size_t)nb);
    if (!row || !taken || !copy_to) {
        free(row);
        free(taken);
        free(copy_to);
        return mrg_error(MRG_ERR_OOM, "out of host memory");
    }
    for (int64_t b = 0; b < nb; b++) {
        int32_t r = c->row[src[b]];
        copy_to[b] = taken[r] ? 1 : 0;
        if (!taken[r]) row[b] = r;
        taken[r] = 1;
    }
    int32_t free_row = 0;
    mrg_status st = MRG_OK;
    bool prev = mrg_grad_set_enabled(c->dev, false);
    for (int64_t b = 0; b < nb && st == MRG_OK; b++) {
        if (!copy_to[b]) continue;
        while (taken[free_row]) free_row++;
        taken[free_row] = 1;
        row[b] = free_row;
        st = copy_row(c, c->row[src[b]], free_row);
    }
    mrg_grad_set_enabled(c->dev, prev);
    if (st == MRG_OK) {
        /* the rows no batch row uses, after the batch (a permutation again) */
        int64_t b = nb;
        for (int32_t r = 0; r < cap; r++)
            if (!taken[r]) row[b++] = r;
        memcpy(c->row, row, sizeof *row * (size_t)cap);
        c->batch = nb;
    }
    free(row);
    free(taken);
    free(copy_to);
    return st;
}
