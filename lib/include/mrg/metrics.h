/* Report-generation scores: BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr and the
 * finding labeler's precision / recall / F1 — the numbers pycocoevalcap
 * gives when used as R2Gen / R2GenGPT use it (no PTB tokenizer; see
 * ../shared/REFERENCE.md "Scores"), without Python or Java.
 *
 * Inputs: n predictions preds[i] and, for each, n_refs[i] >= 1 references
 * refs[i][0..n_refs[i]). Strings are scored as given (opts->clean applies
 * the R2Gen IU cleaning first). Corpus-level CIDEr uses document
 * frequencies from the references of exactly this set, so scores on
 * different subsets are not comparable (as in pycocoevalcap). */
#ifndef MRG_METRICS_H
#define MRG_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/status.h"
#include "mrg/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- METEOR 1.5 (English, "-norm", as pycocoevalcap runs the jar) ------ */

/* Matching modules (bit flags); exact is always on. */
enum {
    MRG_METEOR_EXACT = 1,
    MRG_METEOR_STEM = 2,       /* Snowball English stemmer, built in */
    MRG_METEOR_SYNONYM = 4,    /* WordNet synsets */
    MRG_METEOR_PARAPHRASE = 8, /* paraphrase-en.gz */
};

typedef struct mrg_meteor_opts {
    /* WordNet: a directory with METEOR's synonym files (english.synsets,
     * english.exceptions, english.relations), a meteor-1.5.jar, or a
     * WordNet 3.0 database (index.noun, data.noun, ..., noun.exc, ...).
     * NULL: the jar of an installed pycocoevalcap, then /usr/share/wordnet
     * (Debian's wordnet-base, which tools/install-deps.sh installs); both
     * give the same synonyms. */
    const char *wordnet_dir;
    /* A directory with paraphrase-en.gz (or the file itself). NULL:
     * MRG_METEOR_DATA, then /usr/local/share/mrg/meteor and
     * /usr/share/mrg/meteor (where tools/install-deps.sh puts it), then an
     * installed pycocoevalcap's meteor/data. The table is indexed on first
     * use into $XDG_CACHE_HOME/mrg (else ~/.cache/mrg, else beside the
     * table) and memory-mapped after that. */
    const char *meteor_data_dir;
    bool no_synonyms, no_paraphrases; /* turn modules off on purpose */
} mrg_meteor_opts;

typedef struct mrg_meteor mrg_meteor;

/* Finds and reads the resources. Missing data never fails: the module is
 * switched off and mrg_meteor_note() says so. NULL only on out of memory
 * or an unreadable/corrupt file that was given explicitly. */
mrg_meteor *mrg_meteor_open(const mrg_meteor_opts *opts);
void mrg_meteor_free(mrg_meteor *m);
/* MRG_METEOR_* bits of the modules in use. */
unsigned mrg_meteor_modules(const mrg_meteor *m);
/* "" when every module is on, else e.g. "paraphrase off: no paraphrase-en.gz found (...)". */
const char *mrg_meteor_note(const mrg_meteor *m);
/* Corpus METEOR (the jar's aggregate over summed statistics) and, when per
 * is not NULL, the segment scores per[i]. A hypothesis or reference longer
 * than MRG_METEOR_MAX_WORDS words (mrg/limits.h) is scored on its first
 * MRG_METEOR_MAX_WORDS words; mrg_meteor_truncated() counts them. */
mrg_status mrg_meteor_score(mrg_meteor *m, const char *const *preds,
                            const char *const *const *refs, const int *n_refs, int n,
                            double *corpus, double *per);
/* Sentences (hypotheses and references) the last mrg_meteor_score call cut
 * to MRG_METEOR_MAX_WORDS words. */
int mrg_meteor_truncated(const mrg_meteor *m);

/* ---- the single scorers ------------------------------------------------- */

/* BLEU-1..4, option "closest"; per (NULL or n rows) gets the per-sentence values. */
mrg_status mrg_bleu(const char *const *preds, const char *const *const *refs, const int *n_refs,
                    int n, double out[4], double (*per)[4]);
/* ROUGE-L (β = 1.2, tokens from split(" ")), mean over the corpus. */
mrg_status mrg_rouge_l(const char *const *preds, const char *const *const *refs,
                       const int *n_refs, int n, double *out, double *per);
/* CIDEr (pycocoevalcap "Cider": n 1..4, σ 6, df from these references). */
mrg_status mrg_cider(const char *const *preds, const char *const *const *refs, const int *n_refs,
                     int n, double *out, double *per);

/* ---- everything at once ------------------------------------------------- */

typedef struct mrg_eval_opts {
    bool clean;       /* apply mrg_clean_report_iu to predictions and references */
    bool no_meteor;   /* skip METEOR (scores.meteor = NaN) */
    bool no_findings; /* skip the finding labeler */
    /* Resources for METEOR. When meteor is not NULL it is used (and kept:
     * callers that score repeatedly open it once); else one is opened
     * from meteor_opts for this call. */
    mrg_meteor *meteor;
    mrg_meteor_opts meteor_opts;
} mrg_eval_opts;

typedef struct mrg_scores {
    double bleu[4];
    double meteor; /* NaN when not computed */
    double rouge_l;
    double cider;
    unsigned meteor_modules; /* MRG_METEOR_* bits used (0 when not computed) */
    char meteor_note[256];   /* which METEOR modules were off and why, or "" */
    int meteor_truncated;    /* sentences METEOR cut to MRG_METEOR_MAX_WORDS words */
    bool has_findings;
    mrg_finding_scores findings; /* against the first reference of each report */
} mrg_scores;

typedef struct mrg_report_scores {
    double bleu[4], meteor, rouge_l, cider;
    mrg_finding_label pred_labels[MRG_N_FINDINGS], ref_labels[MRG_N_FINDINGS];
} mrg_report_scores;

/* Scores n >= 1 predictions against their references. per_report is NULL or
 * n entries to fill. opts may be NULL (all metrics, no cleaning). */
mrg_status mrg_eval_scores(const char *const *preds, const char *const *const *refs,
                           const int *n_refs, int n, const mrg_eval_opts *opts,
                           mrg_scores *out, mrg_report_scores *per_report);

/* ---- samples of the studies: bootstrap intervals, paired comparisons ---- */

/* Per-study sufficient statistics of one scored set (BLEU's n-gram counts,
 * ROUGE-L per study, CIDEr's n-gram tables, METEOR's alignment statistics,
 * the finding labels): enough to score any sample of its studies exactly
 * as mrg_eval_scores would score that sample's texts, without aligning or
 * labelling again. In a sample a study may repeat; each copy counts as a
 * study of its own (for CIDEr a document of its own in the document
 * frequencies, as when pycocoevalcap is given the copies under new ids). */
typedef struct mrg_eval_stats mrg_eval_stats;

/* The statistics of n predictions against their references (arguments as
 * mrg_eval_scores; opts may be NULL). */
mrg_status mrg_eval_stats_build(const char *const *preds, const char *const *const *refs,
                                const int *n_refs, int n, const mrg_eval_opts *opts,
                                mrg_eval_stats **out);
void mrg_eval_stats_free(mrg_eval_stats *s);
/* Number of studies. */
int mrg_eval_stats_count(const mrg_eval_stats *s);
/* Corpus scores of the sample idx[0..m) (0 <= idx[k] < count); idx NULL:
 * every study once, in order, which equals mrg_eval_scores bit for bit.
 * Uses scratch memory inside s: one thread per s at a time. */
mrg_status mrg_eval_stats_score(mrg_eval_stats *s, const int *idx, int m, mrg_scores *out);

/* The scores of all studies (as mrg_eval_scores) and, when per_report is
 * not NULL, each study's own scores and labels (count entries). */
mrg_status mrg_eval_stats_per_report(mrg_eval_stats *s, mrg_scores *out,
                                     mrg_report_scores *per_report);

/* The scores as one vector: BLEU_1..4, METEOR, ROUGE_L, CIDEr, the macro
 * finding precision / recall / F1, then precision / recall / F1 of each
 * finding (NaN for what was not computed). */
enum {
    MRG_METRIC_BLEU_1 = 0, /* .. MRG_METRIC_BLEU_1 + 3 = BLEU_4 */
    MRG_METRIC_METEOR = 4,
    MRG_METRIC_ROUGE_L = 5,
    MRG_METRIC_CIDER = 6,
    MRG_METRIC_MACRO = 7,   /* + 0 precision, + 1 recall, + 2 F1 */
    MRG_METRIC_FINDING = 10, /* + 3 * finding + (0 precision, 1 recall, 2 F1) */
    MRG_N_METRICS = MRG_METRIC_FINDING + 3 * MRG_N_FINDINGS
};
void mrg_scores_vector(const mrg_scores *s, double v[MRG_N_METRICS]);
/* "BLEU_1", ..., "CIDEr", "findings.macro.f1", "findings.cardiomegaly.precision", ... */
const char *mrg_metric_key(int k);

/* Resample b (b = 0, 1, ...) of a bootstrap over n studies: idx[0..n)
 * drawn uniformly from 0..n-1 with replacement, a function of (seed, b)
 * only (splitmix64; the same on every machine). */
void mrg_bootstrap_indices(uint64_t seed, int b, int n, int *idx);

/* Percentile bootstrap: the metric vector of each of the n_resamples
 * resamples of mrg_bootstrap_indices(seed, b, n, .), and per metric the
 * (1-level)/2 and (1+level)/2 quantiles of those values (linear
 * interpolation between order statistics, numpy's default). NaN where the
 * metric was not computed. */
mrg_status mrg_eval_bootstrap(mrg_eval_stats *s, int n_resamples, uint64_t seed, double level,
                              double low[MRG_N_METRICS], double high[MRG_N_METRICS]);

/* Paired bootstrap of two systems scored on the same studies in the same
 * order: each resample draws the same studies for both, d = b - a per
 * metric. diff_low / diff_high: the percentile interval of d (as above);
 * p: the two-sided p-value of "no difference",
 * min(1, 2 * (1 + min(#{d <= 0}, #{d >= 0})) / (n_resamples + 1)). */
mrg_status mrg_eval_bootstrap_paired(mrg_eval_stats *a, mrg_eval_stats *b, int n_resamples,
                                     uint64_t seed, double level, double diff_low[MRG_N_METRICS],
                                     double diff_high[MRG_N_METRICS], double p[MRG_N_METRICS]);

/* ---- {"id","report"} JSON-lines files (the `mrg eval` input) ------------ */

typedef struct mrg_report_set {
    int n;
    char **ids;     /* [n] */
    char ***texts;  /* [n][n_texts[i]]: "report", or every entry of "reports" */
    int *n_texts;   /* [n] */
    int *line;      /* [n] 1-based line numbers, for messages */
} mrg_report_set;

/* Reads a JSON-lines file: one object per non-blank line with a string "id"
 * and a string "report" or a non-empty array of strings "reports".
 * MRG_ERR_FORMAT (message with file:line) for malformed lines and
 * duplicate ids; MRG_ERR_IO when it cannot be read. */
mrg_status mrg_report_set_read(const char *path, mrg_report_set *out);
void mrg_report_set_free(mrg_report_set *s);
/* Index of id in s or -1. */
int mrg_report_set_find(const mrg_report_set *s, const char *id);

#ifdef __cplusplus
}
#endif
#endif
