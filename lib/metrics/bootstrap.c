/* Bootstrap resampling of the studies (mrg_eval_stats samples): percentile
 * intervals of every corpus metric and the paired comparison of two
 * systems. Each resample is scored from the per-study statistics (eval.c),
 * CIDEr's document frequencies recomputed for the resample; 1000
 * resamples of 590 studies take seconds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/metrics.h"

/* ---- the metric vector ----------------------------------------------------- */

void mrg_scores_vector(const mrg_scores *s, double v[MRG_N_METRICS]) {
    for (int k = 0; k < 4; k++) v[MRG_METRIC_BLEU_1 + k] = s->bleu[k];
    v[MRG_METRIC_METEOR] = s->meteor;
    v[MRG_METRIC_ROUGE_L] = s->rouge_l;
    v[MRG_METRIC_CIDER] = s->cider;
    const mrg_finding_scores *f = &s->findings;
    bool h = s->has_findings;
    v[MRG_METRIC_MACRO + 0] = h ? f->macro_precision : NAN;
    v[MRG_METRIC_MACRO + 1] = h ? f->macro_recall : NAN;
    v[MRG_METRIC_MACRO + 2] = h ? f->macro_f1 : NAN;
    for (int k = 0; k < MRG_N_FINDINGS; k++) {
        v[MRG_METRIC_FINDING + 3 * k + 0] = h ? f->precision[k] : NAN;
        v[MRG_METRIC_FINDING + 3 * k + 1] = h ? f->recall[k] : NAN;
        v[MRG_METRIC_FINDING + 3 * k + 2] = h ? f->f1[k] : NAN;
    }
}

const char *mrg_metric_key(int k) {
    static const char *const fixed[MRG_METRIC_FINDING] = {
        "BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "METEOR", "ROUGE_L", "CIDEr",
        "findings.macro.precision", "findings.macro.recall", "findings.macro.f1"};
    static const char *const part[3] = {"precision", "recall", "f1"};
    /* written once per key; the finding names are constants */
    static char names[3 * MRG_N_FINDINGS][96];
    if (k < 0 || k >= MRG_N_METRICS) return "";
    if (k < MRG_METRIC_FINDING) return fixed[k];
    int j = k - MRG_METRIC_FINDING;
    if (!names[j][0])
        snprintf(names[j], sizeof names[j], "findings.%s.%s", mrg_finding_name((mrg_finding)(j / 3)),
                 part[j % 3]);
    return names[j];
}

/* ---- resample indices ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mrg_bootstrap_indices(uint64_t seed, int b, int n, int *idx) {
    if (n < 1 || !idx) return;
    /* the stream of resample b starts from a mix of (seed, b) */
    uint64_t st = seed, mix = splitmix64(&st) ^ ((uint64_t)(unsigned)b * 0xD1B54A32D192ED03ull);
    uint64_t x = splitmix64(&mix);
    uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un; /* reject the biased top */
    for (int k = 0; k < n; k++) {
        uint64_t r;
        do r = splitmix64(&x);
        while (r >= limit);
        idx[k] = (int)(r % un);
    }
}

/* ---- intervals ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) with linear interpolation (numpy "linear"). */
static double quantile(const double *v, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    double frac = pos - lo;
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

/* low/high of column k of vals[N][MRG_N_METRICS] (col: scratch of N). */
static void interval(const double *vals, int N, int k, double level, double *col, double *low,
                     double *high) {
    for (int b = 0; b < N; b++) {
        col[b] = vals[(size_t)b * MRG_N_METRICS + k];
        if (isnan(col[b])) {
            *low = *high = NAN;
            return;
        }
    }
    qsort(col, (size_t)N, sizeof *col, cmp_double);
    *low = quantile(col, N, (1 - level) / 2);
    *high = quantile(col, N, (1 + level) / 2);
}

static mrg_status check(int n_resamples, double level) {
    if (n_resamples < 2 || n_resamples > 10000000)
        return mrg_error(MRG_ERR_INVALID_ARG, "bootstrap: %d resamples (need 2 to 10000000)", n_resamples);
    if (!(level > 0 && level < 1))
        return mrg_error(MRG_ERR_INVALID_ARG, "bootstrap: level %g is not in (0, 1)", level);
    return MRG_OK;
}

/* The metric vectors of each resample of each set into vals[set][b][k]. */
static mrg_status resample(mrg_eval_stats *const *sets, int n_sets, int N, uint64_t seed, double **vals) {
    int n = mrg_eval_stats_count(sets[0]);
    int *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return mrg_error(MRG_ERR_OOM, "bootstrap: out of memory");
    mrg_status st = MRG_OK;
    for (int b = 0; b < N && st == MRG_OK; b++) {
        mrg_bootstrap_indices(seed, b, n, idx);
        for (int s = 0; s < n_sets && st == MRG_OK; s++) {
            mrg_scores sc;
            if ((st = mrg_eval_stats_score(sets[s], idx, n, &sc)) == MRG_OK)
                mrg_scores_vector(&sc, vals[s] + (size_t)b * MRG_N_METRICS);
        }
    }
    free(idx);
    return st;
}

mrg_status mrg_eval_bootstrap(mrg_eval_stats *s, int n_resamples, uint64_t seed, double level,
                              double low[MRG_N_METRICS], double high[MRG_N_METRICS]) {
    if (!s || !low || !high) return mrg_error(MRG_ERR_INVALID_ARG, "bootstrap: NULL argument");
    mrg_status st = check(n_resamples, level);
    if (st != MRG_OK) return st;
    double *vals = malloc((size_t)n_resamples * MRG_N_METRICS * sizeof *vals);
    double *col = malloc((size_t)n_resamples * sizeof *col);
    if (!vals || !col) {
        st = mrg_error(MRG_ERR_OOM, "bootstrap: out of memory");
    } else if ((st = resample(&s, 1, n_resamples, seed, &vals)) == MRG_OK) {
        for (int k = 0; k < MRG_N_METRICS; k++) interval(vals, n_resamples, k, level, col, &low[k], &high[k]);
    }
    free(vals);
    free(col);
    return st;
}

mrg_status mrg_eval_bootstrap_paired(mrg_eval_stats *a, mrg_eval_stats *b, int n_resamples,
                                     uint64_t seed, double level, double diff_low[MRG_N_METRICS],
                                     double diff_high[MRG_N_METRICS], double p[MRG_N_METRICS]) {
    if (!a || !b || !diff_low || !diff_high || !p)
        return mrg_error(MRG_ERR_INVALID_ARG, "bootstrap: NULL argument");
    mrg_status st = check(n_resamples, level);
    if (st != MRG_OK) return st;
    if (mrg_eval_stats_count(a) != mrg_eval_stats_count(b))
        return mrg_error(MRG_ERR_INVALID_ARG, "bootstrap: the two systems have %d and %d studies",
                         mrg_eval_stats_count(a), mrg_eval_stats_count(b));
    size_t sz = (size_t)n_resamples * MRG_N_METRICS * sizeof(double);
    double *vals[2] = {malloc(sz), malloc(sz)}, *col = malloc((size_t)n_resamples * sizeof *col);
    mrg_eval_stats *sets[2] = {a, b};
    if (!vals[0] || !vals[1] || !col) {
        st = mrg_error(MRG_ERR_OOM, "bootstrap: out of memory");
    } else if ((st = resample(sets, 2, n_resamples, seed, vals)) == MRG_OK) {
        for (size_t i = 0; i < (size_t)n_resamples * MRG_N_METRICS; i++) vals[1][i] -= vals[0][i];
        for (int k = 0; k < MRG_N_METRICS; k++) {
            int le = 0, ge = 0;
            for (int r = 0; r < n_resamples; r++) {
                double d = vals[1][(size_t)r * MRG_N_METRICS + k];
                le += d <= 0;
                ge += d >= 0;
            }
            interval(vals[1], n_resamples, k, level, col, &diff_low[k], &diff_high[k]);
            if (isnan(diff_low[k])) {
                p[k] = NAN;
                continue;
            }
            double pv = 2.0 * (1 + (le < ge ? le : ge)) / (n_resamples + 1);
            p[k] = pv < 1 ? pv : 1;
        }
    }
    free(vals[0]);
    free(vals[1]);
    free(col);
    return st;
}
