/* The plan of a training run (what a resume must reuse exactly) and what
 * the run was started with, as recorded in RUN/last/trainer_state.json
 * under "options"; the run directory's set-up before training; and the
 * checks and notes of a resume (lib/train/run_plan.c). */
#ifndef MRG_TRAIN_RUN_PLAN_H
#define MRG_TRAIN_RUN_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/checkpoint.h"
#include "mrg/model.h"
#include "mrg/train_run.h"

typedef struct run_plan {
    int epochs, save_every, eval_max;
    bool no_eval, eval_beam;
    bool select_by_f1;   /* RUN/best by val finding F1 (else 0.5 BLEU-4 + 0.5 CIDEr) */
    int64_t total_steps; /* updates the schedule spans: epochs · updates per epoch, capped by max_steps */
    int64_t max_steps;   /* 0: none; -1: not recorded (an older run) */
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
    /* content hashes (16 hex digits; "" when none or not recorded) of the
     * dataset's annotation.json and of the --config file */
    char data_hash[17], config_hash[17];
} run_plan;

/* What RUN/best keeps the best of, by name: "finding-f1" (select_by_f1)
 * or "bleu4-cider"; parsing NULL gives bleu4-cider, an unknown name
 * MRG_ERR_INVALID_ARG. */
const char *run_select_by_name(bool f1);
mrg_status run_select_by_parse(const char *name, bool *f1);

/* The "options" JSON text (malloc'd; NULL when out of memory). */
char *run_plan_to_json(const run_plan *p, const char *data_dir);
mrg_status run_plan_from_json(const char *json, run_plan *p);

/* Prepares o->out_dir for a run and tells whether to resume: refuses an
 * out_dir inside an input; refuses an existing run unless o->resume (which
 * continues it when it has a checkpoint) or o->force (which removes its
 * last/, best/ and log.jsonl first); refuses a non-empty directory that
 * holds no run unless o->force; then creates out_dir and cleans the
 * temporaries of killed runs. */
mrg_status run_dir_prepare(const mrg_train_run_opts *o, bool *resume);

/* The checks of a resume before its model is loaded: o->data_dir and
 * o->config_path must hash as recorded in plan and o->preset must name the
 * run's preset (from its config JSON). A run that recorded no dataset hash
 * takes the dataset's hash now. */
mrg_status run_resume_check_inputs(const mrg_train_run_opts *o, run_plan *plan, const char *config_json);

/* Notes (on o->notes) for the options a resume ignores, and the new length
 * from o->epochs / o->max_steps (upe updates per epoch): plan's epochs,
 * max_steps and total_steps change; refused when the new length ends
 * before update st->step. */
mrg_status run_resume_apply(const mrg_train_run_opts *o, const mrg_model_config *cfg, run_plan *plan,
                            const mrg_train_state *st, int64_t upe);

/* printf-style line on o->notes (nothing when NULL). */
void run_note(const mrg_train_run_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
