/* Checkpoints (lib/train/checkpoint.c): atomic checkpoint directories, the
 * trainer's resumable state and the AdamW moments.
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
#ifndef MRG_CHECKPOINT_H
#define MRG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "mrg/optim.h"
#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
