/* Wall-clock seconds from a monotonic clock, for the commands' timings. */
#ifndef MRG_TOOLS_CLOCK_H
#define MRG_TOOLS_CLOCK_H

#include <time.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
