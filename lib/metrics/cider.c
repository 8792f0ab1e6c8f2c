/* CIDEr as pycocoevalcap's "Cider" computes it (REFERENCE.md "Scores"):
 * n = 1..4, σ = 6; document frequency over the references of this set (one
 * document per image), ref_len = ln(#images); weights tf·(ref_len −
 * ln(max(1, df))); per n the clipped cosine Σ min(h, r)·r / (|h||r|) times
 * exp(−Δ²/2σ²) with Δ the difference of the bigram counts; mean over n,
 * averaged over the references, ×10; corpus = mean over images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"
#include "mrg/metrics.h"

/* A document frequency d enters as ln(max(1, d)): logdf[d] for the
 * integer counts of one sample (computed once per sample). */
static void make_vec(mv_cider_vec *v, const mv_ngrams *ng, const int *df, const double *logdf,
                     double ref_len) {
    memset(v->norm, 0, sizeof v->norm);
    v->length = 0;
    for (int k = 0; k < v->nc; k++) {
        int o = mv_ngram_order(ng, v->c[k].id) - 1;
        v->w[k] = v->c[k].count * (ref_len - logdf[df[v->c[k].id]]);
        v->norm[o] += v->w[k] * v->w[k];
        if (o == 1) v->length += v->c[k].count;
    }
    for (int o = 0; o < 4; o++) v->norm[o] = sqrt(v->norm[o]);
}

static double sim(const mv_cider_vec *h, const mv_cider_vec *r, const mv_ngrams *ng) {
    const double sigma = 6.0;
    double val[4] = {0};
    int b = 0;
    for (int a = 0; a < h->nc; a++) {
        while (b < r->nc && r->c[b].id < h->c[a].id) b++;
        if (b < r->nc && r->c[b].id == h->c[a].id) {
            double vh = h->w[a], vr = r->w[b];
            val[mv_ngram_order(ng, h->c[a].id) - 1] += (vh < vr ? vh : vr) * vr;
        }
    }
    double delta = (double)(h->length - r->length), sum = 0;
    for (int o = 0; o < 4; o++) {
        if (h->norm[o] != 0 && r->norm[o] != 0) val[o] /= h->norm[o] * r->norm[o];
        val[o] *= exp(-(delta * delta) / (2 * sigma * sigma));
        sum += val[o];
    }
    return sum;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void mv_cider_free(mv_cider_data *d) {
    if (d->v)
        for (int j = 0; j < d->nv; j++) {
            free(d->v[j].c);
            free(d->v[j].w);
        }
    free(d->v);
    free(d->first);
    free(d->uni_off);
    free(d->uni);
    free(d->mult);
    free(d->df);
    free(d->logdf);
    free(d->score);
    mv_vocab_free(&d->voc);
    mv_ngrams_free(&d->ng);
    memset(d, 0, sizeof *d);
}

mrg_status mv_cider_prepare(const char *const *preds, const char *const *const *refs,
                            const int *n_refs, int n, mv_cider_data *d) {
    memset(d, 0, sizeof *d);
    mrg_status st = mv_check_args("cider", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_vocab_init(&d->voc);
    mv_ngrams_init(&d->ng);
    d->n = n;
    for (int i = 0; i < n; i++) d->nv += 1 + n_refs[i];
    d->first = malloc((size_t)(n + 1) * sizeof *d->first); /* vecs of study i: [first[i], first[i+1]) */
    d->v = calloc((size_t)d->nv, sizeof *d->v);
    d->uni_off = calloc((size_t)n + 1, sizeof *d->uni_off);
    d->mult = calloc((size_t)n, sizeof *d->mult);
    d->score = malloc((size_t)n * sizeof *d->score);
    int *tmp = NULL, ntmp = 0, captmp = 0, nuni = 0, capuni = 0;
    if (!d->first || !d->v || !d->uni_off || !d->mult || !d->score) goto oom;
    int k = 0;
    for (int i = 0; i < n; i++) {
        d->first[i] = k;
        ntmp = 0;
        for (int r = -1; r < n_refs[i]; r++, k++) {
            mv_seq s = {0};
            if (mv_split_ws(&d->voc, r < 0 ? preds[i] : refs[i][r], &s) ||
                mv_ngram_counts(&d->ng, &s, 4, &d->v[k].c, &d->v[k].nc))
                goto oom;
            mv_seq_free(&s);
            d->v[k].w = malloc((size_t)(d->v[k].nc ? d->v[k].nc : 1) * sizeof(double));
            if (!d->v[k].w) goto oom;
            if (r < 0) continue;
            /* the study's reference n-grams, for its document frequency */
            if (ntmp + d->v[k].nc > captmp) {
                captmp = 2 * (ntmp + d->v[k].nc);
                int *t = realloc(tmp, (size_t)captmp * sizeof *t);
                if (!t) goto oom;
                tmp = t;
            }
            for (int c = 0; c < d->v[k].nc; c++) tmp[ntmp++] = d->v[k].c[c].id;
        }
        if (ntmp) qsort(tmp, (size_t)ntmp, sizeof *tmp, cmp_int); /* tmp is NULL while empty */
        if (nuni + ntmp > capuni) {
            capuni = 2 * (nuni + ntmp) + 1024;
            int *u = realloc(d->uni, (size_t)capuni * sizeof *u);
            if (!u) goto oom;
            d->uni = u;
        }
        for (int c = 0; c < ntmp; c++)
            if (!c || tmp[c] != tmp[c - 1]) d->uni[nuni++] = tmp[c];
        d->uni_off[i + 1] = nuni;
    }
    d->first[n] = k;
    free(tmp);
    tmp = NULL;
    d->df = calloc((size_t)(d->ng.n ? d->ng.n : 1), sizeof *d->df);
    if (!d->df) goto oom;
    return MRG_OK;
oom:
    free(tmp);
    mv_cider_free(d);
    return mrg_error(MRG_ERR_OOM, "cider: out of memory");
}

mrg_status mv_cider_sample(mv_cider_data *d, const int *idx, int m, double *out, double *per) {
    /* each copy of a study is its own document: document frequencies count
     * the copies, and ref_len = ln(number of documents) */
    double *logdf = realloc(d->logdf, (size_t)(m + 1) * sizeof *logdf);
    if (!logdf) return mrg_error(MRG_ERR_OOM, "cider: out of memory");
    d->logdf = logdf;
    for (int c = 0; c <= m; c++) logdf[c] = log(c > 1 ? (double)c : 1.0);
    for (int k = 0; k < m; k++) d->mult[idx ? idx[k] : k]++;
    for (int i = 0; i < d->n; i++)
        for (int c = d->uni_off[i]; d->mult[i] && c < d->uni_off[i + 1]; c++) d->df[d->uni[c]] += d->mult[i];
    double ref_len = log((double)m);
    for (int i = 0; i < d->n; i++) {
        if (!d->mult[i]) continue;
        for (int j = d->first[i]; j < d->first[i + 1]; j++) make_vec(&d->v[j], &d->ng, d->df, logdf, ref_len);
        double s = 0;
        for (int j = d->first[i] + 1; j < d->first[i + 1]; j++) s += sim(&d->v[d->first[i]], &d->v[j], &d->ng);
        d->score[i] = s / 4.0 / (d->first[i + 1] - d->first[i] - 1) * 10.0;
    }
    double sum = 0;
    for (int k = 0; k < m; k++) {
        double score = d->score[idx ? idx[k] : k];
        if (per) per[k] = score;
        sum += score;
    }
    *out = sum / m;
    /* back to zero for the next sample */
    for (int i = 0; i < d->n; i++) {
        for (int c = d->uni_off[i]; d->mult[i] && c < d->uni_off[i + 1]; c++) d->df[d->uni[c]] = 0;
        d->mult[i] = 0;
    }
    return MRG_OK;
}

mrg_status mrg_cider(const char *const *preds, const char *const *const *refs, const int *n_refs,
                     int n, double *out, double *per) {
    mv_cider_data d;
    mrg_status st = mv_cider_prepare(preds, refs, n_refs, n, &d);
    if (st != MRG_OK) return st;
    st = mv_cider_sample(&d, NULL, n, out, per);
    mv_cider_free(&d);
    return st;
}
