/* The training run behind `mrg train`: epochs of micro-batches grouped into
 * updates, a checkpoint of the latest state (RUN/last) at every epoch end
 * (and every save_every updates), validation after each epoch with the
 * best model kept in RUN/best, and resumption from RUN/last.
 *
 * Updates are groups of grad_accum consecutive batches within an epoch (the
 * last group of an epoch may be smaller); checkpoints fall on group
 * boundaries only, so (epoch, batch) plus the restored parameters, moments
 * and step reproduce the uninterrupted run exactly.
 *
 * A graceful stop (opts.stop, set by a signal handler) is honoured between
 * updates and between validation batches; the state then written is the
 * position reached: (epoch, batch) mid-epoch, or (epoch, batches per epoch)
 * when the epoch's batches are done but its validation is not, which a
 * resume runs first. Non-finite updates are never applied (the trainer
 * drops them); the run stops, or skips them with skip_nonfinite. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "mrg/content_hash.h"
#include "mrg/dist.h"
#include "mrg/evaluate.h"
#include "mrg/train_run.h"
#include "mrg/trainer.h"
#include "train/run_plan.h"
#include "train/train_internal.h"

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

/* ---- the test hook: signals raised at chosen points --------------------- */

#define MAX_HOOKS 4
static struct {
    int sig;
    char point[8];
    int64_t step;
} hooks[MAX_HOOKS];
static int n_hooks;

/* "SIG@POINT:STEP[,...]" */
static mrg_status hooks_set(const char *spec) {
    n_hooks = 0;
    if (!spec || !*spec) return MRG_OK;
    const char *p = spec;
    while (*p) {
        int sig, used = 0;
        long long step;
        char point[8];
        if (n_hooks == MAX_HOOKS || sscanf(p, "%d@%7[a-z]:%lld%n", &sig, point, &step, &used) != 3 || used == 0 ||
            (strcmp(point, "step") && strcmp(point, "eval") && strcmp(point, "save")))
            return mrg_error(MRG_ERR_INVALID_ARG, "train: bad test signal spec '%s'", spec);
        hooks[n_hooks].sig = sig;
        snprintf(hooks[n_hooks].point, sizeof hooks[n_hooks].point, "%s", point);
        hooks[n_hooks].step = step;
        n_hooks++;
        p += used;
        if (*p == ',') p++;
        else if (*p) return mrg_error(MRG_ERR_INVALID_ARG, "train: bad test signal spec '%s'", spec);
    }
    return MRG_OK;
}

void train_test_point(const char *point, int64_t step) {
    for (int i = 0; i < n_hooks; i++)
        if (hooks[i].step == step && !strcmp(hooks[i].point, point)) raise(hooks[i].sig);
}

/* ---- the run ------------------------------------------------------------- */

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

static mrg_status save_best(mrg_trainer *tr, mrg_model *m, const char *dir) {
    if (mrg_dist_rank() != 0) return MRG_OK; /* data parallel: rank 0 writes */
    char tmp[4200];
    /* RUN/best must always be finite too */
    mrg_status st = mrg_trainer_check_finite(tr);
    if (st) return mrg_error_context(st, "not writing %s", dir);
    st = mrg_ckpt_begin(dir, tmp, sizeof tmp);
    if (st) return st;
    st = mrg_model_save(m, tmp);
    if (!st) st = mrg_ckpt_commit(tmp, dir);
    if (st) mrg_rm_tree(tmp);
    return st;
}

/* Validation, the JSONL record and RUN/best when the score improved.
 * MRG_END when abandoned through stop. */
static mrg_status run_eval(mrg_trainer *tr, mrg_model *m, mrg_dataset *val, const run_plan *plan, int epoch,
                           int64_t step, mrg_train_state *state, const char *best_dir,
                           mrg_progress *prog, const volatile sig_atomic_t *stop) {
    mrg_eval_result r;
    mrg_gen_opts g = mrg_eval_gen_opts(mrg_model_get_config(m), plan->eval_beam);
    train_test_point("eval", step);
    /* data parallel: the ranks share the studies and agree on the scores;
     * a stop waits for the end of the validation (the ranks could not
     * agree on where to abandon it) */
    mrg_status st = train_evaluate(m, val, plan->eval_max, &g, prog, &r, mrg_dist_size() > 1 ? NULL : stop);
    if (st == MRG_END) return st;
    if (st) return mrg_error_context(st, "validation after epoch %d", epoch + 1);
    double f1 = r.scores.has_findings ? r.scores.findings.macro_f1 : NAN;
    if (plan->select_by_f1) r.score = isnan(f1) ? 0.0 : f1;
    bool better = r.score > state->best_score;
    char json[1536], text[256], per[512] = "";
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
        if ((st = save_best(tr, m, best_dir))) return st;
    }
    return MRG_OK;
}

/* The message of a run stopped by a non-finite value: the error so far,
 * then where the last good checkpoint is. */
static mrg_status nonfinite_stop(const char *last, int64_t saved_step) {
    char why[1024], where[4400];
    snprintf(why, sizeof why, "%s", mrg_last_error());
    if (saved_step >= 0)
        snprintf(where, sizeof where, "the last good checkpoint is %s (update %lld)", last, (long long)saved_step);
    else
        snprintf(where, sizeof where, "no checkpoint was written");
    return mrg_error(MRG_ERR_NONFINITE,
                     "train: %s; training stopped, %s (a lower --lr may help; --skip-nonfinite skips such updates)",
                     why, where);
}

/* ---- data parallelism (a job of one: each of these is the plain step) --- */

/* RUN/last of a data-parallel run: rank 0 writes it (atomically); the other
 * ranks hold the same state and write nothing. */
static mrg_status save_last(mrg_trainer *tr, const char *dir, const mrg_train_state *st, const char *options) {
    if (mrg_dist_rank() != 0) return MRG_OK;
    return mrg_trainer_save(tr, dir, st, options);
}

/* The run directory checked and prepared by rank 0 alone (the others would
 * race it), its verdict shared: the others fail with a pointer to rank 0's
 * message, or resume as rank 0 does. */
static mrg_status prepare_dir(const mrg_train_run_opts *o, bool *resuming) {
    if (mrg_dist_size() <= 1) return run_dir_prepare(o, resuming);
    int v[2] = {0, 0};
    mrg_status st = MRG_OK;
    if (mrg_dist_rank() == 0) {
        st = run_dir_prepare(o, resuming);
        v[0] = (int)st;
        v[1] = *resuming;
    }
    mrg_status cst = mrg_dist_bcast(v, sizeof v, 0);
    if (mrg_dist_rank() == 0) return st ? st : cst;
    if (cst) return cst;
    *resuming = v[1] != 0;
    if (v[0]) return mrg_error((mrg_status)v[0], "train: rank 0 refused the run directory %s (see its message)", o->out_dir);
    return MRG_OK;
}

/* Whether a graceful stop was asked for, agreed between the ranks (a
 * signal may reach them at different moments): every rank stops at the
 * same update. */
static bool stopping(const volatile sig_atomic_t *stop) {
    bool any = stop && *stop;
    if (mrg_dist_size() > 1 && mrg_dist_any(&any) != MRG_OK) {
        mrg_dist_abort(1, mrg_last_error()); /* a rank is gone: end the job */
    }
    return any;
}

/* Every rank of a data-parallel run takes a non-empty share of every
 * global batch: the batch holds at least one study per rank, and so does
 * the last (smaller) batch of an epoch. */
static mrg_status check_shares(int n_studies, int batch) {
    int ranks = mrg_dist_size();
    if (ranks <= 1) return MRG_OK;
    int last = n_studies % batch;
    if (batch < ranks)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: --batch %d is the global batch, shared by %d ranks: give at least %d", batch,
                         ranks, ranks);
    if (last > 0 && last < ranks)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "train: the last batch of each epoch holds %d studies (%d %% %d), fewer than the %d ranks "
                         "sharing it; choose a --batch that leaves 0 or at least %d",
                         last, n_studies, batch, ranks, ranks);
    return MRG_OK;
}

mrg_status mrg_train_run(const mrg_train_run_opts *o_in, mrg_device *dev, mrg_train_run_result *res) {
    memset(res, 0, sizeof *res);
    if (!o_in) return mrg_error(MRG_ERR_INVALID_ARG, "train: --data and --out are required");
    /* data parallel: rank 0 speaks (notes, bar, JSON lines, RUN/log.jsonl) */
    mrg_train_run_opts o_local = *o_in;
    const mrg_train_run_opts *o = &o_local;
    bool speaker = mrg_dist_rank() == 0;
    if (!speaker) {
        o_local.notes = NULL;
        o_local.bar = false;
        o_local.jsonl_stdout = false;
    }
    if (!o || !o->data_dir || !o->out_dir)
        return mrg_error(MRG_ERR_INVALID_ARG, "train: --data and --out are required");
    bool select_by_f1;
    if (run_select_by_parse(o->select_by, &select_by_f1)) return mrg_error_context(MRG_ERR_INVALID_ARG, "train");
    char last[4200], best[4200], state_path[4400], log_path[4200];
    snprintf(last, sizeof last, "%s/last", o->out_dir);
    snprintf(best, sizeof best, "%s/best", o->out_dir);
    snprintf(state_path, sizeof state_path, "%s/trainer_state.json", last);
    snprintf(log_path, sizeof log_path, "%s/log.jsonl", o->out_dir);
    bool resuming = false;
    /* a run directory this call makes is removed again when the run fails
     * before it writes anything into it (rmdir: only when empty) */
    struct stat out_sb;
    bool made_out = stat(o->out_dir, &out_sb) != 0;
    mrg_status st = hooks_set(o->test_signal);
    if (!st) st = prepare_dir(o, &resuming);
    if (st) return st;

    mrg_model *m = NULL;
    mrg_trainer *tr = NULL;
    mrg_dataset *ds = NULL, *val = NULL;
    mrg_progress *prog = NULL;
    char *options = NULL, *config_json = NULL;
    int64_t loss_cap = 0;
    run_plan plan = {0};
    mrg_train_state state = {0};
    mrg_model_config cfg;
    const volatile sig_atomic_t *stop = o->stop;
#define STOPPING stopping(stop)

    if (resuming) {
        char *opt_json = NULL;
        if ((st = mrg_train_state_read(state_path, &state, &opt_json, &config_json))) goto end;
        st = run_plan_from_json(opt_json, &plan);
        free(opt_json);
        if (!st) st = run_resume_check_inputs(o, &plan, config_json);
        if (st) goto end;
        if (!(m = mrg_model_load_lm(last, dev, o->lm_dir))) { st = mrg_error_context(MRG_ERR_INVALID_ARG, "train: resuming from %s", last); goto end; }
        cfg = *mrg_model_get_config(m);
    } else {
        if ((st = mrg_model_preset(o->preset ? o->preset : "tiny", &cfg))) goto end;
        if (o->config_path && (st = mrg_model_config_apply_file(&cfg, o->config_path))) goto end;
        if (o->epochs > 0) cfg.epochs = o->epochs;
        if (o->batch_size > 0) cfg.batch_size = o->batch_size;
        if (o->grad_accum > 0) cfg.grad_accum = o->grad_accum;
        if (o->lr > 0) cfg.lr = o->lr;
        if (o->freeze_vit) cfg.freeze_vit = true;
        if (o->precision && (st = mrg_precision_parse(o->precision, &cfg.precision))) {
            mrg_error_context(st, "train: --precision");
            goto end;
        }
        if ((st = mrg_model_config_check(&cfg))) goto end;
        /* what the run is started with, to recognise it on resume */
        uint64_t h;
        if ((st = mrg_hash_dataset(o->data_dir, &h))) { mrg_error_context(st, "train: --data %s", o->data_dir); goto end; }
        mrg_hash_hex(h, plan.data_hash);
        if (o->config_path) {
            if ((st = mrg_hash_file(o->config_path, &h))) goto end;
            mrg_hash_hex(h, plan.config_hash);
        }
        m = mrg_model_create(&cfg, dev, o->lm_dir, o->vit_dir, o->tokenizer);
        if (!m) { st = MRG_ERR_INVALID_ARG; goto end; }
        /* the frozen LM's fingerprint now, as it was loaded (recorded with every checkpoint) */
        if (o->lm_dir && !*mrg_model_lm_hash(m)) { st = mrg_error_context(MRG_ERR_IO, "train: --lm %s", o->lm_dir); goto end; }
        cfg = *mrg_model_get_config(m);
        state = (mrg_train_state){0, 0, 0, 0, cfg.seed, -1.0, -1, 0};
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
    /* one seeded order for the job; each rank takes its share of a batch */
    dopt.shard_rank = mrg_dist_rank();
    dopt.shard_count = mrg_dist_size();
    /* a dataset that cannot be read is bad data (exit 1), as in pretrain-vit and generate */
    if (!(ds = mrg_dataset_open(o->data_dir, MRG_SPLIT_TRAIN, &dopt))) { st = MRG_ERR_FORMAT; goto end; }
    if ((st = check_shares(mrg_dataset_size(ds), cfg.batch_size))) goto end;
    int nb = mrg_dataset_batches_per_epoch(ds), ga = cfg.grad_accum > 0 ? cfg.grad_accum : 1;
    if (nb <= 0) { st = mrg_error(MRG_ERR_FORMAT, "train: the training split of %s is empty", o->data_dir); goto end; }
    int64_t upe = (nb + ga - 1) / ga;

    if (!resuming) {
        plan.epochs = cfg.epochs;
        plan.total_steps = (int64_t)cfg.epochs * upe;
        plan.max_steps = o->max_steps;
        if (o->max_steps > 0 && o->max_steps < plan.total_steps) plan.total_steps = o->max_steps;
        plan.save_every = o->save_every;
        plan.eval_max = o->eval_max;
        plan.no_eval = o->no_eval;
        plan.eval_beam = o->eval_beam;
        plan.select_by_f1 = select_by_f1;
        plan.lr = cfg.lr;
        plan.min_lr = cfg.min_lr;
        plan.weight_decay = cfg.weight_decay;
        plan.warmup_frac = cfg.warmup_frac;
        plan.clip_norm = cfg.clip_norm;
    } else {
        if ((st = run_resume_apply(o, &cfg, &plan, &state, upe))) goto end;
        /* finished: every epoch done, or the last update done inside an
         * epoch (whose validation followed it); (epoch, nb) is an epoch
         * whose validation is still to run */
        if (state.epoch >= plan.epochs || (state.step >= plan.total_steps && state.batch < nb)) {
            run_note(o, "train: the run in %s is finished (%lld updates, %d epochs): nothing to do; extend it with "
                        "--epochs N or --max-steps N",
                     o->out_dir, (long long)state.step, plan.epochs);
            goto end;
        }
    }
    if (!(options = run_plan_to_json(&plan, o->data_dir))) { st = mrg_error(MRG_ERR_OOM, "train: out of memory"); goto end; }
    mrg_train_opts topt = {plan.lr, plan.min_lr, plan.weight_decay, plan.warmup_frac, plan.clip_norm, ga,
                           plan.total_steps};
    if (!(tr = mrg_trainer_create(m, &topt))) { st = MRG_ERR_INVALID_ARG; goto end; }
    if (resuming && (st = mrg_trainer_restore(tr, last, NULL))) goto end;
    if (mrg_dist_size() > 1) {
        /* the same starting weights on every rank: rank 0's (a resume reads
         * them from RUN/last on every rank, which must be on a shared
         * file system; the moments come from there too) */
        mrg_tensor *ps[4096];
        int np = mrg_model_params(m, ps, NULL, 4096);
        if (np < 0 || np > 4096) { st = mrg_error(MRG_ERR_INVALID_ARG, "train: %d parameters", np); goto end; }
        if ((st = mrg_dist_bcast_tensors(ps, np, 0))) goto end;
    }
    if (mrg_trainer_steps(tr) != state.step) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: optimizer step %lld does not match state step %lld", last,
                       (long long)mrg_trainer_steps(tr), (long long)state.step);
        goto end;
    }
    if (!plan.no_eval) {
        mrg_dataset_opts vopt = dopt;
        vopt.shuffle = false;
        vopt.shard_rank = vopt.shard_count = 0; /* whole batches: validation shares them out */
        if (!(val = mrg_dataset_open(o->data_dir, MRG_SPLIT_VAL, &vopt))) { st = MRG_ERR_FORMAT; goto end; }
        if (mrg_dataset_size(val) == 0) { mrg_dataset_free(val); val = NULL; }
    }
    mrg_progress_opts popt = {speaker ? log_path : NULL, o->bar, o->jsonl_stdout, plan.total_steps, state.step, o->log_every};
    if (!(prog = mrg_progress_new(&popt))) { st = MRG_ERR_IO; goto end; }

    int64_t this_call = 0;
    int64_t saved_step = resuming ? state.step : -1; /* the update RUN/last holds */
    bool dirty = false;                              /* state moved since RUN/last */
    int e = state.epoch;
    while (e < plan.epochs) {
        int b = state.batch; /* state.epoch == e here */
        if (b < nb && state.step < plan.total_steps && (st = mrg_dataset_seek(ds, e, b))) goto end;
        while (b < nb && state.step < plan.total_steps) {
            int g_start = b, g_end = (b / ga + 1) * ga < nb ? (b / ga + 1) * ga : nb, group = g_end - b;
            mrg_step_stats s = {0}, sum = {0};
            for (; b < g_end; b++) {
                mrg_batch batch = {0};
                st = mrg_dataset_next(ds, &batch);
                if (st == MRG_END) st = mrg_error(MRG_ERR_FORMAT, "train: the epoch ended early");
                if (!st) st = mrg_trainer_micro_step(tr, &batch, group, b == g_end - 1, &s);
                mrg_batch_free(&batch);
                if (st) break;
                sum.loss += s.loss;
                sum.lm += s.lm;
                sum.con += s.con;
                sum.samples += s.samples;
            }
            if (st == MRG_ERR_NONFINITE && b == g_end - 1 && o->skip_nonfinite) {
                /* the group's batches are consumed, the update dropped */
                b = g_end;
                state.skipped++;
                res->skipped++;
                state.epoch = e;
                state.batch = b;
                dirty = true;
                train_log_skip(prog, s.step, e, g_start, state.skipped);
                st = MRG_OK;
            } else if (st == MRG_ERR_NONFINITE) {
                st = nonfinite_stop(last, saved_step);
                goto end;
            } else if (st) {
                goto end;
            } else {
                s.loss = sum.loss / (float)group;
                s.lm = sum.lm / (float)group;
                s.con = sum.con / (float)group;
                s.samples = sum.samples;
                s.epoch = e;
                state.step = s.step;
                state.samples += s.samples;
                state.epoch = e;
                state.batch = b;
                dirty = true;
                res->last_loss = s.loss;
                if ((st = push_loss(res, s.loss, &loss_cap))) goto end;
                mrg_progress_step(prog, &s);
                this_call++;
                if (b != nb && plan.save_every > 0 && state.step % plan.save_every == 0) {
                    if ((st = save_last(tr, last, &state, options))) goto save_failed;
                    saved_step = state.step;
                    dirty = false;
                }
                train_test_point("step", state.step);
            }
            if (o->stop_after > 0 && this_call >= o->stop_after && b != nb) goto end;
            /* a stop after the very last update lets its validation finish */
            if (STOPPING && b < nb && state.step < plan.total_steps) goto interrupted;
        }
        if (b < nb) break; /* max steps reached inside the epoch */
        /* the epoch's batches are done: state is (e, nb) until validated */
        if (STOPPING) goto interrupted;
        if (val) {
            st = run_eval(tr, m, val, &plan, e, state.step, &state, best, prog, stop);
            if (st == MRG_END) goto interrupted;
            if (st == MRG_ERR_NONFINITE) { st = nonfinite_stop(last, saved_step); goto end; }
            if (st) goto end;
        }
        state.epoch = e + 1;
        state.batch = 0;
        if ((st = save_last(tr, last, &state, options))) goto save_failed;
        saved_step = state.step;
        dirty = false;
        res->epochs_done = e + 1;
        e++;
        if (o->stop_after > 0 && this_call >= o->stop_after) goto end;
        if (STOPPING && e < plan.epochs && state.step < plan.total_steps) {
            res->interrupted = true;
            goto end;
        }
    }
    if (this_call > 0 && state.batch != 0) { /* stopped mid-epoch by max_steps: evaluate, save */
        if (val) {
            st = run_eval(tr, m, val, &plan, e, state.step, &state, best, prog, NULL);
            if (st == MRG_ERR_NONFINITE) { st = nonfinite_stop(last, saved_step); goto end; }
            if (st) goto end;
        }
        if ((st = save_last(tr, last, &state, options))) goto save_failed;
    }
    goto end;
interrupted:
    if (dirty && (st = save_last(tr, last, &state, options))) goto save_failed;
    res->interrupted = true;
    goto end;
save_failed:
    if (st == MRG_ERR_NONFINITE) st = nonfinite_stop(last, saved_step);
end:
#undef STOPPING
    res->steps = state.step;
    res->best_score = state.best_score;
    if (st) {
        mrg_progress_free(prog);
    } else {
        st = mrg_progress_close(prog); /* a log record that could not be written */
    }
    free(options);
    free(config_json);
    mrg_dataset_free(val);
    mrg_dataset_free(ds);
    mrg_trainer_free(tr);
    mrg_model_free(m);
    n_hooks = 0;
    if (st && made_out && mrg_dist_rank() == 0) (void)rmdir(o->out_dir); /* rank 0 made it */
    return st;
}
