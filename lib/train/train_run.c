/* The training run behind `mrg train`: epochs of micro-batches grouped into
 * updates, a checkpoint of the latest state (RUN/last) at every epoch end
 * (and every save_every updates), validation after each epoch with the
 * best model kept in RUN/best, and resumption from RUN/last.
 *
 * Updates are groups of grad_accum consecutive batches within an epoch (the
 * last group of an epoch may be smaller); checkpoints fall on group
 * boundaries only, so (epoch, batch) plus the restored parameters, moments
 * and step reproduce the uninterrupted run exactly. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mrg/trainer.h"

mrg_train_run_opts mrg_train_run_defaults(void) {
    mrg_train_run_opts o;
    memset(&o, 0, sizeof o);
    o.log_every = 1;
    return o;
}

void mrg_train_run_result_free(mrg_train_run_result *r) {
    if (!r) return;
    free(r->losses);
    r->losses = NULL;
    r->n_losses = 0;
}

/* What a resumed run must reuse exactly (the schedule and loop bounds). */
typedef struct run_plan {
    int epochs, save_every, eval_max;
    bool no_eval, eval_beam;
    int64_t total_steps;
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
} run_plan;

static char *plan_to_json(const run_plan *p, const char *data_dir) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "epochs", p->epochs);
    cJSON_AddNumberToObject(o, "total_steps", (double)p->total_steps);
    cJSON_AddNumberToObject(o, "save_every", p->save_every);
    cJSON_AddNumberToObject(o, "eval_max", p->eval_max);
    cJSON_AddBoolToObject(o, "no_eval", p->no_eval);
    cJSON_AddBoolToObject(o, "eval_beam", p->eval_beam);
    /* floats widen to doubles exactly and cJSON prints 17 digits */
    cJSON_AddNumberToObject(o, "lr", p->lr);
    cJSON_AddNumberToObject(o, "min_lr", p->min_lr);
    cJSON_AddNumberToObject(o, "weight_decay", p->weight_decay);
    cJSON_AddNumberToObject(o, "warmup_frac", p->warmup_frac);
    cJSON_AddNumberToObject(o, "clip_norm", p->clip_norm);
    if (data_dir) cJSON_AddStringToObject(o, "data_dir", data_dir);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static mrg_status plan_from_json(const char *json, run_plan *p) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!o) return mrg_error(MRG_ERR_FORMAT, "trainer state: no run options");
    const char *num_keys[] = {"epochs", "total_steps", "save_every", "eval_max", "lr",
                              "min_lr", "weight_decay", "warmup_frac", "clip_norm"};
    double v[9];
    for (int i = 0; i < 9; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, num_keys[i]);
        if (!cJSON_IsNumber(j)) {
            cJSON_Delete(o);
            return mrg_error(MRG_ERR_FORMAT, "trainer state: option \"%s\" missing", num_keys[i]);
        }
        v[i] = j->valuedouble;
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
    p->no_eval = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "no_eval"));
    p->eval_beam = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "eval_beam"));
    cJSON_Delete(o);
    return MRG_OK;
}

static mrg_status push_loss(mrg_train_run_result *r, float loss, int64_t *cap) {
    if (r->n_losses == *cap) {
        int64_t nc = *cap ? *cap * 2 : 256;
        float *nl = realloc(r->losses, sizeof(float) * (size_t)nc);
        if (!nl) return mrg_error(MRG_ERR_OOM, "train: out of memory");
        r->losses = nl;
        *cap = nc;
    }
    r->losses[r->n_losses++] = loss;
    return MRG_OK;
}

static mrg_status save_best(mrg_model *m, const char *dir) {
    char tmp[4200];
    mrg_status st = mrg_ckpt_begin(dir, tmp, sizeof tmp);
    if (!st) st = mrg_model_save(m, tmp);
    if (!st) st = mrg_ckpt_commit(tmp, dir);
    if (st) mrg_rm_tree(tmp);
    return st;
}

/* Validation, the JSONL record and RUN/best when the score improved. */
static mrg_status run_eval(mrg_model *m, mrg_dataset *val, const run_plan *plan, int epoch,
                           int64_t step, mrg_train_state *state, const char *best_dir,
                           mrg_progress *prog) {
    mrg_eval_result r;
    mrg_gen_opts g = mrg_eval_gen_opts(mrg_model_get_config(m), plan->eval_beam);
    mrg_status st = mrg_evaluate(m, val, plan->eval_max, &g, prog, &r);
    if (st) return mrg_error_context(st, "validation after epoch %d", epoch + 1);
    bool better = r.score > state->best_score;
    char json[1536], text[256], per[512] = "";
    double f1 = r.scores.has_findings ? r.scores.findings.macro_f1 : NAN;
    if (r.scores.has_findings) mrg_findings_json(per, sizeof per, &r.scores.findings);
    snprintf(json, sizeof json,
             "{\"type\":\"eval\",\"epoch\":%d,\"step\":%lld,\"n\":%d,\"bleu1\":%.6f,\"bleu4\":%.6f,"
             "\"rouge_l\":%.6f,\"cider\":%.6f,\"finding_f1\":%.6f%s,\"score\":%.6f,\"best\":%s}",
             epoch + 1, (long long)step, r.n, r.scores.bleu[0], r.scores.bleu[3], r.scores.rouge_l,
             r.scores.cider, isnan(f1) ? 0.0 : f1, per, r.score, better ? "true" : "false");
    snprintf(text, sizeof text,
             "epoch %d val (%d studies): BLEU-4 %.4f  CIDEr %.4f  finding F1 %.3f  score %.4f%s",
             epoch + 1, r.n, r.scores.bleu[3], r.scores.cider, isnan(f1) ? 0.0 : f1, r.score,
             better ? "  (best)" : "");
    mrg_progress_record(prog, json, text);
    if (better) {
        state->best_score = r.score;
        state->best_epoch = epoch + 1; /* counted from 1, as in the log */
        if ((st = save_best(m, best_dir))) return st;
    }
    return MRG_OK;
}

mrg_status mrg_train_run(const mrg_train_run_opts *o, mrg_device *dev, mrg_train_run_result *res) {
    memset(res, 0, sizeof *res);
    if (!o || !o->data_dir || !o->out_dir)
        return mrg_error(MRG_ERR_INVALID_ARG, "train: --data and --out are required");
    char last[4200], best[4200], state_path[4400], log_path[4200];
    snprintf(last, sizeof last, "%s/last", o->out_dir);
    snprintf(best, sizeof best, "%s/best", o->out_dir);
    snprintf(state_path, sizeof state_path, "%s/trainer_state.json", last);
    snprintf(log_path, sizeof log_path, "%s/log.jsonl", o->out_dir);
    mrg_status st = mrg_mkdirs(o->out_dir);
    if (!st) st = mrg_ckpt_recover(last);
    if (!st) st = mrg_ckpt_recover(best);
    if (st) return st;

    mrg_model *m = NULL;
    mrg_trainer *tr = NULL;
    mrg_dataset *ds = NULL, *val = NULL;
    mrg_progress *prog = NULL;
    char *options = NULL;
    int64_t loss_cap = 0;
    run_plan plan = {0};
    mrg_train_state state = {0};
    bool resuming = o->resume && mrg_path_exists(state_path);
    mrg_model_config cfg;

    if (resuming) {
        char *opt_json = NULL;
        if ((st = mrg_train_state_read(state_path, &state, &opt_json, NULL))) goto end;
        st = plan_from_json(opt_json, &plan);
        free(opt_json);
        if (st) goto end;
        if (!(m = mrg_model_load(last, dev))) { st = mrg_error_context(MRG_ERR_FORMAT, "resuming from %s", last); goto end; }
        cfg = *mrg_model_get_config(m);
    } else {
        if ((st = mrg_model_preset(o->preset ? o->preset : "tiny", &cfg))) goto end;
        if (o->config_path && (st = mrg_model_config_apply_file(&cfg, o->config_path))) goto end;
        if (o->epochs > 0) cfg.epochs = o->epochs;
        if (o->batch_size > 0) cfg.batch_size = o->batch_size;
        if (o->grad_accum > 0) cfg.grad_accum = o->grad_accum;
        if (o->lr > 0) cfg.lr = o->lr;
        if (o->freeze_vit) cfg.freeze_vit = true;
        if ((st = mrg_model_config_check(&cfg))) goto end;
        m = mrg_model_create(&cfg, dev, o->lm_dir, o->vit_dir, o->tokenizer);
        if (!m) { st = MRG_ERR_INVALID_ARG; goto end; }
        cfg = *mrg_model_get_config(m);
        state = (mrg_train_state){0, 0, 0, 0, cfg.seed, -1.0, -1};
    }

    mrg_dataset_opts dopt = mrg_dataset_defaults();
    dopt.image_size = cfg.vit.image_size;
    memcpy(dopt.mean, cfg.vit.mean, sizeof dopt.mean);
    memcpy(dopt.std, cfg.vit.std, sizeof dopt.std);
    dopt.n_views = cfg.n_views;
    dopt.max_report_tokens = cfg.max_report_tokens;
    dopt.tok = mrg_model_tokenizer(m);
    dopt.batch_size = cfg.batch_size;
    dopt.shuffle = true;
    dopt.seed = state.data_seed;
    if (!(ds = mrg_dataset_open(o->data_dir, MRG_SPLIT_TRAIN, &dopt))) { st = MRG_ERR_INVALID_ARG; goto end; }
    int nb = mrg_dataset_batches_per_epoch(ds), ga = cfg.grad_accum > 0 ? cfg.grad_accum : 1;
    if (nb <= 0) { st = mrg_error(MRG_ERR_INVALID_ARG, "train: the training split is empty"); goto end; }
    int64_t upe = (nb + ga - 1) / ga;

    if (!resuming) {
        plan.epochs = cfg.epochs;
        plan.total_steps = (int64_t)cfg.epochs * upe;
        if (o->max_steps > 0 && o->max_steps < plan.total_steps) plan.total_steps = o->max_steps;
        plan.save_every = o->save_every;
        plan.eval_max = o->eval_max;
        plan.no_eval = o->no_eval;
        plan.eval_beam = o->eval_beam;
        plan.lr = cfg.lr;
        plan.min_lr = cfg.min_lr;
        plan.weight_decay = cfg.weight_decay;
        plan.warmup_frac = cfg.warmup_frac;
        plan.clip_norm = cfg.clip_norm;
    }
    if (!(options = plan_to_json(&plan, o->data_dir))) { st = mrg_error(MRG_ERR_OOM, "train: out of memory"); goto end; }
    mrg_train_opts topt = {plan.lr, plan.min_lr, plan.weight_decay, plan.warmup_frac, plan.clip_norm, ga,
                           plan.total_steps};
    if (!(tr = mrg_trainer_create(m, &topt))) { st = MRG_ERR_INVALID_ARG; goto end; }
    if (resuming && (st = mrg_trainer_restore(tr, last, NULL))) goto end;
    if (mrg_trainer_steps(tr) != state.step) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: optimizer step %lld does not match state step %lld", last,
                       (long long)mrg_trainer_steps(tr), (long long)state.step);
        goto end;
    }
    if (!plan.no_eval) {
        mrg_dataset_opts vopt = dopt;
        vopt.shuffle = false;
        if (!(val = mrg_dataset_open(o->data_dir, MRG_SPLIT_VAL, &vopt))) { st = MRG_ERR_INVALID_ARG; goto end; }
        if (mrg_dataset_size(val) == 0) { mrg_dataset_free(val); val = NULL; }
    }
    mrg_progress_opts popt = {log_path, o->bar, o->jsonl_stdout, plan.total_steps, state.step, o->log_every};
    if (!(prog = mrg_progress_new(&popt))) { st = MRG_ERR_IO; goto end; }

    int64_t this_call = 0;
    int e = state.epoch;
    for (; e < plan.epochs && state.step < plan.total_steps; e++) {
        int b = e == state.epoch ? state.batch : 0;
        if ((st = mrg_dataset_seek(ds, e, b))) goto end;
        while (b < nb && state.step < plan.total_steps) {
            int g_end = (b / ga + 1) * ga < nb ? (b / ga + 1) * ga : nb, group = g_end - b;
            mrg_step_stats s = {0}, sum = {0};
            for (; b < g_end; b++) {
                mrg_batch batch = {0};
                st = mrg_dataset_next(ds, &batch);
                if (st == MRG_END) st = mrg_error(MRG_ERR_FORMAT, "train: the epoch ended early");
                if (!st) st = mrg_trainer_micro_step(tr, &batch, group, b == g_end - 1, &s);
                mrg_batch_free(&batch);
                if (st) goto end;
                sum.loss += s.loss;
                sum.lm += s.lm;
                sum.con += s.con;
                sum.samples += s.samples;
            }
            s.loss = sum.loss / (float)group;
            s.lm = sum.lm / (float)group;
            s.con = sum.con / (float)group;
            s.samples = sum.samples;
            s.epoch = e;
            if (!isfinite(s.loss)) { st = mrg_error(MRG_ERR_INVALID_ARG, "train: the loss is %g at step %lld", s.loss, (long long)s.step); goto end; }
            state.step = s.step;
            state.samples += s.samples;
            state.epoch = e;
            state.batch = b;
            res->last_loss = s.loss;
            if ((st = push_loss(res, s.loss, &loss_cap))) goto end;
            mrg_progress_step(prog, &s);
            this_call++;
            bool epoch_end = b == nb;
            if (!epoch_end && plan.save_every > 0 && state.step % plan.save_every == 0 &&
                (st = mrg_trainer_save(tr, last, &state, options)))
                goto end;
            if (o->stop_after > 0 && this_call >= o->stop_after && !epoch_end) goto end;
        }
        if (b < nb) break; /* max steps reached inside the epoch */
        if (val && (st = run_eval(m, val, &plan, e, state.step, &state, best, prog))) goto end;
        state.epoch = e + 1;
        state.batch = 0;
        if ((st = mrg_trainer_save(tr, last, &state, options))) goto end;
        res->epochs_done = e + 1;
        if (o->stop_after > 0 && this_call >= o->stop_after) goto end;
    }
    if (this_call > 0 && state.batch != 0) { /* stopped mid-epoch by max_steps: evaluate, save */
        if (val && (st = run_eval(m, val, &plan, e, state.step, &state, best, prog))) goto end;
        if ((st = mrg_trainer_save(tr, last, &state, options))) goto end;
    }
end:
    res->steps = state.step;
    res->best_score = state.best_score;
    if (st) {
        mrg_progress_free(prog);
    } else {
        st = mrg_progress_close(prog); /* a log record that could not be written */
    }
    free(options);
    mrg_dataset_free(val);
    mrg_dataset_free(ds);
    mrg_trainer_free(tr);
    mrg_model_free(m);
    return st;
}
