/* Internals shared by the decoding drivers (generate.c: greedy and
 * sampling; beam.c: beam search): a decoding session that prefills the
 * prefix once into a KV cache and then advances selected cache rows by one
 * token per step, and the logit processors. */
#ifndef MRG_GEN_INTERNAL_H
#define MRG_GEN_INTERNAL_H

#include "mrg/generate.h"

typedef struct gen_session {
    mrg_llama *lm;
    mrg_device *dev;
    mrg_kv_cache *kv;
    int V;          /* vocabulary */
    int B;          /* studies (rows of the prefill) */
    int max_new;    /* effective, after the max_seq cap */
    int stride;     /* ids per study in the output (opts->max_new) */
    int eos;
    int bos;        /* the model's BOS, or -1: Hugging Face starts the sequence
                     * with it (see mrg/generate.h) */
    float *logits;  /* host (capacity, V): logits of the rows of the last forward */
    int rows;       /* rows of the last forward */
    mrg_gen_stats stats;
    bool grad_prev;
} gen_session;

/* Checks prefix (B, T0, D), makes a cache of capacity rows, prefills the
 * prefix (one forward of B rows) and leaves its (B, V) logits in s->logits. */
mrg_status gen_session_start(gen_session *s, mrg_llama *lm, mrg_tensor *prefix,
                             const mrg_gen_opts *opts, int capacity);
/* Row r < n of the cache becomes old row src[r], then token tok[r] is fed
 * to every row; s->logits receives the (n, V) logits. */
mrg_status gen_session_step(gen_session *s, const int32_t *src, const int32_t *tok, int n);
void gen_session_end(gen_session *s, mrg_gen_stats *stats);

/* Repetition penalty over the distinct tokens toks[0..n) of one row of
 * scores (V): negative values × penalty, others / penalty. mark is a
 * scratch array of V ints where no entry equals stamp on entry (the caller
 * passes a new stamp for every row), so each distinct token counts once. */
void gen_repetition(float *scores, const int32_t *toks, int n, float penalty, int *mark,
                    int stamp);
void gen_repetition_d(double *scores, const int32_t *toks, int n, double penalty, int *mark,
                      int stamp);

/* The drivers; opts are checked, out_ids (B, max_new), out_lens (B). */
mrg_status gen_beam(gen_session *s, const mrg_gen_opts *opts, int32_t *out_ids, int *out_lens);
mrg_status gen_greedy_sample(gen_session *s, const mrg_gen_opts *opts, int32_t *out_ids,
                             int *out_lens);

#endif
