/* The curves of a training run, read from its RUN/log.jsonl: the loss of
 * each logged update ({"type":"train"}) and the validation scores after
 * each epoch ({"type":"eval"}). */
#ifndef MRG_TOOLS_RUN_LOG_H
#define MRG_TOOLS_RUN_LOG_H

#include "mrg/status.h"

typedef struct run_log {
    int n_train;
    double *train_step, *train_loss; /* [n_train], by update */
    int n_eval;
    double *eval_epoch, *eval_step, *eval_bleu4, *eval_cider, *eval_f1; /* [n_eval], by epoch */
} run_log;

/* Reads path into *out. A resumed run logs some updates (and epochs) a
 * second time: the later records replace the earlier ones from that point.
 * Lines that are not JSON objects with a known "type" are skipped (other
 * record types such as "skip" carry no curve). MRG_ERR_IO when the file
 * cannot be read; *out is empty then. */
mrg_status run_log_read(const char *path, run_log *out);
void run_log_free(run_log *l);

#endif
