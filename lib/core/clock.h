/* The one clock for timings (progress ETA, samples/s, the commands'
 * "in 1.2 s"): seconds from a monotonic clock, which wall-clock changes do
 * not move. Private: for lib/, tools/ and tests/. */
#ifndef MRG_CORE_CLOCK_H
#define MRG_CORE_CLOCK_H

#include <time.h>

static inline double mrg_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
