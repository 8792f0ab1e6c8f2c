/* Helpers of the tests that run the mrg binary on training runs (clitest.h). */
#define _GNU_SOURCE
#include "clitest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/content_hash.h"
#include "mrg/safetensors.h"
#include "mrg/trainer.h"
#include "testutil.h"

char cli_root[256];
const char *cli_bin;
char cli_out[1 << 17];

bool cli_setup(const char *name) {
    cli_bin = getenv("MRG_BIN");
    if (!cli_bin) return false;
    snprintf(cli_root, sizeof cli_root, "/tmp/%s_%ld", name, (long)getpid());
    return mrg_mkdirs(cli_root) == MRG_OK;
}

bool cli_make_data(void) {
    return cli_sh("%s phantoms --out ph --n 20 --size 32 > /dev/null", cli_bin) == 0 &&
           cli_sh("%s pretrain-lm --data ph --preset micro --out lm --steps 3 --vocab 300 --device cpu > /dev/null",
                  cli_bin) == 0;
}

int cli_sh(const char *fmt, ...) {
    char cmd[4096], full[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && { %s ; } 2>&1", cli_root, cmd);
    return test_run_cmd(full, cli_out, sizeof cli_out);
}

bool cli_has(const char *text) {
    bool ok = strstr(cli_out, text) != NULL;
    if (!ok) fprintf(stderr, "  expected \"%s\" in:\n%s\n", text, cli_out);
    return ok;
}

const char *cli_at(const char *rel) {
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", cli_root, rel);
    return p[k];
}

uint64_t cli_hash(const char *rel) {
    uint64_t h = 0;
    if (mrg_hash_file(cli_at(rel), &h)) return 0;
    return h;
}

bool cli_write(const char *rel, const char *text) {
    FILE *f = fopen(cli_at(rel), "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

bool cli_exists(const char *rel) {
    struct stat sb;
    return lstat(cli_at(rel), &sb) == 0;
}

int cli_hidden(const char *rel) {
    char p[700];
    snprintf(p, sizeof p, "ls -A %s | grep -c '^\\.' ", cli_at(rel));
    FILE *f = popen(p, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1) n = -1;
        pclose(f);
    }
    return n;
}

bool cli_all_finite(const char *rel) {
    mrg_st_file *f = mrg_st_open(cli_at(rel));
    if (!f) return false;
    bool ok = true;
    for (int i = 0; i < mrg_st_count(f); i++) {
        const mrg_st_tensor *t = mrg_st_get(f, i);
        if (t->dtype != MRG_F32) continue;
        for (size_t j = 0; j < t->nbytes / 4; j++) {
            float v;
            memcpy(&v, (const char *)t->data + 4 * j, 4);
            if (!isfinite(v)) { ok = false; break; }
        }
    }
    mrg_st_close(f);
    return ok;
}

int64_t cli_state_step(const char *run) {
    char p[300];
    snprintf(p, sizeof p, "%s/last/trainer_state.json", run);
    mrg_train_state s;
    return mrg_train_state_read(cli_at(p), &s, NULL, NULL) == MRG_OK ? s.step : -1;
}

/* ---- the logs of runs -------------------------------------------------- */

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

bool cli_read_log(const char *run, cli_log *l) {
    for (int i = 0; i <= CLI_MAX_STEPS; i++) l->loss[i] = l->score[i] = l->bleu4[i] = NAN;
    l->consistent = true;
    char p[300];
    snprintf(p, sizeof p, "%s/log.jsonl", run);
    FILE *f = fopen(cli_at(p), "r");
    if (!f) return false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        int s = cJSON_IsNumber(step) ? step->valueint : -1;
        if (type && s >= 0 && s <= CLI_MAX_STEPS) {
            double *dst = NULL, v = NAN, b4 = NAN;
            if (!strcmp(type, "train")) {
                dst = &l->loss[s];
                v = num(o, "loss");
            } else if (!strcmp(type, "eval")) {
                dst = &l->score[s];
                v = num(o, "score");
                b4 = num(o, "bleu4");
                l->bleu4[s] = b4;
            }
            if (dst) {
                if (!isnan(*dst) && *dst != v) l->consistent = false;
                *dst = v;
            }
        }
        cJSON_Delete(o);
    }
    fclose(f);
    return true;
}

bool cli_same_run(const cli_log *a, const cli_log *b, int steps) {
    bool same = a->consistent && b->consistent;
    for (int s = 1; s <= steps; s++) {
        if (isnan(a->loss[s]) || a->loss[s] != b->loss[s]) {
            fprintf(stderr, "  update %d: loss %.9g vs %.9g\n", s, a->loss[s], b->loss[s]);
            same = false;
        }
        bool ea = !isnan(a->score[s]), eb = !isnan(b->score[s]);
        if (ea != eb || (ea && (a->score[s] != b->score[s] || a->bleu4[s] != b->bleu4[s]))) {
            fprintf(stderr, "  validation after update %d: %.9g vs %.9g\n", s, a->score[s], b->score[s]);
            same = false;
        }
    }
    return same;
}

