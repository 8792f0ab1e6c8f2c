/* Helpers shared by the single-model training loops of lib/train
 * (pretrain_lm.c, pretrain_vit.c): the optimizer they start with and the
 * plain update they run after each forward. */
#ifndef MRG_TRAIN_INTERNAL_H
#define MRG_TRAIN_INTERNAL_H

#include <signal.h>

#include "mrg/evaluate.h"
#include "mrg/optim.h"
#include "mrg/progress.h"
#include "mrg/tensor.h"
#include "mrg/trainer.h"

/* AdamW (lr, weight_decay, other settings default) over params[0..np),
 * their gradients zeroed. */
mrg_status train_adamw(mrg_tensor **params, int np, float lr, float weight_decay, mrg_adamw **out);

/* One update from a forward's loss (NULL when the forward failed: an error
 * "<what>: forward"): *loss_out gets its value, then backward, gradient
 * clipping to clip (*grad_norm gets the norm before clipping), AdamW at lr,
 * zeroed gradients. A non-finite loss or gradient norm is never applied:
 * the gradients are dropped and MRG_ERR_NONFINITE returned. The step's
 * tensors are released in every case. */
mrg_status train_update(mrg_device *dev, mrg_tensor *loss, const char *what, mrg_tensor **params,
                        int np, mrg_adamw *opt, float lr, float clip, float *loss_out,
                        float *grad_norm);

/* MRG_ERR_NONFINITE naming "<what> <names[i]>" (names NULL: the tensors'
 * own names) when a tensor of ts[0..n) holds a NaN or an infinity (each
 * read back to the host). */
mrg_status train_check_finite(mrg_tensor *const *ts, const char *const *names, int n, const char *what);

/* mrg_evaluate, abandoned (MRG_END, nothing scored) as soon as *stop
 * (may be NULL) is set between batches. */
mrg_status train_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, const mrg_gen_opts *gen,
                          mrg_progress *prog, mrg_eval_result *res, const volatile sig_atomic_t *stop);

/* Test hook of mrg_train_run (mrg_train_run_opts.test_signal): raises the
 * signal configured for this point ("step", "eval", "save") at this step,
 * if any; nothing outside a run with the hook set. */
void train_test_point(const char *point, int64_t step);

/* A skipped non-finite update: the message of the last error as a
 * {"type":"skip","step","epoch"[,"batch"],"skipped","reason"} record (log
 * and bar; batch < 0: none), the error cleared. */
void train_log_skip(mrg_progress *prog, int64_t step, int epoch, int batch, int64_t skipped);

#endif
