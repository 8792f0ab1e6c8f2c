/* Seconds on a monotonic clock, which wall-clock changes do not move: the
 * clock of the progress output's rates and ETA, for programs that time
 * their own stages. Only the difference of two readings means anything. */
#ifndef MRG_CLOCK_H
#define MRG_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

double mrg_now_s(void);

#ifdef __cplusplus
}
#endif
#endif
