/* BLEU-1..4 as pycocoevalcap's BleuScorer computes it with option "closest"
 * (REFERENCE.md "Scores"): tokens from str.split(); per hypothesis clipped
 * n-gram matches against the max count over its references, guesses
 * max(0, len-n+1), effective reference length the closest one (ties to the
 * shorter); corpus totals with the 1e-15 / 1e-9 smoothing constants. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "mrg/metrics.h"

mrg_status mv_check_args(const char *what, const char *const *preds,
                         const char *const *const *refs, const int *n_refs, int n) {
    if (n < 1 || !preds || !refs || !n_refs)
        return mrg_error(MRG_ERR_INVALID_ARG, "%s: need n >= 1 predictions and references", what);
    for (int i = 0; i < n; i++) {
        if (!preds[i]) return mrg_error(MRG_ERR_INVALID_ARG, "%s: prediction %d is NULL", what, i);
        if (n_refs[i] < 1 || !refs[i])
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: report %d has no reference", what, i);
        for (int r = 0; r < n_refs[i]; r++)
            if (!refs[i][r])
                return mrg_error(MRG_ERR_INVALID_ARG, "%s: reference %d of report %d is NULL", what,
                                 r, i);
    }
    return MRG_OK;
}

static int cmp_count(const void *a, const void *b) {
    const mv_count *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* bleu_k = (prod_{i<=k} (correct_i + tiny) / (guess_i + small))^(1/k), times
 * the brevity penalty exp(1 - 1/ratio) when ratio < 1. */
void mv_bleu_from_counts(const double correct[4], const double guess[4], double testlen,
                         double reflen, double out[4]) {
    const double small = 1e-9, tiny = 1e-15;
    double prod = 1.0;
    for (int k = 0; k < 4; k++) {
        prod *= (correct[k] + tiny) / (guess[k] + small);
        out[k] = pow(prod, 1.0 / (k + 1));
    }
    double ratio = (testlen + tiny) / (reflen + small);
    if (ratio < 1)
        for (int k = 0; k < 4; k++) out[k] *= exp(1 - 1 / ratio);
}

mrg_status mv_bleu_counts_of(const char *const *preds, const char *const *const *refs,
                             const int *n_refs, int n, mv_bleu_counts *out) {
    mrg_status st = mv_check_args("bleu", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_vocab voc;
    mv_ngrams ng;
    mv_vocab_init(&voc);
    mv_ngrams_init(&ng);
    mv_count *hc = NULL, *rc = NULL, *all = NULL;
    int nall = 0, capall = 0;
    for (int i = 0; i < n; i++) {
        mv_seq s = {0};
        int nh = 0, nr = 0;
        if (mv_split_ws(&voc, preds[i], &s) || mv_ngram_counts(&ng, &s, 4, &hc, &nh)) goto oom;
        int testlen = s.n;
        mv_seq_free(&s);
        /* max count of each n-gram over the references (merged by id) */
        nall = 0;
        int reflen = -1;
        for (int r = 0; r < n_refs[i]; r++) {
            if (mv_split_ws(&voc, refs[i][r], &s) || mv_ngram_counts(&ng, &s, 4, &rc, &nr)) goto oom;
            int l = s.n;
            mv_seq_free(&s);
            /* closest length, ties to the shorter: min over (|l - testlen|, l) */
            if (reflen < 0 || abs(l - testlen) < abs(reflen - testlen) ||
                (abs(l - testlen) == abs(reflen - testlen) && l < reflen))
                reflen = l;
            if (nall + nr > capall) {
                capall = (nall + nr) * 2;
                mv_count *a = realloc(all, (size_t)capall * sizeof *a);
                if (!a) goto oom;
                all = a;
            }
            for (int k = 0; k < nr; k++) all[nall++] = rc[k];
            free(rc);
            rc = NULL;
        }
        if (nall) qsort(all, (size_t)nall, sizeof *all, cmp_count); /* all is NULL while empty */
        mv_bleu_counts *c = &out[i];
        memset(c, 0, sizeof *c);
        int a = 0;
        for (int k = 0; k < nh; k++) {
            while (a < nall && all[a].id < hc[k].id) a++;
            int maxc = 0;
            for (int b = a; b < nall && all[b].id == hc[k].id; b++)
                if (all[b].count > maxc) maxc = all[b].count;
            c->correct[mv_ngram_order(&ng, hc[k].id) - 1] += hc[k].count < maxc ? hc[k].count : maxc;
        }
        free(hc);
        hc = NULL;
        for (int k = 0; k < 4; k++) c->guess[k] = testlen - k > 0 ? testlen - k : 0;
        c->testlen = testlen;
        c->reflen = reflen;
    }
    free(all);
    mv_vocab_free(&voc);
    mv_ngrams_free(&ng);
    return MRG_OK;
oom:
    free(hc);
    free(rc);
    free(all);
    mv_vocab_free(&voc);
    mv_ngrams_free(&ng);
    return mrg_error(MRG_ERR_OOM, "bleu: out of memory");
}

void mv_bleu_corpus(const mv_bleu_counts *c, const int *idx, int m, double out[4]) {
    double correct[4] = {0}, guess[4] = {0}, test = 0, ref = 0;
    for (int k = 0; k < m; k++) {
        const mv_bleu_counts *s = &c[idx ? idx[k] : k];
        for (int j = 0; j < 4; j++) {
            correct[j] += s->correct[j];
            guess[j] += s->guess[j];
        }
        test += s->testlen;
        ref += s->reflen;
    }
    mv_bleu_from_counts(correct, guess, test, ref, out);
}

mrg_status mrg_bleu(const char *const *preds, const char *const *const *refs, const int *n_refs,
                    int n, double out[4], double (*per)[4]) {
    mrg_status st = mv_check_args("bleu", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_bleu_counts *c = malloc((size_t)n * sizeof *c);
    if (!c) return mrg_error(MRG_ERR_OOM, "bleu: out of memory");
    if ((st = mv_bleu_counts_of(preds, refs, n_refs, n, c)) == MRG_OK) {
        mv_bleu_corpus(c, NULL, n, out);
        for (int i = 0; per && i < n; i++)
            mv_bleu_from_counts(c[i].correct, c[i].guess, c[i].testlen, c[i].reflen, per[i]);
    }
    free(c);
    return st;
}
