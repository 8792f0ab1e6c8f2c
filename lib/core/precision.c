/* The GEMM precision of a device (mrg_set_precision) and, under bf16-mixed,
 * the per-step cache of bf16-rounded copies of persistent weights: a weight
 * is rounded once per step however many products use it (ops/matmul.c).
 * The cache holds step tensors, so it is emptied whenever they may go
 * (mrg_step_reset, mrg_arena_release) and whenever a persistent tensor may
 * change (uploads, copies, fills, optimizer updates). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct mrg_bf16_cache {
    int n, cap;
    const mrg_tensor **key;
    mrg_tensor **val;
};

mrg_precision mrg_set_precision(mrg_device *dev, mrg_precision p) {
    if (!dev) return MRG_PRECISION_F32;
    mrg_precision prev = (mrg_precision)dev->precision;
    dev->precision = p == MRG_PRECISION_BF16_MIXED ? MRG_PRECISION_BF16_MIXED : MRG_PRECISION_F32;
    if (dev->precision != (int)prev) mrg_bf16_cache_clear(dev);
    return prev;
}

mrg_precision mrg_get_precision(const mrg_device *dev) {
    return dev ? (mrg_precision)dev->precision : MRG_PRECISION_F32;
}

const char *mrg_precision_name(mrg_precision p) {
    switch (p) {
    case MRG_PRECISION_F32: return "f32";
    case MRG_PRECISION_BF16_MIXED: return "bf16-mixed";
    }
    return NULL;
}

mrg_status mrg_precision_parse(const char *s, mrg_precision *out) {
    if (s && !strcmp(s, "f32")) *out = MRG_PRECISION_F32;
    else if (s && !strcmp(s, "bf16-mixed")) *out = MRG_PRECISION_BF16_MIXED;
    else
        return mrg_error(MRG_ERR_INVALID_ARG, "precision \"%s\": expected f32 or bf16-mixed",
                         s ? s : "");
    return MRG_OK;
}

mrg_tensor *mrg_bf16_cache_get(const mrg_device *dev, const mrg_tensor *key) {
    const struct mrg_bf16_cache *c = dev->bf16_cache;
    for (int i = 0; c && i < c->n; i++)
        if (c->key[i] == key) return c->val[i];
    return NULL;
}

void mrg_bf16_cache_put(mrg_device *dev, const mrg_tensor *key, mrg_tensor *val) {
    struct mrg_bf16_cache *c = dev->bf16_cache;
    if (!c && !(c = dev->bf16_cache = calloc(1, sizeof *c))) return; /* no cache: recomputed */
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        const mrg_tensor **k = realloc(c->key, (size_t)cap * sizeof *k);
        if (!k) return;
        c->key = k;
        mrg_tensor **v = realloc(c->val, (size_t)cap * sizeof *v);
        if (!v) return;
        c->val = v;
        c->cap = cap;
    }
    c->key[c->n] = key;
    c->val[c->n++] = val;
}

void mrg_bf16_cache_clear(mrg_device *dev) {
    if (dev && dev->bf16_cache) dev->bf16_cache->n = 0;
}

void mrg_bf16_cache_free(mrg_device *dev) {
    struct mrg_bf16_cache *c = dev ? dev->bf16_cache : NULL;
    if (!c) return;
    free(c->key);
    free(c->val);
    free(c);
    dev->bf16_cache = NULL;
}
