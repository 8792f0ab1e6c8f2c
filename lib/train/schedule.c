/* Linear warmup + cosine decay, as a pure function of the update index so
 * a resumed run gets exactly the same learning rates. */
#include <math.h>

#include "mrg/schedule.h"

mrg_lr_schedule mrg_lr_schedule_make(float lr, float min_lr, float warmup_frac, int64_t total_steps) {
    mrg_lr_schedule s = {lr, min_lr, 0, total_steps > 0 ? total_steps : 1};
    if (warmup_frac > 0) {
        s.warmup_steps = (int64_t)llround((double)warmup_frac * (double)s.total_steps);
        if (s.warmup_steps < 1) s.warmup_steps = 1;
        if (s.warmup_steps > s.total_steps) s.warmup_steps = s.total_steps;
    }
    return s;
}

float mrg_lr_at(const mrg_lr_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return (float)((double)s->lr * (double)(step + 1) / (double)s->warmup_steps);
    int64_t span = s->total_steps - s->warmup_steps;
    double t = span > 0 ? (double)(step - s->warmup_steps) / (double)span : 1.0;
    if (t > 1.0) t = 1.0;
    const double pi = 3.14159265358979323846;
    return (float)(s->min_lr + 0.5 * ((double)s->lr - s->min_lr) * (1.0 + cos(pi * t)));
}
