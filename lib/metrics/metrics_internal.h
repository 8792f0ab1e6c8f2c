/* Internal helpers shared by the scorers in lib/metrics: word interning and
 * the two Python tokenizations the pycocoevalcap scorers use. */
#ifndef MRG_METRICS_INTERNAL_H
#define MRG_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Interned strings: each distinct word gets a dense id 0, 1, 2, ... */
typedef struct mv_vocab {
    char **words;  /* [n] NUL-terminated copies */
    uint64_t *hashes; /* [n] hash of each word (probes compare it first) */
    int *lens;     /* [n] */
    int n, cap;
    int *slots;    /* open addressing, -1 = empty; size nslots (power of 2) */
    size_t nslots;
} mv_vocab;

void mv_vocab_init(mv_vocab *v);
void mv_vocab_free(mv_vocab *v);
/* Id of s[0..len), interned on first sight; -1 when out of memory. */
int mv_vocab_id(mv_vocab *v, const char *s, size_t len);
/* Id or -1 when absent (never inserts). */
int mv_vocab_find(const mv_vocab *v, const char *s, size_t len);

/* A token sequence (word ids). */
typedef struct mv_seq {
    int *ids;
    int n;
} mv_seq;

/* Python's s.split(): runs of whitespace separate, no empty tokens.
 * Python's s.split(" "): single spaces separate, empty tokens kept.
 * Both return 0, or -1 when out of memory (seq left empty). */
int mv_split_ws(mv_vocab *v, const char *s, mv_seq *out);
int mv_split_space(mv_vocab *v, const char *s, mv_seq *out);
void mv_seq_free(mv_seq *s);

/* Python's str.isspace() for one ASCII byte. */
int mv_py_space(unsigned char c);

/* 64-bit FNV-1a, the hash of every table here. */
uint64_t mv_hash(const void *p, size_t n, uint64_t h);
#define MV_HASH_SEED 1469598103934665603ull


/* ---- n-grams (n <= 4) of word ids, interned to dense ids ---------------- */
typedef struct mv_ngrams {
    int32_t (*keys)[5]; /* [id] = {n, w1, w2, w3, w4} (unused words 0) */
    int n, cap;
    int *slots;
    size_t nslots;
} mv_ngrams;

typedef struct mv_count {
    int id;    /* n-gram id */
    int count; /* occurrences in the sentence */
} mv_count;

void mv_ngrams_init(mv_ngrams *t);
void mv_ngrams_free(mv_ngrams *t);
static inline int mv_ngram_order(const mv_ngrams *t, int id) { return t->keys[id][0]; }
/* Every 1..maxn-gram of s with its count, sorted by id (malloc'd, *out may
 * be NULL when s is empty). 0 or -1 when out of memory. */
int mv_ngram_counts(mv_ngrams *t, const mv_seq *s, int maxn, mv_count **out, int *nout);

/* Checks the common scorer arguments; sets the error and returns non-OK. */
#include "mrg/status.h"
mrg_status mv_check_args(const char *what, const char *const *preds,
                         const char *const *const *refs, const int *n_refs, int n);

/* ---- per-study statistics, for scoring any sample of the studies -------- */

/* BLEU's counts of one hypothesis (pycocoevalcap's BleuScorer, "closest"). */
typedef struct mv_bleu_counts {
    double correct[4], guess[4], testlen, reflen;
} mv_bleu_counts;
/* Counts of each of the n studies into out[n]. */
mrg_status mv_bleu_counts_of(const char *const *preds, const char *const *const *refs,
                             const int *n_refs, int n, mv_bleu_counts *out);
/* BLEU-1..4 of summed counts. */
void mv_bleu_from_counts(const double correct[4], const double guess[4], double testlen,
                         double reflen, double out[4]);
/* Corpus BLEU of the sample c[idx[0..m)] (idx NULL: c[0..m) in order). */
void mv_bleu_corpus(const mv_bleu_counts *c, const int *idx, int m, double out[4]);

/* CIDEr's n-gram tables of every sentence; a sample's document
 * frequencies are recomputed from them (mv_cider_sample). */
typedef struct mv_cider_vec {
    mv_count *c; /* sorted n-gram counts */
    int nc;
    double *w;   /* [nc] tf-idf weights (of the last sample) */
    double norm[4];
    int length;  /* number of bigrams, pycocoevalcap's "length" */
} mv_cider_vec;

typedef struct mv_cider_data {
    mv_vocab voc;
    mv_ngrams ng;
    int n, nv;
    int *first;   /* [n + 1]: study i's hypothesis is v[first[i]], its references follow */
    mv_cider_vec *v;
    int *uni_off, *uni; /* study i's distinct reference n-grams: uni[uni_off[i]..uni_off[i+1]) */
    /* scratch of mv_cider_sample */
    int *mult, *df;
    double *logdf, *score;
} mv_cider_data;

mrg_status mv_cider_prepare(const char *const *preds, const char *const *const *refs,
                            const int *n_refs, int n, mv_cider_data *d);
/* CIDEr of the sample idx[0..m) (idx NULL: every study in order), as
 * pycocoevalcap computes it on that sample, each copy of a study a
 * separate document; per (NULL or m values) gets the per-position scores. */
mrg_status mv_cider_sample(mv_cider_data *d, const int *idx, int m, double *out, double *per);
void mv_cider_free(mv_cider_data *d);

#endif
