/* The report-generator trainer (lib/train/trainer.c): AdamW, clipping,
 * gradient accumulation and the learning-rate schedule over one model,
 * resumable bit-for-bit from its checkpoints. The epoch loop around it is
 * mrg/train_run.h. */
#ifndef MRG_TRAINER_H
#define MRG_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/checkpoint.h"
#include "mrg/dataset.h"
#include "mrg/model.h"
#include "mrg/optim.h"
#include "mrg/progress.h"
#include "mrg/schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_train_opts {
    float lr, min_lr, weight_decay, warmup_frac, clip_norm; /* clip <= 0: none */
    int grad_accum;     /* micro-batches per update */
    int64_t total_steps; /* updates the schedule spans */
} mrg_train_opts;

/* From the model config's training defaults, with total_steps. */
mrg_train_opts mrg_train_opts_from_config(const mrg_model_config *cfg, int64_t total_steps);

typedef struct mrg_trainer mrg_trainer;

mrg_trainer *mrg_trainer_create(mrg_model *m, const mrg_train_opts *opts);
void mrg_trainer_free(mrg_trainer *tr);

/* Forward + backward of one micro-batch, its loss scaled by 1/group (the
 * number of micro-batches of the current update, so the update sees their
 * mean); with last, clips, steps AdamW at the scheduled learning rate and
 * zeroes the gradients. *out (may be NULL) gets the loss parts of this
 * micro-batch, step (the number of the update it belongs to), and for the
 * last one lr and grad_norm. When a micro-batch's loss or the update's
 * gradient norm is NaN or infinite, the update is not applied: the last
 * micro-batch drops the gradients and returns MRG_ERR_NONFINITE (the
 * parameters, moments and step count stay as they were). Calls
 * mrg_step_reset on the model's device before returning. */
mrg_status mrg_trainer_micro_step(mrg_trainer *tr, const mrg_batch *b, int group, bool last,
                                  mrg_step_stats *out);
/* One whole update from one batch (no accumulation):
 * mrg_trainer_micro_step(tr, b, 1, true, stats). */
mrg_status mrg_trainer_step(mrg_trainer *tr, const mrg_batch *b, mrg_step_stats *stats);
/* Updates done so far. */
int64_t mrg_trainer_steps(const mrg_trainer *tr);
const mrg_lr_schedule *mrg_trainer_schedule(const mrg_trainer *tr);
mrg_adamw *mrg_trainer_optimizer(mrg_trainer *tr);

/* MRG_ERR_NONFINITE (naming the tensor) when a trained parameter or an
 * AdamW moment holds a NaN or an infinity. */
mrg_status mrg_trainer_check_finite(mrg_trainer *tr);
/* A checkpoint (model + optimizer + sidecar with st, options_json and the
 * model config) into final_dir, atomically; refused (MRG_ERR_NONFINITE,
 * nothing written) unless mrg_trainer_check_finite passes. */
mrg_status mrg_trainer_save(mrg_trainer *tr, const char *final_dir, const mrg_train_state *st,
                            const char *options_json);
/* Restores the optimizer (moments, step) from a checkpoint directory whose
 * model was loaded with mrg_model_load; st (may be NULL) gets the state. */
mrg_status mrg_trainer_restore(mrg_trainer *tr, const char *dir, mrg_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
