/* Training a sentencepiece tokenizer from in-memory texts (a thin shim over
 * libsentencepiece's trainer), so `mrg pretrain-lm` can build its own
 * tokenizer from the training reports when none is given. */
#ifndef MRG_SPM_TRAIN_H
#define MRG_SPM_TRAIN_H

#include <stdbool.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_spm_train_opts {
    int vocab_size;         /* total pieces, byte pieces and specials included */
    bool bpe;               /* BPE instead of unigram */
    /* When the texts cannot fill vocab_size pieces, take fewer instead of
     * failing (sentencepiece's hard_vocab_limit=false). */
    bool soft_vocab_limit;
} mrg_spm_train_opts;

/* Defaults: 512 pieces, unigram, soft limit. */
mrg_spm_train_opts mrg_spm_train_defaults(void);

/* Trains on texts[0..n) (one sentence each) and writes the .model file to
 * out_path. The model follows LLaMA's conventions: unk 0, bos 1, eos 2, no
 * pad, byte fallback on, identity normalisation, digits split. Deterministic for the same texts and options. */
mrg_status mrg_spm_train(const char *const *texts, int n, const mrg_spm_train_opts *opts,
                         const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
