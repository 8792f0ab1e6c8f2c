/* Phantom data sets: drawing the cases and writing the R2Gen layout
 * (annotation.json + images/<id>/{0,1}.png). Rendering is in
 * phantom_render.c, report text in phantom_report.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/limits.h"
#include "mrg/phantom.h"
#include "phantom_internal.h"

#define MAX_STUDIES MRG_MAX_STUDIES /* a split must stay readable (mrg/limits.h) */

uint64_t mrg_phantom_study_seed(uint64_t seed, int index) {
    return ph_mix(ph_mix(seed) + 0x9E3779B97F4A7C15ull * (uint64_t)(index + 1));
}

void mrg_phantom_case_draw(uint64_t seed, mrg_phantom_case *c) {
    memset(c, 0, sizeof *c);
    c->seed = seed;
    ph_rng r = ph_stream(seed, PH_STREAM_CASE);
    /* every draw happens whatever the outcome, so the details of a finding
     * do not depend on which other findings are present */
    bool normal = ph_unif(&r) < 0.25f;
    int n_pos = 0;
    for (int f = 0; f < MRG_N_FINDINGS; f++) {
        c->finding[f] = !normal && ph_unif(&r) < 0.24f;
        n_pos += c->finding[f];
    }
    int forced = ph_int(&r, MRG_N_FINDINGS);
    if (!normal && n_pos == 0) c->finding[forced] = true;
    for (int s = 0; s < 2; s++) {
        c->effusion_size[s] = ph_int(&r, 3);
        c->pneumothorax_size[s] = ph_int(&r, 3);
    }
    c->opacity_lobe = ph_int(&r, MRG_N_LOBES);
    c->nodule_side = ph_int(&r, 2);
    c->nodule_zone = ph_int(&r, 3);
    for (int k = 0; k < 3; k++)
        c->nodule_pos[k] = ph_unif(&r);
    c->nodule_mm = 6 + ph_int(&r, 9);
}

void mrg_phantom_split_sizes(int n, int *n_train, int *n_val, int *n_test) {
    int v = n > 0 ? (n + 5) / 10 : 0;
    *n_val = v;
    *n_test = v;
    *n_train = n - 2 * v;
}

static void study_id(char *buf, size_t cap, int i) { snprintf(buf, cap, "PH%05d", i); }

/* Renders study i and writes its two PNGs; *report receives its text. */
static mrg_status write_study(const char *dir, int i, uint64_t seed, int size, mrg_phantom_case *c,
                              char **report) {
    mrg_phantom_case_draw(mrg_phantom_study_seed(seed, i), c);
    char id[32];
    study_id(id, sizeof id, i);
    size_t cap = strlen(dir) + 64;
    char *path = malloc(cap);
    if (!path) return mrg_error(MRG_ERR_OOM, "out of memory");
    snprintf(path, cap, "%s/images/%s", dir, id);
    mrg_status st = mrg_mkdir(path);
    mrg_image views[2] = {{0}, {0}};
    if (st == MRG_OK) st = mrg_phantom_render(c, size, &views[0], &views[1]);
    for (int k = 0; k < 2 && st == MRG_OK; k++) {
        snprintf(path, cap, "%s/images/%s/%d.png", dir, id, k);
        st = mrg_image_save_png(path, &views[k]);
    }
    if (st == MRG_OK) {
        *report = mrg_phantom_report(c);
        if (!*report) st = MRG_ERR_OOM;
    }
    mrg_image_free(&views[0]);
    mrg_image_free(&views[1]);
    free(path);
    return st;
}

static cJSON *study_json(int i, const char *split, const char *report, const mrg_phantom_case *c) {
    char id[32], p0[48], p1[48];
    study_id(id, sizeof id, i);
    snprintf(p0, sizeof p0, "%s/0.png", id);
    snprintf(p1, sizeof p1, "%s/1.png", id);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *paths = cJSON_AddArrayToObject(o, "image_path");
    cJSON *labels = NULL;
    bool ok = cJSON_AddStringToObject(o, "id", id) &&
              cJSON_AddStringToObject(o, "report", report) && paths &&
              cJSON_AddItemToArray(paths, cJSON_CreateString(p0)) &&
              cJSON_AddItemToArray(paths, cJSON_CreateString(p1)) &&
              cJSON_AddStringToObject(o, "split", split) &&
              (labels = cJSON_AddObjectToObject(o, "labels")) != NULL;
    for (int f = 0; ok && f < MRG_N_FINDINGS; f++)
        ok = cJSON_AddNumberToObject(labels, mrg_finding_name((mrg_finding)f),
                                     c->finding[f] ? 1 : 0) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static mrg_status write_annotation(const char *dir, char **reports, const mrg_phantom_case *cases,
                                   const int split_n[3]) {
    static const char *const names[3] = {"train", "val", "test"};
    cJSON *root = cJSON_CreateObject();
    mrg_status st = root ? MRG_OK : mrg_error(MRG_ERR_OOM, "out of memory");
    int i = 0;
    for (int s = 0; s < 3 && st == MRG_OK; s++) {
        cJSON *arr = cJSON_AddArrayToObject(root, names[s]);
        if (!arr) st = mrg_error(MRG_ERR_OOM, "out of memory");
        for (int k = 0; k < split_n[s] && st == MRG_OK; k++, i++) {
            cJSON *o = study_json(i, names[s], reports[i], &cases[i]);
            if (!o || !cJSON_AddItemToArray(arr, o)) st = mrg_error(MRG_ERR_OOM, "out of memory");
        }
    }
    char *text = st == MRG_OK ? cJSON_PrintUnformatted(root) : NULL;
    if (st == MRG_OK && !text) st = mrg_error(MRG_ERR_OOM, "out of memory printing JSON");
    if (st == MRG_OK) {
        size_t cap = strlen(dir) + 32;
        char *path = malloc(cap);
        if (!path) {
            st = mrg_error(MRG_ERR_OOM, "out of memory");
        } else {
            snprintf(path, cap, "%s/annotation.json", dir);
            st = mrg_write_file_atomic(path, text, strlen(text), false);
            free(path);
        }
    }
    cJSON_free(text);
    cJSON_Delete(root);
    return st;
}

mrg_status mrg_phantoms_write(const char *dir, int n, uint64_t seed, int size,
                              mrg_phantom_summary *summary) {
    if (!dir || !*dir) return mrg_error(MRG_ERR_INVALID_ARG, "phantoms: no output directory");
    if (n < 1 || n > MAX_STUDIES)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "phantoms: the number of studies must be 1..%d, not %d", MAX_STUDIES, n);
    if (size < MRG_PHANTOM_MIN_SIZE || size > MRG_PHANTOM_MAX_SIZE)
        return mrg_error(MRG_ERR_INVALID_ARG, "phantoms: image size must be %d..%d, not %d",
                         MRG_PHANTOM_MIN_SIZE, MRG_PHANTOM_MAX_SIZE, size);
    mrg_status st = mrg_mkdirs(dir);
    if (st != MRG_OK) return st;
    size_t cap = strlen(dir) + 16;
    char *img_dir = malloc(cap);
    if (!img_dir) return mrg_error(MRG_ERR_OOM, "out of memory");
    snprintf(img_dir, cap, "%s/images", dir);
    st = mrg_mkdir(img_dir);
    free(img_dir);
    if (st != MRG_OK) return st;

    char **reports = calloc((size_t)n, sizeof *reports);
    mrg_phantom_case *cases = calloc((size_t)n, sizeof *cases);
    if (!reports || !cases) {
        free(reports);
        free(cases);
        return mrg_error(MRG_ERR_OOM, "phantoms: out of memory for %d studies", n);
    }
    /* Studies are independent and each is drawn from its own seed, so the
     * output does not depend on the number of threads. The error message is
     * thread-local: the first failing thread copies it out. */
    mrg_status first = MRG_OK;
    char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        mrg_status sti;
#pragma omp atomic read
        sti = first;
        if (sti != MRG_OK) continue;
        sti = write_study(dir, i, seed, size, &cases[i], &reports[i]);
        if (sti != MRG_OK) {
#pragma omp critical(mrg_phantoms_error)
            {
                if (first == MRG_OK) {
                    snprintf(msg, sizeof msg, "%s", mrg_last_error());
#pragma omp atomic write
                    first = sti;
                }
            }
        }
    }
    int split_n[3];
    mrg_phantom_split_sizes(n, &split_n[0], &split_n[1], &split_n[2]);
    if (first != MRG_OK)
        st = mrg_error(first, "%s", msg);
    else
        st = write_annotation(dir, reports, cases, split_n);
    if (st == MRG_OK && summary) {
        memset(summary, 0, sizeof *summary);
        summary->n_train = split_n[0];
        summary->n_val = split_n[1];
        summary->n_test = split_n[2];
        for (int i = 0; i < n; i++) {
            int any = 0;
            for (int f = 0; f < MRG_N_FINDINGS; f++) {
                summary->positives[f] += cases[i].finding[f];
                any |= cases[i].finding[f];
            }
            summary->n_normal += !any;
        }
    }
    for (int i = 0; i < n; i++)
        free(reports[i]);
    free(reports);
    free(cases);
    return st;
}
