/* The two pieces of decoding's token choice that the host search
 * (lib/generate/beam.c) and the CPU backend's select_topk
 * (cpu/cpu_select.c) must compute alike, bit for bit: one definition, so
 * that they cannot drift apart. */
#ifndef MRG_CORE_TOPK_H
#define MRG_CORE_TOPK_H

#include <math.h>
#include <stdint.h>

/* log_softmax of one row of logits x (V) into out (double): max, then the
 * sum of exp(x − max) in index order. */
static inline void mrg_log_softmax_row_d(const float *x, int64_t V, double *out) {
    double mx = -INFINITY;
    for (int64_t v = 0; v < V; v++)
        if (x[v] > mx) mx = x[v];
    double sum = 0;
    for (int64_t v = 0; v < V; v++) sum += exp((double)x[v] - mx);
    double lse = mx + log(sum);
    for (int64_t v = 0; v < V; v++) out[v] = (double)x[v] - lse;
}

/* Keeps the m best (score, index) pairs in sc/ix, best first, *n of them
 * so far, of scores offered in increasing index order: an equal score ranks
 * after those already kept (the lower index first); NaN is never kept. */
static inline void mrg_top_insert(double *sc, int32_t *ix, int *n, int m, double c, int32_t i) {
    if (isnan(c) || (*n == m && !(c > sc[m - 1]))) return;
    int j = *n < m ? (*n)++ : m - 1;
    while (j > 0 && sc[j - 1] < c) {
        sc[j] = sc[j - 1];
        ix[j] = ix[j - 1];
        j--;
    }
    sc[j] = c;
    ix[j] = i;
}

#endif
