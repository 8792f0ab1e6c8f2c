/* mrg_eval_scores: every score of a set of generated reports at once (the
 * function `mrg eval`, `mrg train` and `mrg demo` share). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "mrg/metrics.h"

/* Cleaned copies of preds and refs (one block of pointers, strings owned). */
typedef struct cleaned {
    char **preds;
    char ***refs;
    int n;
    const int *n_refs;
} cleaned;

static void cleaned_free(cleaned *c) {
    for (int i = 0; i < c->n; i++) {
        if (c->preds) free(c->preds[i]);
        if (c->refs && c->refs[i]) {
            for (int r = 0; r < c->n_refs[i]; r++) free(c->refs[i][r]);
            free(c->refs[i]);
        }
    }
    free(c->preds);
    free(c->refs);
}

static mrg_status clean_all(const char *const *preds, const char *const *const *refs,
                            const int *n_refs, int n, cleaned *c) {
    c->n = n;
    c->n_refs = n_refs;
    c->preds = calloc((size_t)n, sizeof *c->preds);
    c->refs = calloc((size_t)n, sizeof *c->refs);
    if (!c->preds || !c->refs) return mrg_error(MRG_ERR_OOM, "eval: out of memory");
    for (int i = 0; i < n; i++) {
        if (!(c->preds[i] = mrg_clean_report_iu(preds[i]))) return MRG_ERR_OOM;
        if (!(c->refs[i] = calloc((size_t)n_refs[i], sizeof(char *))))
            return mrg_error(MRG_ERR_OOM, "eval: out of memory");
        for (int r = 0; r < n_refs[i]; r++)
            if (!(c->refs[i][r] = mrg_clean_report_iu(refs[i][r]))) return MRG_ERR_OOM;
    }
    return MRG_OK;
}

mrg_status mrg_eval_scores(const char *const *preds, const char *const *const *refs,
                           const int *n_refs, int n, const mrg_eval_opts *opts,
                           mrg_scores *out, mrg_report_scores *per_report) {
    static const mrg_eval_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "eval: out is NULL");
    memset(out, 0, sizeof *out);
    out->meteor = NAN;
    mrg_status st = mv_check_args("eval", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    cleaned c = {0};
    if (opts->clean) {
        st = clean_all(preds, refs, n_refs, n, &c);
        if (st != MRG_OK) {
            cleaned_free(&c);
            return st;
        }
        preds = (const char *const *)c.preds;
        refs = (const char *const *const *)c.refs;
    }
    double *per = NULL, (*per_bleu)[4] = NULL;
    mrg_meteor *own = NULL;
    mrg_finding_label *lp = NULL, *lr = NULL;
    if (per_report) {
        memset(per_report, 0, (size_t)n * sizeof *per_report);
        per = malloc((size_t)n * sizeof *per);
        per_bleu = malloc((size_t)n * sizeof *per_bleu);
        if (!per || !per_bleu) {
            st = mrg_error(MRG_ERR_OOM, "eval: out of memory");
            goto done;
        }
    }
    if ((st = mrg_bleu(preds, refs, n_refs, n, out->bleu, per_bleu)) != MRG_OK) goto done;
    for (int i = 0; per_report && i < n; i++) memcpy(per_report[i].bleu, per_bleu[i], sizeof per_bleu[i]);
    if ((st = mrg_rouge_l(preds, refs, n_refs, n, &out->rouge_l, per)) != MRG_OK) goto done;
    for (int i = 0; per_report && i < n; i++) per_report[i].rouge_l = per[i];
    if ((st = mrg_cider(preds, refs, n_refs, n, &out->cider, per)) != MRG_OK) goto done;
    for (int i = 0; per_report && i < n; i++) per_report[i].cider = per[i];
    for (int i = 0; per_report && i < n; i++) per_report[i].meteor = NAN;
    if (!opts->no_meteor) {
        mrg_meteor *m = opts->meteor;
        if (!m && !(m = own = mrg_meteor_open(&opts->meteor_opts))) {
            st = mrg_error_context(MRG_ERR_IO, "METEOR resources");
            goto done;
        }
        if ((st = mrg_meteor_score(m, preds, refs, n_refs, n, &out->meteor, per)) != MRG_OK) goto done;
        for (int i = 0; per_report && i < n; i++) per_report[i].meteor = per[i];
        out->meteor_modules = mrg_meteor_modules(m);
        out->meteor_truncated = mrg_meteor_truncated(m);
        snprintf(out->meteor_note, sizeof out->meteor_note, "%s", mrg_meteor_note(m));
    }
    if (!opts->no_findings) {
        size_t sz = (size_t)n * MRG_N_FINDINGS * sizeof *lp;
        lp = malloc(sz);
        lr = malloc(sz);
        if (!lp || !lr) {
            st = mrg_error(MRG_ERR_OOM, "eval: out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) {
            if ((st = mrg_label_report(preds[i], lp + (size_t)i * MRG_N_FINDINGS)) != MRG_OK ||
                (st = mrg_label_report(refs[i][0], lr + (size_t)i * MRG_N_FINDINGS)) != MRG_OK)
                goto done;
            if (per_report) {
                memcpy(per_report[i].pred_labels, lp + (size_t)i * MRG_N_FINDINGS,
                       sizeof per_report[i].pred_labels);
                memcpy(per_report[i].ref_labels, lr + (size_t)i * MRG_N_FINDINGS,
                       sizeof per_report[i].ref_labels);
            }
        }
        mrg_finding_scores_from_labels(lp, lr, n, &out->findings);
        out->has_findings = true;
    }
done:
    free(lp);
    free(lr);
    free(per);
    free(per_bleu);
    mrg_meteor_free(own);
    cleaned_free(&c);
    return st;
}
