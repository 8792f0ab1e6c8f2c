#define _GNU_SOURCE /* glob() with GLOB_TILDE */
/* METEOR 1.5 public API: finding the resources, preparing the corpus
 * lexicon (normalized words, Java hashes, stems, synsets, paraphrases),
 * scoring each hypothesis against its best reference and aggregating the
 * statistics as the jar does for pycocoevalcap ("EVAL ||| stats ..."). */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics/meteor_internal.h"
#include "mrg/limits.h"
#include "mrg/metrics.h"

struct mrg_meteor {
    unsigned modules;
    char note[512];
    mv_synonyms syn;
    bool have_syn;
    char para_path[4200]; /* "" when paraphrases are off */
    int truncated;        /* sentences the last score call cut (mrg/limits.h) */
};

int32_t mv_java_hash(const char *s) {
    /* s.hashCode() = sum s[i]*31^(n-1-i) over UTF-16 units, in int32 arithmetic */
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p;
        int k = 0;
        if (c >= 0xF0 && c < 0xF8) { c &= 7; k = 3; }
        else if (c >= 0xE0 && c < 0xF0) { c &= 15; k = 2; }
        else if (c >= 0xC0 && c < 0xE0) { c &= 31; k = 1; }
        int ok = 1;
        /* stop at the first non-continuation byte: it may be the final NUL */
        for (int i = 1; ok && i <= k; i++) ok = (p[i] & 0xC0) == 0x80;
        if (!ok) k = 0, c = *p;
        for (int i = 1; i <= k; i++) c = (c << 6) | (p[i] & 0x3F);
        p += k + 1;
        if (c >= 0x10000) { /* surrogate pair */
            c -= 0x10000;
            h = h * 31u + (0xD800u + (c >> 10));
            h = h * 31u + (0xDC00u + (c & 0x3FF));
        } else {
            h = h * 31u + c;
        }
    }
    return (int32_t)h;
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}
static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The meteor/ folder of an installed pycocoevalcap (jar + data/), or "". */
static void find_pycocoevalcap(char *out, size_t cap) {
    static const char *const pats[] = {
        "/usr/lib/python3*/site-packages/pycocoevalcap/meteor",
        "/usr/lib/python3/dist-packages/pycocoevalcap/meteor",
        "/usr/local/lib/python3*/site-packages/pycocoevalcap/meteor",
        "/usr/local/lib/python3*/dist-packages/pycocoevalcap/meteor",
        "~/.local/lib/python3*/site-packages/pycocoevalcap/meteor",
        "~/.pyenv/versions/*/lib/python3*/site-packages/pycocoevalcap/meteor",
        "/opt/conda/lib/python3*/site-packages/pycocoevalcap/meteor",
        "~/miniconda3/lib/python3*/site-packages/pycocoevalcap/meteor",
        "~/anaconda3/lib/python3*/site-packages/pycocoevalcap/meteor",
        NULL};
    out[0] = 0;
    char pat[4096];
    const char *venv = getenv("VIRTUAL_ENV");
    for (int i = -1; pats[i + 1] || i < 0; i++) {
        if (i < 0) {
            if (!venv) continue;
            snprintf(pat, sizeof pat, "%s/lib/python3*/site-packages/pycocoevalcap/meteor", venv);
        } else {
            snprintf(pat, sizeof pat, "%s", pats[i]);
        }
        glob_t g;
        if (glob(pat, GLOB_TILDE | GLOB_NOSORT, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc && !out[0]; k++) {
                char jar[4200];
                snprintf(jar, sizeof jar, "%s/meteor-1.5.jar", g.gl_pathv[k]);
                if (is_file(jar)) snprintf(out, cap, "%s", g.gl_pathv[k]);
            }
            globfree(&g);
        }
        if (out[0]) return;
    }
}

static void add_note(mrg_meteor *m, const char *fmt, const char *a, const char *b) {
    size_t n = strlen(m->note);
    snprintf(m->note + n, sizeof m->note - n, fmt, n ? "; " : "", a, b);
}

mrg_meteor *mrg_meteor_open(const mrg_meteor_opts *opts) {
    static const mrg_meteor_opts none = {0};
    if (!opts) opts = &none;
    mrg_meteor *m = calloc(1, sizeof *m);
    if (!m) {
        mrg_error(MRG_ERR_OOM, "meteor: out of memory");
        return NULL;
    }
    m->modules = MRG_METEOR_EXACT | MRG_METEOR_STEM;
    char pyc[4096], path[4200], why[4400] = "";
    find_pycocoevalcap(pyc, sizeof pyc);

    /* paraphrases */
    const char *data = opts->meteor_data_dir;
    if (!data) data = getenv("MRG_METEOR_DATA");
    if (opts->no_paraphrases) {
        add_note(m, "%s%s%s", "paraphrase off (by request)", "");
    } else {
        path[0] = 0;
        if (data) {
            snprintf(path, sizeof path, "%s/paraphrase-en.gz", data);
            if (!is_file(path) && is_file(data)) snprintf(path, sizeof path, "%s", data);
        } else if (pyc[0]) {
            snprintf(path, sizeof path, "%s/data/paraphrase-en.gz", pyc);
        }
        if (path[0] && is_file(path)) {
            snprintf(m->para_path, sizeof m->para_path, "%s", path);
            m->modules |= MRG_METEOR_PARAPHRASE;
        } else if (data) {
            add_note(m, "%sparaphrase off: no paraphrase-en.gz in %s%s", data, "");
        } else {
            add_note(m, "%sparaphrase off: no paraphrase-en.gz found (give --meteor-data DIR%s%s)",
                     " or install pycocoevalcap", "");
        }
    }

    /* synonyms */
    const char *wn = opts->wordnet_dir;
    if (opts->no_synonyms) {
        add_note(m, "%s%s%s", "synonym off (by request)", "");
    } else {
        int r = -1;
        if (wn) {
            snprintf(path, sizeof path, "%s/english.synsets", wn);
            if (is_file(path))
                r = mv_synonyms_load_dir(&m->syn, wn, why, sizeof why);
            else if (is_file(wn))
                r = mv_synonyms_load_jar(&m->syn, wn, why, sizeof why);
            else if (is_dir(wn))
                r = mv_synonyms_load_wordnet(&m->syn, wn, why, sizeof why);
            else
                snprintf(why, sizeof why, "%s does not exist", wn);
        } else {
            /* the jar next to the paraphrase data, an installed pycocoevalcap, WordNet */
            r = -1;
            if (data) {
                snprintf(path, sizeof path, "%s/../meteor-1.5.jar", data);
                if (is_file(path)) r = mv_synonyms_load_jar(&m->syn, path, why, sizeof why);
            }
            if (r && pyc[0]) {
                snprintf(path, sizeof path, "%s/meteor-1.5.jar", pyc);
                r = mv_synonyms_load_jar(&m->syn, path, why, sizeof why);
            }
            if (r && is_dir("/usr/share/wordnet"))
                r = mv_synonyms_load_wordnet(&m->syn, "/usr/share/wordnet", why, sizeof why);
            if (r && !why[0])
                snprintf(why, sizeof why,
                         "no WordNet found (give --wordnet DIR, install pycocoevalcap or wordnet-base)");
        }
        if (r == 0) {
            m->have_syn = true;
            m->modules |= MRG_METEOR_SYNONYM;
        } else {
            add_note(m, "%ssynonym off: %s%s", why, "");
        }
    }
    return m;
}

void mrg_meteor_free(mrg_meteor *m) {
    if (!m) return;
    if (m->have_syn) mv_synonyms_free(&m->syn);
    free(m);
}

unsigned mrg_meteor_modules(const mrg_meteor *m) { return m ? m->modules : 0; }
const char *mrg_meteor_note(const mrg_meteor *m) { return m ? m->note : ""; }
int mrg_meteor_truncated(const mrg_meteor *m) { return m ? m->truncated : 0; }

/* Tokenizes a normalized line (StringTokenizer delimiters) into ids. */
static int to_sent(mv_vocab *v, const char *s, mv_sent *out) {
    mv_seq q;
    if (mv_split_ws(v, s, &q)) return -1; /* same delimiters after normalization */
    out->n = q.n;
    out->w = q.ids;
    return 0;
}

typedef struct lexbuf {
    mv_lex lex;
    mv_paraphrases para;
} lexbuf;

static void lex_free(lexbuf *b) {
    free(b->lex.hash);
    free(b->lex.stem);
    free(b->lex.function);
    free(b->lex.syn_off);
    free(b->lex.syn);
    free(b->lex.para_first);
    free(b->lex.para_next);
    mv_paraphrases_free(&b->para);
}

static mrg_status build_lex(mrg_meteor *m, const mv_vocab *v, lexbuf *b) {
    memset(b, 0, sizeof *b);
    mv_lex *L = &b->lex;
    int n = v->n;
    L->voc = v;
    L->modules = m->modules;
    L->hash = malloc((size_t)(n + 1) * sizeof *L->hash);
    L->stem = malloc((size_t)(n + 1) * sizeof *L->stem);
    L->function = calloc((size_t)n + 1, sizeof *L->function);
    L->syn_off = calloc((size_t)n + 2, sizeof *L->syn_off);
    if (!L->hash || !L->stem || !L->function || !L->syn_off) return MRG_ERR_OOM;
    char st[MV_STEM_MAX];
    for (int i = 0; i < n; i++) {
        L->hash[i] = mv_java_hash(v->words[i]);
        mv_stem_en(v->words[i], st);
        L->stem[i] = mv_java_hash(st);
        for (int k = 0; mv_function_words_en[k]; k++)
            if (!strcmp(v->words[i], mv_function_words_en[k])) L->function[i] = true;
    }
    if (m->modules & MRG_METEOR_SYNONYM) {
        int cap = 4096, used = 0;
        int32_t tmp[1024];
        L->syn = malloc((size_t)cap * sizeof *L->syn);
        if (!L->syn) return MRG_ERR_OOM;
        for (int i = 0; i < n; i++) {
            int k = mv_synonym_sets(&m->syn, v->words[i], tmp, 1024);
            if (used + k > cap) {
                cap = 2 * (used + k);
                int32_t *ns = realloc(L->syn, (size_t)cap * sizeof *ns);
                if (!ns) return MRG_ERR_OOM;
                L->syn = ns;
            }
            memcpy(L->syn + used, tmp, (size_t)k * sizeof *tmp);
            used += k;
            L->syn_off[i + 1] = used;
        }
    }
    if (m->modules & MRG_METEOR_PARAPHRASE) {
        char why[4400];
        if (mv_paraphrases_load(&b->para, m->para_path, v, why, sizeof why))
            return mrg_error(MRG_ERR_IO, "meteor: %s", why);
        L->para = &b->para;
        L->para_first = malloc((size_t)(n + 1) * sizeof *L->para_first);
        L->para_next = malloc((size_t)(b->para.n + 1) * sizeof *L->para_next);
        if (!L->para_first || !L->para_next) return MRG_ERR_OOM;
        for (int i = 0; i < n; i++) L->para_first[i] = -1;
        for (int e = b->para.n - 1; e >= 0; e--) { /* prepend in reverse: lists in file order */
            int w = b->para.ref[b->para.ref_off[e]];
            L->para_next[e] = L->para_first[w];
            L->para_first[w] = e;
        }
    }
    return MRG_OK;
}

mrg_status mrg_meteor_score(mrg_meteor *m, const char *const *preds,
                            const char *const *const *refs, const int *n_refs, int n,
                            double *corpus, double *per) {
    if (!m || !corpus) return mrg_error(MRG_ERR_INVALID_ARG, "meteor: NULL argument");
    mrg_status st = mv_check_args("meteor", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_vocab v;
    mv_vocab_init(&v);
    int total = 0;
    for (int i = 0; i < n; i++) total += 1 + n_refs[i];
    mv_sent *s = calloc((size_t)total, sizeof *s);
    lexbuf lb;
    memset(&lb, 0, sizeof lb);
    if (!s) {
        mv_vocab_free(&v);
        return mrg_error(MRG_ERR_OOM, "meteor: out of memory");
    }
    /* normalize every line (as the jar does with -norm) and intern its
     * words; the alignment's matches grow with the product of the lengths,
     * so sentences are cut to MRG_METEOR_MAX_WORDS words */
    m->truncated = 0;
    for (int i = 0, k = 0; i < n; i++)
        for (int r = -1; r < n_refs[i]; r++, k++) {
            char *norm = mv_meteor_normalize(r < 0 ? preds[i] : refs[i][r]);
            if (!norm || to_sent(&v, norm, &s[k])) {
                free(norm);
                st = mrg_error(MRG_ERR_OOM, "meteor: out of memory");
                goto done;
            }
            free(norm);
            if (s[k].n > MRG_METEOR_MAX_WORDS) {
                s[k].n = MRG_METEOR_MAX_WORDS;
                m->truncated++;
            }
        }
    st = build_lex(m, &v, &lb);
    if (st == MRG_ERR_OOM) st = mrg_error(MRG_ERR_OOM, "meteor: out of memory");
    if (st != MRG_OK) goto done;
    mv_stats agg;
    memset(&agg, 0, sizeof agg);
    for (int i = 0, k = 0; i < n; i++) {
        const mv_sent *t = &s[k];
        mv_stats best;
        best.score = -1;
        for (int r = 0; r < n_refs[i]; r++) {
            mv_stats cur;
            if (mv_meteor_align(&lb.lex, t, &s[k + 1 + r], &cur)) {
                st = mrg_error(MRG_ERR_OOM, "meteor: out of memory");
                goto done;
            }
            if (cur.score > best.score) best = cur;
        }
        if (per) per[i] = best.score;
        mv_meteor_add(&agg, &best);
        k += 1 + n_refs[i];
    }
    mv_meteor_compute(&agg);
    *corpus = agg.score;
done:
    lex_free(&lb);
    for (int i = 0; i < total; i++) free(s[i].w);
    free(s);
    mv_vocab_free(&v);
    return st;
}
