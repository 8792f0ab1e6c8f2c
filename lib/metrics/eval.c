/* mrg_eval_scores: every score of a set of generated reports at once (the
 * function `mrg eval`, `mrg train` and `mrg demo` share), through the
 * per-study statistics of mrg_eval_stats, which also score any sample of
 * the studies (bootstrap.c resamples them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/meteor_internal.h"
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

struct mrg_eval_stats {
    int n;
    mv_bleu_counts *bleu; /* [n] */
    double *rouge;        /* [n] ROUGE-L of each study */
    mv_cider_data cider;
    mv_stats *meteor;     /* [n] best segment statistics; NULL when skipped */
    unsigned meteor_modules;
    char meteor_note[256];
    int meteor_truncated;
    mrg_finding_label *lp, *lr; /* [n * MRG_N_FINDINGS]; NULL when skipped */
    mrg_finding_label *sp, *sr; /* a sample's labels (scratch) */
    int scap;
};

void mrg_eval_stats_free(mrg_eval_stats *s) {
    if (!s) return;
    free(s->bleu);
    free(s->rouge);
    mv_cider_free(&s->cider);
    free(s->meteor);
    free(s->lp);
    free(s->lr);
    free(s->sp);
    free(s->sr);
    free(s);
}

int mrg_eval_stats_count(const mrg_eval_stats *s) { return s ? s->n : 0; }

static mrg_status build(const char *const *preds, const char *const *const *refs, const int *n_refs,
                        int n, const mrg_eval_opts *opts, mrg_eval_stats *s) {
    mrg_status st;
    s->n = n;
    s->bleu = malloc((size_t)n * sizeof *s->bleu);
    s->rouge = malloc((size_t)n * sizeof *s->rouge);
    if (!s->bleu || !s->rouge) return mrg_error(MRG_ERR_OOM, "eval: out of memory");
    double rouge_mean;
    if ((st = mv_bleu_counts_of(preds, refs, n_refs, n, s->bleu)) != MRG_OK ||
        (st = mrg_rouge_l(preds, refs, n_refs, n, &rouge_mean, s->rouge)) != MRG_OK ||
        (st = mv_cider_prepare(preds, refs, n_refs, n, &s->cider)) != MRG_OK)
        return st;
    if (!opts->no_meteor) {
        mrg_meteor *m = opts->meteor, *own = NULL;
        if (!m && !(m = own = mrg_meteor_open(&opts->meteor_opts)))
            return mrg_error_context(MRG_ERR_IO, "METEOR resources");
        if (!(s->meteor = malloc((size_t)n * sizeof *s->meteor)))
            st = mrg_error(MRG_ERR_OOM, "eval: out of memory");
        else
            st = mv_meteor_segments(m, preds, refs, n_refs, n, s->meteor);
        s->meteor_modules = mrg_meteor_modules(m);
        s->meteor_truncated = mrg_meteor_truncated(m);
        snprintf(s->meteor_note, sizeof s->meteor_note, "%s", mrg_meteor_note(m));
        mrg_meteor_free(own);
        if (st != MRG_OK) return st;
    }
    if (!opts->no_findings) {
        size_t sz = (size_t)n * MRG_N_FINDINGS * sizeof *s->lp;
        if (!(s->lp = malloc(sz)) || !(s->lr = malloc(sz))) return mrg_error(MRG_ERR_OOM, "eval: out of memory");
        for (int i = 0; i < n; i++)
            if ((st = mrg_label_report(preds[i], s->lp + (size_t)i * MRG_N_FINDINGS)) != MRG_OK ||
                (st = mrg_label_report(refs[i][0], s->lr + (size_t)i * MRG_N_FINDINGS)) != MRG_OK)
                return st;
    }
    return MRG_OK;
}

mrg_status mrg_eval_stats_build(const char *const *preds, const char *const *const *refs,
                                const int *n_refs, int n, const mrg_eval_opts *opts,
                                mrg_eval_stats **out) {
    static const mrg_eval_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "eval: out is NULL");
    *out = NULL;
    mrg_status st = mv_check_args("eval", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    cleaned c = {0};
    if (opts->clean) {
        if ((st = clean_all(preds, refs, n_refs, n, &c)) != MRG_OK) {
            cleaned_free(&c);
            return st;
        }
        preds = (const char *const *)c.preds;
        refs = (const char *const *const *)c.refs;
    }
    mrg_eval_stats *s = calloc(1, sizeof *s);
    st = s ? build(preds, refs, n_refs, n, opts, s) : mrg_error(MRG_ERR_OOM, "eval: out of memory");
    if (st != MRG_OK) {
        mrg_eval_stats_free(s);
        s = NULL;
    }
    cleaned_free(&c);
    *out = s;
    return st;
}

/* Scores of the sample idx[0..m); cider_per (NULL or m) gets CIDEr per position. */
static mrg_status score_sample(mrg_eval_stats *s, const int *idx, int m, mrg_scores *out,
                               double *cider_per) {
    memset(out, 0, sizeof *out);
    out->meteor = NAN;
    mv_bleu_corpus(s->bleu, idx, m, out->bleu);
    double sum = 0;
    for (int k = 0; k < m; k++) sum += s->rouge[idx ? idx[k] : k];
    out->rouge_l = sum / m;
    mrg_status st = mv_cider_sample(&s->cider, idx, m, &out->cider, cider_per);
    if (st != MRG_OK) return st;
    if (s->meteor) {
        out->meteor = mv_meteor_corpus(s->meteor, idx, m);
        out->meteor_modules = s->meteor_modules;
        out->meteor_truncated = s->meteor_truncated;
        snprintf(out->meteor_note, sizeof out->meteor_note, "%s", s->meteor_note);
    }
    if (s->lp) {
        const mrg_finding_label *lp = s->lp, *lr = s->lr;
        if (idx) {
            if (m > s->scap) {
                size_t sz = (size_t)m * MRG_N_FINDINGS * sizeof *s->sp;
                mrg_finding_label *a = realloc(s->sp, sz), *b = a ? realloc(s->sr, sz) : NULL;
                if (a) s->sp = a;
                if (b) s->sr = b;
                if (!a || !b) return mrg_error(MRG_ERR_OOM, "eval: out of memory");
                s->scap = m;
            }
            for (int k = 0; k < m; k++) {
                memcpy(s->sp + (size_t)k * MRG_N_FINDINGS, s->lp + (size_t)idx[k] * MRG_N_FINDINGS,
                       MRG_N_FINDINGS * sizeof *s->sp);
                memcpy(s->sr + (size_t)k * MRG_N_FINDINGS, s->lr + (size_t)idx[k] * MRG_N_FINDINGS,
                       MRG_N_FINDINGS * sizeof *s->sr);
            }
            lp = s->sp;
            lr = s->sr;
        }
        mrg_finding_scores_from_labels(lp, lr, m, &out->findings);
        out->has_findings = true;
    }
    return MRG_OK;
}

mrg_status mrg_eval_stats_score(mrg_eval_stats *s, const int *idx, int m, mrg_scores *out) {
    if (!s || !out) return mrg_error(MRG_ERR_INVALID_ARG, "eval: NULL argument");
    if (!idx) m = s->n;
    if (m < 1) return mrg_error(MRG_ERR_INVALID_ARG, "eval: a sample needs at least one study, not %d", m);
    for (int k = 0; idx && k < m; k++)
        if (idx[k] < 0 || idx[k] >= s->n)
            return mrg_error(MRG_ERR_INVALID_ARG, "eval: sample index %d is not a study (0..%d)", idx[k],
                             s->n - 1);
    return score_sample(s, idx, m, out, NULL);
}

mrg_status mrg_eval_stats_per_report(mrg_eval_stats *s, mrg_scores *out,
                                     mrg_report_scores *per_report) {
    if (!s || !out) return mrg_error(MRG_ERR_INVALID_ARG, "eval: NULL argument");
    int n = s->n;
    double *cider = per_report ? malloc((size_t)n * sizeof *cider) : NULL;
    mrg_status st = per_report && !cider ? mrg_error(MRG_ERR_OOM, "eval: out of memory")
                                         : score_sample(s, NULL, n, out, cider);
    for (int i = 0; st == MRG_OK && per_report && i < n; i++) {
        mrg_report_scores *r = &per_report[i];
        memset(r, 0, sizeof *r);
        const mv_bleu_counts *c = &s->bleu[i];
        mv_bleu_from_counts(c->correct, c->guess, c->testlen, c->reflen, r->bleu);
        r->rouge_l = s->rouge[i];
        r->cider = cider[i];
        r->meteor = s->meteor ? s->meteor[i].score : NAN;
        if (s->lp) {
            memcpy(r->pred_labels, s->lp + (size_t)i * MRG_N_FINDINGS, sizeof r->pred_labels);
            memcpy(r->ref_labels, s->lr + (size_t)i * MRG_N_FINDINGS, sizeof r->ref_labels);
        }
    }
    free(cider);
    return st;
}

mrg_status mrg_eval_scores(const char *const *preds, const char *const *const *refs,
                           const int *n_refs, int n, const mrg_eval_opts *opts,
                           mrg_scores *out, mrg_report_scores *per_report) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "eval: out is NULL");
    memset(out, 0, sizeof *out);
    out->meteor = NAN;
    mrg_eval_stats *s;
    mrg_status st = mrg_eval_stats_build(preds, refs, n_refs, n, opts, &s);
    if (st != MRG_OK) return st;
    st = mrg_eval_stats_per_report(s, out, per_report);
    mrg_eval_stats_free(s);
    return st;
}
