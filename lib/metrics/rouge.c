/* ROUGE-L as pycocoevalcap's Rouge computes it (REFERENCE.md "Scores"):
 * tokens from str.split(" ") (empty tokens count), LCS against each
 * reference, precision and recall each maxed over the references,
 * F = (1+β²)PR / (R + β²P) with β = 1.2, corpus = mean. */
#include <stdlib.h>

#include "metrics/metrics_internal.h"
#include "mrg/metrics.h"

/* LCS length of a and b with one row of O(|b|) ints (row is |b|+1 long). */
static int lcs(const mv_seq *a, const mv_seq *b, int *row) {
    for (int j = 0; j <= b->n; j++) row[j] = 0;
    for (int i = 1; i <= a->n; i++) {
        int diag = 0; /* row[j-1] of the previous i */
        for (int j = 1; j <= b->n; j++) {
            int up = row[j];
            row[j] = a->ids[i - 1] == b->ids[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
            diag = up;
        }
    }
    return row[b->n];
}

mrg_status mrg_rouge_l(const char *const *preds, const char *const *const *refs,
                       const int *n_refs, int n, double *out, double *per) {
    mrg_status st = mv_check_args("rouge", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    const double beta = 1.2;
    mv_vocab voc;
    mv_vocab_init(&voc);
    int *row = NULL, rowcap = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        mv_seq c = {0}, r = {0};
        if (mv_split_space(&voc, preds[i], &c)) goto oom;
        double pmax = 0, rmax = 0;
        for (int k = 0; k < n_refs[i]; k++) {
            if (mv_split_space(&voc, refs[i][k], &r)) {
                mv_seq_free(&c);
                goto oom;
            }
            if (r.n + 1 > rowcap) {
                rowcap = 2 * (r.n + 1);
                int *nr = realloc(row, (size_t)rowcap * sizeof *nr);
                if (!nr) {
                    mv_seq_free(&c);
                    mv_seq_free(&r);
                    goto oom;
                }
                row = nr;
            }
            int l = lcs(&c, &r, row);
            double p = (double)l / c.n, rc = (double)l / r.n; /* split(" ") never gives 0 tokens */
            if (p > pmax) pmax = p;
            if (rc > rmax) rmax = rc;
            mv_seq_free(&r);
        }
        mv_seq_free(&c);
        double f = 0;
        if (pmax != 0 && rmax != 0) f = ((1 + beta * beta) * pmax * rmax) / (rmax + beta * beta * pmax);
        if (per) per[i] = f;
        sum += f;
    }
    *out = sum / n;
    free(row);
    mv_vocab_free(&voc);
    return MRG_OK;
oom:
    free(row);
    mv_vocab_free(&voc);
    return mrg_error(MRG_ERR_OOM, "rouge: out of memory");
}
