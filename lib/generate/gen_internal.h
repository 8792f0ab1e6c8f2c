/* Internals shared by the decoding drivers (generate.c: greedy and
 * sampling; beam.c: beam search): a decoding session that prefills the
 * prefix once into a KV cache and then advances selected cache rows by one
 * token per step, and the logit processors. */
#ifndef MRG_GEN_INTERNAL_H
#define MRG_GEN_INTERNAL_H

#include "mrg/generate.h"

/* The device's choice of the next tokens (mrg_select_topk): the rows'
 * histories (BOS and the tokens fed so far) stay on the device in two
 * tensors that the steps use in turn (each step copies a row's history from
 * the row it continues and appends the token fed). */
typedef struct gen_select {
    bool on;
    int k;                /* candidates per row: 1 (greedy) or 2·beam */
    bool log_softmax;     /* beam search ranks log-probs */
    float penalty;        /* repetition penalty */
    int min_new;          /* eos is masked while fewer tokens exist */
    mrg_tensor *hist[2];  /* persistent i32 (capacity, 1 + max_new) */
    int cur;              /* hist[cur] holds the current rows' histories */
    int64_t hlen;         /* entries per row there */
    int32_t *packed;      /* host (capacity, k, 3): the op's output read back */
    int32_t *ids;         /* host (capacity, k): candidates of each row, best first */
    double *score;        /* (−1 past a row's last) and their scores */
} gen_select;

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
    float *logits;  /* host (capacity, V): logits of the rows of the last forward
                     * (NULL when the device chooses: sel.on) */
    gen_select sel;
    int rows;       /* rows of the last forward */
    mrg_gen_stats stats;
    bool grad_prev;
} gen_session;

/* Checks prefix (B, T0, D), makes a cache of capacity rows, prefills the
 * prefix (one forward of B rows) and leaves its (B, V) logits in s->logits,
 * or with select_k > 0 and mrg_gen_select_on_device() the select_k best
 * candidates of each row in s->sel (log_softmax: of the log-probs, else of
 * the logits; the penalty and min_new of opts applied on the device). */
mrg_status gen_session_start(gen_session *s, mrg_llama *lm, mrg_tensor *prefix,
                             const mrg_gen_opts *opts, int capacity, int select_k,
                             bool log_softmax);
/* Row r < n of the cache becomes old row src[r], then token tok[r] is fed
 * to every row; s->logits receives the (n, V) logits, or s->sel the rows'
 * candidates. */
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
