/* What `mrg eval` prints beyond the plain scores (tools/scores_json.c):
 * bootstrap intervals of one run, and the comparison of several runs
 * (mean ± standard deviation, the paired bootstrap of two). */
#ifndef MRG_TOOLS_EVAL_REPORT_H
#define MRG_TOOLS_EVAL_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "mrg/metrics.h"

typedef struct eval_boot {
    int resamples; /* 0: no bootstrap */
    uint64_t seed;
    double level;
} eval_boot;

/* scores_to_json(s, n) with "KEY_ci": [low, high] beside every metric KEY
 * (findings: "precision_ci", "recall_ci", "f1_ci" in each finding) when
 * low/high are given, and "bootstrap": {resamples, seed, level}. */
cJSON *eval_run_json(const mrg_scores *s, int n, const double *low, const double *high,
                     const eval_boot *b);
/* The table of scores_print_table with an interval column. */
void eval_print_run_table(const mrg_scores *s, int n, const double *low, const double *high,
                          const eval_boot *b);

typedef struct eval_runs {
    int n_runs, n;
    const char *const *paths;    /* [n_runs] the prediction files */
    const mrg_scores *scores;    /* [n_runs] */
    const double (*low)[MRG_N_METRICS], (*high)[MRG_N_METRICS]; /* [n_runs] or NULL */
    bool paired;                 /* two runs: run 2 - run 1 */
    double diff_low[MRG_N_METRICS], diff_high[MRG_N_METRICS], p[MRG_N_METRICS];
    eval_boot boot;              /* the resamples of the intervals and the paired test */
} eval_runs;

/* {"runs": [...], "n", "mean", "sd", "paired", "bootstrap"} (see mrg eval --help). */
cJSON *eval_runs_json(const eval_runs *r);
void eval_print_runs_table(const eval_runs *r);


#endif
