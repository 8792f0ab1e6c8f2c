/* The training run of `mrg train` (lib/train/train_run.c): the epoch loop
 * around the trainer, with validation, checkpoints and resume. */
#ifndef MRG_TRAIN_RUN_H
#define MRG_TRAIN_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_train_run_opts {
    const char *data_dir;
    const char *preset;     /* or */
    const char *config_path; /* JSON overrides applied to preset (default "tiny") */
    const char *lm_dir, *vit_dir, *tokenizer; /* may be NULL */
    const char *out_dir;
    bool resume;            /* continue from out_dir/last when present */
    /* An existing run in out_dir is refused without resume; with force it
     * starts over (its last/, best/ and log.jsonl are removed first), and a
     * non-empty out_dir that holds no run is written into (its other files
     * are kept). */
    bool force;
    /* An update with a non-finite loss or gradient norm is skipped (logged
     * as {"type":"skip"}, counted in the state) instead of stopping the
     * run with MRG_ERR_NONFINITE. */
    bool skip_nonfinite;
    /* overrides (<= 0: the config's value) */
    int epochs, batch_size, grad_accum;
    float lr;
    bool freeze_vit;        /* true: freeze the ViT (false: the config's choice) */
    /* "f32" or "bf16-mixed" (mrg_set_precision); NULL: the config's. A run
     * keeps its precision: resuming with another one is refused. */
    const char *precision;
    int64_t max_steps;      /* stop after this many updates (the schedule spans them) */
    int save_every;         /* also checkpoint every this many updates (0: epoch ends) */
    int eval_max;           /* studies evaluated per epoch (0: the whole val split) */
    bool no_eval;
    bool eval_beam;         /* validate with the config's beam search (default greedy) */
    /* what RUN/best keeps the best of on the val split: "bleu4-cider"
     * (0.5 BLEU-4 + 0.5 CIDEr, the default when NULL) or "finding-f1" (the
     * macro finding F1 of the generated reports). A run keeps its choice. */
    const char *select_by;
    int log_every;          /* JSONL every this many updates (default 1) */
    bool bar;               /* progress bar on stderr */
    bool jsonl_stdout;
    /* Set (by a signal handler) to ask for a graceful stop: the current
     * update is finished (a validation in progress is abandoned), RUN/last
     * is written and mrg_train_run returns MRG_OK with res->interrupted.
     * NULL: none. */
    const volatile sig_atomic_t *stop;
    /* Where to say what a resumed run keeps, ignores or extends, and what a
     * forced start removes (NULL: nowhere). */
    FILE *notes;
    /* Test hook: stop (as if killed) after this many updates in this call,
     * without writing a checkpoint beyond the regular ones. 0: off. */
    int64_t stop_after;
    /* Test hook: "SIG@POINT:STEP[,...]" raises signal number SIG at POINT of
     * update STEP: "step" (after the update and its checkpoint), "eval"
     * (as the validation after it starts) or "save" (inside the checkpoint
     * write, before its swap). NULL: off. */
    const char *test_signal;
} mrg_train_run_opts;

mrg_train_run_opts mrg_train_run_defaults(void);

typedef struct mrg_train_run_result {
    int64_t steps;
    int epochs_done;
    float last_loss;
    double best_score;
    /* every update's mean loss of this call, in order (malloc'd) */
    float *losses;
    int64_t n_losses;
    int64_t skipped;   /* non-finite updates skipped in this call */
    bool interrupted;  /* stopped through opts.stop; RUN/last holds the state */
} mrg_train_run_result;

/* Trains (or resumes, see mrg_train_run_opts) the run in o->out_dir.
 *
 * The run records in RUN/last/trainer_state.json the content hashes of its
 * dataset's annotation.json and of its --config file, its preset, and (in
 * RUN/last/config.json) the frozen LM's path and hash. A resume refuses
 * (MRG_ERR_INVALID_ARG) a different dataset, preset, config or LM; says on
 * o->notes which of the other options it ignores (the run keeps its own);
 * and takes o->epochs / o->max_steps as the run's new length, so that a
 * finished run can be extended (the learning-rate schedule then spans the
 * new length). A non-finite update stops the run with MRG_ERR_NONFINITE
 * and a message naming the update and the last good checkpoint, unless
 * o->skip_nonfinite. */
mrg_status mrg_train_run(const mrg_train_run_opts *o, mrg_device *dev, mrg_train_run_result *res);
void mrg_train_run_result_free(mrg_train_run_result *r);

#ifdef __cplusplus
}
#endif
#endif
