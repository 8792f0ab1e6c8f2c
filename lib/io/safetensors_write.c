/* safetensors writer: collects tensors in memory and writes the file
 * atomically (a temporary file in the same directory, fsync, rename), so a
 * crash never leaves a half-written checkpoint under the final name.
 *
 * Layout as the reference implementation writes it: u64 LE header length,
 * compact JSON header padded with spaces to a multiple of 8 bytes, then the
 * data ordered by element size (largest first) and name, so every tensor
 * starts at an offset aligned to its element size. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "io/safetensors_internal.h"
#include "mrg/safetensors.h"

typedef struct w_entry {
    char *name;
    mrg_dtype dt;
    int ndim;
    int64_t shape[MRG_MAX_DIMS];
    void *data;
    size_t nbytes;
} w_entry;

struct mrg_st_writer {
    w_entry *e;
    int n, cap;
    char **mkey, **mval;
    int nmeta;
};

/* A growable byte buffer for the JSON header. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal: quotes, backslashes and control bytes escaped;
 * other bytes (UTF-8) pass through. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

mrg_st_writer *mrg_st_writer_new(void) {
    mrg_st_writer *w = calloc(1, sizeof *w);
    if (!w) mrg_error(MRG_ERR_OOM, "out of memory");
    return w;
}

void mrg_st_writer_free(mrg_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    for (int i = 0; i < w->nmeta; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->e);
    free(w->mkey);
    free(w->mval);
    free(w);
}

/* Adds an entry that takes ownership of data (malloc'd, nbytes long). */
static mrg_status add_owned(mrg_st_writer *w, const char *name, mrg_dtype dt, int ndim,
                            const int64_t *shape, void *data, size_t nbytes) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        w_entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) return mrg_error(MRG_ERR_OOM, "out of memory adding tensor '%s'", name);
        w->e = e;
        w->cap = cap;
    }
    w_entry *e = &w->e[w->n];
    if (!(e->name = dup_str(name))) return mrg_error(MRG_ERR_OOM, "out of memory");
    e->dt = dt;
    e->ndim = ndim;
    memcpy(e->shape, shape, sizeof(int64_t) * (size_t)ndim);
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return MRG_OK;
}

/* Checks name, dtype and shape; returns the byte size in *nbytes. */
static mrg_status check_entry(const mrg_st_writer *w, const char *name, mrg_dtype dt, int ndim,
                              const int64_t *shape, size_t *nbytes) {
    if (!w || !name || (ndim > 0 && !shape))
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_writer_add: NULL argument");
    if (!name[0] || !strcmp(name, "__metadata__"))
        return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: invalid tensor name '%s'", name);
    if (!mrg_st_dtype_valid(dt))
        return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: tensor '%s': bad dtype %d", name,
                         (int)dt);
    if (ndim < 0 || ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: tensor '%s': %d dimensions", name,
                         ndim);
    uint64_t span;
    if (!mrg_st_span(ndim, shape, mrg_st_dtype_bytes(dt), &span) || span > SIZE_MAX / 2)
        return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: tensor '%s': bad shape", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: tensor '%s' added twice", name);
    *nbytes = (size_t)span;
    return MRG_OK;
}

mrg_status mrg_st_writer_add(mrg_st_writer *w, const char *name, mrg_dtype dt, int ndim,
                             const int64_t *shape, const void *data) {
    size_t nbytes;
    mrg_status st = check_entry(w, name, dt, ndim, shape, &nbytes);
    if (st != MRG_OK) return st;
    if (nbytes && !data)
        return mrg_error(MRG_ERR_INVALID_ARG, "safetensors: tensor '%s': data is NULL", name);
    void *copy = malloc(nbytes ? nbytes : 1);
    if (!copy) return mrg_error(MRG_ERR_OOM, "out of memory adding tensor '%s'", name);
    if (nbytes) memcpy(copy, data, nbytes);
    st = add_owned(w, name, dt, ndim, shape, copy, nbytes);
    if (st != MRG_OK) free(copy);
    return st;
}

mrg_status mrg_st_writer_add_tensor(mrg_st_writer *w, const char *name, const mrg_tensor *t) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_writer_add_tensor: tensor is NULL");
    size_t nbytes;
    mrg_status st = check_entry(w, name, t->dtype, t->ndim, t->shape, &nbytes);
    if (st != MRG_OK) return st;
    void *host = malloc(nbytes ? nbytes : 1);
    if (!host) return mrg_error(MRG_ERR_OOM, "out of memory saving tensor '%s'", name);
    if (nbytes && (st = mrg_tensor_download(t, host)) != MRG_OK) {
        free(host);
        return mrg_error_context(st, "saving tensor '%s'", name);
    }
    st = add_owned(w, name, t->dtype, t->ndim, t->shape, host, nbytes);
    if (st != MRG_OK) free(host);
    return st;
}

mrg_status mrg_st_writer_meta(mrg_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_writer_meta: NULL argument");
    for (int i = 0; i < w->nmeta; i++)
        if (!strcmp(w->mkey[i], key)) {
            char *v = dup_str(value);
            if (!v) return mrg_error(MRG_ERR_OOM, "out of memory");
            free(w->mval[i]);
            w->mval[i] = v;
            return MRG_OK;
        }
    char **k = realloc(w->mkey, (size_t)(w->nmeta + 1) * sizeof *k);
    if (!k) return mrg_error(MRG_ERR_OOM, "out of memory");
    w->mkey = k;
    char **v = realloc(w->mval, (size_t)(w->nmeta + 1) * sizeof *v);
    if (!v) return mrg_error(MRG_ERR_OOM, "out of memory");
    w->mval = v;
    k[w->nmeta] = dup_str(key);
    v[w->nmeta] = dup_str(value);
    if (!k[w->nmeta] || !v[w->nmeta]) {
        free(k[w->nmeta]);
        free(v[w->nmeta]);
        return mrg_error(MRG_ERR_OOM, "out of memory");
    }
    w->nmeta++;
    return MRG_OK;
}

/* ---- saving ------------------------------------------------------------------ */

/* Entry order in the data section: element size descending, then name. */
static bool before(const w_entry *a, const w_entry *b) {
    size_t sa = mrg_st_dtype_bytes(a->dt), sb = mrg_st_dtype_bytes(b->dt);
    if (sa != sb) return sa > sb;
    return strcmp(a->name, b->name) < 0;
}

/* Insertion sort into idx (checkpoints hold hundreds of tensors at most). */
static void order_entries(const mrg_st_writer *w, int *idx) {
    for (int i = 0; i < w->n; i++) {
        int v = i, j = i;
        while (j > 0 && before(&w->e[v], &w->e[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* Builds the padded header; returns false on OOM. */
static bool build_header(const mrg_st_writer *w, const int *idx, sbuf *b) {
    sb_str(b, "{");
    bool first = true;
    if (w->nmeta) {
        sb_str(b, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) sb_str(b, ",");
            sb_json_str(b, w->mkey[i]);
            sb_str(b, ":");
            sb_json_str(b, w->mval[i]);
        }
        sb_str(b, "}");
        first = false;
    }
    uint64_t off = 0;
    for (int k = 0; k < w->n; k++) {
        const w_entry *e = &w->e[idx[k]];
        char num[64];
        if (!first) sb_str(b, ",");
        first = false;
        sb_json_str(b, e->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, mrg_st_dtype_tag(e->dt));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e->shape[d]);
            sb_str(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + e->nbytes));
        sb_str(b, num);
        off += e->nbytes;
    }
    sb_str(b, "}");
    while (!b->oom && b->n % 8) sb_str(b, " ");
    return !b->oom;
}

mrg_status mrg_st_writer_save(mrg_st_writer *w, const char *path) {
    if (!w || !path) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_st_writer_save: NULL argument");
    int *idx = malloc(sizeof(int) * (size_t)(w->n ? w->n : 1));
    sbuf hdr = {0};
    if (!idx) return mrg_error(MRG_ERR_OOM, "out of memory saving %s", path);
    order_entries(w, idx);
    if (!build_header(w, idx, &hdr)) {
        free(idx);
        free(hdr.p);
        return mrg_error(MRG_ERR_OOM, "out of memory saving %s", path);
    }
    mrg_atomic_file af;
    mrg_status st = mrg_atomic_begin(&af, path, true);
    if (st == MRG_OK) {
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
        /* a failed write sets the stream's error flag: the commit reports it */
        fwrite(len8, 1, 8, af.f);
        fwrite(hdr.p, 1, hdr.n, af.f);
        for (int k = 0; k < w->n && !ferror(af.f); k++)
            fwrite(w->e[idx[k]].data, 1, w->e[idx[k]].nbytes, af.f);
        st = mrg_atomic_commit(&af);
    }
    free(idx);
    free(hdr.p);
    return st;
}
