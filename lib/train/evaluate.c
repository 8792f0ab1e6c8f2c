/* Validation during training: reports generated for the val split (greedy,
 * or the config's beam search, through mrg_generate_batch) and the scores
 * (BLEU-4, CIDEr, finding F1) that choose the best checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

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

mrg_status train_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                          mrg_progress *prog, mrg_eval_result *res, const volatile sig_atomic_t *stop) {
    memset(res, 0, sizeof *res);
    int cap = mrg_dataset_size(ds);
    if (max_studies > 0 && max_studies < cap) cap = max_studies;
    if (cap <= 0) return mrg_error(MRG_ERR_INVALID_ARG, "evaluate: the split is empty");
    char **preds = calloc((size_t)cap, sizeof(char *)), **refs = calloc((size_t)cap, sizeof(char *));
    if (!preds || !refs) {
        free(preds); free(refs);
        return mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
    }
    mrg_gen_opts g = gen ? *gen : mrg_eval_gen_opts(mrg_model_get_config(m), false);
    int n = 0;
    mrg_status st = mrg_dataset_seek(ds, 0, 0);
    mrg_progress_phase(prog, "validating", 0, cap);
    while (!st && n < cap) {
        if (stop && *stop) { st = MRG_END; break; } /* abandoned */
        mrg_batch b = {0};
        st = mrg_dataset_next(ds, &b);
        if (st == MRG_END) { st = MRG_OK; break; }
        if (st) break;
        char **p = calloc((size_t)b.B, sizeof(char *));
        st = p ? mrg_generate_batch(m, b.images, b.B, &g, p) : mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        for (int i = 0; i < b.B; i++) {
            if (!st && n < cap) {
                preds[n] = p[i];
                refs[n] = strdup(b.reports[i] ? b.reports[i] : "");
                n++;
                if (!refs[n - 1]) st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
            } else if (p) {
                free(p[i]);
            }
        }
        free(p);
        mrg_batch_free(&b);
        mrg_progress_phase(prog, "validating", n, cap);
    }
    if (!st && n == 0) st = mrg_error(MRG_ERR_INVALID_ARG, "evaluate: no studies");
    if (!st) {
        const char *const **rr = malloc(sizeof(*rr) * (size_t)n);
        int *nr = malloc(sizeof(int) * (size_t)n);
        if (!rr || !nr) st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        for (int i = 0; !st && i < n; i++) {
            rr[i] = (const char *const *)&refs[i];
            nr[i] = 1;
        }
        mrg_eval_opts eo = {0};
        eo.no_meteor = true;
        if (!st)
            st = mrg_eval_scores((const char *const *)preds, rr, nr, n, &eo, &res->scores, NULL);
        free(rr); free(nr);
    }
    res->n = st == MRG_END ? 0 : n;
    res->score = 0.5 * res->scores.bleu[3] + 0.5 * res->scores.cider;
    for (int i = 0; i < n; i++) { free(preds[i]); free(refs[i]); }
    free(preds); free(refs);
    return st;
}
