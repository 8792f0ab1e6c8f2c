/* The learning-rate schedule of every training loop (lib/train/schedule.c):
 * linear warmup, then a cosine decay. */
#ifndef MRG_SCHEDULE_H
#define MRG_SCHEDULE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
