/* A training run's plan and records, its directory's set-up, and the
 * checks and notes of a resume (see run_plan.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/run_plan.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/content_hash.h"
#include "mrg/outputs.h"

void run_note(const mrg_train_run_opts *o, const char *fmt, ...) {
    if (!o->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->notes, fmt, ap);
    va_end(ap);
    fputc('\n', o->notes);
    fflush(o->notes);
}

/* ---- the plan as JSON ------------------------------------------------------ */

const char *run_select_by_name(bool f1) { return f1 ? "finding-f1" : "bleu4-cider"; }

mrg_status run_select_by_parse(const char *name, bool *f1) {
    *f1 = name && !strcmp(name, run_select_by_name(true));
    if (name && !*f1 && strcmp(name, run_select_by_name(false)))
        return mrg_error(MRG_ERR_INVALID_ARG, "select_by \"%s\": expected \"bleu4-cider\" or \"finding-f1\"", name);
    return MRG_OK;
}

char *run_plan_to_json(const run_plan *p, const char *data_dir) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "epochs", p->epochs);
    /* counts exactly: cJSON prints doubles past 10^15 with 15 digits */
    char total[32], max_steps[32];
    snprintf(total, sizeof total, "%" PRId64, p->total_steps);
    snprintf(max_steps, sizeof max_steps, "%" PRId64, p->max_steps > 0 ? p->max_steps : 0);
    cJSON_AddRawToObject(o, "total_steps", total);
    cJSON_AddRawToObject(o, "max_steps", max_steps);
    cJSON_AddNumberToObject(o, "save_every", p->save_every);
    cJSON_AddNumberToObject(o, "eval_max", p->eval_max);
    cJSON_AddBoolToObject(o, "no_eval", p->no_eval);
    cJSON_AddBoolToObject(o, "eval_beam", p->eval_beam);
    cJSON_AddStringToObject(o, "select_by", run_select_by_name(p->select_by_f1));
    /* floats widen to doubles exactly and cJSON prints 17 digits */
    cJSON_AddNumberToObject(o, "lr", p->lr);
    cJSON_AddNumberToObject(o, "min_lr", p->min_lr);
    cJSON_AddNumberToObject(o, "weight_decay", p->weight_decay);
    cJSON_AddNumberToObject(o, "warmup_frac", p->warmup_frac);
    cJSON_AddNumberToObject(o, "clip_norm", p->clip_norm);
    if (data_dir) cJSON_AddStringToObject(o, "data_dir", data_dir);
    if (*p->data_hash) cJSON_AddStringToObject(o, "data_hash", p->data_hash);
    if (*p->config_hash) cJSON_AddStringToObject(o, "config_hash", p->config_hash);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* a recorded hash into out ("" when absent); false when malformed */
static bool take_hash(const cJSON *o, const char *key, char out[17]) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    uint64_t h;
    out[0] = 0;
    if (!j) return true;
    if (!cJSON_IsString(j) || !mrg_hash_parse(j->valuestring, &h)) return false;
    snprintf(out, 17, "%s", j->valuestring);
    return true;
}

mrg_status run_plan_from_json(const char *json, run_plan *p) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!o) return mrg_error(MRG_ERR_FORMAT, "trainer state: no run options");
    const char *num_keys[] = {"epochs", "total_steps", "save_every", "eval_max", "lr",
                              "min_lr", "weight_decay", "warmup_frac", "clip_norm"};
    /* what fits the fields below (the casts of out-of-range doubles are
     * undefined; 2^53: the largest integer a JSON number holds exactly) */
    const double most[9] = {INT_MAX, 9007199254740992.0, INT_MAX, INT_MAX,
                            FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
    double v[9];
    for (int i = 0; i < 9; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, num_keys[i]);
        if (!cJSON_IsNumber(j)) {
            cJSON_Delete(o);
            return mrg_error(MRG_ERR_FORMAT, "trainer state: option \"%s\" missing", num_keys[i]);
        }
        v[i] = j->valuedouble;
        if (!(v[i] >= (i < 4 ? 0 : -FLT_MAX) && v[i] <= most[i])) {
            cJSON_Delete(o);
            return mrg_error(MRG_ERR_FORMAT, "trainer state: option \"%s\" is out of range",
                             num_keys[i]);
        }
    }
    p->epochs = (int)v[0];
    p->total_steps = (int64_t)v[1];
    p->save_every = (int)v[2];
    p->eval_max = (int)v[3];
    p->lr = (float)v[4];
    p->min_lr = (float)v[5];
    p->weight_decay = (float)v[6];
    p->warmup_frac = (float)v[7];
    p->clip_norm = (float)v[8];
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "max_steps");
    if (cJSON_IsNumber(ms) && !(ms->valuedouble >= 0 && ms->valuedouble <= 9007199254740992.0)) {
        cJSON_Delete(o);
        return mrg_error(MRG_ERR_FORMAT, "trainer state: option \"max_steps\" is out of range");
    }
    p->max_steps = cJSON_IsNumber(ms) ? (int64_t)ms->valuedouble : -1;
    p->no_eval = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "no_eval"));
    p->eval_beam = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "eval_beam"));
    /* absent in runs older than the choice: they selected by BLEU-4 and CIDEr */
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(o, "select_by");
    if (sel && (!cJSON_IsString(sel) || run_select_by_parse(sel->valuestring, &p->select_by_f1))) {
        cJSON_Delete(o);
        return mrg_error(MRG_ERR_FORMAT, "trainer state: option \"select_by\" must be \"bleu4-cider\" or \"finding-f1\"");
    }
    if (!sel) p->select_by_f1 = false;
    bool ok = take_hash(o, "data_hash", p->data_hash) && take_hash(o, "config_hash", p->config_hash);
    cJSON_Delete(o);
    if (!ok) return mrg_error(MRG_ERR_FORMAT, "trainer state: a recorded content hash is malformed");
    if (p->epochs < 1 || p->total_steps < 1)
        return mrg_error(MRG_ERR_FORMAT, "trainer state: epochs and total_steps must be >= 1");
    return MRG_OK;
}

/* ---- the run directory ---------------------------------------------------- */

static bool has_entry(const char *dir, const char *name) {
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &sb) == 0;
}

/* What a run of mrg train keeps in its directory. */
static const char *const RUN_ENTRIES[] = {"last", "best", "log.jsonl", ".old-last", ".old-best"};

mrg_status run_dir_prepare(const mrg_train_run_opts *o, bool *resume) {
    const char *out = o->out_dir;
    *resume = false;
    const mrg_named_path inputs[] = {{"--data", o->data_dir}, {"--lm", o->lm_dir}, {"--vit", o->vit_dir}};
    for (int i = 0; i < 3; i++) {
        if (inputs[i].path && mrg_path_within(out, inputs[i].path))
            return mrg_error(MRG_ERR_INVALID_ARG, "train: the run directory %s lies inside %s %s; choose another --out",
                             out, inputs[i].option, inputs[i].path);
    }
    struct stat sb;
    if (stat(out, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return mrg_error(MRG_ERR_INVALID_ARG, "train: %s exists and is not a directory", out);
    /* a crash in a checkpoint swap may have left last/ as .old-last */
    char last[4200], best[4200], state_path[4400];
    snprintf(last, sizeof last, "%s/last", out);
    snprintf(best, sizeof best, "%s/best", out);
    snprintf(state_path, sizeof state_path, "%s/trainer_state.json", last);
    mrg_status st = MRG_OK;
    if (stat(out, &sb) == 0 && ((st = mrg_ckpt_clean(last)) || (st = mrg_ckpt_clean(best)))) return st;
    bool is_run = false;
    for (size_t i = 0; i < sizeof RUN_ENTRIES / sizeof RUN_ENTRIES[0]; i++) is_run |= has_entry(out, RUN_ENTRIES[i]);
    bool have_ckpt = access(state_path, F_OK) == 0;
    if (o->resume && have_ckpt) {
        *resume = true;
        if (o->force) run_note(o, "train: --resume ignores --force: the run in %s continues", out);
        return MRG_OK;
    }
    if (is_run && !o->resume && !o->force) {
        mrg_train_state s;
        char at[96] = "";
        if (have_ckpt && mrg_train_state_read(state_path, &s, NULL, NULL) == MRG_OK)
            snprintf(at, sizeof at, " (its last checkpoint is at update %lld)", (long long)s.step);
        mrg_clear_error();
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: %s already holds a training run%s; continue it with --resume, or "
                         "start over with --force (which deletes its last/, best/ and log.jsonl)",
                         out, at);
    }
    if (!is_run && mrg_dir_has_entries(out) && !o->force)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: %s is not empty and holds no run of `mrg train`; choose another "
                         "--out, or pass --force to put the run there (its other files are kept)",
                         out);
    if (is_run && o->force && !o->resume) {
        for (size_t i = 0; i < sizeof RUN_ENTRIES / sizeof RUN_ENTRIES[0] && !st; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", out, RUN_ENTRIES[i]);
            st = mrg_rm_tree(p);
        }
        if (st) return st;
        run_note(o, "train: --force: starting over in %s (removed its last/, best/ and log.jsonl)", out);
    }
    if ((st = mrg_mkdirs(out))) return st;
    if ((st = mrg_ckpt_clean(last)) || (st = mrg_ckpt_clean(best))) return st;
    return MRG_OK;
}

/* ---- resume -------------------------------------------------------------- */

mrg_status run_resume_check_inputs(const mrg_train_run_opts *o, run_plan *plan, const char *config_json) {
    uint64_t h;
    char hex[17];
    mrg_status st = mrg_hash_dataset(o->data_dir, &h);
    if (st) return mrg_error_context(st, "train: --data %s", o->data_dir);
    mrg_hash_hex(h, hex);
    if (!*plan->data_hash) {
        run_note(o, "train: the run records no fingerprint of its dataset (an older run); from now on it is %s's (%s)",
                 o->data_dir, hex);
        snprintf(plan->data_hash, sizeof plan->data_hash, "%s", hex);
    } else if (strcmp(hex, plan->data_hash)) {
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: --data %s is not the dataset this run was trained on (content hash of "
                         "its annotation.json %s, the run's %s); resume with the same dataset",
                         o->data_dir, hex, plan->data_hash);
    }
    if (o->precision) {
        mrg_precision want;
        if ((st = mrg_precision_parse(o->precision, &want))) return mrg_error_context(st, "train: --precision");
        cJSON *c = config_json ? cJSON_Parse(config_json) : NULL;
        const char *rec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "precision"));
        char recorded[32];
        snprintf(recorded, sizeof recorded, "%s", rec ? rec : "f32"); /* older runs: f32 */
        cJSON_Delete(c);
        if (strcmp(recorded, mrg_precision_name(want)))
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "train: --precision %s differs from the run's precision %s; a run keeps "
                             "its precision (leave --precision out to resume, or start a new run)",
                             o->precision, recorded);
    }
    if (o->preset) {
        cJSON *c = config_json ? cJSON_Parse(config_json) : NULL;
        const char *rec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "preset"));
        bool differs = !rec || strcmp(rec, o->preset);
        char recorded[64];
        snprintf(recorded, sizeof recorded, "%s", rec ? rec : "(none recorded)");
        cJSON_Delete(c);
        if (differs)
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "train: --preset %s differs from the run's preset %s; a run keeps its "
                             "preset (leave --preset out to resume)",
                             o->preset, recorded);
    }
    if (o->config_path) {
        if ((st = mrg_hash_file(o->config_path, &h))) return mrg_error_context(st, "train: --config");
        mrg_hash_hex(h, hex);
        if (!*plan->config_hash)
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "train: the run was started without --config; leave --config %s out to resume",
                             o->config_path);
        if (strcmp(hex, plan->config_hash))
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "train: --config %s is not the config this run was started with (content "
                             "hash %s, the run's %s); a run keeps its config (leave --config out to resume)",
                             o->config_path, hex, plan->config_hash);
    }
    return MRG_OK;
}

mrg_status run_resume_apply(const mrg_train_run_opts *o, const mrg_model_config *cfg, run_plan *plan,
                            const mrg_train_state *st, int64_t upe) {
    /* options that shape the run itself: the run keeps its own */
    if (o->lr > 0 && o->lr != plan->lr)
        run_note(o, "train: --resume ignores --lr %g: the run keeps its learning rate %g", (double)o->lr, (double)plan->lr);
    if (o->batch_size > 0 && o->batch_size != cfg->batch_size)
        run_note(o, "train: --resume ignores --batch %d: the run keeps its batch size %d", o->batch_size, cfg->batch_size);
    if (o->grad_accum > 0 && o->grad_accum != cfg->grad_accum)
        run_note(o, "train: --resume ignores --grad-accum %d: the run keeps %d", o->grad_accum, cfg->grad_accum);
    if (o->save_every > 0 && o->save_every != plan->save_every)
        run_note(o, "train: --resume ignores --save-every %d: the run keeps %d", o->save_every, plan->save_every);
    if (o->eval_max > 0 && o->eval_max != plan->eval_max)
        run_note(o, "train: --resume ignores --eval-max %d: the run keeps %d", o->eval_max, plan->eval_max);
    if (o->no_eval && !plan->no_eval) run_note(o, "train: --resume ignores --no-eval: the run validates");
    if (o->eval_beam && !plan->eval_beam) run_note(o, "train: --resume ignores --eval-beam: the run validates greedily");
    if (o->select_by && strcmp(o->select_by, run_select_by_name(plan->select_by_f1)))
        run_note(o, "train: --resume ignores --select-by %s: the run keeps RUN/best by %s", o->select_by,
                 run_select_by_name(plan->select_by_f1));
    if (o->freeze_vit && !cfg->freeze_vit) run_note(o, "train: --resume ignores --freeze-vit: the run trains its ViT");
    if (o->vit_dir) run_note(o, "train: --resume ignores --vit: the run's ViT weights are in its checkpoint");
    if (o->tokenizer) run_note(o, "train: --resume ignores --tokenizer: the run keeps the copy in its checkpoint");
    /* its length may change */
    if (plan->max_steps < 0) /* not recorded: a cap shows as fewer steps than the epochs hold */
        plan->max_steps = plan->total_steps < (int64_t)plan->epochs * upe ? plan->total_steps : 0;
    int epochs = o->epochs > 0 ? o->epochs : plan->epochs;
    int64_t max_steps = o->max_steps > 0 ? o->max_steps : plan->max_steps;
    int64_t total = (int64_t)epochs * upe;
    if (max_steps > 0 && max_steps < total) total = max_steps;
    if (epochs == plan->epochs && total == plan->total_steps) {
        plan->max_steps = max_steps;
        return MRG_OK;
    }
    if (total < st->step)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: the run has done %lld updates already; with %d epochs and --max-steps "
                         "%lld it would end at update %lld",
                         (long long)st->step, epochs, (long long)max_steps, (long long)total);
    run_note(o, "train: the run now ends after %d epochs or %lld updates (was %d epochs, %lld updates); "
                "its learning-rate schedule is stretched to the new length",
             epochs, (long long)total, plan->epochs, (long long)plan->total_steps);
    plan->epochs = epochs;
    plan->max_steps = max_steps;
    plan->total_steps = total;
    return MRG_OK;
}
