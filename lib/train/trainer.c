/* The trainer: one micro-batch at a time, losses scaled so an update sees
 * the mean over its micro-batches, then clipping and AdamW at the scheduled
 * learning rate. Everything an update depends on is the parameters, the
 * moments, the step count and the batch, so restoring those (checkpoint +
 * dataset seek) reproduces a run bit-for-bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/dist.h"
#include "core/files.h"
#include "mrg/trainer.h"
#include "train/train_internal.h"

#define MAX_PARAMS 4096

struct mrg_trainer {
    mrg_model *m;
    mrg_device *dev;
    mrg_train_opts o;
    mrg_lr_schedule sched;
    mrg_tensor **params;
    const char **names;
    int n;
    mrg_adamw *opt;
    /* a micro-batch of the current update had a non-finite loss */
    bool group_nonfinite;
};

mrg_train_opts mrg_train_opts_from_config(const mrg_model_config *cfg, int64_t total_steps) {
    mrg_train_opts o = {cfg->lr, cfg->min_lr, cfg->weight_decay, cfg->warmup_frac, cfg->clip_norm,
                        cfg->grad_accum > 0 ? cfg->grad_accum : 1, total_steps};
    return o;
}

mrg_trainer *mrg_trainer_create(mrg_model *m, const mrg_train_opts *opts) {
    if (!m || !opts || !(opts->lr > 0) || opts->grad_accum < 1 || opts->total_steps < 1) {
        mrg_error(MRG_ERR_INVALID_ARG, "trainer: need a model, lr > 0, grad_accum >= 1, total_steps >= 1");
        return NULL;
    }
    mrg_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) goto oom;
    tr->m = m;
    tr->dev = mrg_model_device(m);
    tr->o = *opts;
    tr->sched = mrg_lr_schedule_make(opts->lr, opts->min_lr, opts->warmup_frac, opts->total_steps);
    tr->params = calloc(MAX_PARAMS, sizeof *tr->params);
    tr->names = calloc(MAX_PARAMS, sizeof *tr->names);
    if (!tr->params || !tr->names) goto oom;
    tr->n = mrg_model_trainable(m, tr->params, tr->names, MAX_PARAMS);
    if (tr->n <= 0 || tr->n > MAX_PARAMS) {
        mrg_error(MRG_ERR_INVALID_ARG, "trainer: the model has %d trainable parameters", tr->n);
        mrg_trainer_free(tr);
        return NULL;
    }
    mrg_adamw_opts ao = mrg_adamw_defaults();
    ao.lr = opts->lr;
    ao.weight_decay = opts->weight_decay;
    tr->opt = mrg_adamw_create(tr->params, tr->n, &ao);
    if (!tr->opt || mrg_zero_grad(tr->params, tr->n)) {
        mrg_trainer_free(tr);
        return NULL;
    }
    return tr;
oom:
    mrg_error(MRG_ERR_OOM, "trainer: out of memory");
    mrg_trainer_free(tr);
    return NULL;
}

void mrg_trainer_free(mrg_trainer *tr) {
    if (!tr) return;
    mrg_adamw_free(tr->opt);
    free(tr->params);
    free(tr->names);
    free(tr);
}

int64_t mrg_trainer_steps(const mrg_trainer *tr) { return mrg_adamw_steps(tr->opt); }
const mrg_lr_schedule *mrg_trainer_schedule(const mrg_trainer *tr) { return &tr->sched; }
mrg_adamw *mrg_trainer_optimizer(mrg_trainer *tr) { return tr->opt; }

mrg_status mrg_trainer_micro_step(mrg_trainer *tr, const mrg_batch *b, int group, bool last,
                                  mrg_step_stats *out) {
    if (group < 1) return mrg_error(MRG_ERR_INVALID_ARG, "trainer: group must be >= 1");
    mrg_step_stats s = {0};
    mrg_loss_parts parts = {0};
    mrg_tensor *norm = NULL;
    /* forward and backward in the model's precision (the backward of
     * recomputed LLaMA blocks records products too) */
    mrg_precision prev = mrg_set_precision(tr->dev, mrg_model_get_config(tr->m)->precision);
    mrg_status st;
    bool shared = mrg_dist_size() > 1;
    if (!shared) {
        st = mrg_model_loss(tr->m, b, &parts);
        if (!st) st = mrg_tensor_item(parts.total, &s.loss);
        if (!st && parts.lm) st = mrg_tensor_item(parts.lm, &s.lm);
        if (!st && parts.con) st = mrg_tensor_item(parts.con, &s.con);
        if (!st && !isfinite(s.loss)) tr->group_nonfinite = true;
        s.samples = b->B;
    } else {
        /* b is this rank's share of the global batch: the losses logged
         * are the global batch's, and a non-finite one on any rank stops
         * the backward on every rank */
        mrg_loss_global g;
        st = mrg_model_loss_shard(tr->m, b, &parts, &g);
        s.loss = g.loss;
        s.lm = g.lm;
        s.con = g.con;
        s.samples = (int)g.samples;
        if (!st && !g.finite) tr->group_nonfinite = true;
    }
    /* data parallel, last micro-batch: the ranks' gradients are summed
     * (each rank's loss is its part of the global mean, so the sums are the
     * global batch's), each bucket sent while the backward goes on; the
     * non-finite flag is the same on every rank, so all of them are here */
    mrg_grad_sync *sync = NULL;
    if (!st && shared && last && !tr->group_nonfinite) {
        sync = mrg_grad_sync_begin(tr->params, tr->n);
        if (!sync) st = mrg_error_context(MRG_ERR_OOM, "trainer");
    }
    /* a non-finite loss spoils the update anyway: no backward for it */
    if (!st && !tr->group_nonfinite) {
        mrg_grad_watch watch = sync ? mrg_grad_sync_watch(sync) : (mrg_grad_watch){0};
        st = mrg_backward_watched(parts.total, 1.0f / (float)group, sync ? &watch : NULL);
    }
    if (sync) {
        mrg_status fst = mrg_grad_sync_finish(sync, NULL);
        if (!st) st = fst;
        mrg_grad_sync_free(sync);
    }
    mrg_set_precision(tr->dev, prev);
    int64_t step = mrg_adamw_steps(tr->opt);
    s.step = step + 1;
    if (!st && last) {
        s.lr = mrg_lr_at(&tr->sched, step);
        s.grad_norm = NAN;
        if (!tr->group_nonfinite) {
            st = mrg_clip_grad_norm(tr->params, tr->n, tr->o.clip_norm, &norm);
            if (!st && norm) st = mrg_tensor_item(norm, &s.grad_norm);
        }
        /* never apply a non-finite update: the parameters and moments stay
         * as they were, the gradients are dropped */
        if (!st && (tr->group_nonfinite || !isfinite(s.grad_norm))) {
            st = mrg_zero_grad(tr->params, tr->n);
            if (!st)
                st = mrg_error(MRG_ERR_NONFINITE, "update %lld: the %s is %g; the update was not applied",
                               (long long)(step + 1), tr->group_nonfinite ? "loss" : "gradient norm",
                               tr->group_nonfinite ? (double)s.loss : (double)s.grad_norm);
        } else {
            if (!st) st = mrg_adamw_step(tr->opt, s.lr);
            if (!st) st = mrg_zero_grad(tr->params, tr->n);
        }
    }
    if (last || st) tr->group_nonfinite = false;
    mrg_step_reset(tr->dev);
    if (out) *out = s;
    return st;
}

mrg_status mrg_trainer_step(mrg_trainer *tr, const mrg_batch *b, mrg_step_stats *stats) {
    return mrg_trainer_micro_step(tr, b, 1, true, stats);
}

mrg_status mrg_trainer_save(mrg_trainer *tr, const char *final_dir, const mrg_train_state *st,
                            const char *options_json) {
    char tmp[4200], path[4400];
    /* RUN/last must always be finite: check what would be written */
    mrg_status s = mrg_trainer_check_finite(tr);
    if (s) return mrg_error_context(s, "not writing %s", final_dir);
    if ((s = mrg_ckpt_begin(final_dir, tmp, sizeof tmp))) return s;
    char *cfg = mrg_model_config_to_json(mrg_model_get_config(tr->m));
    if (!cfg) s = mrg_error(MRG_ERR_OOM, "checkpoint: cannot serialise the config");
    if (!s) s = mrg_model_save(tr->m, tmp);
    snprintf(path, sizeof path, "%s/optimizer.safetensors", tmp);
    if (!s) s = mrg_adamw_save(tr->opt, tr->names, tr->n, path);
    snprintf(path, sizeof path, "%s/trainer_state.json", tmp);
    if (!s) s = mrg_train_state_write(path, st, options_json, cfg);
    free(cfg);
    if (!s) train_test_point("save", st->step);
    if (!s) s = mrg_ckpt_commit(tmp, final_dir);
    if (s) {
        mrg_error_context(s, "writing checkpoint %s", final_dir);
        mrg_rm_tree(tmp);
        return s;
    }
    return MRG_OK;
}

mrg_status mrg_trainer_restore(mrg_trainer *tr, const char *dir, mrg_train_state *st) {
    char path[4400];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    mrg_status s = mrg_adamw_load(tr->opt, tr->names, tr->n, path);
    if (!s && st) {
        snprintf(path, sizeof path, "%s/trainer_state.json", dir);
        s = mrg_train_state_read(path, st, NULL, NULL);
    }
    if (s) return mrg_error_context(s, "restoring %s", dir);
    return MRG_OK;
}

mrg_status mrg_trainer_check_finite(mrg_trainer *tr) {
    mrg_status st = train_check_finite(tr->params, tr->names, tr->n, "parameter");
    for (int which = 0; which < 2 && !st; which++) {
        for (int i = 0; i < tr->n && !st; i++) {
            mrg_tensor *t = mrg_adamw_moment(tr->opt, i, which);
            if (!t) { mrg_clear_error(); continue; } /* frozen: no moments */
            st = train_check_finite(&t, &tr->names[i], 1, which ? "AdamW second moment of" : "AdamW first moment of");
        }
    }
    return st;
}
