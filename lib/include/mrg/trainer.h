/* Training: learning-rate schedule, atomic checkpoints, progress output,
 * the report-generator trainer (AdamW, clipping, gradient accumulation,
 * resumable bit-for-bit) with its epoch loop and evaluation, and causal-LM
 * pretraining of the small LLaMA on report text.
 *
 * A run directory RUN holds
 *   RUN/last/   the latest checkpoint: the model (mrg_model_save), the
 *               optimizer moments (optimizer.safetensors) and the sidecar
 *               trainer_state.json (step, epoch, batch, RNG, options, config)
 *   RUN/best/   the model with the best validation 0.5·BLEU-4 + 0.5·CIDEr
 *   RUN/log.jsonl  one JSON object per logged step or evaluation.
 * Every checkpoint directory is written into RUN/.tmp-* first, fsynced and
 * then swapped in with rename, so a kill at any moment leaves either the old
 * or the new checkpoint, never a mix. */
#ifndef MRG_TRAINER_H
#define MRG_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/llama.h"
#include "mrg/metrics.h"
#include "mrg/model.h"
#include "mrg/optim.h"
#include "mrg/text.h"
#include "mrg/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- learning-rate schedule (lib/train/schedule.c) --------------------- */

/* Linear warmup from lr/warmup to lr over warmup_steps updates, then a
 * cosine from lr down to min_lr at total_steps (constant min_lr after). */
typedef struct mrg_lr_schedule {
    float lr, min_lr;
    int64_t warmup_steps, total_steps;
} mrg_lr_schedule;

/* The schedule for total_steps updates with warmup_frac of them warming up
 * (rounded, at least 1 when warmup_frac > 0). */
mrg_lr_schedule mrg_lr_schedule_make(float lr, float min_lr, float warmup_frac, int64_t total_steps);
/* The learning rate of update number step (0-based):
 *   step < W:  lr·(step+1)/W
 *   else:      min_lr + ½(lr − min_lr)(1 + cos(π·min(1, (step−W)/(total−W)))) */
float mrg_lr_at(const mrg_lr_schedule *s, int64_t step);

/* ---- atomic checkpoint directories (lib/train/checkpoint.c) ------------ */

/* Creates a fresh temporary directory beside final_dir (its parent must
 * exist): parent/.tmp-<name>-<pid>-<n>, after mrg_ckpt_clean(final_dir)
 * (mrg/outputs.h) removed those of killed processes. Its path goes to tmp
 * (cap bytes). */
mrg_status mrg_ckpt_begin(const char *final_dir, char *tmp, size_t cap);
/* fsyncs every file in tmp and tmp itself, then makes tmp final_dir in one
 * step (an atomic exchange when final_dir exists), removes the old
 * directory and fsyncs the parent. */
mrg_status mrg_ckpt_commit(const char *tmp, const char *final_dir);
/* Puts back parent/.old-<name> when a crash in a non-atomic swap left
 * final_dir missing; nothing otherwise. */
mrg_status mrg_ckpt_recover(const char *final_dir);
/* Removes a directory tree (the temporary of a failed checkpoint). */
mrg_status mrg_rm_tree(const char *path);
/* mkdir -p. */
mrg_status mrg_mkdirs(const char *path);
/* mkdir -p of the directory that holds path (nothing when it has none). */
mrg_status mrg_mkdirs_parent(const char *path);
/* Copies a file (atomically: a temporary beside dst, fsync, rename). */
mrg_status mrg_copy_file(const char *src, const char *dst);
bool mrg_path_exists(const char *path);

/* The resumable position of a training run. */
typedef struct mrg_train_state {
    int64_t step;       /* optimizer updates done */
    int epoch;          /* epoch of the next batch */
    int batch;          /* index of the next batch within that epoch */
    int64_t samples;    /* studies seen */
    /* The only randomness of a run is the data order, drawn from this seed
     * and the epoch alone; with (epoch, batch) it is the whole RNG state. */
    uint64_t data_seed;
    double best_score;  /* best 0.5·BLEU-4 + 0.5·CIDEr so far (-1: none) */
    int best_epoch;     /* the epoch of RUN/best, counted from 1 as in the logs; -1: none */
    int64_t skipped;    /* updates skipped as non-finite (--skip-nonfinite) */
} mrg_train_state;

/* Writes path (JSON: the state, and the raw JSON texts `options` and
 * `config` when not NULL) atomically. */
mrg_status mrg_train_state_write(const char *path, const mrg_train_state *st,
                                 const char *options_json, const char *config_json);
/* Reads the state; *options_json / *config_json (either may be NULL) get
 * malloc'd JSON texts, or NULL when absent. */
mrg_status mrg_train_state_read(const char *path, mrg_train_state *st, char **options_json,
                                char **config_json);

/* The AdamW moments of params[i] as "<names[i]>.m" / ".v" plus the step
 * count in the metadata, to path (safetensors, atomic). */
mrg_status mrg_adamw_save(mrg_adamw *opt, const char *const *names, int n, const char *path);
/* Restores moments and step count; every name must be present with the
 * parameter's shape. */
mrg_status mrg_adamw_load(mrg_adamw *opt, const char *const *names, int n, const char *path);

/* ---- progress output (lib/train/progress.c) ----------------------------- */

typedef struct mrg_progress mrg_progress;

typedef struct mrg_progress_opts {
    const char *log_path; /* JSONL file appended to; NULL: none */
    bool bar;             /* a progress bar on stderr (usually isatty(2)) */
    bool jsonl_stdout;    /* JSONL lines on stdout too */
    int64_t total_steps;  /* for the bar and the ETA */
    int64_t first_step;   /* the step a resumed run starts from */
    int log_every;        /* JSONL every this many steps (and the last); >= 1 */
} mrg_progress_opts;

typedef struct mrg_step_stats {
    int64_t step;       /* updates done, after this one */
    int epoch;          /* 0-based index; shown and logged counted from 1 */
    float loss, lm, con; /* means over the accumulated micro-batches */
    float lr;
    float grad_norm;    /* before clipping */
    int samples;        /* studies in this update */
} mrg_step_stats;

mrg_progress *mrg_progress_new(const mrg_progress_opts *opts);
/* A training update: redraws the bar and writes a JSONL line
 * {"type":"train","step",..,"epoch",..,"loss",..,"lr",..,"samples_per_s",..,
 * "eta_s",..} (losses printed with 9 significant digits, so they read back
 * exactly; "epoch" counted from 1). The bar is cut to the terminal's width
 * (mrg_terminal_width). A log or stdout write that fails is reported once
 * on stderr, with its reason, and the run goes on (mrg_progress_close). */
void mrg_progress_step(mrg_progress *p, const mrg_step_stats *s);
/* Progress of a phase between updates ("validating", done of total), drawn
 * in place of the bar (nothing without a bar). */
void mrg_progress_phase(mrg_progress *p, const char *what, int done, int total);
/* Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80. */
int mrg_terminal_width(int fd);
/* Any other record (a JSON object text without newline): to the log and
 * stdout JSONL; on a bar, a line above the bar with a short `text`. */
void mrg_progress_record(mrg_progress *p, const char *json, const char *text);
/* Writes ,"<finding>":F1 for each of the seven findings (snake-case names)
 * into buf (cap bytes, NUL-terminated), for eval records. Returns the
 * length written. */
int mrg_findings_json(char *buf, size_t cap, const mrg_finding_scores *s);
/* Ends the bar line, closes the log and frees p: MRG_ERR_IO ("cannot write
 * LOG: reason") when a log record could not be written. */
mrg_status mrg_progress_close(mrg_progress *p);
/* The same without a status (cleanup after another error). */
void mrg_progress_free(mrg_progress *p);

/* ---- the trainer (lib/train/trainer.c) ---------------------------------- */

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

/* ---- evaluation (lib/train/evaluate.c) ---------------------------------- */

typedef struct mrg_eval_result {
    int n;
    mrg_scores scores;  /* BLEU, ROUGE-L, CIDEr, findings (METEOR skipped) */
    double score;       /* 0.5·BLEU-4 + 0.5·CIDEr */
} mrg_eval_result;

/* Generation options for validation: greedy (no penalties, up to the
 * config's max_new tokens), or with beam the config's beam search settings
 * (beam, repetition and length penalties, min/max new tokens). */
mrg_gen_opts mrg_eval_gen_opts(const mrg_model_config *cfg, bool beam);
/* Generates for every study of ds (one pass from its start; gen NULL:
 * greedy) and scores against the cleaned references. max_studies > 0
 * limits the count. prog (may be NULL) shows "validating k/n". */
mrg_status mrg_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                        mrg_progress *prog, mrg_eval_result *out);

/* ---- the training run (lib/train/train_run.c) --------------------------- */

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
    int64_t max_steps;      /* stop after this many updates (the schedule spans them) */
    int save_every;         /* also checkpoint every this many updates (0: epoch ends) */
    int eval_max;           /* studies evaluated per epoch (0: the whole val split) */
    bool no_eval;
    bool eval_beam;         /* validate with the config's beam search (default greedy) */
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

/* ---- LM pretraining (lib/train/pretrain_lm.c) --------------------------- */

typedef enum mrg_slot_hint { MRG_SLOT_FINDINGS = 0, MRG_SLOT_SENTENCES, MRG_SLOT_SPANS } mrg_slot_hint;

typedef struct mrg_pretrain_opts {
    const char *tokenizer; /* a .model; NULL: train one on the texts */
    int vocab_size;        /* for a trained (BPE) tokenizer (default 1024) */
    /* false (default): when the texts hold too few distinct pieces for
     * vocab_size, the tokenizer has as many as they allow; true: that is an
     * error (MRG_ERR_INVALID_ARG naming the largest size they allow), for a
     * size the user chose */
    bool vocab_exact;
    int64_t steps;         /* updates; 0: from epochs */
    int epochs;            /* default 20 when steps is 0 */
    int batch_size;        /* sequences per update (default 16) */
    int max_tokens;        /* report tokens kept, before </s> (default 60) */
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
    uint64_t seed;
    bool bar, jsonl_stdout;
    int log_every;
    /* Text the report generator puts between BOS and the report (its prompt
     * around the image prefix); each sequence becomes BOS + before + after +
     * text + EOS so the frozen LM has seen its context, and a trained
     * tokenizer learns their pieces. NULL: no context. */
    const char *context_before, *context_after;
    /* Positions of the image prefix between the two contexts (the report
     * generator's Kc + Kt); 0: none. Each sequence then carries hints made
     * from its own report there (see slot_hint): the LM learns to read what
     * sits between <Img> and </Img>, so that when it is frozen the visual
     * prefix can steer it (an LM that never saw anything informative there
     * ignores the prefix, and the image encoders get almost no gradient
     * through it). The loss covers the report and EOS only whenever there
     * is a context. */
    int slot_tokens;
    /* What each slot position holds (drawn anew every time a sequence is
     * used when random).
     * MRG_SLOT_FINDINGS (default): the mean of F learned vectors, one per
     * finding and state (positive / negative / absent, as the finding
     * labeler reads the report), the same in every slot position; the
     * vectors are trained with the LM and dropped afterwards. The LM learns
     * to write a report (wording from its own prior) for given findings;
     * the report generator's prefix then has to carry only the findings,
     * which its visual features hold linearly, and all its slot positions
     * may start alike (as its queries do). With con_weight > 0 the vectors
     * also learn to sit where the generator's contrastive loss will pull
     * its prefix (see con_weight).
     * MRG_SLOT_SENTENCES: the mean token embedding of one whole sentence of
     * the report (pieces ending in . ! ?), sentences in a random order,
     * cycling through fresh orders until the slot is full: richer (wording
     * too), but the generator must learn to put different statements in
     * different positions.
     * MRG_SLOT_SPANS: the mean token embedding of a random contiguous span
     * of 1..slot_span tokens (0: up to the whole report, -1: always the
     * whole report; 1: one random token of the report per position). */
    mrg_slot_hint slot_hint;
    int slot_span; /* for MRG_SLOT_SPANS (default 8) */
    /* Skip an update whose loss or gradient norm is not finite (logged as
     * {"type":"skip"}) instead of stopping with MRG_ERR_NONFINITE. */
    bool skip_nonfinite;
    /* Finding hints only: loss = LM + con_weight · InfoNCE(normalized mean
     * of the sequence's codes, normalized mean input embedding of its
     * report; temperature), the report generator's contrastive term with
     * the codes in place of its prefix (default 0: none; `mrg pretrain-lm`
     * uses the config's con_weight / lm_weight and temperature). */
    float con_weight, temperature;
} mrg_pretrain_opts;

mrg_pretrain_opts mrg_pretrain_defaults(void);

/* Trains a LLaMA of shape lm (vocab, BOS and EOS taken from the tokenizer)
 * from a seeded random init as a causal LM on BOS + text + EOS (with the
 * options' context and slot hints around the text, when set), and writes a
 * Hugging Face directory out_dir (config.json, model.safetensors,
 * tokenizer.model) atomically. *final_loss (may be NULL) gets the mean loss
 * of the last update, *first_loss the first. */
mrg_status mrg_pretrain_lm_texts(const char *const *texts, int n, const mrg_llama_config *lm,
                                 const mrg_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                                 float *first_loss, float *final_loss);
/* The same on the cleaned training reports of an R2Gen-layout dataset. */
mrg_status mrg_pretrain_lm(const char *data_dir, const mrg_llama_config *lm,
                           const mrg_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                           float *first_loss, float *final_loss);

/* ---- ViT warm-up on report-derived labels (lib/train/pretrain_vit.c) ---- */

/* The analogue, for a dataset without an ImageNet-scale corpus (the
 * phantoms), of the paper's ImageNet-initialised ViT: the ViT learns to see
 * the findings before the report generator is trained on top of it. Every
 * view of a study goes through the ViT; a linear head on the mean of all
 * their output tokens (what the content encoder's attention starts from)
 * gives two logits per finding (absent or
 * negative / positive), trained with cross-entropy against the finding
 * labeler's reading of the study's training report (no other annotation
 * is used). */
typedef struct mrg_vit_pretrain_opts {
    int epochs;     /* passes over the training split (default 10) */
    int batch_size; /* studies per update (default 16) */
    int n_views;    /* views per study (default 2) */
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
    uint64_t seed;
    bool bar, jsonl_stdout;
    int log_every;
    /* skip non-finite updates instead of stopping (see mrg_pretrain_opts) */
    bool skip_nonfinite;
} mrg_vit_pretrain_opts;

mrg_vit_pretrain_opts mrg_vit_pretrain_defaults(void);

typedef struct mrg_vit_pretrain_result {
    float first_loss, final_loss;  /* of the first and last update */
    int n_val;                     /* validation studies scored (0: none) */
    mrg_finding_scores val;        /* the head's findings on val, after training */
} mrg_vit_pretrain_result;

/* Trains a ViT of shape vit (num_classes ignored: no head is kept) from a
 * seeded random init on the training split of data_dir, scores the head on
 * the validation split after each epoch (logged), and writes the ViT
 * (model.safetensors in timm names + config.json) atomically to out_dir,
 * loadable by `mrg train --vit`. res may be NULL. */
mrg_status mrg_pretrain_vit(const char *data_dir, const mrg_vit_config *vit,
                            const mrg_vit_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                            mrg_vit_pretrain_result *res);

#ifdef __cplusplus
}
#endif
#endif
