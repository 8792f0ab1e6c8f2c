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

/* Validation shared by the ranks of a data-parallel job: rank r generates
 * batches r, r + N, r + 2N, ... (the same batches one process makes, so
 * the same reports), rank 0 puts the reports back in dataset order and
 * scores them, and every rank gets the result. */
static mrg_status evaluate_shared(mrg_model *m, mrg_dataset *ds, int cap, const mrg_gen_opts *g,
                                  mrg_progress *prog, mrg_eval_result *res) {
    const int ranks = mrg_dist_size(), rank = mrg_dist_rank(), bs = mrg_dataset_batch_size(ds);
    const int needed = (cap + bs - 1) / bs;
    char *mine = NULL;
    size_t used = 0, room = 0;
    mrg_status st = MRG_OK;
    mrg_progress_phase(prog, "validating", 0, cap);
    for (int k = rank; k < needed && !st; k += ranks) {
        mrg_batch b = {0};
        st = mrg_dataset_seek(ds, 0, k);
        if (!st) st = mrg_dataset_next(ds, &b);
        if (st == MRG_END) st = mrg_error(MRG_ERR_FORMAT, "evaluate: batch %d is missing", k);
        int n = b.B < cap - k * bs ? b.B : cap - k * bs;
        char **p = st ? NULL : calloc((size_t)(b.B > 0 ? b.B : 1), sizeof(char *));
        if (!st && !p) st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        if (!st) st = mrg_generate_batch(m, b.images, n, g, p);
        for (int i = 0; !st && i < n; i++) { /* "report\0" each */
            size_t len = strlen(p[i]) + 1;
            if (used + len > room) {
                size_t nr = (used + len) * 2;
                char *nm = realloc(mine, nr);
                if (!nm) { st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory"); break; }
                mine = nm;
                room = nr;
            }
            memcpy(mine + used, p[i], len);
            used += len;
        }
        for (int i = 0; p && i < b.B; i++) free(p[i]);
        free(p);
        mrg_batch_free(&b);
        mrg_progress_phase(prog, "validating", (k + 1) * bs < cap ? (k + 1) * bs : cap, cap);
    }
    /* a rank that failed ends the job (its command aborts), so the others
     * may wait for it in the gather */
    if (st) {
        free(mine);
        return st;
    }
    char *all = NULL;
    size_t counts[4096];
    if (ranks > 4096) st = mrg_error(MRG_ERR_INVALID_ARG, "evaluate: more than 4096 ranks");
    if (!st) st = mrg_dist_gather_bytes(mine ? mine : "", used, &all, counts);
    free(mine);
    if (st) return st;
    /* rank 0: the reports in dataset order, scored */
    int sv[2] = {0, 0};
    if (rank == 0) {
        char **preds = calloc((size_t)cap, sizeof(char *)), **refs = calloc((size_t)cap, sizeof(char *));
        const char **at = calloc((size_t)ranks, sizeof(char *));
        if (!preds || !refs || !at) st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        size_t off = 0;
        for (int r = 0; at && r < ranks; r++) {
            at[r] = all + off;
            off += counts[r];
        }
        int n = 0;
        for (int k = 0; !st && k < needed; k++)
            for (int i = 0; i < bs && n < cap; i++) {
                const char *pr = at[k % ranks];
                at[k % ranks] += strlen(pr) + 1;
                preds[n] = (char *)pr;
                refs[n] = (char *)mrg_dataset_report(ds, n);
                if (!refs[n]) refs[n] = "";
                n++;
            }
        if (!st) st = score(preds, refs, n, res);
        res->n = st ? 0 : n;
        res->score = 0.5 * res->scores.bleu[3] + 0.5 * res->scores.cider;
        free(preds);
        free(refs);
        free(at);
        sv[0] = (int)st;
    }
    free(all);
    mrg_status cst = mrg_dist_bcast(sv, sizeof sv, 0);
    if (!cst) cst = mrg_dist_bcast(res, sizeof *res, 0);
    if (st) return st;
    if (cst) return cst;
    if (sv[0]) return mrg_error((mrg_status)sv[0], "evaluate: rank 0 could not score the validation (see its message)");
    return MRG_OK;
}

mrg_status train_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                          mrg_progress *prog, mrg_eval_result *res, const volatile sig_atomic_t *stop) {
    memset(res, 0, sizeof *res);
    int cap = mrg_dataset_size(ds);
    if (max_studies > 0 && max_studies < cap) cap = max_studies;
    if (cap <= 0) return mrg_error(MRG_ERR_INVALID_ARG, "evaluate: the split is empty");
    if (mrg_dist_size() > 1) {
        mrg_gen_opts g = gen ? *gen : mrg_eval_gen_opts(mrg_model_get_config(m), false);
        return evaluate_shared(m, ds, cap, &g, prog, res);
    }
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
