/* What pretrain_lm.c and slot_hints.c share: the encoded corpus, the
 * shuffle, and the slot hints. */
#ifndef MRG_PRETRAIN_LM_INTERNAL_H
#define MRG_PRETRAIN_LM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/llama.h"
#include "mrg/text.h"
#include "mrg/pretrain.h"

/* What a training sequence is made of: the report's ids (≤ max_tokens) of
 * every text, and the context around the image slot (constant). */
typedef struct lm_corpus {
    int32_t bos, eos;
    int32_t **report; /* [n] malloc'd ids */
    int *report_len;  /* [n] */
    int32_t *before, *after;
    int n_before, n_after, slot; /* slot: hint positions between them */
    bool *ends_sentence;         /* [vocab] the piece ends a sentence (. ! ?) */
    mrg_finding_label *labels;   /* [n·F] the labeler's reading, for finding hints */
    int max_len;                 /* longest sequence: BOS + before + slot + after + report + EOS */
} lm_corpus;

/* perm = a random permutation of 0..n-1 (Fisher-Yates, splitmix64) */
void lm_shuffle(int *perm, int n, uint64_t *rng);

/* Input embeddings (B, T, D) of ids (B, T) for sequences idx[0..B) of c,
 * the slot's rows replaced by hints of the kind o->slot_hint; codes (3F, D)
 * are the finding codes (finding hints only). NULL with a message on
 * failure. */
mrg_tensor *slot_hint_inputs(mrg_llama *m, const lm_corpus *c, const int *idx, int B, int T,
                             const mrg_pretrain_opts *o, mrg_tensor *codes, uint64_t *rng, mrg_tensor *ids);

/* The report generator's contrastive loss (scalar) with the mean finding
 * code of each sequence in place of its mean prefix; see slot_hints.c. */
mrg_tensor *slot_code_contrastive(mrg_llama *m, const lm_corpus *c, const int *idx, int B, mrg_tensor *codes,
                                  float temperature);

#endif
