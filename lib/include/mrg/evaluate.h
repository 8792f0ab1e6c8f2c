/* Validation of the report generator (lib/train/evaluate.c): generate for a
 * dataset split and score against its cleaned references. */
#ifndef MRG_EVALUATE_H
#define MRG_EVALUATE_H

#include <stdbool.h>

#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/metrics.h"
#include "mrg/model.h"
#include "mrg/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_eval_result {
    int n;
    mrg_scores scores;  /* BLEU, ROUGE-L, CIDEr, findings (METEOR skipped) */
    double score;       /* 0.5·BLEU-4 + 0.5·CIDEr */
} mrg_eval_result;

/* Generation options for validation: greedy (no penalties, up to the
 * config's max_new tokens), or with beam the config's beam search settings
 * (beam, repetition and length penalties, min/max new tokens). */
mrg_gen_opts mrg_eval_gen_opts(const mrg_model_config *cfg, bool beam);
/* Generates for every study of ds (one pass from its start; gen NULL:
 * greedy) and scores against the cleaned references. max_studies > 0
 * limits the count. prog (may be NULL) shows "validating k/n". */
mrg_status mrg_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                        mrg_progress *prog, mrg_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif
