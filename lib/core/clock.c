/* The one clock for timings (mrg/clock.h). */
#include <time.h>

#include "mrg/clock.h"

double mrg_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
