/* Bootstrap intervals and paired comparisons (lib/metrics/bootstrap.c,
 * eval.c's mrg_eval_stats):
 *  - every metric of the fixed resamples in tests/golden/metrics/bootstrap.idx
 *    against pycocoevalcap's scorers on the same resamples
 *    (tools/ref/bootstrap_ref.py; METEOR against the jar when mrg has every
 *    METEOR module), studies drawn twice counting twice;
 *  - a resample scored from the statistics equals mrg_eval_scores on the
 *    resampled texts (bit for bit but for CIDEr's summation order; METEOR
 *    included, whatever its modules);
 *  - the resample indices, the percentile interval and the paired p-value
 *    recomputed by hand; the same seed gives the same numbers;
 *  - `mrg eval --bootstrap` / several --pred: JSON keys, determinism,
 *    usage errors. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_metrics_util.h"

#define MAX_RESAMPLES 64

typedef struct fixture {
    mrg_report_set ref, sys[2], labels[2];
    const char **pred[2];
    const char *const **refs;
    int *nr, n;
    int *idx[MAX_RESAMPLES], m[MAX_RESAMPLES], n_resamples;
} fixture;

static int load(fixture *fx) {
    memset(fx, 0, sizeof *fx);
    static const char *const names[2] = {"a", "b"};
    char path[64];
    if (mrg_report_set_read(test_golden_path("metrics/bootstrap.ref.jsonl"), &fx->ref) != MRG_OK) return -1;
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "metrics/bootstrap.%s.jsonl", names[s]);
        if (mrg_report_set_read(test_golden_path(path), &fx->sys[s]) != MRG_OK) return -1;
    }
    fx->n = fx->sys[0].n;
    fx->refs = malloc((size_t)fx->n * sizeof *fx->refs);
    fx->nr = malloc((size_t)fx->n * sizeof *fx->nr);
    for (int s = 0; s < 2; s++) fx->pred[s] = malloc((size_t)fx->n * sizeof *fx->pred[s]);
    for (int i = 0; i < fx->n; i++) {
        int k = mrg_report_set_find(&fx->ref, fx->sys[0].ids[i]);
        if (k < 0 || strcmp(fx->sys[1].ids[i], fx->sys[0].ids[i])) return -1;
        fx->refs[i] = (const char *const *)fx->ref.texts[k];
        fx->nr[i] = fx->ref.n_texts[k];
        for (int s = 0; s < 2; s++) fx->pred[s][i] = fx->sys[s].texts[i][0];
    }
    FILE *f = fopen(test_golden_path("metrics/bootstrap.idx"), "r");
    if (!f) return -1;
    char line[8192];
    while (fx->n_resamples < MAX_RESAMPLES && fgets(line, sizeof line, f)) {
        int *idx = malloc(sizeof(int) * 4096), m = 0;
        for (char *p = strtok(line, " \n"); p && m < 4096; p = strtok(NULL, " \n")) idx[m++] = atoi(p);
        fx->idx[fx->n_resamples] = idx;
        fx->m[fx->n_resamples++] = m;
    }
    fclose(f);
    return fx->n_resamples > 0 ? 0 : -1;
}

static void fixture_free(fixture *fx) {
    mrg_report_set_free(&fx->ref);
    for (int s = 0; s < 2; s++) {
        mrg_report_set_free(&fx->sys[s]);
        free(fx->pred[s]);
    }
    free(fx->refs);
    free(fx->nr);
    for (int b = 0; b < fx->n_resamples; b++) free(fx->idx[b]);
}

static int metric_index(const char *key) {
    for (int k = 0; k < MRG_N_METRICS; k++)
        if (!strcmp(key, mrg_metric_key(k))) return k;
    return -1;
}

/* The labels mrg gives now are the ones the reference used. */
static void check_labels(mrg_eval_stats *st, int s) {
    static const char *const names[2] = {"a", "b"};
    char path[64];
    snprintf(path, sizeof path, "metrics/bootstrap.%s.labels.jsonl", names[s]);
    FILE *f = fopen(test_golden_path(path), "r");
    CHECK(f != NULL);
    if (!f) return;
    int n = mrg_eval_stats_count(st);
    mrg_report_scores *per = calloc((size_t)n, sizeof *per);
    mrg_scores sc;
    CHECK_OK(mrg_eval_stats_per_report(st, &sc, per));
    char line[8192];
    int i = 0, bad = 0;
    while (fgets(line, sizeof line, f) && i < n) {
        cJSON *o = cJSON_Parse(line);
        for (int side = 0; side < 2 && o; side++) {
            const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, side ? "findings_ref" : "findings_pred");
            for (int k = 0; k < MRG_N_FINDINGS; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(fl, mrg_finding_name((mrg_finding)k));
                mrg_finding_label l = side ? per[i].ref_labels[k] : per[i].pred_labels[k];
                const char *want = cJSON_IsString(v) ? v->valuestring : "?";
                const char *got = l == MRG_LABEL_POSITIVE ? "positive" : l == MRG_LABEL_NEGATIVE ? "negative" : "absent";
                if (strcmp(want, got) && bad++ < 3)
                    fprintf(stderr, "  %s study %d %s: labeler says %s, golden %s\n", names[s], i,
                            mrg_finding_name((mrg_finding)k), got, want);
            }
        }
        CHECK(o != NULL);
        cJSON_Delete(o);
        i++;
    }
    fclose(f);
    CHECK(i == n && bad == 0);
    free(per);
}

/* Every golden value of every resample of both systems. */
static void test_against_reference(fixture *fx, mrg_eval_stats *st[2], bool meteor) {
    FILE *f = fopen(test_golden_path("metrics/bootstrap.expected"), "r");
    CHECK(f != NULL);
    if (!f) return;
    double v[2][MAX_RESAMPLES][MRG_N_METRICS];
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < fx->n_resamples; b++) {
            mrg_scores sc;
            CHECK_OK(mrg_eval_stats_score(st[s], fx->idx[b], fx->m[b], &sc));
            mrg_scores_vector(&sc, v[s][b]);
        }
    char sys[8], key[96], line[256];
    int b, compared = 0, compared_meteor = 0;
    double want, worst = 0, worst_meteor = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%7s %d %95s %lf", sys, &b, key, &want) != 4) continue;
        int s = sys[0] - 'a', k = metric_index(key);
        CHECK(s >= 0 && s < 2 && b >= 0 && b < fx->n_resamples && k >= 0);
        if (s < 0 || s > 1 || b < 0 || b >= fx->n_resamples || k < 0) continue;
        double got = v[s][b][k], d = fabs(got - want);
        if (k == MRG_METRIC_METEOR) {
            if (!meteor) continue;
            compared_meteor++;
            if (d > worst_meteor) worst_meteor = d;
            if (!(d <= 1e-4)) fprintf(stderr, "  %s resample %d METEOR: %.10f, jar %.10f\n", sys, b, got, want);
            CHECK(d <= 1e-4); /* the jar prints its statistics rounded */
            continue;
        }
        compared++;
        if (d > worst) worst = d;
        if (!(d <= 1e-9)) fprintf(stderr, "  %s resample %d %s: %.15g, reference %.15g\n", sys, b, key, got, want);
        CHECK(d <= 1e-9);
    }
    fclose(f);
    printf("%d values of %d resamples vs pycocoevalcap: max |diff| %.2e", compared, fx->n_resamples, worst);
    if (meteor) printf("; METEOR vs the jar (%d): %.2e", compared_meteor, worst_meteor);
    printf("\n");
    CHECK(compared == 2 * fx->n_resamples * (MRG_N_METRICS - 1));
    CHECK(!meteor || compared_meteor == 2 * fx->n_resamples);
}

/* Scoring a resample from the statistics == scoring its texts. */
static void test_against_texts(fixture *fx, mrg_eval_stats *st, int s, const mrg_eval_opts *o) {
    for (int b = 0; b < fx->n_resamples; b++) {
        int m = fx->m[b];
        const char **p = malloc((size_t)m * sizeof *p);
        const char *const **r = malloc((size_t)m * sizeof *r);
        int *nr = malloc((size_t)m * sizeof *nr);
        for (int k = 0; k < m; k++) {
            p[k] = fx->pred[s][fx->idx[b][k]];
            r[k] = fx->refs[fx->idx[b][k]];
            nr[k] = fx->nr[fx->idx[b][k]];
        }
        mrg_scores a, c;
        double va[MRG_N_METRICS], vc[MRG_N_METRICS];
        CHECK_OK(mrg_eval_stats_score(st, fx->idx[b], m, &a));
        CHECK_OK(mrg_eval_scores(p, r, nr, m, o, &c, NULL));
        mrg_scores_vector(&a, va);
        mrg_scores_vector(&c, vc);
        for (int k = 0; k < MRG_N_METRICS; k++) {
            /* CIDEr's sums run over n-gram ids, which the texts intern in
             * another order: equal to rounding */
            double tol = k == MRG_METRIC_CIDER ? 1e-13 * (1 + fabs(vc[k])) : 0;
            bool same = fabs(va[k] - vc[k]) <= tol || (isnan(va[k]) && isnan(vc[k]));
            if (!same) fprintf(stderr, "  resample %d %s: %.17g from statistics, %.17g from texts\n", b,
                               mrg_metric_key(k), va[k], vc[k]);
            CHECK(same);
        }
        free(p);
        free(r);
        free(nr);
    }
    /* idx NULL: every study once == mrg_eval_scores */
    mrg_scores a, c;
    CHECK_OK(mrg_eval_stats_score(st, NULL, 0, &a));
    CHECK_OK(mrg_eval_scores(fx->pred[s], fx->refs, fx->nr, fx->n, o, &c, NULL));
    CHECK(!memcmp(a.bleu, c.bleu, sizeof a.bleu) && a.cider == c.cider && a.rouge_l == c.rouge_l);
    int bad[2] = {-1, fx->n};
    CHECK(mrg_eval_stats_score(st, bad, 1, &a) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_eval_stats_score(st, bad + 1, 1, &a) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_eval_stats_score(st, bad, 0, &a) == MRG_ERR_INVALID_ARG);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_indices(void) {
    int a[50], b[50], c[50];
    mrg_bootstrap_indices(1, 0, 50, a);
    mrg_bootstrap_indices(1, 0, 50, b);
    mrg_bootstrap_indices(2, 0, 50, c);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    mrg_bootstrap_indices(1, 1, 50, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    int hist[50] = {0};
    for (int r = 0; r < 200; r++) {
        mrg_bootstrap_indices(7, r, 50, c);
        for (int k = 0; k < 50; k++) {
            CHECK(c[k] >= 0 && c[k] < 50);
            if (c[k] >= 0 && c[k] < 50) hist[c[k]]++;
        }
    }
    for (int k = 0; k < 50; k++) CHECK(hist[k] > 100 && hist[k] < 320); /* 200 expected */
    /* pinned: the resamples of a seed are the same on every machine */
    int pin[1000];
    mrg_bootstrap_indices(1, 0, 1000, pin);
    printf("resample 0 of seed 1 over 1000: %d %d %d %d %d %d %d %d\n", pin[0], pin[1], pin[2], pin[3], pin[4],
           pin[5], pin[6], pin[7]);
    static const int want[8] = {595, 328, 933, 673, 853, 782, 70, 278};
    CHECK(!memcmp(pin, want, sizeof want));
}

/* The interval and the paired p-value recomputed from the resamples. */
static void test_intervals(mrg_eval_stats *sa, mrg_eval_stats *sb) {
    enum { N = 200 };
    const uint64_t seed = 99;
    int n = mrg_eval_stats_count(sa), *idx = malloc((size_t)n * sizeof *idx);
    static double va[N][MRG_N_METRICS], vb[N][MRG_N_METRICS];
    for (int b = 0; b < N; b++) {
        mrg_scores s;
        mrg_bootstrap_indices(seed, b, n, idx);
        CHECK_OK(mrg_eval_stats_score(sa, idx, n, &s));
        mrg_scores_vector(&s, va[b]);
        CHECK_OK(mrg_eval_stats_score(sb, idx, n, &s));
        mrg_scores_vector(&s, vb[b]);
    }
    free(idx);
    double lo[MRG_N_METRICS], hi[MRG_N_METRICS], lo2[MRG_N_METRICS], hi2[MRG_N_METRICS];
    double dlo[MRG_N_METRICS], dhi[MRG_N_METRICS], p[MRG_N_METRICS];
    CHECK_OK(mrg_eval_bootstrap(sa, N, seed, 0.95, lo, hi));
    CHECK_OK(mrg_eval_bootstrap(sa, N, seed, 0.95, lo2, hi2));
    CHECK(!memcmp(lo, lo2, sizeof lo) && !memcmp(hi, hi2, sizeof hi));
    CHECK_OK(mrg_eval_bootstrap_paired(sa, sb, N, seed, 0.95, dlo, dhi, p));
    double col[N];
    for (int k = 0; k < MRG_N_METRICS; k++) {
        if (isnan(va[0][k])) {
            CHECK(isnan(lo[k]) && isnan(hi[k]) && isnan(p[k]));
            continue;
        }
        for (int b = 0; b < N; b++) col[b] = va[b][k];
        qsort(col, N, sizeof *col, cmp_double);
        /* numpy's linear quantile: q (N-1) = 4.975 and 194.025 */
        double wl = col[4] + 0.975 * (col[5] - col[4]), wh = col[194] + 0.025 * (col[195] - col[194]);
        CHECK(fabs(lo[k] - wl) <= 1e-12 * (1 + fabs(wl)) && fabs(hi[k] - wh) <= 1e-12 * (1 + fabs(wh)));
        int le = 0, ge = 0;
        for (int b = 0; b < N; b++) {
            col[b] = vb[b][k] - va[b][k];
            le += col[b] <= 0;
            ge += col[b] >= 0;
        }
        qsort(col, N, sizeof *col, cmp_double);
        wl = col[4] + 0.975 * (col[5] - col[4]);
        wh = col[194] + 0.025 * (col[195] - col[194]);
        CHECK(fabs(dlo[k] - wl) <= 1e-12 * (1 + fabs(wl)) && fabs(dhi[k] - wh) <= 1e-12 * (1 + fabs(wh)));
        double wp = 2.0 * (1 + (le < ge ? le : ge)) / (N + 1);
        CHECK(p[k] == (wp < 1 ? wp : 1));
        CHECK(lo[k] <= hi[k] && dlo[k] <= dhi[k]);
    }
    /* a system against itself: no difference, p = 1 */
    CHECK_OK(mrg_eval_bootstrap_paired(sa, sa, 50, seed, 0.95, dlo, dhi, p));
    for (int k = 0; k < MRG_N_METRICS; k++)
        if (!isnan(p[k])) CHECK(p[k] == 1.0 && dlo[k] == 0 && dhi[k] == 0);
    CHECK(mrg_eval_bootstrap(sa, 1, seed, 0.95, lo, hi) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_eval_bootstrap(sa, 10, seed, 1.0, lo, hi) == MRG_ERR_INVALID_ARG);
}

/* ---- the command ------------------------------------------------------------ */

static cJSON *run_json(const char *cmd) {
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0) n += got;
    int rc = pclose(f);
    cJSON *o = NULL;
    if (buf && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) {
        buf[n] = 0;
        o = cJSON_Parse(buf);
    }
    free(buf);
    return o;
}

static bool ci_ok(const cJSON *o, const char *key) {
    char k[96];
    snprintf(k, sizeof k, "%s_ci", key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *ci = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2 &&
           cJSON_GetArrayItem(ci, 0)->valuedouble <= cJSON_GetArrayItem(ci, 1)->valuedouble;
}

static int exit_code(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(mrg_eval_stats *sa, mrg_eval_stats *sb) {
    const char *bin = getenv("MRG_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("MRG_BIN not set: `mrg eval --bootstrap` itself not tested\n");
        return;
    }
    char a[4096], b[4096], r[4096], cmd[16384];
    snprintf(a, sizeof a, "%s", test_golden_path("metrics/bootstrap.a.jsonl"));
    snprintf(b, sizeof b, "%s", test_golden_path("metrics/bootstrap.b.jsonl"));
    snprintf(r, sizeof r, "%s", test_golden_path("metrics/bootstrap.ref.jsonl"));
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --no-meteor --bootstrap 60 --seed 5 --json 2>/dev/null", bin,
             a, r);
    cJSON *o = run_json(cmd), *o2 = run_json(cmd);
    CHECK(o != NULL && o2 != NULL);
    if (o && o2) {
        char *t1 = cJSON_PrintUnformatted(o), *t2 = cJSON_PrintUnformatted(o2);
        CHECK(!strcmp(t1, t2)); /* the same seed, the same intervals */
        free(t1);
        free(t2);
        static const char *const keys[] = {"BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "ROUGE_L", "CIDEr"};
        for (int k = 0; k < 6; k++) CHECK(ci_ok(o, keys[k]));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "METEOR_ci")));
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "findings");
        CHECK(ci_ok(cJSON_GetObjectItemCaseSensitive(f, "macro"), "f1"));
        CHECK(ci_ok(cJSON_GetObjectItemCaseSensitive(f, "cardiomegaly"), "f1"));
        CHECK(ci_ok(cJSON_GetObjectItemCaseSensitive(f, "nodule"), "precision"));
        /* the library's interval for the same resamples */
        double lo[MRG_N_METRICS], hi[MRG_N_METRICS];
        CHECK_OK(mrg_eval_bootstrap(sa, 60, 5, 0.95, lo, hi));
        const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "CIDEr_ci");
        CHECK(cJSON_GetArraySize(ci) == 2 && fabs(cJSON_GetArrayItem(ci, 0)->valuedouble - lo[MRG_METRIC_CIDER]) < 1e-12 &&
              fabs(cJSON_GetArrayItem(ci, 1)->valuedouble - hi[MRG_METRIC_CIDER]) < 1e-12);
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(o, "bootstrap");
        CHECK(cJSON_GetObjectItemCaseSensitive(bs, "resamples")->valueint == 60);
    }
    cJSON_Delete(o);
    cJSON_Delete(o2);
    /* two runs: mean, sd and the paired test */
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --pred %s --ref %s --no-meteor --bootstrap 80 --seed 2 --json 2>/dev/null",
             bin, a, b, r);
    o = run_json(cmd);
    CHECK(o != NULL);
    if (o) {
        const cJSON *runs = cJSON_GetObjectItemCaseSensitive(o, "runs"), *mean = cJSON_GetObjectItemCaseSensitive(o, "mean"),
                    *sd = cJSON_GetObjectItemCaseSensitive(o, "sd"), *pr = cJSON_GetObjectItemCaseSensitive(o, "paired");
        CHECK(cJSON_GetArraySize(runs) == 2 && ci_ok(cJSON_GetArrayItem(runs, 0), "BLEU_4"));
        mrg_scores s1, s2;
        CHECK_OK(mrg_eval_stats_score(sa, NULL, 0, &s1));
        CHECK_OK(mrg_eval_stats_score(sb, NULL, 0, &s2));
        double m = (s1.bleu[3] + s2.bleu[3]) / 2, d = fabs(s1.bleu[3] - s2.bleu[3]) / sqrt(2.0);
        CHECK(fabs(cJSON_GetObjectItemCaseSensitive(mean, "BLEU_4")->valuedouble - m) < 1e-12);
        CHECK(fabs(cJSON_GetObjectItemCaseSensitive(sd, "BLEU_4")->valuedouble - d) < 1e-12);
        double dlo[MRG_N_METRICS], dhi[MRG_N_METRICS], p[MRG_N_METRICS];
        CHECK_OK(mrg_eval_bootstrap_paired(sa, sb, 80, 2, 0.95, dlo, dhi, p));
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(pr, "p");
        CHECK(fabs(cJSON_GetObjectItemCaseSensitive(pp, "CIDEr")->valuedouble - p[MRG_METRIC_CIDER]) < 1e-12);
        const cJSON *pf = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pp, "findings"), "macro");
        CHECK(fabs(cJSON_GetObjectItemCaseSensitive(pf, "f1")->valuedouble - p[MRG_METRIC_MACRO + 2]) < 1e-12);
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "diff_ci"), "BLEU_1")));
    }
    cJSON_Delete(o);
    /* the table prints too */
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --pred %s --ref %s --no-meteor >/dev/null 2>&1", bin, a, b, r);
    CHECK(exit_code(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --no-meteor --bootstrap 20 >/dev/null 2>&1", bin, a, r);
    CHECK(exit_code(cmd) == 0);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --seed 3 2>/dev/null", bin, a, r);
    CHECK(exit_code(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --bootstrap 5 2>/dev/null", bin, a, r);
    CHECK(exit_code(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --pred %s --ref %s --per-report /tmp/x.jsonl 2>/dev/null", bin, a, b, r);
    CHECK(exit_code(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s eval --help 2>/dev/null | grep -q -- --bootstrap", bin);
    CHECK(exit_code(cmd) == 0);
}

int main(void) {
    fixture fx;
    CHECK(load(&fx) == 0);
    if (fx.n_resamples == 0) return test_finish("metrics_bootstrap");
    mrg_meteor *m = mrg_meteor_open(NULL);
    CHECK(m != NULL);
    unsigned all = MRG_METEOR_EXACT | MRG_METEOR_STEM | MRG_METEOR_SYNONYM | MRG_METEOR_PARAPHRASE;
    bool full = m && mrg_meteor_modules(m) == all;
    if (!full) printf("METEOR not compared with the jar's numbers: %s\n", m ? mrg_meteor_note(m) : "");
    mrg_eval_opts o = {0};
    o.meteor = m;
    mrg_eval_stats *st[2] = {0};
    for (int s = 0; s < 2; s++) {
        CHECK_OK(mrg_eval_stats_build(fx.pred[s], fx.refs, fx.nr, fx.n, &o, &st[s]));
        if (st[s]) check_labels(st[s], s);
    }
    if (st[0] && st[1]) {
        test_against_reference(&fx, st, full);
        for (int s = 0; s < 2; s++) test_against_texts(&fx, st[s], s, &o);
        test_indices();
        test_intervals(st[0], st[1]);
        test_cli(st[0], st[1]);
    }
    for (int s = 0; s < 2; s++) mrg_eval_stats_free(st[s]);
    mrg_meteor_free(m);
    fixture_free(&fx);
    return test_finish("metrics_bootstrap");
}
