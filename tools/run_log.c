/* Reading a run's log.jsonl for its curves (see run_log.h). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_log.h"

/* A growing set of parallel arrays of doubles. */
typedef struct cols {
    int n, cap, k;
    double **c; /* k columns */
} cols;

static bool cols_push(cols *t, const double *v) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        for (int j = 0; j < t->k; j++) {
            double *p = realloc(t->c[j], sizeof *p * (size_t)cap);
            if (!p) return false;
            t->c[j] = p;
        }
        t->cap = cap;
    }
    for (int j = 0; j < t->k; j++) t->c[j][t->n] = v[j];
    t->n++;
    return true;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void run_log_free(run_log *l) {
    free(l->train_step);
    free(l->train_loss);
    free(l->eval_epoch);
    free(l->eval_step);
    free(l->eval_bleu4);
    free(l->eval_cider);
    free(l->eval_f1);
    memset(l, 0, sizeof *l);
}

mrg_status run_log_read(const char *path, run_log *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return mrg_error(MRG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    double *tc[2] = {NULL, NULL}, *ec[5] = {NULL, NULL, NULL, NULL, NULL};
    cols train = {0, 0, 2, tc}, eval = {0, 0, 5, ec};
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    while (ok && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "train")) {
            double v[2] = {num(o, "step"), num(o, "loss")};
            /* a resumed run starts again from its checkpoint's update */
            while (train.n && !(tc[0][train.n - 1] < v[0])) train.n--;
            if (!isnan(v[0])) ok = cols_push(&train, v);
        } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "eval")) {
            double v[5] = {num(o, "epoch"), num(o, "step"), num(o, "bleu4"), num(o, "cider"),
                           num(o, "finding_f1")};
            while (eval.n && !(ec[0][eval.n - 1] < v[0])) eval.n--;
            if (!isnan(v[0])) ok = cols_push(&eval, v);
        }
        cJSON_Delete(o);
    }
    free(line);
    bool bad = ferror(f);
    fclose(f);
    *out = (run_log){train.n, tc[0], tc[1], eval.n, ec[0], ec[1], ec[2], ec[3], ec[4]};
    if (!ok) {
        run_log_free(out);
        return mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
    }
    if (bad) {
        run_log_free(out);
        return mrg_error(MRG_ERR_IO, "cannot read %s", path);
    }
    return MRG_OK;
}
