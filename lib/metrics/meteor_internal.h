/* METEOR 1.5 internals (lib/metrics/meteor*.c, snowball_en.c). The
 * behaviour follows the METEOR 1.5 jar as pycocoevalcap runs it:
 * `-l en -norm`, task "rank" parameters, modules exact, stem, synonym,
 * paraphrase. */
#ifndef MRG_METEOR_INTERNAL_H
#define MRG_METEOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics_internal.h"
#include "mrg/status.h"

#define MV_STEM_MAX 64

/* Snowball English stem of a lowercase word into out[MV_STEM_MAX]. */
void mv_stem_en(const char *word, char *out);

/* METEOR's English normalizer (Moses-style tokenization, keep punctuation)
 * followed by lowercasing. Returns a new string or NULL on OOM. */
char *mv_meteor_normalize(const char *line);

/* Built-in lists: English function words (METEOR) and nonbreaking prefixes
 * (Moses, as METEOR ships them). NULL-terminated. */
extern const char *const mv_function_words_en[];
/* prefix, numeric_only */
typedef struct mv_nbp {
    const char *prefix;
    bool numeric_only;
} mv_nbp;
extern const mv_nbp mv_nonbreaking_en[];

/* Java's String.hashCode() of a UTF-8 string (over UTF-16 code units):
 * METEOR compares words by it. */
int32_t mv_java_hash(const char *s);

/* Synonyms: word -> synset ids, plus the exception forms (form -> bases). */
typedef struct mv_synonyms {
    mv_vocab words;  /* words with synsets */
    int *set_off;    /* [words.n + 1] offsets into sets */
    int32_t *sets;
    mv_vocab forms;  /* exception forms */
    int *base_off;   /* [forms.n + 1] offsets into bases */
    int *bases;      /* ids into words (or -1 when the base has no synsets) */
} mv_synonyms;

/* The paraphrase entries that can matter for a vocabulary: phrase words as
 * ids of the corpus vocabulary. Entry e: ref words ref[ref_off[e]..ref_off[e+1]),
 * paraphrase words par[par_off[e]..). In file order. */
typedef struct mv_paraphrases {
    int n;
    int *ref_off, *ref, *par_off, *par;
} mv_paraphrases;

/* Loads the synonym files (english.synsets / english.exceptions) from a
 * directory, a METEOR jar, or a WordNet 3.0 database directory. */
int mv_synonyms_load_dir(mv_synonyms *s, const char *dir, char *why, int why_len);
int mv_synonyms_load_jar(mv_synonyms *s, const char *jar, char *why, int why_len);
int mv_synonyms_load_wordnet(mv_synonyms *s, const char *dir, char *why, int why_len);
void mv_synonyms_free(mv_synonyms *s);
/* Synset ids of a word: getSynSets(word) ∪ getStemSynSets(word); returns
 * the count written to out (at most cap; duplicates removed). */
int mv_synonym_sets(const mv_synonyms *s, const char *word, int32_t *out, int cap);

/* A word of a line: s[0..len). */
typedef struct mv_span {
    const char *s;
    int len;
} mv_span;

/* Phrases of more words are skipped (as the jar's 64-word buffers would). */
#define MV_PHRASE_MAX_WORDS 64

/* Called for each entry of the table (1..MV_PHRASE_MAX_WORDS words on each
 * side), in file order; non-zero stops the stream (out of memory). */
typedef int (*mv_paraphrase_fn)(void *ctx, const mv_span *ref, int nref, const mv_span *par,
                                int npar);
/* Streams paraphrase-en.gz (lines: probability, phrase, paraphrase). 0, or
 * -1 with why (unreadable, not gzip, truncated, out of memory). */
int mv_paraphrase_stream(const char *gz_path, mv_paraphrase_fn fn, void *ctx, char *why,
                         int why_len);
/* Streams paraphrase-en.gz and keeps the entries whose words are all in voc
 * (file order). The slow path: mv_para_index_select gives the same lists. */
int mv_paraphrases_load(mv_paraphrases *p, const char *gz_path, const mv_vocab *voc, char *why,
                        int why_len);
void mv_paraphrases_free(mv_paraphrases *p);

/* The whole paraphrase table as a compact index (meteor_para_index.c):
 * its words, and its entries grouped by the first word of the reference
 * phrase, in file order within a group. Built once from paraphrase-en.gz
 * and cached on disk (memory-mapped after that). */
typedef struct mv_para_index mv_para_index;
/* The index of the table at gz_path: a valid cached one (same size, mtime
 * and content sample as the table), else built from the table and written
 * atomically to the first writable cache place (see the .c file); when
 * none is writable the built index is used from memory. rebuild: ignore
 * the cached files (one was found corrupt) and overwrite them. NULL with
 * why when the table cannot be read. */
mv_para_index *mv_para_index_open(const char *gz_path, int rebuild, char *why, int why_len);
void mv_para_index_close(mv_para_index *x);
/* Where an index for gz_path is looked for, in order (cache_dir/NAME, then
 * beside the table): writes up to two paths; returns how many. */
int mv_para_index_paths(const char *gz_path, char paths[2][4200]);
/* The entries whose words are all in voc, as mv_paraphrases_load gives
 * them except that they come grouped by first word (the order the aligner
 * sees is the same: file order among the entries of one first word).
 * 0; -1 out of memory; -2 the index is corrupt (why says where). */
int mv_para_index_select(const mv_para_index *x, const mv_vocab *voc, mv_paraphrases *out,
                         char *why, int why_len);
/* Whether x came from a file (1) or was built in this process (0). */
int mv_para_index_mapped(const mv_para_index *x);

/* Reads one member of a zip (jar) file into a new NUL-terminated buffer. */
char *mv_zip_read(const char *zip_path, const char *member, long *len);

/* METEOR statistics of one (hypothesis, reference) alignment. */
typedef struct mv_stats {
    double test_len, ref_len, test_fn, ref_fn;
    double test_content[4], ref_content[4], test_function[4], ref_function[4];
    double chunks, test_word_matches, ref_word_matches;
    double test_total, ref_total;
    double score;
} mv_stats;

/* A normalized sentence as word ids (corpus vocabulary) with per-word data. */
typedef struct mv_sent {
    int n;
    int *w;          /* word ids */
} mv_sent;

/* Everything the aligner needs about the corpus vocabulary. */
typedef struct mv_lex {
    const mv_vocab *voc;
    int32_t *hash;   /* [voc->n] Java hash of each word */
    int32_t *stem;   /* [voc->n] Java hash of its stem (when stem is on) */
    bool *function;  /* [voc->n] */
    int *syn_off;    /* [voc->n + 1] synset ids per word (when synonyms are on) */
    int32_t *syn;
    const mv_paraphrases *para; /* NULL when off */
    /* The entries by reference phrase (built in meteor.c, read by the
     * aligner): phr_slots is an open-addressing table (phr_nslots, a power
     * of 2) of the first entry of each distinct reference phrase, keyed by
     * mv_hash of its word ids; phr_next chains the entries with the same
     * phrase in file order; para_maxlen[w] is the longest reference phrase
     * that starts with word w (0: none). */
    int *phr_slots;
    size_t phr_nslots;
    int *phr_next;
    int *para_maxlen;
    unsigned modules;
} mv_lex;

/* Aligns test (hypothesis) to ref and fills the statistics and score. */
int mv_meteor_align(const mv_lex *lex, const mv_sent *test, const mv_sent *ref, mv_stats *out);
/* METEOR's computeMetrics on (possibly summed) statistics. */
void mv_meteor_compute(mv_stats *s);
/* MeteorStats.addStats. */
void mv_meteor_add(mv_stats *acc, const mv_stats *s);

/* The statistics of each study's best alignment (the reference with the
 * highest segment score, the first of equals) into best[0..n). */
typedef struct mrg_meteor mrg_meteor;
mrg_status mv_meteor_segments(mrg_meteor *m, const char *const *preds,
                              const char *const *const *refs, const int *n_refs, int n,
                              mv_stats *best);
/* Corpus METEOR of the sample best[idx[0..m)] (idx NULL: best[0..m)):
 * the jar's aggregate over the summed statistics. */
double mv_meteor_corpus(const mv_stats *best, const int *idx, int m);

#endif
