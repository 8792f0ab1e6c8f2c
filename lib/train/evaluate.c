/* Validation during training: reports generated for the val split (greedy,
 * or the config's beam search, through mrg_generate_batch) and the scores
 * (BLEU-4, CIDEr, finding F1) that choose the best checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "mrg/dist.h"
#include "mrg/generate.h"
#include "mrg/evaluate.h"
#include "train/train_internal.h"

mrg_gen_opts mrg_eval_gen_opts(const mrg_model_config *cfg, bool beam) {
    mrg_gen_opts g = mrg_gen_defaults();
    g.max_new = cfg->max_new;
    if (beam) {
        g.mode = cfg->beam > 1 ? MRG_GEN_BEAM : MRG_GEN_GREEDY;
        g.beam = cfg->beam > 1 ? cfg->beam : 1;
        g.repetition_penalty = cfg->repetition_penalty;
        g.length_penalty = cfg->length_penalty;
        g.min_new = cfg->min_new;
    } else {
        g.mode = MRG_GEN_GREEDY;
        g.beam = 1;
        g.repetition_penalty = 1.0f;
        g.length_penalty = 1.0f;
        g.min_new = 0;
    }
    return g;
}

mrg_status mrg_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                        mrg_progress *prog, mrg_eval_result *res) {
    return train_evaluate(m, ds, max_studies, gen, prog, res, NULL);
}

/* Scores preds[0..n) against refs (validation's settings: no METEOR). */
static mrg_status score(char **preds, char **refs, int n, mrg_eval_result *res) {
    const char *const **rr = malloc(sizeof(*rr) * (size_t)n);
    int *nr = malloc(sizeof(int) * (size_t)n);
    mrg_status st = rr && nr ? MRG_OK : mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
    for (int i = 0; !st && i < n; i++) {
        rr[i] = (const char *const *)&refs[i];
        nr[i] = 1;
    }
    mrg_eval_opts eo = {0};
    eo.no_meteor = true;
    if (!st) st = mrg_eval_scores((const char *const *)preds, rr, nr, n, &eo, &res->scores, NULL);
    free(rr);
    free(nr);
    return st;
}

static void show_validating(void *prog, int done, int total) {
    mrg_progress_phase((mrg_progress *)prog, "validating", done, total);
}

mrg_status train_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                          mrg_progress *prog, mrg_eval_result *res, const volatile sig_atomic_t *stop) {
    memset(res, 0, sizeof *res);
    int cap = mrg_dataset_size(ds);
    if (max_studies > 0 && max_studies < cap) cap = max_studies;
    if (cap <= 0) return mrg_error(MRG_ERR_INVALID_ARG, "evaluate: the split is empty");
    mrg_gen_opts g = gen ? *gen : mrg_eval_gen_opts(mrg_model_get_config(m), false);
    /* every rank generates its share; rank 0 scores and tells the others */
    mrg_split_gen how = {.on_batch = show_validating, .ctx = prog, .stop = stop};
    mrg_progress_phase(prog, "validating", 0, cap);
    char **preds = NULL;
    mrg_status st = mrg_generate_split(m, ds, cap, &g, &how, &preds);
    if (st) return st; /* MRG_END: abandoned (res->n stays 0) */
    int sv[2] = {0, 0};
    if (mrg_dist_rank() == 0) {
        char **refs = calloc((size_t)cap, sizeof(char *));
        st = refs ? MRG_OK : mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        for (int i = 0; !st && i < cap; i++) {
            const char *r = mrg_dataset_report(ds, i);
            refs[i] = (char *)(r ? r : "");
        }
        if (!st) st = score(preds, refs, cap, res);
        res->n = st ? 0 : cap;
        res->score = 0.5 * res->scores.bleu[3] + 0.5 * res->scores.cider;
        free(refs);
        sv[0] = (int)st;
    }
    mrg_reports_free(preds, cap);
    mrg_status cst = mrg_dist_bcast(sv, sizeof sv, 0);
    if (!cst) cst = mrg_dist_bcast(res, sizeof *res, 0);
    if (st) return st;
    if (cst) return cst;
    if (sv[0]) return mrg_error((mrg_status)sv[0], "evaluate: rank 0 could not score the validation (see its message)");
    return MRG_OK;
}
