/* METEOR 1.5 internals (lib/metrics/meteor*.c, snowball_en.c). The
 * behaviour follows the METEOR 1.5 jar as pycocoevalcap runs it:
 * `-l en -norm`, task "rank" parameters, modules exact, stem, synonym,
 * paraphrase. */
#ifndef MRG_METEOR_INTERNAL_H
#define MRG_METEOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics_internal.h"

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

/* Streams paraphrase-en.gz and keeps the entries whose words are all in voc. */
int mv_paraphrases_load(mv_paraphrases *p, const char *gz_path, const mv_vocab *voc, char *why,
                        int why_len);
void mv_paraphrases_free(mv_paraphrases *p);

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
    int *para_first; /* per word: entries (by first ref word) linked lists, see meteor_align.c */
    int *para_next;
    unsigned modules;
} mv_lex;

/* Aligns test (hypothesis) to ref and fills the statistics and score. */
int mv_meteor_align(const mv_lex *lex, const mv_sent *test, const mv_sent *ref, mv_stats *out);
/* METEOR's computeMetrics on (possibly summed) statistics. */
void mv_meteor_compute(mv_stats *s);
/* MeteorStats.addStats. */
void mv_meteor_add(mv_stats *acc, const mv_stats *s);

#endif
