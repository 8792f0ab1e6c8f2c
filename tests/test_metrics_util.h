/* Helpers shared by the tests/test_metrics*.c tests: expected-score files
 * written by tools/ref/metrics_ref.py ("corpus KEY VALUE" and
 * "report ID KEY VALUE" lines) and scoring a pred/ref pair of JSON-lines
 * files with mrg_eval_scores. Header-only (static inline) on purpose: each test is
 * its own executable. */
#ifndef MRG_TEST_METRICS_UTIL_H
#define MRG_TEST_METRICS_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/metrics.h"
#include "testutil.h"

typedef struct expect_row {
    char id[96], key[16];
    double v;
} expect_row;

typedef struct expect {
    expect_row *r;
    int n;
} expect;

static inline int expect_load(const char *path, expect *e) {
    FILE *f = fopen(path, "r");
    e->r = NULL;
    e->n = 0;
    if (!f) return -1;
    char line[512];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        expect_row row;
        char kind[16];
        if (sscanf(line, "%15s", kind) != 1) continue;
        int ok = !strcmp(kind, "corpus")
                     ? (strcpy(row.id, "corpus"), sscanf(line, "%*s %15s %lf", row.key, &row.v) == 2)
                     : sscanf(line, "%*s %95s %15s %lf", row.id, row.key, &row.v) == 3;
        if (!ok) continue;
        if (e->n == cap) {
            cap = cap ? cap * 2 : 1024;
            e->r = realloc(e->r, (size_t)cap * sizeof *e->r);
            if (!e->r) {
                fclose(f);
                return -1;
            }
        }
        e->r[e->n++] = row;
    }
    fclose(f);
    return 0;
}

/* The deviation for every expected value of one scored set. */
typedef struct devs {
    double bleu_rouge_cider, meteor, meteor_corpus;
    int compared, meteor_compared;
} devs;

static inline void note_dev(devs *d, const char *key, const char *id, double got, double want, double tol) {
    double dv = fabs(got - want);
    if (!strcmp(key, "METEOR")) {
        if (!strcmp(id, "corpus"))
            d->meteor_corpus = dv > d->meteor_corpus ? dv : d->meteor_corpus;
        else
            d->meteor = dv > d->meteor ? dv : d->meteor;
        d->meteor_compared++;
        return;
    }
    d->compared++;
    if (dv > d->bleu_rouge_cider) d->bleu_rouge_cider = dv;
    if (!(dv <= tol)) fprintf(stderr, "  %s %s: got %.10f want %.10f\n", id, key, got, want);
    CHECK(dv <= tol);
}

/* Scores DIR/NAME.pred.jsonl against DIR/NAME.ref.jsonl and compares with
 * DIR/NAME.expected. METEOR is compared (into d) only when with_meteor. */
static inline void score_set(const char *dir, const char *name, bool with_meteor, mrg_meteor *m,
                      double tol, devs *d) {
    char p[4096], r[4096], x[4096];
    snprintf(p, sizeof p, "%s/%s.pred.jsonl", dir, name);
    snprintf(r, sizeof r, "%s/%s.ref.jsonl", dir, name);
    snprintf(x, sizeof x, "%s/%s.expected", dir, name);
    mrg_report_set ps, rs;
    expect e;
    memset(d, 0, sizeof *d);
    CHECK_OK(mrg_report_set_read(p, &ps));
    CHECK_OK(mrg_report_set_read(r, &rs));
    CHECK(expect_load(x, &e) == 0);
    CHECK(ps.n == rs.n && ps.n > 0);
    if (ps.n != rs.n || ps.n == 0) return;
    const char **preds = malloc((size_t)ps.n * sizeof *preds);
    const char *const **refs = malloc((size_t)ps.n * sizeof *refs);
    int *nr = malloc((size_t)ps.n * sizeof *nr);
    mrg_report_scores *per = calloc((size_t)ps.n, sizeof *per);
    for (int i = 0; i < ps.n; i++) {
        int k = mrg_report_set_find(&rs, ps.ids[i]);
        CHECK(k >= 0);
        preds[i] = ps.texts[i][0];
        refs[i] = (const char *const *)rs.texts[k < 0 ? 0 : k];
        nr[i] = rs.n_texts[k < 0 ? 0 : k];
    }
    mrg_eval_opts o = {0};
    o.no_meteor = !with_meteor;
    o.meteor = m;
    mrg_scores s;
    CHECK_OK(mrg_eval_scores(preds, refs, nr, ps.n, &o, &s, per));
    for (int j = 0; j < e.n; j++) {
        const expect_row *w = &e.r[j];
        if (!strcmp(w->key, "METEOR") && !with_meteor) continue;
        const double *b;
        double got;
        if (!strcmp(w->id, "corpus")) {
            b = s.bleu;
            got = !strcmp(w->key, "ROUGE_L") ? s.rouge_l : !strcmp(w->key, "CIDEr") ? s.cider
                  : !strcmp(w->key, "METEOR") ? s.meteor : NAN;
        } else {
            int i = mrg_report_set_find(&ps, w->id);
            CHECK(i >= 0);
            if (i < 0) continue;
            b = per[i].bleu;
            got = !strcmp(w->key, "ROUGE_L") ? per[i].rouge_l : !strcmp(w->key, "CIDEr") ? per[i].cider
                  : !strcmp(w->key, "METEOR") ? per[i].meteor : NAN;
        }
        if (!strncmp(w->key, "BLEU_", 5)) got = b[w->key[5] - '1'];
        note_dev(d, w->key, w->id, got, w->v, tol);
    }
    free(preds);
    free(refs);
    free(nr);
    free(per);
    free(e.r);
    mrg_report_set_free(&ps);
    mrg_report_set_free(&rs);
}

/* tools/ref/metrics_ref.py in the source tree (from MRG_TEST_DATA). */
static inline const char *ref_script(void) {
    static char path[4096];
    const char *golden = getenv("MRG_TEST_DATA");
    snprintf(path, sizeof path, "%s/../../tools/ref/metrics_ref.py", golden ? golden : "tests/golden");
    return path;
}

/* The Python with pycocoevalcap (MRG_PYTHON or python3), or NULL. */
static inline const char *python_with_pycocoevalcap(void) {
    static char py[512];
    const char *env = getenv("MRG_PYTHON");
    snprintf(py, sizeof py, "%s", env ? env : "python3");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import pycocoevalcap' >/dev/null 2>&1", py);
    return system(cmd) == 0 ? py : NULL;
}

#endif
