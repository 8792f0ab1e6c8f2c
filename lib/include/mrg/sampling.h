/* Choosing the next token from host logits: greedy (argmax), or sampling
 * with temperature and nucleus (top-p) truncation from a seeded RNG, so a
 * run with the same seed repeats exactly. */
#ifndef MRG_SAMPLING_H
#define MRG_SAMPLING_H

#include <stdint.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Index of the largest value (the first one on ties); -1 when n <= 0. */
int mrg_argmax(const float *x, int n);

typedef struct mrg_sampler mrg_sampler;

/* temperature 0 means greedy; top_p in (0, 1] (1 keeps every token).
 * NULL with a message for invalid values. */
mrg_sampler *mrg_sampler_new(int vocab, float temperature, float top_p, uint64_t seed);
void mrg_sampler_free(mrg_sampler *s);
/* Picks a token from logits (vocab values); -1 with a message when the
 * logits hold no finite value. */
int mrg_sampler_sample(mrg_sampler *s, const float *logits);
/* A uniform float in [0, 1) from the sampler's generator. */
float mrg_sampler_uniform(mrg_sampler *s);

#ifdef __cplusplus
}
#endif
#endif
