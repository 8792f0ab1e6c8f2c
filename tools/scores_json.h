/* Score sets as JSON (the keys of `mrg eval --json`) and as a table. */
#ifndef MRG_TOOLS_SCORES_JSON_H
#define MRG_TOOLS_SCORES_JSON_H

#include <cjson/cJSON.h>

#include "mrg/metrics.h"

/* "positive", "negative" or "absent" */
const char *scores_label_name(mrg_finding_label l);
/* Adds BLEU_1..4, METEOR (null when NaN), ROUGE_L and CIDEr to o. */
void scores_add_json(cJSON *o, const double bleu[4], double meteor, double rouge, double cider);
/* The whole object of `mrg eval --json`: the scores, "findings", "n". */
cJSON *scores_to_json(const mrg_scores *s, int n);
/* Prints o (pretty) on stdout and frees it; 0 on success, 1 when o is
 * NULL or out of memory. */
int json_print(cJSON *o);
/* Prints scores_to_json on stdout; 0 on success. */
int scores_print_json(const mrg_scores *s, int n);
/* The human-readable table of `mrg eval`. */
void scores_print_table(const mrg_scores *s, int n);

#endif
