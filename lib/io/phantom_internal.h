/* The phantom generator's private random numbers: splitmix64, so that a data
 * set is the same on every platform and C library (rand() is not). */
#ifndef MRG_PHANTOM_INTERNAL_H
#define MRG_PHANTOM_INTERNAL_H

#include <stdint.h>

#include "mrg/phantom.h"

typedef struct ph_rng {
    uint64_t s;
} ph_rng;

static inline uint64_t ph_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t ph_next(ph_rng *r) {
    r->s += 0x9E3779B97F4A7C15ull;
    return ph_mix(r->s);
}

/* A generator for one purpose (stream) of a seed: streams are independent. */
static inline ph_rng ph_stream(uint64_t seed, uint64_t stream) {
    ph_rng r = {ph_mix(seed ^ ph_mix(stream + 0x632BE59BD9B4E019ull))};
    return r;
}

/* uniform in [0, 1) with 24 bits */
static inline float ph_unif(ph_rng *r) { return (float)(ph_next(r) >> 40) * (1.0f / 16777216.0f); }
static inline float ph_range(ph_rng *r, float lo, float hi) { return lo + (hi - lo) * ph_unif(r); }
/* uniform integer in [0, n) */
static inline int ph_int(ph_rng *r, int n) { return (int)((ph_next(r) >> 33) % (uint64_t)n); }

enum { PH_STREAM_CASE = 1, PH_STREAM_ANATOMY, PH_STREAM_NOISE, PH_STREAM_TEXT };

/* The cardiothoracic ratio drawn for the case (phantom_render.c), so the
 * report can say "mildly enlarged" when the drawn heart is. */
float ph_case_ctr(const mrg_phantom_case *c);

#endif
