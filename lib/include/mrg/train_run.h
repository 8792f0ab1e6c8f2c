/* The training run of `mrg train` (lib/train/train_run.c): the epoch loop
 * around the trainer, with validation, checkpoints and resume. */
#ifndef MRG_TRAIN_RUN_H
#define MRG_TRAIN_RUN_H

#include <stdbool.h>
#include <stdint.h>

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
    /* overrides (<= 0: the config's value) */
    int epochs, batch_size, grad_accum;
    float lr;
    bool freeze_vit;        /* true: freeze the ViT (false: the config's choice) */
    int64_t max_steps;      /* stop after this many updates (the schedule spans them) */
    int save_every;         /* also checkpoint every this many updates (0: epoch ends) */
    int eval_max;           /* studies evaluated per epoch (0: the whole val split) */
    bool no_eval;
    bool eval_beam;         /* validate with the config's beam search (default greedy) */
    int log_every;          /* JSONL every this many updates (default 1) */
    bool bar;               /* progress bar on stderr */
    bool jsonl_stdout;
    /* Test hook: stop (as if killed) after this many updates in this call,
     * without writing a checkpoint beyond the regular ones. 0: off. */
    int64_t stop_after;
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
} mrg_train_run_result;

mrg_status mrg_train_run(const mrg_train_run_opts *o, mrg_device *dev, mrg_train_run_result *res);
void mrg_train_run_result_free(mrg_train_run_result *r);

#ifdef __cplusplus
}
#endif
#endif
