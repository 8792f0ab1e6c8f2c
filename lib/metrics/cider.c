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

typedef struct vec {
    mv_count *c; /* sorted n-gram counts */
    int nc;
    double *w;    /* [nc] tf-idf weights */
    double norm[4];
    int length;   /* number of bigrams, pycocoevalcap's "length" */
} vec;

static void make_vec(vec *v, const mv_ngrams *ng, const double *df, double ref_len) {
    memset(v->norm, 0, sizeof v->norm);
    v->length = 0;
    for (int k = 0; k < v->nc; k++) {
        int o = mv_ngram_order(ng, v->c[k].id) - 1;
        double d = log(df[v->c[k].id] > 1.0 ? df[v->c[k].id] : 1.0);
        v->w[k] = v->c[k].count * (ref_len - d);
        v->norm[o] += v->w[k] * v->w[k];
        if (o == 1) v->length += v->c[k].count;
    }
    for (int o = 0; o < 4; o++) v->norm[o] = sqrt(v->norm[o]);
}

static double sim(const vec *h, const vec *r, const mv_ngrams *ng) {
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

mrg_status mrg_cider(const char *const *preds, const char *const *const *refs, const int *n_refs,
                     int n, double *out, double *per) {
    mrg_status st = mv_check_args("cider", preds, refs, n_refs, n);
    if (st != MRG_OK) return st;
    mv_vocab voc;
    mv_ngrams ng;
    mv_vocab_init(&voc);
    mv_ngrams_init(&ng);
    int nv = 0;
    int *first = malloc((size_t)(n + 1) * sizeof *first); /* vecs of image i: [first[i], first[i+1]) */
    for (int i = 0; i < n; i++) nv += 1 + n_refs[i];
    vec *v = calloc((size_t)nv, sizeof *v);
    double *df = NULL;
    if (!first || !v) goto oom;
    int k = 0;
    for (int i = 0; i < n; i++) {
        first[i] = k;
        for (int r = -1; r < n_refs[i]; r++, k++) {
            mv_seq s = {0};
            if (mv_split_ws(&voc, r < 0 ? preds[i] : refs[i][r], &s) ||
                mv_ngram_counts(&ng, &s, 4, &v[k].c, &v[k].nc))
                goto oom;
            mv_seq_free(&s);
            v[k].w = malloc((size_t)(v[k].nc ? v[k].nc : 1) * sizeof(double));
            if (!v[k].w) goto oom;
        }
    }
    first[n] = k;
    /* document frequency: images whose references contain the n-gram */
    df = calloc((size_t)(ng.n ? ng.n : 1), sizeof *df);
    int *seen = calloc((size_t)(ng.n ? ng.n : 1), sizeof *seen);
    if (!df || !seen) {
        free(seen);
        goto oom;
    }
    for (int i = 0; i < n; i++)
        for (int j = first[i] + 1; j < first[i + 1]; j++)
            for (int c = 0; c < v[j].nc; c++)
                if (seen[v[j].c[c].id] != i + 1) {
                    seen[v[j].c[c].id] = i + 1;
                    df[v[j].c[c].id] += 1;
                }
    free(seen);
    double ref_len = log((double)n), sum = 0;
    for (int j = 0; j < nv; j++) make_vec(&v[j], &ng, df, ref_len);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = first[i] + 1; j < first[i + 1]; j++) s += sim(&v[first[i]], &v[j], &ng);
        double score = s / 4.0 / n_refs[i] * 10.0;
        if (per) per[i] = score;
        sum += score;
    }
    *out = sum / n;
    st = MRG_OK;
    goto done;
oom:
    st = mrg_error(MRG_ERR_OOM, "cider: out of memory");
done:
    if (v)
        for (int j = 0; j < nv; j++) {
            free(v[j].c);
            free(v[j].w);
        }
    free(v);
    free(first);
    free(df);
    mv_vocab_free(&voc);
    mv_ngrams_free(&ng);
    return st;
}
