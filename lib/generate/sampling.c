/* Greedy and temperature + top-p sampling over host logits with a seeded
 * xorshift64* generator (seeded through splitmix64 so nearby seeds give
 * unrelated streams). */
#include <math.h>
#include <stdlib.h>

#include "mrg/sampling.h"

typedef struct mrg_cand {
    float p;
    int id;
} mrg_cand;

struct mrg_sampler {
    int vocab;
    float temperature, top_p;
    uint64_t state;
    float *prob;     /* (vocab) */
    mrg_cand *order; /* (vocab) candidates */
};

int mrg_argmax(const float *x, int n) {
    if (!x || n <= 0) return -1;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i]))) best = i;
    return best;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

mrg_sampler *mrg_sampler_new(int vocab, float temperature, float top_p, uint64_t seed) {
    if (vocab <= 0 || !(temperature >= 0) || !(top_p > 0 && top_p <= 1)) {
        mrg_error(MRG_ERR_INVALID_ARG,
                  "sampler: need vocab > 0, temperature >= 0 and top_p in (0, 1] (got %d, %g, %g)",
                  vocab, (double)temperature, (double)top_p);
        return NULL;
    }
    mrg_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->prob = malloc(sizeof(float) * (size_t)vocab);
        s->order = malloc(sizeof(mrg_cand) * (size_t)vocab);
    }
    if (!s || !s->prob || !s->order) {
        mrg_sampler_free(s);
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    s->vocab = vocab;
    s->temperature = temperature;
    s->top_p = top_p;
    uint64_t x = seed;
    s->state = splitmix64(&x);
    if (s->state == 0) s->state = 0x2545F4914F6CDD1Dull; /* xorshift must not start at 0 */
    return s;
}

void mrg_sampler_free(mrg_sampler *s) {
    if (!s) return;
    free(s->prob);
    free(s->order);
    free(s);
}

float mrg_sampler_uniform(mrg_sampler *s) {
    s->state ^= s->state >> 12;
    s->state ^= s->state << 25;
    s->state ^= s->state >> 27;
    uint64_t r = s->state * 0x2545F4914F6CDD1Dull;
    return (float)(r >> 40) / 16777216.0f; /* 24 random bits */
}

static int by_prob_desc(const void *a, const void *b) {
    const mrg_cand *x = a, *y = b;
    return x->p > y->p ? -1 : x->p < y->p ? 1 : x->id - y->id;
}

int mrg_sampler_sample(mrg_sampler *s, const float *logits) {
    if (!s || !logits) {
        mrg_error(MRG_ERR_INVALID_ARG, "sampler: NULL argument");
        return -1;
    }
    int V = s->vocab;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
        if (logits[i] > mx) mx = logits[i];
    if (!isfinite(mx)) {
        mrg_error(MRG_ERR_INVALID_ARG, "sampler: the logits hold no finite value");
        return -1;
    }
    if (s->temperature == 0) return mrg_argmax(logits, V);
    /* softmax(logits / T) */
    double sum = 0;
    for (int i = 0; i < V; i++) {
        float p = isnan(logits[i]) ? 0.0f : expf((logits[i] - mx) / s->temperature);
        s->prob[i] = p;
        sum += p;
    }
    /* nucleus: the smallest set of most likely tokens whose mass reaches
     * top_p; tokens below (1 − top_p)/(V − 1) can never be in it and are
     * dropped before sorting (as llama2.c does) */
    int n = 0;
    double cut = s->top_p < 1 ? (1.0 - s->top_p) / (V > 1 ? V - 1 : 1) * sum : -1.0;
    for (int i = 0; i < V; i++)
        if (s->prob[i] > cut) s->order[n++] = (mrg_cand){s->prob[i], i};
    if (n == 0) return mrg_argmax(logits, V); /* tiny top_p: only the best survives */
    qsort(s->order, (size_t)n, sizeof(mrg_cand), by_prob_desc);
    double mass = 0, limit = s->top_p * sum;
    int keep = n;
    for (int i = 0; i < n; i++) {
        mass += s->order[i].p;
        if (mass >= limit) {
            keep = i + 1;
            break;
        }
    }
    double kept = 0;
    for (int i = 0; i < keep; i++) kept += s->order[i].p;
    double r = (double)mrg_sampler_uniform(s) * kept, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += s->order[i].p;
        if (r < acc) return s->order[i].id;
    }
    return s->order[keep - 1].id; /* rounding */
}
