/* METEOR resources: the synonym dictionary (METEOR's english.synsets /
 * english.exceptions, read from a directory or straight out of the
 * meteor-1.5.jar, or built from a WordNet 3.0 database) and the paraphrase
 * table paraphrase-en.gz, streamed and filtered to the corpus vocabulary. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/files.h"
#include "metrics/meteor_internal.h"

/* ---- zip (jar) members ------------------------------------------------- */

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }

/* The whole file, or NULL: a missing resource is normal here, and the
 * caller says which one it lacked. */
static char *read_file(const char *path, size_t *len) {
    char *text;
    return mrg_read_file(path, SIZE_MAX, NULL, &text, len) == MRG_OK ? text : NULL;
}

char *mv_zip_read(const char *zip_path, const char *member, long *len) {
    size_t size = 0;
    unsigned char *z = (unsigned char *)read_file(zip_path, &size);
    if (!z) return NULL;
    long n = (long)size;
    char *out = NULL;
    long e = n - 22;
    while (e >= 0 && e >= n - 65557 && rd32(z + e) != 0x06054b50u) e--;
    if (e < 0 || e < n - 65557) goto done;
    uint32_t count = rd16(z + e + 10), cd = rd32(z + e + 16);
    size_t nm = strlen(member);
    for (uint32_t i = 0, p = cd; i < count && (long)p + 46 <= n; i++) {
        if (rd32(z + p) != 0x02014b50u) break;
        uint32_t method = rd16(z + p + 10), csize = rd32(z + p + 20), usize = rd32(z + p + 24);
        uint32_t fnl = rd16(z + p + 28), exl = rd16(z + p + 30), cml = rd16(z + p + 32);
        uint32_t loc = rd32(z + p + 42);
        if (fnl == nm && (long)(p + 46 + fnl) <= n && !memcmp(z + p + 46, member, nm)) {
            if ((long)loc + 30 > n || rd32(z + loc) != 0x04034b50u) break;
            uint32_t data = loc + 30 + rd16(z + loc + 26) + rd16(z + loc + 28);
            if ((long)data + (long)csize > n || !(out = malloc((size_t)usize + 1))) break;
            if (method == 0) {
                memcpy(out, z + data, usize);
            } else if (method == 8) {
                z_stream s;
                memset(&s, 0, sizeof s);
                if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
                    free(out);
                    out = NULL;
                    break;
                }
                s.next_in = z + data;
                s.avail_in = csize;
                s.next_out = (unsigned char *)out;
                s.avail_out = usize;
                int r = inflate(&s, Z_FINISH);
                inflateEnd(&s);
                if (r != Z_STREAM_END || s.total_out != usize) {
                    free(out);
                    out = NULL;
                    break;
                }
            } else {
                free(out);
                out = NULL;
                break;
            }
            out[usize] = 0;
            *len = (long)usize;
            break;
        }
        p += 46 + fnl + exl + cml;
    }
done:
    free(z);
    return out;
}

/* ---- synonyms ------------------------------------------------------------ */

void mv_synonyms_free(mv_synonyms *s) {
    mv_vocab_free(&s->words);
    mv_vocab_free(&s->forms);
    free(s->set_off);
    free(s->sets);
    free(s->base_off);
    free(s->bases);
    memset(s, 0, sizeof *s);
}

/* Growable int arrays for building the tables. */
typedef struct ivec {
    int32_t *v;
    int n, cap;
} ivec;
static int ipush(ivec *a, int32_t x) {
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 1024;
        int32_t *nv = realloc(a->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* Builds word -> sets from (word id, set) pairs and form -> bases pairs. */
typedef struct builder {
    ivec syn_word, syn_set;   /* pairs */
    ivec form_id, base_name;  /* pairs: form id, index into base_words */
    mv_vocab base_words;      /* base strings (resolved to word ids at the end) */
} builder;

static void builder_free(builder *b) {
    free(b->syn_word.v);
    free(b->syn_set.v);
    free(b->form_id.v);
    free(b->base_name.v);
    mv_vocab_free(&b->base_words);
}

static int finish(mv_synonyms *s, builder *b) {
    int nw = s->words.n, nf = s->forms.n;
    s->set_off = calloc((size_t)nw + 1, sizeof *s->set_off);
    s->sets = malloc((size_t)(b->syn_set.n ? b->syn_set.n : 1) * sizeof *s->sets);
    s->base_off = calloc((size_t)nf + 1, sizeof *s->base_off);
    s->bases = malloc((size_t)(b->form_id.n ? b->form_id.n : 1) * sizeof *s->bases);
    if (!s->set_off || !s->sets || !s->base_off || !s->bases) return -1;
    /* counting sort by word id, keeping file order within a word */
    for (int i = 0; i < b->syn_word.n; i++) s->set_off[b->syn_word.v[i] + 1]++;
    for (int i = 0; i < nw; i++) s->set_off[i + 1] += s->set_off[i];
    int *fill = malloc(((size_t)nw + (size_t)nf + 1) * sizeof *fill);
    if (!fill) return -1;
    for (int i = 0; i < nw; i++) fill[i] = s->set_off[i];
    for (int i = 0; i < b->syn_word.n; i++) s->sets[fill[b->syn_word.v[i]]++] = b->syn_set.v[i];
    for (int i = 0; i < b->form_id.n; i++) s->base_off[b->form_id.v[i] + 1]++;
    for (int i = 0; i < nf; i++) s->base_off[i + 1] += s->base_off[i];
    for (int i = 0; i < nf; i++) fill[i] = s->base_off[i];
    for (int i = 0; i < b->form_id.n; i++) {
        const char *base = b->base_words.words[b->base_name.v[i]];
        s->bases[fill[b->form_id.v[i]]++] = mv_vocab_find(&s->words, base, strlen(base));
    }
    free(fill);
    return 0;
}

/* Next line of text (in place; NULL at the end). */
static char *next_line(char **p) {
    if (!**p) return NULL;
    char *l = *p, *e = strchr(l, '\n');
    if (e) {
        *e = 0;
        *p = e + 1;
    } else {
        *p = l + strlen(l);
    }
    size_t n = strlen(l);
    if (n && l[n - 1] == '\r') l[n - 1] = 0;
    return l;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

/* The decimal number in s[0..len) (digits only, at most 9 of them: it fits
 * an int32), or -1: the data files are input, junk must not become an
 * index or a set id. */
static long digits_value(const char *s, size_t len) {
    if (len < 1 || len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = 10 * v + (s[i] - '0');
    }
    return v;
}

/* METEOR's format: word line, then its synset ids; base line, then forms. */
static int parse_meteor(mv_synonyms *s, char *syn_txt, char *exc_txt) {
    builder b;
    memset(&b, 0, sizeof b);
    mv_vocab_init(&s->words);
    mv_vocab_init(&s->forms);
    mv_vocab_init(&b.base_words);
    char *p = syn_txt, *word, *ids;
    while ((word = next_line(&p)) && (ids = next_line(&p))) {
        int before = s->words.n, w = mv_vocab_id(&s->words, word, strlen(word));
        if (w < 0) goto oom;
        if (w < before) /* a repeated word replaces its sets (Hashtable.put) */
            for (int i = 0; i < b.syn_word.n; i++)
                if (b.syn_word.v[i] == w) b.syn_word.v[i] = -1;
        for (char *q = ids; *q;) {
            while (is_ws(*q)) q++;
            if (!*q) break;
            char *e = q;
            while (*e && !is_ws(*e)) e++;
            long v = digits_value(q, (size_t)(e - q)); /* a malformed id is skipped */
            if (v >= 0 && (ipush(&b.syn_word, w) || ipush(&b.syn_set, (int32_t)v))) goto oom;
            q = e;
        }
    }
    p = exc_txt;
    char *base, *forms;
    while (exc_txt && (base = next_line(&p)) && (forms = next_line(&p))) {
        int bi = mv_vocab_id(&b.base_words, base, strlen(base));
        if (bi < 0) goto oom;
        for (char *q = forms; *q;) {
            while (is_ws(*q)) q++;
            if (!*q) break;
            char *e = q;
            while (*e && !is_ws(*e)) e++;
            int f = mv_vocab_id(&s->forms, q, (size_t)(e - q));
            if (f < 0 || ipush(&b.form_id, f) || ipush(&b.base_name, bi)) goto oom;
            q = e;
        }
    }
    /* drop pairs of replaced words (marked -1) */
    int k = 0;
    for (int i = 0; i < b.syn_word.n; i++)
        if (b.syn_word.v[i] >= 0) {
            b.syn_word.v[k] = b.syn_word.v[i];
            b.syn_set.v[k++] = b.syn_set.v[i];
        }
    b.syn_word.n = b.syn_set.n = k;
    if (finish(s, &b)) goto oom;
    builder_free(&b);
    return 0;
oom:
    builder_free(&b);
    mv_synonyms_free(s);
    return -1;
}

int mv_synonyms_load_dir(mv_synonyms *s, const char *dir, char *why, int why_len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/english.synsets", dir);
    char *syn = read_file(path, NULL);
    snprintf(path, sizeof path, "%s/english.exceptions", dir);
    char *exc = read_file(path, NULL);
    int r = -1;
    if (!syn)
        snprintf(why, (size_t)why_len, "cannot read %s/english.synsets", dir);
    else if ((r = parse_meteor(s, syn, exc)))
        snprintf(why, (size_t)why_len, "out of memory reading %s", dir);
    free(syn);
    free(exc);
    return r;
}

int mv_synonyms_load_jar(mv_synonyms *s, const char *jar, char *why, int why_len) {
    long n1 = 0, n2 = 0;
    char *syn = mv_zip_read(jar, "synonym/english.synsets", &n1);
    char *exc = mv_zip_read(jar, "synonym/english.exceptions", &n2);
    int r = -1;
    if (!syn)
        snprintf(why, (size_t)why_len, "no synonym/english.synsets in %s", jar);
    else if ((r = parse_meteor(s, syn, exc)))
        snprintf(why, (size_t)why_len, "out of memory reading %s", jar);
    free(syn);
    free(exc);
    return r;
}

/* The words of l separated by runs of spaces, NUL-terminated in place (as
 * strtok(l, " ") gives them, without its cost per call); at most cap. */
static int split_spaces(char *l, char **tok, int cap) {
    int n = 0;
    for (char *q = l; *q && n < cap;) {
        while (*q == ' ') q++;
        if (!*q) break;
        tok[n++] = q;
        while (*q && *q != ' ') q++;
        if (*q) *q++ = 0;
    }
    return n;
}

/* WordNet 3.0 database: index.<pos> lines "lemma pos n_synsets n_ptrs ptrs...
 * n_senses n_tagged offsets..." and <pos>.exc lines "form base...". */
int mv_synonyms_load_wordnet(mv_synonyms *s, const char *dir, char *why, int why_len) {
    static const char *const pos[4] = {"noun", "verb", "adj", "adv"};
    builder b;
    memset(&b, 0, sizeof b);
    mv_vocab_init(&s->words);
    mv_vocab_init(&s->forms);
    mv_vocab_init(&b.base_words);
    char path[4096];
    int found = 0;
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/index.%s", dir, pos[k]);
        char *txt = read_file(path, NULL), *p = txt, *l;
        if (!txt) continue;
        found++;
        while ((l = next_line(&p))) {
            if (l[0] == ' ' || !l[0]) continue; /* licence header */
            char *tok[4096];
            int nt = split_spaces(l, tok, 4096);
            if (nt < 6) continue;
            long n_syn = digits_value(tok[2], strlen(tok[2])), n_ptr = digits_value(tok[3], strlen(tok[3]));
            if (n_syn < 0 || n_ptr < 0 || 6 + n_ptr + n_syn > nt) continue; /* malformed line */
            int first = 4 + (int)n_ptr + 2;
            long set[4096];
            int ok = 1;
            for (int i = 0; i < n_syn && ok; i++) {
                const char *t = tok[first + i];
                ok = (set[i] = digits_value(t, strlen(t))) >= 0;
            }
            if (!ok) continue;
            int w = mv_vocab_id(&s->words, tok[0], strlen(tok[0]));
            if (w < 0) goto oom_txt;
            for (int i = 0; i < n_syn; i++)
                if (ipush(&b.syn_word, w) || ipush(&b.syn_set, (int32_t)set[i])) goto oom_txt;
            continue;
        oom_txt:
            free(txt);
            goto oom;
        }
        free(txt);
        snprintf(path, sizeof path, "%s/%s.exc", dir, pos[k]);
        txt = read_file(path, NULL);
        p = txt;
        while (txt && (l = next_line(&p))) {
            char *tok[4096];
            int nt = split_spaces(l, tok, 4096);
            if (!nt) continue;
            int f = mv_vocab_id(&s->forms, tok[0], strlen(tok[0]));
            for (int t = 1; t < nt; t++) {
                const char *base = tok[t];
                int bi = mv_vocab_id(&b.base_words, base, strlen(base));
                if (f < 0 || bi < 0 || ipush(&b.form_id, f) || ipush(&b.base_name, bi)) {
                    free(txt);
                    goto oom;
                }
            }
        }
        free(txt);
    }
    if (!found) {
        snprintf(why, (size_t)why_len, "no WordNet index.noun/verb/adj/adv in %s", dir);
        builder_free(&b);
        mv_synonyms_free(s);
        return -1;
    }
    if (finish(s, &b)) goto oom;
    builder_free(&b);
    return 0;
oom:
    snprintf(why, (size_t)why_len, "out of memory reading %s", dir);
    builder_free(&b);
    mv_synonyms_free(s);
    return -1;
}

static int add_sets_of(const mv_synonyms *s, int w, int32_t *out, int n, int cap) {
    if (w < 0) return n;
    for (int i = s->set_off[w]; i < s->set_off[w + 1]; i++) {
        int dup = 0;
        for (int j = 0; j < n && !dup; j++) dup = out[j] == s->sets[i];
        if (!dup && n < cap) out[n++] = s->sets[i];
    }
    return n;
}

/* METEOR's SynonymDictionary.morph: strip an inflection when the result
 * is a word with synsets; "" otherwise. */
static int morph(const mv_synonyms *s, const char *word) {
    static const char *const sufx[20] = {"s",  "ses", "xes", "zes", "ches", "shes", "men",
                                         "ies", "s",   "ies", "es",  "es",  "ed",   "ed",
                                         "ing", "ing", "er",  "est", "er",  "est"};
    static const char *const addr[20] = {"",  "s", "x", "z", "ch", "sh", "man", "y", "", "y",
                                         "e", "",  "e", "",  "e",  "",   "",    "",  "e", "e"};
    size_t n = strlen(word);
    if ((n >= 2 && !strcmp(word + n - 2, "ss")) || n <= 2)
        return mv_vocab_find(&s->words, word, n);
    char buf[256];
    for (int i = 0; i < 20; i++) {
        size_t k = strlen(sufx[i]);
        if (k > n || strcmp(word + n - k, sufx[i]) || n - k + strlen(addr[i]) >= sizeof buf) continue;
        memcpy(buf, word, n - k);
        strcpy(buf + n - k, addr[i]);
        int id = mv_vocab_find(&s->words, buf, strlen(buf));
        if (id >= 0) return id;
    }
    return -1;
}

int mv_synonym_sets(const mv_synonyms *s, const char *word, int32_t *out, int cap) {
    size_t len = strlen(word);
    int n = add_sets_of(s, mv_vocab_find(&s->words, word, len), out, 0, cap);
    int f = mv_vocab_find(&s->forms, word, len);
    if (f >= 0) {
        for (int i = s->base_off[f]; i < s->base_off[f + 1]; i++) n = add_sets_of(s, s->bases[i], out, n, cap);
    } else {
        n = add_sets_of(s, morph(s, word), out, n, cap);
    }
    return n;
}

/* ---- paraphrases --------------------------------------------------------- */

void mv_paraphrases_free(mv_paraphrases *p) {
    free(p->ref_off);
    free(p->ref);
    free(p->par_off);
    free(p->par);
    memset(p, 0, sizeof *p);
}

/* The words of a phrase line as (pointer, length) spans: the count, or -1
 * when it has more than cap words. */
static int phrase_words(const char *l, const char *e, mv_span *w, int cap) {
    int n = 0;
    for (const char *q = l; q < e;) {
        while (q < e && is_ws(*q)) q++;
        if (q >= e) break;
        const char *b = q;
        while (q < e && !is_ws(*q)) q++;
        if (n == cap) return -1;
        w[n].s = b;
        w[n++].len = (int)(q - b);
    }
    return n;
}

/* A gzip reader without CRC checking (raw inflate): the paraphrase table is
 * 270 MB of text and the CRC alone costs a tenth of the load time. */
typedef struct gzr {
    FILE *f;
    z_stream z;
    unsigned char *in;
    size_t in_cap;
    int state; /* 0 header expected, 1 inflating, 2 end, -1 error */
} gzr;

static int gzr_fill(gzr *g) {
    if (g->z.avail_in) memmove(g->in, g->z.next_in, g->z.avail_in);
    size_t got = fread(g->in + g->z.avail_in, 1, g->in_cap - g->z.avail_in, g->f);
    g->z.next_in = g->in;
    g->z.avail_in += (uInt)got;
    return (int)got;
}

/* Parses a member header at next_in; 0 ok, -1 not gzip, 1 no more input. */
static int gzr_header(gzr *g) {
    if (g->z.avail_in < 4096) gzr_fill(g);
    if (g->z.avail_in == 0) return 1;
    const unsigned char *p = g->z.next_in, *e = p + g->z.avail_in;
    if (e - p < 10 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8) return -1;
    int flg = p[3];
    p += 10;
    if (flg & 4) {
        if (e - p < 2) return -1;
        size_t xl = p[0] | (size_t)p[1] << 8;
        p += 2 + xl;
    }
    for (int bit = 8; bit <= 16; bit *= 2)
        if (flg & bit) {
            while (p < e && *p) p++;
            p++;
        }
    if (flg & 2) p += 2;
    if (p > e) return -1;
    g->z.avail_in -= (uInt)(p - g->z.next_in);
    g->z.next_in = (unsigned char *)p;
    return 0;
}

static int gzr_open(gzr *g, const char *path) {
    memset(g, 0, sizeof *g);
    g->in_cap = 1 << 20;
    if (!(g->f = fopen(path, "rb")) || !(g->in = malloc(g->in_cap))) return -1;
    if (inflateInit2(&g->z, -MAX_WBITS) != Z_OK) return -1;
    g->state = 0;
    return 0;
}

static void gzr_close(gzr *g) {
    if (g->f) fclose(g->f);
    inflateEnd(&g->z);
    free(g->in);
}

/* Up to cap bytes of text; 0 at the end, -1 on a corrupt file. */
static long gzr_read(gzr *g, char *out, size_t cap) {
    size_t done = 0;
    while (done < cap && g->state >= 0 && g->state != 2) {
        if (g->state == 0) {
            int h = gzr_header(g);
            if (h == 1 && done == 0 && g->z.total_out == 0) return -1;
            if (h == 1) {
                g->state = 2;
                break;
            }
            if (h < 0) {
                g->state = -1;
                break;
            }
            inflateReset(&g->z);
            g->state = 1;
        }
        if (g->z.avail_in == 0 && gzr_fill(g) == 0) {
            g->state = -1; /* truncated */
            break;
        }
        g->z.next_out = (unsigned char *)out + done;
        g->z.avail_out = (uInt)(cap - done);
        int r = inflate(&g->z, Z_NO_FLUSH);
        done = cap - g->z.avail_out;
        if (r == Z_STREAM_END) {
            /* skip the 8-byte trailer; another member may follow */
            if (g->z.avail_in < 8) gzr_fill(g);
            size_t skip = g->z.avail_in < 8 ? g->z.avail_in : 8;
            g->z.next_in += skip;
            g->z.avail_in -= (uInt)skip;
            g->state = 0;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            g->state = -1;
        }
    }
    if (g->state < 0) return -1;
    return (long)done;
}

int mv_paraphrase_stream(const char *gz_path, mv_paraphrase_fn fn, void *ctx, char *why,
                         int why_len) {
    gzr g;
    if (gzr_open(&g, gz_path)) {
        snprintf(why, (size_t)why_len, "cannot open %s", gz_path);
        gzr_close(&g);
        return -1;
    }
    size_t cap = 1 << 22, have = 0;
    char *buf = malloc(cap);
    int rc = -1, line_no = 0, nref = -1;
    mv_span ref[MV_PHRASE_MAX_WORDS], par[MV_PHRASE_MAX_WORDS];
    if (!buf) {
        snprintf(why, (size_t)why_len, "out of memory reading %s", gz_path);
        goto out;
    }
    for (;;) {
        long got = gzr_read(&g, buf + have, cap - have);
        if (got < 0) {
            snprintf(why, (size_t)why_len, "%s: not a readable gzip file", gz_path);
            goto out;
        }
        have += (size_t)got;
        char *s = buf, *end = buf + have;
        for (;;) {
            char *nl = memchr(s, '\n', (size_t)(end - s));
            if (!nl) {
                if (got == 0 && s < end) nl = end; /* last line without newline */
                else break;
            }
            /* lines: probability, reference phrase, paraphrase */
            int kind = line_no++ % 3;
            if (kind == 1) {
                nref = phrase_words(s, nl, ref, MV_PHRASE_MAX_WORDS);
            } else if (kind == 2 && nref > 0) {
                int npar = phrase_words(s, nl, par, MV_PHRASE_MAX_WORDS);
                if (npar > 0 && fn(ctx, ref, nref, par, npar)) {
                    snprintf(why, (size_t)why_len, "out of memory reading %s", gz_path);
                    goto out;
                }
            }
            s = nl + (nl < end);
            if (s >= end) break;
        }
        memmove(buf, s, (size_t)(end - s));
        have = (size_t)(end - s);
        if (got == 0) break;
        if (have == cap) { /* a single line longer than the buffer */
            snprintf(why, (size_t)why_len, "%s: line too long", gz_path);
            goto out;
        }
    }
    rc = 0;
out:
    free(buf);
    gzr_close(&g);
    return rc;
}

/* Keeps the entries whose words are all in the vocabulary. */
typedef struct filter_ctx {
    const mv_vocab *voc;
    ivec ro, rw, po, pw;
} filter_ctx;

static int ids_of(const mv_vocab *voc, const mv_span *w, int n, int *ids) {
    for (int i = 0; i < n; i++)
        if ((ids[i] = mv_vocab_find(voc, w[i].s, (size_t)w[i].len)) < 0) return -1;
    return 0;
}

static int filter_entry(void *ctx, const mv_span *ref, int nref, const mv_span *par, int npar) {
    filter_ctx *f = ctx;
    int ri[MV_PHRASE_MAX_WORDS], pi[MV_PHRASE_MAX_WORDS];
    if (ids_of(f->voc, ref, nref, ri) || ids_of(f->voc, par, npar, pi)) return 0;
    for (int i = 0; i < nref; i++)
        if (ipush(&f->rw, ri[i])) return -1;
    for (int i = 0; i < npar; i++)
        if (ipush(&f->pw, pi[i])) return -1;
    return ipush(&f->ro, f->rw.n) || ipush(&f->po, f->pw.n) ? -1 : 0;
}

int mv_paraphrases_load(mv_paraphrases *p, const char *gz_path, const mv_vocab *voc, char *why,
                        int why_len) {
    memset(p, 0, sizeof *p);
    filter_ctx f = {.voc = voc};
    int rc = -1;
    if (ipush(&f.ro, 0) || ipush(&f.po, 0))
        snprintf(why, (size_t)why_len, "out of memory reading %s", gz_path);
    else
        rc = mv_paraphrase_stream(gz_path, filter_entry, &f, why, why_len);
    if (rc == 0) {
        p->n = f.ro.n - 1;
        p->ref_off = f.ro.v;
        p->ref = f.rw.v;
        p->par_off = f.po.v;
        p->par = f.pw.v;
        return 0;
    }
    free(f.ro.v);
    free(f.rw.v);
    free(f.po.v);
    free(f.pw.v);
    return -1;
}
