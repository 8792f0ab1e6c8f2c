#define _GNU_SOURCE /* st_mtim, realpath */
/* The paraphrase table as a compact, memory-mapped index.
 *
 * paraphrase-en.gz is 62 MB of gzip holding 270 MB of text (5.3 million
 * entries over 43 thousand words); inflating it costs about a second on
 * every METEOR run, although a corpus of radiology reports touches a
 * small part of it. The index holds the same entries with the words
 * interned, grouped by the first word of the reference phrase (file order
 * kept within a group: the aligner walks exactly those lists), each entry
 * as LEB128 varints: the byte length of the rest, nref, npar, ref words
 * 2..nref, paraphrase words. A
 * run maps the file and decodes only the groups of the corpus's words.
 *
 * It is built once from the table and written atomically (temporary file,
 * fsync, rename) to $XDG_CACHE_HOME/mrg/ (else ~/.cache/mrg/), or, when
 * that cannot be written, beside the table as paraphrase-en.gz.mrgidx; when
 * neither can, the built index is used from memory for this process. An
 * index belongs to one table: its header records the table's size, mtime
 * and a hash of its first and last 64 KiB, and a mismatch rebuilds it.
 * The file is input like any other: every offset and word id is checked
 * before it is used, and a corrupt index is rebuilt. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/files.h"
#include "metrics/meteor_internal.h"

#define IDX_VERSION 1u
#define IDX_ENDIAN 0x01020304u
#define SAMPLE_BYTES (64 << 10)
#define NO_WORD 0xFFFFFFFFu

static const char idx_magic[8] = {'M', 'R', 'G', 'P', 'A', 'R', 'A', '\n'};

/* All positions are byte offsets from the start of the file, 8-aligned. */
typedef struct idx_header {
    char magic[8];
    uint32_t version, endian;
    uint64_t src_size;
    int64_t src_mtime_sec, src_mtime_nsec;
    uint64_t src_sample; /* hash of the table's first and last SAMPLE_BYTES */
    uint64_t n_words, n_entries, n_slots;
    uint64_t word_off_pos;            /* uint64[n_words + 1] into strings */
    uint64_t strings_pos, strings_len; /* the words, back to back */
    uint64_t slots_pos;               /* uint32[n_slots]: word id or NO_WORD (open addressing) */
    uint64_t group_pos;               /* uint64[n_words + 1] into entries */
    uint64_t entries_pos, entries_len;
    uint64_t file_len;
} idx_header;

struct mv_para_index {
    unsigned char *base; /* the whole file image */
    size_t len;
    int mapped;          /* 1: mmap'd file, 0: malloc'd (built here) */
    const idx_header *h;
    const uint64_t *word_off, *group;
    const char *strings;
    const uint32_t *slots;
    const unsigned char *entries;
};

/* ---- the table's identity -------------------------------------------------- */

typedef struct src_key {
    uint64_t size, sample;
    int64_t sec, nsec;
} src_key;

static int table_key(const char *path, src_key *k) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    int rc = -1;
    unsigned char *buf = malloc(SAMPLE_BYTES);
    if (buf && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        k->size = (uint64_t)st.st_size;
        k->sec = (int64_t)st.st_mtim.tv_sec;
        k->nsec = (int64_t)st.st_mtim.tv_nsec;
        uint64_t h = mv_hash(&k->size, sizeof k->size, MV_HASH_SEED);
        ssize_t a = pread(fd, buf, SAMPLE_BYTES, 0);
        if (a >= 0) {
            h = mv_hash(buf, (size_t)a, h);
            off_t tail = st.st_size > SAMPLE_BYTES ? st.st_size - SAMPLE_BYTES : 0;
            ssize_t b = pread(fd, buf, SAMPLE_BYTES, tail);
            if (b >= 0) {
                k->sample = mv_hash(buf, (size_t)b, h);
                rc = 0;
            }
        }
    }
    free(buf);
    close(fd);
    return rc;
}

/* ---- reading an image -------------------------------------------------------- */

static int in_file(uint64_t pos, uint64_t count, uint64_t elem, uint64_t len) {
    if (pos % 8 || pos > len) return 0;
    if (elem && count > (len - pos) / elem) return 0;
    return 1;
}

/* Checks the header and the fixed points of the arrays; sets the views.
 * The per-word offsets are checked where they are used. */
static int attach(mv_para_index *x) {
    if (x->len < sizeof(idx_header)) return -1;
    const idx_header *h = (const idx_header *)x->base;
    uint64_t len = x->len;
    if (memcmp(h->magic, idx_magic, 8) || h->version != IDX_VERSION || h->endian != IDX_ENDIAN ||
        h->file_len != len)
        return -1;
    if (h->n_words >= (1u << 30) || h->n_slots < h->n_words + 1 || (h->n_slots & (h->n_slots - 1)) ||
        h->n_slots >= (1ull << 32))
        return -1;
    if (!in_file(h->word_off_pos, h->n_words + 1, 8, len) || !in_file(h->group_pos, h->n_words + 1, 8, len) ||
        !in_file(h->slots_pos, h->n_slots, 4, len) || !in_file(h->strings_pos, h->strings_len, 1, len) ||
        !in_file(h->entries_pos, h->entries_len, 1, len))
        return -1;
    x->h = h;
    x->word_off = (const uint64_t *)(x->base + h->word_off_pos);
    x->group = (const uint64_t *)(x->base + h->group_pos);
    x->slots = (const uint32_t *)(x->base + h->slots_pos);
    x->strings = (const char *)(x->base + h->strings_pos);
    x->entries = x->base + h->entries_pos;
    if (x->word_off[0] != 0 || x->word_off[h->n_words] != h->strings_len || x->group[0] != 0 ||
        x->group[h->n_words] != h->entries_len)
        return -1;
    return 0;
}

static int key_matches(const mv_para_index *x, const src_key *k) {
    const idx_header *h = x->h;
    return h->src_size == k->size && h->src_sample == k->sample && h->src_mtime_sec == k->sec &&
           h->src_mtime_nsec == k->nsec;
}

static mv_para_index *map_file(const char *path, const src_key *k) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    mv_para_index *x = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof(idx_header)) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            x = calloc(1, sizeof *x);
            if (x) {
                x->base = p;
                x->len = (size_t)st.st_size;
                x->mapped = 1;
                if (attach(x) || !key_matches(x, k)) {
                    mv_para_index_close(x);
                    x = NULL;
                }
            } else {
                munmap(p, (size_t)st.st_size);
            }
        }
    }
    close(fd);
    return x;
}

void mv_para_index_close(mv_para_index *x) {
    if (!x) return;
    if (x->mapped)
        munmap(x->base, x->len);
    else
        free(x->base);
    free(x);
}

int mv_para_index_mapped(const mv_para_index *x) { return x ? x->mapped : 0; }

/* ---- building ---------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static int put_varint(bytes *b, uint32_t v) {
    if (b->n + 5 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        unsigned char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np;
        b->cap = cap;
    }
    while (v >= 0x80) {
        b->p[b->n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->n++] = (unsigned char)v;
    return 0;
}

typedef struct build_ctx {
    mv_vocab words;
    bytes *groups; /* [words.cap_groups] by first reference word */
    int cap_groups;
    uint64_t n_entries;
} build_ctx;

static int build_entry(void *ctx, const mv_span *ref, int nref, const mv_span *par, int npar) {
    build_ctx *b = ctx;
    int ids[2 * MV_PHRASE_MAX_WORDS];
    for (int i = 0; i < nref + npar; i++) {
        const mv_span *w = i < nref ? &ref[i] : &par[i - nref];
        if ((ids[i] = mv_vocab_id(&b->words, w->s, (size_t)w->len)) < 0) return -1;
    }
    if (b->words.n > b->cap_groups) {
        int cap = b->cap_groups ? b->cap_groups * 2 : 4096;
        while (cap < b->words.n) cap *= 2;
        bytes *g = realloc(b->groups, (size_t)cap * sizeof *g);
        if (!g) return -1;
        memset(g + b->cap_groups, 0, (size_t)(cap - b->cap_groups) * sizeof *g);
        b->groups = g;
        b->cap_groups = cap;
    }
    /* body: nref, npar, the words after the first; prefixed by its length
     * so that a reader can skip an entry at its first foreign word */
    unsigned char body[5 * (2 + 2 * MV_PHRASE_MAX_WORDS)];
    bytes t = {body, 0, sizeof body};
    put_varint(&t, (uint32_t)nref);
    put_varint(&t, (uint32_t)npar);
    for (int i = 1; i < nref + npar; i++) put_varint(&t, (uint32_t)ids[i]);
    bytes *g = &b->groups[ids[0]];
    if (put_varint(g, (uint32_t)t.n)) return -1;
    if (g->n + t.n > g->cap) {
        size_t cap = g->cap * 2 > g->n + t.n ? g->cap * 2 : g->n + t.n;
        unsigned char *np = realloc(g->p, cap);
        if (!np) return -1;
        g->p = np;
        g->cap = cap;
    }
    memcpy(g->p + g->n, body, t.n);
    g->n += t.n;
    b->n_entries++;
    return 0;
}

static uint64_t align8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }

/* The file image of the built tables. */
static mv_para_index *image_of(build_ctx *b, const src_key *k) {
    uint64_t nw = (uint64_t)b->words.n, slots = 1024, strings = 0, entries = 0;
    while (slots < 2 * nw + 2) slots *= 2;
    for (int i = 0; i < b->words.n; i++) strings += (uint64_t)b->words.lens[i];
    for (int i = 0; i < b->words.n; i++) entries += b->groups ? b->groups[i].n : 0;
    idx_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, idx_magic, 8);
    h.version = IDX_VERSION;
    h.endian = IDX_ENDIAN;
    h.src_size = k->size;
    h.src_mtime_sec = k->sec;
    h.src_mtime_nsec = k->nsec;
    h.src_sample = k->sample;
    h.n_words = nw;
    h.n_entries = b->n_entries;
    h.n_slots = slots;
    h.word_off_pos = align8(sizeof h);
    h.group_pos = h.word_off_pos + 8 * (nw + 1);
    h.slots_pos = h.group_pos + 8 * (nw + 1);
    h.strings_pos = align8(h.slots_pos + 4 * slots);
    h.strings_len = strings;
    h.entries_pos = align8(h.strings_pos + strings);
    h.entries_len = entries;
    h.file_len = align8(h.entries_pos + entries);
    mv_para_index *x = calloc(1, sizeof *x);
    unsigned char *img = calloc(1, (size_t)h.file_len);
    if (!x || !img) {
        free(x);
        free(img);
        return NULL;
    }
    memcpy(img, &h, sizeof h);
    uint64_t *wo = (uint64_t *)(img + h.word_off_pos), *go = (uint64_t *)(img + h.group_pos);
    uint32_t *sl = (uint32_t *)(img + h.slots_pos);
    char *str = (char *)(img + h.strings_pos);
    unsigned char *ent = img + h.entries_pos;
    for (uint64_t i = 0; i < slots; i++) sl[i] = NO_WORD;
    uint64_t so = 0, eo = 0;
    for (int i = 0; i < b->words.n; i++) {
        wo[i] = so;
        memcpy(str + so, b->words.words[i], (size_t)b->words.lens[i]);
        so += (uint64_t)b->words.lens[i];
        uint64_t s = b->words.hashes[i] & (slots - 1);
        while (sl[s] != NO_WORD) s = (s + 1) & (slots - 1);
        sl[s] = (uint32_t)i;
        go[i] = eo;
        if (b->groups && b->groups[i].n) {
            memcpy(ent + eo, b->groups[i].p, b->groups[i].n);
            eo += b->groups[i].n;
        }
    }
    wo[nw] = so;
    go[nw] = eo;
    x->base = img;
    x->len = (size_t)h.file_len;
    x->mapped = 0;
    if (attach(x)) { /* cannot happen: the image was just laid out */
        mv_para_index_close(x);
        return NULL;
    }
    return x;
}

static void build_free(build_ctx *b) {
    for (int i = 0; i < b->cap_groups; i++) free(b->groups[i].p);
    free(b->groups);
    mv_vocab_free(&b->words);
}

static mv_para_index *build(const char *gz_path, const src_key *k, char *why, int why_len) {
    build_ctx b;
    memset(&b, 0, sizeof b);
    mv_vocab_init(&b.words);
    mv_para_index *x = NULL;
    if (mv_paraphrase_stream(gz_path, build_entry, &b, why, why_len) == 0) {
        x = image_of(&b, k);
        if (!x) snprintf(why, (size_t)why_len, "out of memory indexing %s", gz_path);
    }
    build_free(&b);
    return x;
}

/* ---- the cache ----------------------------------------------------------------- */

int mv_para_index_paths(const char *gz_path, char paths[2][4200]) {
    char *rp = realpath(gz_path, NULL);
    const char *table = rp ? rp : gz_path;
    uint64_t key = mv_hash(table, strlen(table), MV_HASH_SEED);
    int n = 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(paths[n++], 4200, "%s/mrg/paraphrase-%016llx.idx", xdg, (unsigned long long)key);
    else if (home && home[0] == '/')
        snprintf(paths[n++], 4200, "%s/.cache/mrg/paraphrase-%016llx.idx", home, (unsigned long long)key);
    snprintf(paths[n++], 4200, "%s.mrgidx", table);
    free(rp);
    return n;
}

mv_para_index *mv_para_index_open(const char *gz_path, int rebuild, char *why, int why_len) {
    src_key k;
    if (table_key(gz_path, &k)) {
        snprintf(why, (size_t)why_len, "cannot open %s", gz_path);
        return NULL;
    }
    char paths[2][4200];
    int np = mv_para_index_paths(gz_path, paths);
    for (int i = 0; i < np && !rebuild; i++) {
        mv_para_index *x = map_file(paths[i], &k);
        if (x) return x;
    }
    mv_para_index *x = build(gz_path, &k, why, why_len);
    if (!x) return NULL;
    /* a cache that cannot be written is only a slower next start: the
     * first place that takes the image wins, failures stay quiet */
    for (int i = 0; i < np; i++) {
        if (i == 0) (void)mrg_mkdirs_parent(paths[i]);
        if (mrg_write_file_atomic(paths[i], x->base, x->len, true) == MRG_OK) break;
    }
    mrg_clear_error();
    return x;
}

/* ---- selecting the entries of a vocabulary ------------------------------------ */

/* Table word id of s[0..len), -1 when absent, -2 when the index is corrupt. */
static long find_word(const mv_para_index *x, const char *s, size_t len) {
    const idx_header *h = x->h;
    uint64_t mask = h->n_slots - 1, i = mv_hash(s, len, MV_HASH_SEED) & mask;
    for (uint64_t probes = 0; probes < h->n_slots; probes++, i = (i + 1) & mask) {
        uint32_t id = x->slots[i];
        if (id == NO_WORD) return -1;
        if (id >= h->n_words) return -2;
        uint64_t a = x->word_off[id], b = x->word_off[id + 1];
        if (a > b || b > h->strings_len) return -2;
        if (b - a == len && !memcmp(x->strings + a, s, len)) return id;
    }
    return -1;
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint32_t *v) {
    uint32_t r = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*p >= end) return -1;
        unsigned char c = *(*p)++;
        r |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

typedef struct ibuf {
    int *v;
    int n, cap;
} ibuf;

static int ibuf_push(ibuf *b, int x) {
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 1024;
        int *nv = realloc(b->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return 0;
}

int mv_para_index_select(const mv_para_index *x, const mv_vocab *voc, mv_paraphrases *out,
                         char *why, int why_len) {
    memset(out, 0, sizeof *out);
    const idx_header *h = x->h;
    int rc = -1;
    int32_t *tmap = malloc((size_t)(h->n_words ? h->n_words : 1) * sizeof *tmap); /* table id -> voc id */
    long *tid = malloc((size_t)(voc->n ? voc->n : 1) * sizeof *tid);             /* voc id -> table id */
    ibuf ro = {0}, rw = {0}, po = {0}, pw = {0};
    if (!tmap || !tid || ibuf_push(&ro, 0) || ibuf_push(&po, 0)) goto oom;
    for (uint64_t i = 0; i < h->n_words; i++) tmap[i] = -1;
    for (int v = 0; v < voc->n; v++) {
        tid[v] = find_word(x, voc->words[v], (size_t)voc->lens[v]);
        if (tid[v] == -2) goto corrupt;
        if (tid[v] >= 0) tmap[tid[v]] = v;
    }
    for (int v = 0; v < voc->n; v++) {
        if (tid[v] < 0) continue;
        uint64_t a = x->group[tid[v]], b = x->group[tid[v] + 1];
        if (a > b || b > h->entries_len) goto corrupt;
        const unsigned char *p = x->entries + a, *end = x->entries + b;
        while (p < end) {
            uint32_t body, nref, npar, w, i;
            if (get_varint(&p, end, &body) || body > (uint64_t)(end - p)) goto corrupt;
            const unsigned char *next = p + body;
            if (get_varint(&p, next, &nref) || get_varint(&p, next, &npar) || nref < 1 ||
                nref > MV_PHRASE_MAX_WORDS || npar < 1 || npar > MV_PHRASE_MAX_WORDS)
                goto corrupt;
            int ids[2 * MV_PHRASE_MAX_WORDS];
            ids[0] = v;
            for (i = 1; i < nref + npar; i++) {
                if (get_varint(&p, next, &w) || w >= h->n_words) goto corrupt;
                if ((ids[i] = tmap[w]) < 0) break; /* a word the corpus does not have */
            }
            if (i == nref + npar && p != next) goto corrupt;
            p = next;
            if (i < nref + npar) continue;
            for (uint32_t i = 0; i < nref; i++)
                if (ibuf_push(&rw, ids[i])) goto oom;
            for (uint32_t i = nref; i < nref + npar; i++)
                if (ibuf_push(&pw, ids[i])) goto oom;
            if (ibuf_push(&ro, rw.n) || ibuf_push(&po, pw.n)) goto oom;
        }
    }
    out->n = ro.n - 1;
    out->ref_off = ro.v;
    out->ref = rw.v;
    out->par_off = po.v;
    out->par = pw.v;
    ro.v = rw.v = po.v = pw.v = NULL;
    rc = 0;
    goto done;
corrupt:
    snprintf(why, (size_t)why_len, "corrupt paraphrase index");
    rc = -2;
    goto done;
oom:
    snprintf(why, (size_t)why_len, "out of memory selecting paraphrases");
done:
    free(tmap);
    free(tid);
    free(ro.v);
    free(rw.v);
    free(po.v);
    free(pw.v);
    return rc;
}
