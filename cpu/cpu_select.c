/* Decoding's choice of the next tokens (select_topk) on the CPU: the same
 * arithmetic, in the same order, as the host search of lib/generate
 * (generate.c's penalty on f32 logits, beam.c's log_softmax in double), so
 * that its ids and scores are those, bit for bit. */
#include <math.h>

#include "core/topk.h"
#include "cpu/cpu.h"

/* Whether h[j] appeared earlier in h (each distinct id is penalised once). */
static bool seen_before(const int32_t *h, int64_t j) {
    for (int64_t i = 0; i < j; i++)
        if (h[i] == h[j]) return true;
    return false;
}

/* One row: history into hist (n entries), scores s (V), candidates out. */
static void select_row(const mrg_select_dims *d, const float *x, const int32_t *hist, int64_t n,
                       double *s, int32_t *out) {
    const int64_t V = d->V;
    if (d->log_softmax) { /* as lib/generate/beam.c */
        mrg_log_softmax_row_d(x, V, s);
        if (d->penalty != 1.0f) {
            double p = d->penalty;
            for (int64_t j = 0; j < n; j++) {
                int32_t t = hist[j];
                if (t < 0 || t >= V || seen_before(hist, j)) continue;
                s[t] = s[t] < 0 ? s[t] * p : s[t] / p;
            }
        }
    } else { /* f32, as generate.c's gen_repetition */
        for (int64_t v = 0; v < V; v++) s[v] = x[v];
        if (d->penalty != 1.0f) {
            float p = d->penalty;
            for (int64_t j = 0; j < n; j++) {
                int32_t t = hist[j];
                if (t < 0 || t >= V || seen_before(hist, j)) continue;
                float y = (float)s[t];
                s[t] = y < 0 ? y * p : y / p;
            }
        }
    }
    if (d->eos >= 0) s[d->eos] = -INFINITY;
    double sc[MRG_SELECT_MAX_K];
    int32_t ix[MRG_SELECT_MAX_K];
    int m = 0;
    for (int64_t v = 0; v < V; v++) mrg_top_insert(sc, ix, &m, d->k, s[v], (int32_t)v);
    for (int i = 0; i < d->k; i++) {
        out[3 * i] = i < m ? ix[i] : -1;
        double c = i < m ? sc[i] : -INFINITY;
        memcpy(&out[3 * i + 1], &c, sizeof c);
    }
}

mrg_status cpu_select_topk(mrg_device *dev, const mrg_select_dims *d, mrg_ptr logits,
                           mrg_ptr hist_in, mrg_ptr src, mrg_ptr tok, mrg_ptr hist_out,
                           mrg_ptr work, mrg_ptr out) {
    (void)dev;
    const int64_t R = d->R, V = d->V, L = d->L, nh = d->n_hist;
    if (R < 1 || V < 1 || d->k < 1 || d->k > MRG_SELECT_MAX_K || nh < 0 ||
        nh + (tok.buf != NULL) > L || (nh > 0 && !hist_in.buf))
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu select_topk: R %lld, V %lld, k %d, history "
                         "%lld of %lld", (long long)R, (long long)V, d->k, (long long)nh,
                         (long long)L);
    mrg_status st = cpu_check("select_topk", "logits", logits, R * V, CPU_DT(MRG_F32));
    if (st == MRG_OK && nh > 0)
        st = cpu_check("select_topk", "hist_in", hist_in, d->R_in * L, CPU_DT(MRG_I32));
    if (st == MRG_OK && src.buf) st = cpu_check("select_topk", "src", src, R, CPU_DT(MRG_I32));
    if (st == MRG_OK && tok.buf) st = cpu_check("select_topk", "tok", tok, R, CPU_DT(MRG_I32));
    const int64_t n = nh + (tok.buf != NULL);
    if (st == MRG_OK && n > 0)
        st = cpu_check("select_topk", "hist_out", hist_out, R * L, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("select_topk", "work", work, R * V * 2, CPU_DT(MRG_I32));
    if (st == MRG_OK) st = cpu_check("select_topk", "out", out, R * d->k * 3, CPU_DT(MRG_I32));
    if (st != MRG_OK) return st;
    const float *x = cpu_f32(logits);
    const int32_t *hin = nh > 0 ? cpu_i32(hist_in) : NULL;
    const int32_t *ps = src.buf ? cpu_i32(src) : NULL, *pt = tok.buf ? cpu_i32(tok) : NULL;
    int32_t *hout = n > 0 ? cpu_i32(hist_out) : NULL, *po = cpu_i32(out);
    double *s = (double *)cpu_i32(work);
    /* histories first: hist_in may alias rows of hist_out only when nh is
     * 0 (the front end refuses the same tensor), so no row is read after
     * being overwritten */
    for (int64_t r = 0; r < R; r++) {
        int64_t from = ps ? ps[r] : r;
        for (int64_t j = 0; j < nh; j++)
            hout[r * L + j] = from >= 0 && from < d->R_in ? hin[from * L + j] : -1;
        if (pt) hout[r * L + nh] = pt[r];
    }
#pragma omp parallel for if (R * V > CPU_PAR_MIN && R > 1) schedule(static)
    for (int64_t r = 0; r < R; r++)
        select_row(d, x + r * V, hout ? hout + r * L : NULL, n, s + r * V, po + r * 3 * d->k);
    return MRG_OK;
}
