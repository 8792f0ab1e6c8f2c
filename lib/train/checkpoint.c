/* Atomic checkpoint directories, the trainer's JSON sidecar and the AdamW
 * moments file.
 *
 * A checkpoint is built in a temporary directory beside its final place,
 * every file and the directory fsynced, then swapped in: renameat2
 * RENAME_EXCHANGE where the filesystem has it (one atomic step), else
 * final → .old-<name>, tmp → final (a crash in between leaves .old-<name>,
 * which mrg_ckpt_recover puts back). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/limits.h"
#include "mrg/outputs.h"
#include "mrg/safetensors.h"
#include "mrg/checkpoint.h"

mrg_status mrg_ckpt_begin(const char *final_dir, char *tmp, size_t cap) {
    static int counter = 0;
    /* the temporaries of a killed earlier run go first */
    mrg_status st = mrg_ckpt_clean(final_dir);
    if (st) return st;
    char parent[4096], base[1024];
    mrg_path_split(final_dir, parent, sizeof parent, base, sizeof base);
    for (int tries = 0; tries < 1000; tries++) {
        int n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        if ((size_t)snprintf(tmp, cap, "%s/.tmp-%s-%ld-%d", parent, base, (long)getpid(), n) >= cap)
            return mrg_error(MRG_ERR_INVALID_ARG, "checkpoint path too long: %s", final_dir);
        if (mkdir(tmp, 0755) == 0) return MRG_OK;
        if (errno != EEXIST)
            return mrg_error(MRG_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
    }
    return mrg_error(MRG_ERR_IO, "cannot create a temporary directory beside %s", final_dir);
}

static void strip_slashes(const char *in, char *out, size_t cap) {
    snprintf(out, cap, "%s", in);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') out[--n] = 0;
}

/* parent/.old-<name> of final_dir into out; false when it does not fit. */
static bool old_path(const char *final_dir, char *out, size_t cap) {
    char parent[4096], base[1024];
    mrg_path_split(final_dir, parent, sizeof parent, base, sizeof base);
    return (size_t)snprintf(out, cap, "%s/.old-%s", parent, base) < cap;
}

mrg_status mrg_ckpt_recover(const char *final_in) {
    char old[4200], final_dir[4096];
    strip_slashes(final_in, final_dir, sizeof final_dir);
    if (!old_path(final_dir, old, sizeof old))
        return mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", final_dir);
    if (!mrg_path_exists(final_dir) && mrg_path_exists(old) && rename(old, final_dir) != 0)
        return mrg_error(MRG_ERR_IO, "cannot restore %s from %s: %s", final_dir, old, strerror(errno));
    return MRG_OK;
}

mrg_status mrg_ckpt_commit(const char *tmp, const char *final_in) {
    char final_dir[4096];
    strip_slashes(final_in, final_dir, sizeof final_dir);
    /* every file, then the directories themselves */
    mrg_status st = mrg_fsync_tree(tmp);
    if (st) return st;

    char parent[4096], base[1024], old[4200];
    mrg_path_split(final_dir, parent, sizeof parent, base, sizeof base);
    if (!old_path(final_dir, old, sizeof old))
        return mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", final_dir);
    if ((st = mrg_ckpt_recover(final_dir))) return st;
    if (!mrg_path_exists(final_dir)) {
        if (rename(tmp, final_dir) != 0)
            return mrg_error(MRG_ERR_IO, "cannot rename %s to %s: %s", tmp, final_dir, strerror(errno));
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final_dir, RENAME_EXCHANGE) == 0) {
        /* tmp now holds the previous checkpoint */
        if ((st = mrg_rm_tree(tmp))) return st;
    } else {
        if ((st = mrg_rm_tree(old))) return st;
        if (rename(final_dir, old) != 0)
            return mrg_error(MRG_ERR_IO, "cannot rename %s: %s", final_dir, strerror(errno));
        if (rename(tmp, final_dir) != 0)
            return mrg_error(MRG_ERR_IO, "cannot rename %s to %s: %s", tmp, final_dir, strerror(errno));
        if ((st = mrg_rm_tree(old))) return st;
    }
    return mrg_fsync_path(parent, true);
}

/* ---- the sidecar -------------------------------------------------------- */

static bool add_u64_str(cJSON *o, const char *key, uint64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return cJSON_AddStringToObject(o, key, s) != NULL;
}

mrg_status mrg_train_state_write(const char *path, const mrg_train_state *st,
                                 const char *options_json, const char *config_json) {
    if (!isfinite(st->best_score))
        return mrg_error(MRG_ERR_INVALID_ARG, "train state: best_score %g is not finite",
                         st->best_score);
    cJSON *o = cJSON_CreateObject();
    if (!o) return mrg_error(MRG_ERR_OOM, "train state: out of memory");
    /* cJSON prints doubles with 15 significant digits when they compare
     * equal within a relative epsilon, which changes the last bits of a
     * score and counts past 2^49: these numbers are printed exactly here */
    char step[32], samples[32], best[40], skipped[32];
    snprintf(step, sizeof step, "%" PRId64, st->step);
    snprintf(skipped, sizeof skipped, "%" PRId64, st->skipped);
    snprintf(samples, sizeof samples, "%" PRId64, st->samples);
    snprintf(best, sizeof best, "%.17g", st->best_score);
    bool ok = cJSON_AddRawToObject(o, "step", step) &&
              cJSON_AddNumberToObject(o, "epoch", st->epoch) &&
              cJSON_AddNumberToObject(o, "batch", st->batch) &&
              cJSON_AddRawToObject(o, "samples", samples) &&
              /* 64-bit values as decimal strings: JSON numbers are doubles */
              add_u64_str(o, "data_seed", st->data_seed) &&
              cJSON_AddRawToObject(o, "best_score", best) &&
              cJSON_AddNumberToObject(o, "best_epoch", st->best_epoch) &&
              cJSON_AddRawToObject(o, "skipped", skipped);
    const char *raw[2] = {options_json, config_json};
    const char *keys[2] = {"options", "config"};
    for (int i = 0; i < 2 && ok; i++) {
        if (!raw[i]) continue;
        cJSON *j = cJSON_Parse(raw[i]);
        if (!j) {
            cJSON_Delete(o);
            return mrg_error(MRG_ERR_INVALID_ARG, "train state: %s is not valid JSON", keys[i]);
        }
        cJSON_AddItemToObject(o, keys[i], j);
    }
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return mrg_error(MRG_ERR_OOM, "train state: out of memory");
    mrg_status s = mrg_write_file_atomic(path, text, strlen(text), true);
    free(text);
    return s;
}

/* A number in [lo, hi] (NaN and infinities are not). */
static bool get_num(const cJSON *o, const char *key, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return false;
    *out = v->valuedouble;
    return true;
}

static bool get_u64(const cJSON *o, const char *key, uint64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v->valuestring, &end, 10);
    if (errno || *end || end == v->valuestring) return false;
    *out = (uint64_t)x;
    return true;
}

mrg_status mrg_train_state_read(const char *path, mrg_train_state *st, char **options_json,
                                char **config_json) {
    if (options_json) *options_json = NULL;
    if (config_json) *config_json = NULL;
    char *text;
    mrg_status rs = mrg_read_file(path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &text, NULL);
    if (rs != MRG_OK) return rs;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!o) return mrg_error(MRG_ERR_FORMAT, "%s: not valid JSON", path);
    double step, epoch, batch, samples, best, best_epoch;
    mrg_train_state s = {0};
    /* counts must fit their C types before the casts below (2^53: the
     * largest integer a JSON number holds exactly) */
    const double max_count = 9007199254740992.0;
    if (!get_num(o, "step", 0, max_count, &step) || !get_num(o, "epoch", 0, INT_MAX, &epoch) ||
        !get_num(o, "batch", 0, INT_MAX, &batch) || !get_num(o, "samples", 0, max_count, &samples) ||
        !get_num(o, "best_score", -DBL_MAX, DBL_MAX, &best) ||
        !get_num(o, "best_epoch", -1, INT_MAX, &best_epoch) || !get_u64(o, "data_seed", &s.data_seed)) {
        cJSON_Delete(o);
        return mrg_error(MRG_ERR_FORMAT, "%s: missing or invalid trainer state fields", path);
    }
    s.step = (int64_t)step;
    s.epoch = (int)epoch;
    s.batch = (int)batch;
    s.samples = (int64_t)samples;
    s.best_score = best;
    s.best_epoch = (int)best_epoch;
    double skipped = 0; /* absent in older states */
    if (cJSON_GetObjectItemCaseSensitive(o, "skipped") &&
        !get_num(o, "skipped", 0, max_count, &skipped)) {
        cJSON_Delete(o);
        return mrg_error(MRG_ERR_FORMAT, "%s: invalid \"skipped\" count", path);
    }
    s.skipped = (int64_t)skipped;
    *st = s;
    char **outs[2] = {options_json, config_json};
    const char *keys[2] = {"options", "config"};
    for (int i = 0; i < 2; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (outs[i] && j) *outs[i] = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(o);
    return MRG_OK;
}

/* ---- optimizer moments -------------------------------------------------- */

mrg_status mrg_adamw_save(mrg_adamw *opt, const char *const *names, int n, const char *path) {
    mrg_st_writer *w = mrg_st_writer_new();
    if (!w) return mrg_error(MRG_ERR_OOM, "optimizer state: out of memory");
    mrg_status st = MRG_OK;
    char key[160], steps[32];
    for (int i = 0; i < n && st == MRG_OK; i++) {
        for (int which = 0; which < 2 && st == MRG_OK; which++) {
            mrg_tensor *t = mrg_adamw_moment(opt, i, which);
            if (!t) { st = mrg_error(MRG_ERR_INVALID_ARG, "optimizer has no moment %d", i); break; }
            snprintf(key, sizeof key, "%s.%s", names[i], which ? "v" : "m");
            st = mrg_st_writer_add_tensor(w, key, t);
        }
    }
    snprintf(steps, sizeof steps, "%" PRId64, mrg_adamw_steps(opt));
    if (!st) st = mrg_st_writer_meta(w, "steps", steps);
    if (!st) st = mrg_st_writer_save(w, path);
    mrg_st_writer_free(w);
    return st;
}

mrg_status mrg_adamw_load(mrg_adamw *opt, const char *const *names, int n, const char *path) {
    mrg_st_file *f = NULL;
    mrg_status st = mrg_st_try_open(path, &f);
    if (st) return st;
    const char *steps = mrg_st_metadata(f, "steps");
    char *end = NULL;
    long long s = steps ? strtoll(steps, &end, 10) : -1;
    if (!steps || *end || s < 0) {
        mrg_st_close(f);
        return mrg_error(MRG_ERR_FORMAT, "%s: no valid \"steps\" metadata", path);
    }
    char key[160];
    for (int i = 0; i < n && st == MRG_OK; i++) {
        for (int which = 0; which < 2 && st == MRG_OK; which++) {
            mrg_tensor *t = mrg_adamw_moment(opt, i, which);
            snprintf(key, sizeof key, "%s.%s", names[i], which ? "v" : "m");
            const mrg_st_tensor *e = t ? mrg_st_require(f, key, t->ndim, t->shape) : NULL;
            if (!t) st = mrg_error(MRG_ERR_INVALID_ARG, "optimizer has no moment %d", i);
            else if (!e) st = MRG_ERR_FORMAT;
            else st = mrg_st_load_into(e, t);
        }
    }
    if (!st) st = mrg_adamw_set_steps(opt, (int64_t)s);
    mrg_st_close(f);
    return st;
}
