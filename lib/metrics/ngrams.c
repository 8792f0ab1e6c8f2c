/* N-gram interning and per-sentence n-gram counts (BLEU and CIDEr). */
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

void mv_ngrams_init(mv_ngrams *t) { memset(t, 0, sizeof *t); }

void mv_ngrams_free(mv_ngrams *t) {
    free(t->keys);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t slot_of(const mv_ngrams *t, const int32_t key[5]) {
    size_t mask = t->nslots - 1, i = (size_t)mv_hash(key, 5 * sizeof(int32_t), MV_HASH_SEED) & mask;
    for (;; i = (i + 1) & mask) {
        int id = t->slots[i];
        if (id < 0 || memcmp(t->keys[id], key, 5 * sizeof(int32_t)) == 0) return i;
    }
}

static int grow(mv_ngrams *t) {
    size_t ns = t->nslots ? t->nslots * 2 : 4096;
    int *slots = malloc(ns * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < ns; i++) slots[i] = -1;
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    for (int id = 0; id < t->n; id++) t->slots[slot_of(t, t->keys[id])] = id;
    return 0;
}

static int ngram_id(mv_ngrams *t, const int *w, int n) {
    int32_t key[5] = {n, 0, 0, 0, 0};
    for (int k = 0; k < n; k++) key[1 + k] = w[k];
    if ((size_t)(t->n + 1) * 2 > t->nslots && grow(t)) return -1;
    size_t i = slot_of(t, key);
    if (t->slots[i] >= 0) return t->slots[i];
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 4096;
        int32_t(*keys)[5] = realloc(t->keys, (size_t)cap * sizeof *keys);
        if (!keys) return -1;
        t->keys = keys;
        t->cap = cap;
    }
    memcpy(t->keys[t->n], key, sizeof key);
    t->slots[i] = t->n;
    return t->n++;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int mv_ngram_counts(mv_ngrams *t, const mv_seq *s, int maxn, mv_count **out, int *nout) {
    *out = NULL;
    *nout = 0;
    int total = 0;
    for (int k = 1; k <= maxn; k++) total += s->n - k + 1 > 0 ? s->n - k + 1 : 0;
    if (!total) return 0;
    int *ids = malloc((size_t)total * sizeof *ids);
    mv_count *c = malloc((size_t)total * sizeof *c);
    if (!ids || !c) goto oom;
    int m = 0;
    for (int k = 1; k <= maxn; k++)
        for (int i = 0; i + k <= s->n; i++) {
            int id = ngram_id(t, s->ids + i, k);
            if (id < 0) goto oom;
            ids[m++] = id;
        }
    qsort(ids, (size_t)m, sizeof *ids, cmp_int);
    int nc = 0;
    for (int i = 0; i < m; i++) {
        if (nc && c[nc - 1].id == ids[i]) {
            c[nc - 1].count++;
        } else {
            c[nc].id = ids[i];
            c[nc].count = 1;
            nc++;
        }
    }
    free(ids);
    *out = c;
    *nout = nc;
    return 0;
oom:
    free(ids);
    free(c);
    return -1;
}
