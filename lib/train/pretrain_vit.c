/* ViT warm-up: the ViT and a linear head on its mean token feature learn
 * the findings the labeler reads in each training report (two logits per
 * finding, cross-entropy or squared error: vit_head_loss.h), AdamW with
 * warmup + cosine; the head is scored on val after every epoch and the ViT
 * alone is written for `mrg train --vit`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/nn.h"
#include "mrg/ops.h"
#include "core/files.h"
#include "mrg/checkpoint.h"
#include "mrg/dataset.h"
#include "mrg/outputs.h"
#include "mrg/pretrain.h"
#include "mrg/progress.h"
#include "train/vit_head_loss.h"
#include "mrg/schedule.h"
#include "train/train_internal.h"

#define MAX_VIT_PARAMS 1024

mrg_vit_pretrain_opts mrg_vit_pretrain_defaults(void) {
    mrg_vit_pretrain_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 10;
    o.batch_size = 16;
    o.n_views = 2;
    o.lr = 1e-3f; /* from scratch: a larger rate than the generator's */
    o.min_lr = 1e-5f;
    o.weight_decay = 0.01f;
    o.warmup_frac = 0.05f;
    o.clip_norm = 1.0f;
    o.seed = 1234;
    o.log_every = 10;
    o.head_loss = MRG_VIT_HEAD_CROSS_ENTROPY;
    o.pos_weight = 1.0f;
    o.keep_best = false;
    return o;
}

/* The network being trained: the ViT and its head (D → 2·F) on the mean of
 * every token of every view. The mean, not the CLS token: the report
 * generator's content encoder starts with uniform attention over the same
 * tokens, so whatever the warm-up makes linearly readable from their mean
 * reaches its prefix from the first step (a CLS-only signal is diluted
 * 1/(V·(N+1)) there until its attention learns to find it). */
typedef struct vit_classifier {
    mrg_vit *vit;
    mrg_params head_params;
    mrg_nn_linear head;
    int V;
} vit_classifier;

/* images (B, V, 3, S, S) on the device → logits (B·F, 2) */
static mrg_tensor *classifier_logits(vit_classifier *c, mrg_tensor *images) {
    const mrg_vit_config *vc = mrg_vit_get_config(c->vit);
    int64_t B = images->shape[0], V = c->V, S = vc->image_size, D = vc->dim;
    mrg_tensor *feats = NULL;
    if (mrg_vit_forward(c->vit, mrg_reshape(images, MRG_SHAPE(B * V, 3, S, S)), &feats, NULL))
        return NULL;                                                   /* (B·V, N+1, D) */
    int64_t N1 = feats->shape[1];
    mrg_tensor *pooled = mrg_mean(mrg_reshape(feats, MRG_SHAPE(B, V * N1, D)), 1, false); /* (B, D) */
    mrg_tensor *logits = mrg_nn_linear_forward(&c->head, pooled);                        /* (B, 2F) */
    return mrg_reshape(logits, MRG_SHAPE(B * MRG_N_FINDINGS, 2));
}

/* targets[b·F + f] = 1 when the labeler reads finding f as positive in
 * report b, else 0 */
static mrg_status report_targets(const mrg_batch *b, int32_t *targets) {
    for (int i = 0; i < b->B; i++) {
        mrg_finding_label l[MRG_N_FINDINGS];
        mrg_status st = mrg_label_report(b->reports[i], l);
        if (st) return st;
        for (int f = 0; f < MRG_N_FINDINGS; f++)
            targets[i * MRG_N_FINDINGS + f] = l[f] == MRG_LABEL_POSITIVE;
    }
    return MRG_OK;
}

static mrg_tensor *upload_images(mrg_device *dev, const mrg_batch *b) {
    return mrg_tensor_from_f32(dev, MRG_SHAPE(b->B, b->V, 3, b->S, b->S), b->images);
}

/* One update on a batch; *loss gets the head's loss (vit_head_loss.h). */
static mrg_status train_step(vit_classifier *c, mrg_device *dev, mrg_adamw *opt, mrg_tensor **params,
                             int np, const mrg_batch *b, float lr, float clip, float pos_weight,
                             mrg_vit_head_loss head_loss, mrg_step_stats *s) {
    int32_t *targets_host = malloc(sizeof(int32_t) * (size_t)b->B * MRG_N_FINDINGS);
    if (!targets_host) return mrg_error(MRG_ERR_OOM, "pretrain-vit: out of memory");
    mrg_status st = report_targets(b, targets_host);
    mrg_tensor *targets = st ? NULL : mrg_tensor_from_i32(dev, MRG_SHAPE(b->B * MRG_N_FINDINGS), targets_host);
    if (st) { /* the labeler failed: no tensor was made */
        free(targets_host);
        return st;
    }
    mrg_tensor *images = targets ? upload_images(dev, b) : NULL;
    mrg_tensor *logits = images ? classifier_logits(c, images) : NULL;
    bool plain_ce = head_loss == MRG_VIT_HEAD_CROSS_ENTROPY && pos_weight == 1.0f;
    mrg_tensor *loss = !logits  ? NULL
                       : plain_ce ? mrg_cross_entropy(logits, targets, -1)
                                  : vit_head_loss(dev, logits, targets_host, (int64_t)b->B * MRG_N_FINDINGS,
                                                  pos_weight, head_loss);
    free(targets_host);
    return train_update(dev, loss, "pretrain-vit", params, np, opt, lr, clip, &s->loss, &s->grad_norm);
}

/* The head's reading of every study of ds (positive when the positive logit
 * is the larger) against the labeler's reading of its report; prog shows
 * how far it is. */
static mrg_status score_split(vit_classifier *c, mrg_device *dev, mrg_dataset *ds,
                              mrg_progress *prog, mrg_finding_scores *out, int *n_out) {
    int n = mrg_dataset_size(ds);
    mrg_finding_label *pred = calloc((size_t)n * MRG_N_FINDINGS + 1, sizeof *pred);
    mrg_finding_label *ref = calloc((size_t)n * MRG_N_FINDINGS + 1, sizeof *ref);
    float *lg = NULL;
    if (!pred || !ref) {
        free(pred);
        free(ref);
        return mrg_error(MRG_ERR_OOM, "pretrain-vit: out of memory");
    }
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_status st = MRG_OK;
    int done = 0;
    for (;;) {
        mrg_batch b = {0};
        st = mrg_dataset_next(ds, &b);
        if (st == MRG_END) { st = MRG_OK; break; }
        if (st) break;
        mrg_tensor *images = upload_images(dev, &b);
        mrg_tensor *logits = images ? classifier_logits(c, images) : NULL; /* (B·F, 2) */
        float *tmp = logits ? realloc(lg, sizeof(float) * (size_t)b.B * MRG_N_FINDINGS * 2) : NULL;
        if (tmp) lg = tmp;
        st = !logits ? mrg_error_context(MRG_ERR_DEVICE, "pretrain-vit: forward")
             : !tmp  ? mrg_error(MRG_ERR_OOM, "pretrain-vit: out of memory")
                     : mrg_tensor_to_f32(logits, lg);
        for (int i = 0; !st && i < b.B && done + i < n; i++) {
            mrg_finding_label *r = ref + (size_t)(done + i) * MRG_N_FINDINGS;
            st = mrg_label_report(b.reports[i], r);
            for (int f = 0; !st && f < MRG_N_FINDINGS; f++) {
                const float *l2 = lg + (size_t)(i * MRG_N_FINDINGS + f) * 2;
                pred[(size_t)(done + i) * MRG_N_FINDINGS + f] =
                    l2[1] > l2[0] ? MRG_LABEL_POSITIVE : MRG_LABEL_ABSENT;
            }
        }
        done += b.B;
        mrg_batch_free(&b);
        mrg_step_reset(dev);
        if (st) break;
        mrg_progress_phase(prog, "validating", done < n ? done : n, n);
    }
    mrg_grad_set_enabled(dev, prev);
    if (!st) {
        if (done > n) done = n;
        mrg_finding_scores_from_labels(pred, ref, done, out);
        *n_out = done;
    }
    free(lg);
    free(pred);
    free(ref);
    return st;
}

static void log_scores(mrg_progress *prog, int epoch, int64_t step, const mrg_finding_scores *s, int n) {
    char json[1024], text[160], per[512];
    mrg_findings_json(per, sizeof per, s);
    snprintf(json, sizeof json, "{\"type\":\"eval\",\"epoch\":%d,\"step\":%lld,\"n\":%d,\"macro_f1\":%.6f%s}",
             epoch + 1, (long long)step, n, s->macro_f1, per);
    snprintf(text, sizeof text, "epoch %d: val finding F1 %.3f (%d studies)", epoch + 1, s->macro_f1, n);
    mrg_progress_record(prog, json, text);
}

static mrg_dataset *open_split(const char *dir, mrg_split split, const mrg_vit_config *vc,
                               const mrg_vit_pretrain_opts *o, bool train) {
    mrg_dataset_opts d = mrg_dataset_defaults();
    d.image_size = vc->image_size;
    memcpy(d.mean, vc->mean, sizeof d.mean);
    memcpy(d.std, vc->std, sizeof d.std);
    d.n_views = o->n_views;
    d.tok = NULL;
    d.batch_size = o->batch_size;
    d.shuffle = train;
    d.seed = o->seed;
    return mrg_dataset_open(dir, split, &d);
}

mrg_status mrg_pretrain_vit(const char *data_dir, const mrg_vit_config *vit,
                            const mrg_vit_pretrain_opts *opts, mrg_device *dev, const char *out_dir,
                            mrg_vit_pretrain_result *res) {
    mrg_vit_pretrain_opts o = opts ? *opts : mrg_vit_pretrain_defaults();
    if (o.batch_size < 1 || o.epochs < 1 || o.n_views < 1 || !(o.lr > 0) || !(o.pos_weight > 0) ||
        !isfinite(o.pos_weight))
        return mrg_error(MRG_ERR_INVALID_ARG, "pretrain-vit: batch, epochs, views, lr and pos_weight must be positive");
    if (o.head_loss != MRG_VIT_HEAD_CROSS_ENTROPY && o.head_loss != MRG_VIT_HEAD_SQUARED)
        return mrg_error(MRG_ERR_INVALID_ARG, "pretrain-vit: head_loss %d is neither cross-entropy nor squared",
                         (int)o.head_loss);
    mrg_vit_config vc = *vit;
    vc.num_classes = 0;
    mrg_status st = mrg_vit_config_check(&vc);
    if (st) return st;
    mrg_vit_pretrain_result r;
    memset(&r, 0, sizeof r);
    char tmp[4200];
    if ((st = mrg_output_begin(out_dir, tmp, sizeof tmp))) return st;

    vit_classifier c = {0};
    mrg_params_init(&c.head_params);
    c.V = o.n_views;
    mrg_adamw *opt = NULL;
    mrg_progress *prog = NULL;
    mrg_dataset *train = open_split(data_dir, MRG_SPLIT_TRAIN, &vc, &o, true);
    mrg_dataset *val = train ? open_split(data_dir, MRG_SPLIT_VAL, &vc, &o, false) : NULL;
    mrg_tensor *params[MAX_VIT_PARAMS];
    int np = 0;
    if (!train || !val) { st = mrg_error_context(MRG_ERR_INVALID_ARG, "pretrain-vit: reading %s", data_dir); goto end; }
    if (mrg_dataset_size(train) < 1) { st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain-vit: %s has no training studies", data_dir); goto end; }
    mrg_vit_opts vo = {.trainable = true, .seed = o.seed, .prefix = NULL};
    if (!(c.vit = mrg_vit_create(dev, &vc, &vo))) { st = MRG_ERR_OOM; goto end; }
    mrg_nn_ctx ctx = mrg_nn_ctx_make(dev, &c.head_params, o.seed ^ 0x4ead5eedull, true);
    if ((st = mrg_nn_linear_init(&c.head, &ctx, "head", vc.dim, 2 * MRG_N_FINDINGS, true))) goto end;
    np = mrg_params_trainable(mrg_vit_params(c.vit), NULL) + mrg_params_trainable(&c.head_params, NULL);
    if (np > MAX_VIT_PARAMS) { st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain-vit: too many parameters"); goto end; }
    int nv = mrg_params_trainable(mrg_vit_params(c.vit), params);
    mrg_params_trainable(&c.head_params, params + nv);
    if ((st = train_adamw(params, np, o.lr, o.weight_decay, &opt))) goto end;
    int64_t per_epoch = mrg_dataset_batches_per_epoch(train), total = (int64_t)o.epochs * per_epoch, step = 0, skipped = 0;
    mrg_lr_schedule sched = mrg_lr_schedule_make(o.lr, o.min_lr, o.warmup_frac, total);
    mrg_progress_opts po = {NULL, o.bar, o.jsonl_stdout, total, 0, o.log_every > 0 ? o.log_every : 10};
    if (!(prog = mrg_progress_new(&po))) { st = MRG_ERR_OOM; goto end; }
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        for (;;) {
            mrg_batch b = {0};
            st = mrg_dataset_next(train, &b);
            if (st == MRG_END) break;
            if (st) goto end;
            mrg_step_stats s = {0};
            s.lr = mrg_lr_at(&sched, step);
            st = train_step(&c, dev, opt, params, np, &b, s.lr, o.clip_norm, o.pos_weight, o.head_loss, &s);
            s.samples = b.B;
            mrg_batch_free(&b);
            if (st == MRG_ERR_NONFINITE && o.skip_nonfinite) {
                train_log_skip(prog, ++step, epoch, -1, ++skipped);
                st = MRG_OK;
                continue;
            }
            if (st) {
                mrg_error_context(st, "update %lld of %lld (no output written)", (long long)(step + 1), (long long)total);
                goto end;
            }
            if (!isfinite(s.loss)) { st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain-vit: loss %g at step %lld", s.loss, (long long)step); goto end; }
            if (step == 0) r.first_loss = s.loss;
            r.final_loss = s.loss;
            s.step = ++step;
            s.epoch = epoch;
            s.lm = s.loss;
            mrg_progress_step(prog, &s);
        }
        mrg_finding_scores scores = {0};
        int n_val = 0;
        if (mrg_dataset_size(val) > 0) {
            if ((st = score_split(&c, dev, val, prog, &scores, &n_val))) goto end;
            log_scores(prog, epoch, step, &scores, n_val);
        }
        /* the epoch to keep is chosen on val alone; the ViT is written now
         * (over an earlier epoch's) because only the current one is held */
        bool keep = !o.keep_best || epoch == 0 || n_val == 0 || scores.macro_f1 > r.val.macro_f1;
        if (keep) {
            r.val = scores;
            r.n_val = n_val;
            r.epoch = epoch + 1;
            if (o.keep_best) {
                if ((st = train_check_finite(params, NULL, np, "parameter"))) goto end;
                if ((st = mrg_vit_save(c.vit, tmp))) goto end;
            }
        }
    }
    if (!o.keep_best) {
        if ((st = train_check_finite(params, NULL, np, "parameter"))) goto end;
        st = mrg_vit_save(c.vit, tmp);
    }
end:
    st = mrg_output_finish(tmp, out_dir, "pretrain-vit", st);
    if (st)
        mrg_error_context(st, "pretraining the ViT into %s", out_dir);
    else if (res)
        *res = r;
    mrg_progress_free(prog);
    mrg_adamw_free(opt);
    mrg_params_free(&c.head_params);
    mrg_vit_free(c.vit);
    mrg_dataset_free(val);
    mrg_dataset_free(train);
    return st;
}
