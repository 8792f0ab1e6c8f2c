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

#include "core/files.h"
#include "metrics/meteor_internal.h"
#include "mrg/limits.h"
#include "mrg/metrics.h"

struct mrg_meteor {
    unsigned modules;
    char note[512];
    mv_synonyms syn;
    bool have_syn;
    char para_path[4200]; /* "" when paraphrases are off */
    mv_para_index *para_index; /* opened at the first score call */
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
                if (mrg_is_file(jar)) snprintf(out, cap, "%s", g.gl_pathv[k]);
            }
            globfree(&g);
        }
        if (out[0]) return;
    }
}

/* Where tools/install-deps.sh puts METEOR's data (paraphrase-en.gz). */
static const char *const installed_data_dirs[] = {"/usr/local/share/mrg/meteor", "/usr/share/mrg/meteor",
                                                  NULL};

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
            if (!mrg_is_file(path) && mrg_is_file(data)) snprintf(path, sizeof path, "%s", data);
        } else {
            for (int i = 0; installed_data_dirs[i] && !mrg_is_file(path); i++)
                snprintf(path, sizeof path, "%s/paraphrase-en.gz", installed_data_dirs[i]);
            if (!mrg_is_file(path) && pyc[0]) snprintf(path, sizeof path, "%s/data/paraphrase-en.gz", pyc);
        }
        if (path[0] && mrg_is_file(path)) {
            snprintf(m->para_path, sizeof m->para_path, "%s", path);
            m->modules |= MRG_METEOR_PARAPHRASE;
        } else if (data) {
            add_note(m, "%sparaphrase off: no paraphrase-en.gz in %s%s", data, "");
        } else {
            add_note(m, "%sparaphrase off: no paraphrase-en.gz found (run tools/install-deps.sh, "
                        "give --meteor-data DIR%s%s)",
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
            if (mrg_is_file(path))
                r = mv_synonyms_load_dir(&m->syn, wn, why, sizeof why);
            else if (mrg_is_file(wn))
                r = mv_synonyms_load_jar(&m->syn, wn, why, sizeof why);
            else if (mrg_is_dir(wn))
                r = mv_synonyms_load_wordnet(&m->syn, wn, why, sizeof why);
            else
                snprintf(why, sizeof why, "%s does not exist", wn);
        } else {
            /* the jar next to the paraphrase data, an installed pycocoevalcap, WordNet */
            r = -1;
            if (data) {
                snprintf(path, sizeof path, "%s/../meteor-1.5.jar", data);
                if (mrg_is_file(path)) r = mv_synonyms_load_jar(&m->syn, path, why, sizeof why);
            }
            if (r && pyc[0]) {
                snprintf(path, sizeof path, "%s/meteor-1.5.jar", pyc);
                r = mv_synonyms_load_jar(&m->syn, path, why, sizeof why);
            }
            if (r && mrg_is_dir("/usr/share/wordnet"))
                r = mv_synonyms_load_wordnet(&m->syn, "/usr/share/wordnet", why, sizeof why);
            if (r && !why[0])
                snprintf(why, sizeof why,
                         "no WordNet found (run tools/install-deps.sh, give --wordnet DIR, or install "
                         "wordnet-base or pycocoevalcap)");
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
    mv_para_index_close(m->para_index);
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
    free(b->lex.phr_slots);
    free(b->lex.phr_next);
    free(b->lex.para_maxlen);
    mv_paraphrases_free(&b->para);
}

/* The reference-phrase table of mv_lex (see meteor_internal.h). Entries
 * come grouped by first word, in file order within a group, so appending
 * each entry to its phrase's chain keeps every chain in file order. */
static int index_phrases(mv_lex *L, const mv_paraphrases *p, int n_words) {
    size_t ns = 16;
    while (ns < 2 * (size_t)p->n + 2) ns *= 2;
    int *tail = malloc((size_t)(p->n + 1) * sizeof *tail); /* [head entry] last entry of its chain */
    L->phr_slots = malloc(ns * sizeof *L->phr_slots);
    L->phr_next = malloc((size_t)(p->n + 1) * sizeof *L->phr_next);
    L->para_maxlen = calloc((size_t)n_words + 1, sizeof *L->para_maxlen);
    if (!tail || !L->phr_slots || !L->phr_next || !L->para_maxlen) {
        free(tail);
        return -1;
    }
    L->phr_nslots = ns;
    for (size_t i = 0; i < ns; i++) L->phr_slots[i] = -1;
    for (int e = 0; e < p->n; e++) {
        const int *w = p->ref + p->ref_off[e];
        int len = p->ref_off[e + 1] - p->ref_off[e];
        if (len > L->para_maxlen[w[0]]) L->para_maxlen[w[0]] = len;
        L->phr_next[e] = -1;
        size_t i = (size_t)mv_hash(w, (size_t)len * sizeof *w, MV_HASH_SEED) & (ns - 1);
        for (;; i = (i + 1) & (ns - 1)) {
            int h = L->phr_slots[i];
            if (h < 0) {
                L->phr_slots[i] = tail[e] = e;
                break;
            }
            if (p->ref_off[h + 1] - p->ref_off[h] == len &&
                !memcmp(p->ref + p->ref_off[h], w, (size_t)len * sizeof *w)) {
                L->phr_next[tail[h]] = e;
                tail[h] = e;
                break;
            }
        }
    }
    free(tail);
    return 0;
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
        /* the table's compact index, built and cached on first use; one
         * found corrupt is rebuilt */
        int r = -2;
        for (int attempt = 0; attempt < 2 && r == -2; attempt++) {
            if (!m->para_index && !(m->para_index = mv_para_index_open(m->para_path, attempt, why, sizeof why)))
                return mrg_error(MRG_ERR_IO, "meteor: %s", why);
            if ((r = mv_para_index_select(m->para_index, v, &b->para, why, sizeof why)) == -2) {
                mv_para_index_close(m->para_index);
                m->para_index = NULL;
            }
        }
        if (r == -1) return MRG_ERR_OOM;
        if (r) return mrg_error(MRG_ERR_IO, "meteor: %s (%s)", why, m->para_path);
        L->para = &b->para;
        if (index_phrases(L, &b->para, n)) return MRG_ERR_OOM;
    }
    return MRG_OK;
}

mrg_status mv_meteor_segments(mrg_meteor *m, const char *const *preds,
                              const char *const *const *refs, const int *n_refs, int n,
                              mv_stats *best) {
    if (!m || !best) return mrg_error(MRG_ERR_INVALID_ARG, "meteor: NULL argument");
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
    for (int i = 0, k = 0; i < n; i++) {
        const mv_sent *t = &s[k];
        best[i].score = -1;
        for (int r = 0; r < n_refs[i]; r++) {
            mv_stats cur;
            if (mv_meteor_align(&lb.lex, t, &s[k + 1 + r], &cur)) {
                st = mrg_error(MRG_ERR_OOM, "meteor: out of memory");
                goto done;
            }
            if (cur.score > best[i].score) best[i] = cur;
        }
        k += 1 + n_refs[i];
    }
done:
    lex_free(&lb);
    for (int i = 0; i < total; i++) free(s[i].w);
    free(s);
    mv_vocab_free(&v);
    return st;
}

double mv_meteor_corpus(const mv_stats *best, const int *idx, int m) {
    mv_stats agg;
    memset(&agg, 0, sizeof agg);
    for (int k = 0; k < m; k++) mv_meteor_add(&agg, &best[idx ? idx[k] : k]);
    mv_meteor_compute(&agg);
    return agg.score;
}

mrg_status mrg_meteor_score(mrg_meteor *m, const char *const *preds,
                            const char *const *const *refs, const int *n_refs, int n,
                            double *corpus, double *per) {
    if (!m || !corpus) return mrg_error(MRG_ERR_INVALID_ARG, "meteor: NULL argument");
    mrg_status st = mv_check_args("meteor", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_stats *best = malloc((size_t)n * sizeof *best);
    if (!best) return mrg_error(MRG_ERR_OOM, "meteor: out of memory");
    if ((st = mv_meteor_segments(m, preds, refs, n_refs, n, best)) == MRG_OK) {
        for (int i = 0; per && i < n; i++) per[i] = best[i].score;
        *corpus = mv_meteor_corpus(best, NULL, n);
    }
    free(best);
    return st;
}
