/* Bootstrap intervals and run comparisons as `mrg eval` prints them (JSON
 * and tables); see eval_report.h. */
#include "eval_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scores_json.h"

static cJSON *num_or_null(double v) { return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v); }

static cJSON *pair_json(double lo, double hi) {
    if (isnan(lo) || isnan(hi)) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
    return a;
}

/* Index of the metric vector that the member `key` of an object holds:
 * top-level keys, or precision/recall/f1 inside findings.<name> (finding
 * -1 the macro, -2 top level); -1 when it is not a metric. */
static int metric_of(const char *key, int finding) {
    for (int k = 0; k < MRG_METRIC_MACRO && finding == -2; k++)
        if (!strcmp(key, mrg_metric_key(k))) return k;
    if (finding < -1) return -1;
    static const char *const part[3] = {"precision", "recall", "f1"};
    for (int j = 0; j < 3; j++)
        if (!strcmp(key, part[j])) return finding < 0 ? MRG_METRIC_MACRO + j : MRG_METRIC_FINDING + 3 * finding + j;
    return -1;
}

/* Rebuilds the members of o in order, with "KEY_ci" after each metric. */
static void add_ci(cJSON *o, int finding, const double *low, const double *high) {
    cJSON *tmp = cJSON_CreateObject();
    while (o->child) {
        cJSON *c = cJSON_DetachItemViaPointer(o, o->child);
        cJSON_AddItemToObject(tmp, c->string, c);
    }
    while (tmp->child) {
        cJSON *c = cJSON_DetachItemViaPointer(tmp, tmp->child);
        cJSON_AddItemToObject(o, c->string, c);
        int k = metric_of(c->string, finding);
        if (k >= 0) {
            char key[64];
            snprintf(key, sizeof key, "%s_ci", c->string);
            cJSON_AddItemToObject(o, key, pair_json(low[k], high[k]));
        }
    }
    cJSON_Delete(tmp);
}

static void add_boot(cJSON *o, const eval_boot *b) {
    cJSON *j = cJSON_AddObjectToObject(o, "bootstrap");
    cJSON_AddNumberToObject(j, "resamples", b->resamples);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)b->seed);
    /* a seed can exceed a double's exact range: the number when it fits */
    if (b->seed <= (1ull << 53))
        cJSON_AddNumberToObject(j, "seed", (double)b->seed);
    else
        cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "level", b->level);
}

cJSON *eval_run_json(const mrg_scores *s, int n, const double *low, const double *high,
                     const eval_boot *b) {
    cJSON *o = scores_to_json(s, n);
    if (!low || !high) return o;
    add_ci(o, -2, low, high);
    cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "findings");
    for (cJSON *e = f ? f->child : NULL; e; e = e->next) {
        int k = -1;
        for (int j = 0; j < MRG_N_FINDINGS; j++)
            if (!strcmp(e->string, mrg_finding_name((mrg_finding)j))) k = j;
        if (k >= 0 || !strcmp(e->string, "macro")) add_ci(e, k, low, high);
    }
    if (b && b->resamples) add_boot(o, b);
    return o;
}

static void print_ci(double lo, double hi) {
    if (isnan(lo) || isnan(hi))
        printf("  %-18s", "-");
    else
        printf("  [%.4f, %.4f]", lo, hi);
}

void eval_print_run_table(const mrg_scores *s, int n, const double *low, const double *high,
                          const eval_boot *b) {
    if (!low || !high) {
        scores_print_table(s, n);
        return;
    }
    double v[MRG_N_METRICS];
    mrg_scores_vector(s, v);
    printf("%d reports; %.0f %% intervals from %d bootstrap resamples of the reports (seed %llu)\n", n,
           100 * b->level, b->resamples, (unsigned long long)b->seed);
    for (int k = 0; k < MRG_METRIC_MACRO; k++) {
        if (isnan(v[k]))
            printf("  %-8s %-7s", mrg_metric_key(k), "-");
        else
            printf("  %-8s %.4f ", mrg_metric_key(k), v[k]);
        print_ci(low[k], high[k]);
        printf("\n");
    }
    if (!s->has_findings) return;
    const mrg_finding_scores *f = &s->findings;
    printf("\n  %-24s %9s %9s %9s %-18s %5s %5s %5s\n", "finding", "precision", "recall", "f1",
           "  f1 interval", "tp", "fp", "fn");
    for (int k = 0; k < MRG_N_FINDINGS; k++) {
        int m = MRG_METRIC_FINDING + 3 * k + 2;
        printf("  %-24s %9.4f %9.4f %9.4f", mrg_finding_name((mrg_finding)k), f->precision[k], f->recall[k],
               f->f1[k]);
        print_ci(low[m], high[m]);
        printf(" %5d %5d %5d\n", f->tp[k], f->fp[k], f->fn[k]);
    }
    printf("  %-24s %9.4f %9.4f %9.4f", "macro", f->macro_precision, f->macro_recall, f->macro_f1);
    print_ci(low[MRG_METRIC_MACRO + 2], high[MRG_METRIC_MACRO + 2]);
    printf("\n");
}

/* ---- several runs ---------------------------------------------------------- */

/* Sets the metric k's item in the nested object shape of `mrg eval --json`
 * (BLEU_1 ... CIDEr at the top, findings.<name>.<part> below). */
static void set_metric(cJSON *root, int k, cJSON *item) {
    char key[96];
    snprintf(key, sizeof key, "%s", mrg_metric_key(k));
    cJSON *o = root;
    char *part = key, *dot;
    while ((dot = strchr(part, '.'))) {
        *dot = 0;
        cJSON *child = cJSON_GetObjectItemCaseSensitive(o, part);
        if (!child) child = cJSON_AddObjectToObject(o, part);
        o = child;
        part = dot + 1;
    }
    cJSON_AddItemToObject(o, part, item);
}

static cJSON *vector_json(const double *v) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < MRG_N_METRICS; k++) set_metric(o, k, num_or_null(v[k]));
    return o;
}

static cJSON *pairs_json(const double *lo, const double *hi) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < MRG_N_METRICS; k++) set_metric(o, k, pair_json(lo[k], hi[k]));
    return o;
}

/* Mean and sample standard deviation (n - 1) of each metric over the runs. */
static void mean_sd(const eval_runs *r, double *mean, double *sd) {
    double v[MRG_N_METRICS];
    memset(mean, 0, MRG_N_METRICS * sizeof *mean);
    memset(sd, 0, MRG_N_METRICS * sizeof *sd);
    for (int i = 0; i < r->n_runs; i++) {
        mrg_scores_vector(&r->scores[i], v);
        for (int k = 0; k < MRG_N_METRICS; k++) mean[k] += v[k] / r->n_runs;
    }
    for (int i = 0; i < r->n_runs; i++) {
        mrg_scores_vector(&r->scores[i], v);
        for (int k = 0; k < MRG_N_METRICS; k++) sd[k] += (v[k] - mean[k]) * (v[k] - mean[k]);
    }
    for (int k = 0; k < MRG_N_METRICS; k++) sd[k] = sqrt(sd[k] / (r->n_runs - 1));
}

cJSON *eval_runs_json(const eval_runs *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (int i = 0; i < r->n_runs; i++) {
        cJSON *run = eval_run_json(&r->scores[i], r->n, r->low ? r->low[i] : NULL, r->high ? r->high[i] : NULL,
                                   NULL);
        cJSON_AddItemToObject(run, "pred", cJSON_CreateString(r->paths[i]));
        cJSON_AddItemToArray(runs, run);
    }
    cJSON_AddNumberToObject(o, "n", r->n);
    double mean[MRG_N_METRICS], sd[MRG_N_METRICS];
    mean_sd(r, mean, sd);
    cJSON_AddItemToObject(o, "mean", vector_json(mean));
    cJSON_AddItemToObject(o, "sd", vector_json(sd));
    if (r->paired) {
        double va[MRG_N_METRICS], vb[MRG_N_METRICS], d[MRG_N_METRICS];
        mrg_scores_vector(&r->scores[0], va);
        mrg_scores_vector(&r->scores[1], vb);
        for (int k = 0; k < MRG_N_METRICS; k++) d[k] = vb[k] - va[k];
        cJSON *p = cJSON_AddObjectToObject(o, "paired");
        cJSON_AddStringToObject(p, "a", r->paths[0]);
        cJSON_AddStringToObject(p, "b", r->paths[1]);
        cJSON_AddItemToObject(p, "diff", vector_json(d));
        cJSON_AddItemToObject(p, "diff_ci", pairs_json(r->diff_low, r->diff_high));
        cJSON_AddItemToObject(p, "p", vector_json(r->p));
    }
    if (r->boot.resamples) add_boot(o, &r->boot);
    return o;
}

/* The rows of the runs table: the corpus metrics, macro P/R/F1, each finding's F1. */
static int table_rows(int *rows) {
    int n = 0;
    for (int k = 0; k < MRG_METRIC_FINDING; k++) rows[n++] = k;
    for (int f = 0; f < MRG_N_FINDINGS; f++) rows[n++] = MRG_METRIC_FINDING + 3 * f + 2;
    return n;
}

static void print_num(double v, const char *fmt) {
    if (isnan(v))
        printf(" %8s", "-");
    else
        printf(fmt, v);
}

void eval_print_runs_table(const eval_runs *r) {
    double mean[MRG_N_METRICS], sd[MRG_N_METRICS], v[8][MRG_N_METRICS];
    int shown = r->n_runs < 8 ? r->n_runs : 8, rows[MRG_N_METRICS], nrows = table_rows(rows);
    mean_sd(r, mean, sd);
    for (int i = 0; i < shown; i++) mrg_scores_vector(&r->scores[i], v[i]);
    printf("%d runs, %d reports each (the ids every run predicts)\n", r->n_runs, r->n);
    for (int i = 0; i < r->n_runs; i++) printf("  run %d: %s\n", i + 1, r->paths[i]);
    printf("\n  %-34s", "metric");
    for (int i = 0; i < shown; i++) printf("   run %-2d", i + 1);
    printf(" %8s %8s", "mean", "sd");
    if (r->paired) printf(" %9s  %-18s %7s", "run2-run1", "interval", "p");
    printf("\n");
    for (int j = 0; j < nrows; j++) {
        int k = rows[j];
        printf("  %-34s", mrg_metric_key(k));
        for (int i = 0; i < shown; i++) print_num(v[i][k], " %8.4f");
        print_num(mean[k], " %8.4f");
        print_num(sd[k], " %8.4f");
        if (r->paired) {
            print_num(v[1][k] - v[0][k], " %+9.4f");
            if (isnan(r->diff_low[k]))
                printf("  %-20s", "-");
            else
                printf("  [%+.4f, %+.4f]", r->diff_low[k], r->diff_high[k]);
            print_num(r->p[k], " %7.4f");
        }
        printf("\n");
    }
    if (r->n_runs > shown) printf("  (the first %d runs shown; --json lists all)\n", shown);
    if (r->paired)
        printf("\n  run2-run1: difference of the corpus scores; interval and two-sided p from a paired\n"
               "  bootstrap (%d resamples of the reports, the same for both runs, seed %llu)\n",
               r->boot.resamples, (unsigned long long)r->boot.seed);
    if (!r->low) return;
    printf("\n  %.0f %% intervals of each run (%d bootstrap resamples, seed %llu)\n", 100 * r->boot.level,
           r->boot.resamples, (unsigned long long)r->boot.seed);
    printf("  %-34s", "metric");
    for (int i = 0; i < shown; i++) printf("  run %-14d", i + 1);
    printf("\n");
    for (int j = 0; j < nrows; j++) {
        int k = rows[j];
        printf("  %-34s", mrg_metric_key(k));
        for (int i = 0; i < shown; i++) print_ci(r->low[i][k], r->high[i][k]);
        printf("\n");
    }
}
