/* Word interning and the Python tokenizations (see metrics_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

uint64_t mv_hash(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int mv_py_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

void mv_vocab_init(mv_vocab *v) { memset(v, 0, sizeof *v); }

void mv_vocab_free(mv_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->words[i]);
    free(v->words);
    free(v->hashes);
    free(v->lens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

static size_t slot_of(const mv_vocab *v, const char *s, size_t len, uint64_t h) {
    size_t mask = v->nslots - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        int id = v->slots[i];
        if (id < 0) return i;
        if (v->hashes[id] == h && (size_t)v->lens[id] == len && memcmp(v->words[id], s, len) == 0)
            return i;
    }
}

static int grow(mv_vocab *v) {
    size_t ns = v->nslots ? v->nslots * 2 : 1024;
    int *slots = malloc(ns * sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < ns; i++) slots[i] = -1;
    free(v->slots);
    v->slots = slots;
    v->nslots = ns;
    for (int id = 0; id < v->n; id++)
        v->slots[slot_of(v, v->words[id], (size_t)v->lens[id], v->hashes[id])] = id;
    return 0;
}

int mv_vocab_find(const mv_vocab *v, const char *s, size_t len) {
    if (!v->nslots) return -1;
    return v->slots[slot_of(v, s, len, mv_hash(s, len, MV_HASH_SEED))];
}

int mv_vocab_id(mv_vocab *v, const char *s, size_t len) {
    if ((size_t)(v->n + 1) * 2 > v->nslots && grow(v)) return -1;
    uint64_t h = mv_hash(s, len, MV_HASH_SEED);
    size_t i = slot_of(v, s, len, h);
    if (v->slots[i] >= 0) return v->slots[i];
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 1024;
        char **w = realloc(v->words, (size_t)cap * sizeof *w);
        if (w) v->words = w;
        uint64_t *hs = realloc(v->hashes, (size_t)cap * sizeof *hs);
        if (hs) v->hashes = hs;
        int *ls = realloc(v->lens, (size_t)cap * sizeof *ls);
        if (ls) v->lens = ls;
        if (!w || !hs || !ls) return -1;
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = 0;
    v->words[v->n] = copy;
    v->hashes[v->n] = h;
    v->lens[v->n] = (int)len;
    v->slots[i] = v->n;
    return v->n++;
}

void mv_seq_free(mv_seq *s) {
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

static int push(mv_seq *out, int *cap, int id) {
    if (id < 0) return -1;
    if (out->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        int *ids = realloc(out->ids, (size_t)nc * sizeof *ids);
        if (!ids) return -1;
        out->ids = ids;
        *cap = nc;
    }
    out->ids[out->n++] = id;
    return 0;
}

int mv_split_ws(mv_vocab *v, const char *s, mv_seq *out) {
    int cap = 0;
    out->ids = NULL;
    out->n = 0;
    for (const char *p = s; *p;) {
        while (*p && mv_py_space((unsigned char)*p)) p++;
        if (!*p) break;
        const char *b = p;
        while (*p && !mv_py_space((unsigned char)*p)) p++;
        if (push(out, &cap, mv_vocab_id(v, b, (size_t)(p - b)))) {
            mv_seq_free(out);
            return -1;
        }
    }
    return 0;
}

int mv_split_space(mv_vocab *v, const char *s, mv_seq *out) {
    int cap = 0;
    out->ids = NULL;
    out->n = 0;
    for (const char *b = s;;) {
        const char *e = strchr(b, ' ');
        size_t len = e ? (size_t)(e - b) : strlen(b);
        if (push(out, &cap, mv_vocab_id(v, b, len))) {
            mv_seq_free(out);
            return -1;
        }
        if (!e) break;
        b = e + 1;
    }
    return 0;
}
