/* Report decoding on a frozen LLaMA: greedy, sampling and beam search with
 * the Hugging Face semantics R2GenGPT relies on (transformers 4.30.2,
 * generate(inputs_embeds=..., num_beams, min_new_tokens, max_new_tokens,
 * repetition_penalty, length_penalty), early_stopping=False).
 *
 * The input is a sequence of input EMBEDDINGS (the report generator's
 * [BOS prompt_before, prefix P, prompt_after]); it is prefilled ONCE into the
 * KV cache (one forward of B rows, B = studies), and the cache rows are then
 * fanned out to the beams and reordered as beams are chosen.
 *
 * The token sequence: given only inputs_embeds, Hugging Face 4.30.2 starts
 * input_ids as [BOS] (the model's bos_id; never fed to the model), so the
 * repetition penalty also covers BOS and a row with n generated tokens has
 * length 1 + n below. min_new / max_new count generated tokens.
 *
 * Exact semantics (tools/ref/beam_ref.py is the executable reference, and
 * it checks itself against transformers 4.30.2 when that is installed):
 *   greedy / sample: the processors act on the raw logits of each row:
 *     - repetition penalty r: for every distinct token of the row's sequence
 *       (BOS and the tokens generated so far), a logit l < 0 becomes l·r,
 *       otherwise l / r;
 *     - min_new: the eos logit is -inf while fewer than min_new tokens exist;
 *     then argmax (greedy) or temperature + top-p sampling (row b of a batch
 *     samples with seed + b, so a study gives the same text alone or in a
 *     batch); a row ends at eos (not returned) or after max_new tokens.
 *   beam (K beams per study):
 *     - scores = log_softmax(logits); the same two processors act on these
 *       log-probs (a log-prob is <= 0, so the penalty multiplies it by r);
 *       then + the running beam score (0 for beam 0 and -1e9 for the others
 *       at the first step, so the first step expands one beam);
 *     - the top 2K of the K·V candidates, best first: an eos candidate of
 *       rank >= K is skipped; one of rank < K closes its beam as a finished
 *       hypothesis with score sum_logprobs / (1 + n)^length_penalty (n = the
 *       tokens before eos); the first K other candidates become the new
 *       beams;
 *     - the K best finished hypotheses are kept (a K+1-th drops the worst);
 *       a study is done when it has K of them and the worst >= (best
 *       candidate score of this step) / (t + 2)^length_penalty, t = tokens
 *       generated before the step (HF's cur_len: sequence length + 1);
 *     - after max_new tokens the beams of studies not done join the
 *       hypotheses with their running scores and length 1 + max_new; the
 *       best hypothesis (the latest added on an exact tie) is the answer.
 *   Difference from Hugging Face: studies that are done leave the batch
 *   instead of being fed padding (their results are the same). Returned ids
 *   hold neither BOS nor eos.
 *
 * Generation resets the device's step arena after the prefill and after each
 * step (mrg_step_reset): the caller's step tensors, prefix_emb included, do
 * not survive the call. Gradients are off during the call. */
#ifndef MRG_GENERATE_H
#define MRG_GENERATE_H

#include <signal.h>
#include <stdint.h>

#include "mrg/dataset.h"
#include "mrg/llama.h"
#include "mrg/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrg_gen_mode {
    MRG_GEN_GREEDY = 0,
    MRG_GEN_SAMPLE = 1,
    MRG_GEN_BEAM = 2,
} mrg_gen_mode;

typedef struct mrg_gen_opts {
    mrg_gen_mode mode;
    int beam;                 /* K beams per study (MRG_GEN_BEAM; 1 is greedy search, as in HF) */
    float repetition_penalty; /* 1: off; > 0 */
    float length_penalty;     /* exponent on the length of finished hypotheses */
    int min_new;              /* eos is blocked before this many tokens */
    int max_new;              /* at most this many tokens (capped by the model's max_seq) */
    float temperature, top_p; /* MRG_GEN_SAMPLE */
    uint64_t seed;            /* MRG_GEN_SAMPLE: row b uses seed + b */
    int eos_id;               /* < 0: the model's eos */
    mrg_dtype kv_dtype;       /* KV cache storage: MRG_F32 (default, 0), MRG_BF16, MRG_F16 */
} mrg_gen_opts;

/* R2GenGPT's settings: beam 3, repetition penalty 2.0, length penalty 2.0,
 * min_new 40, max_new 100 (temperature 1, top_p 0.9, seed 0, eos_id -1). */
mrg_gen_opts mrg_gen_defaults(void);
/* MRG_ERR_INVALID_ARG with a message for out-of-range options. */
mrg_status mrg_gen_opts_check(const mrg_gen_opts *opts);

/* Where greedy and beam search choose the next tokens: true on the device
 * (mrg_select_topk: the processors and the top-k run where the logits are,
 * and each step reads back only the chosen ids, or a beam's 2K candidates
 * per row), false on the host from the logits read back. The device
 * chooses on OpenCL, the host on the CPU (where the logits cost no
 * transfer; both give the same ids there); sampling at a temperature > 0
 * always samples on the host. MRG_GEN_SELECT=host or device overrides the
 * choice (tests, debugging). */
bool mrg_gen_select_on_device(const mrg_device *dev);

/* What a call did (for tests and benchmarks). */
typedef struct mrg_gen_stats {
    int prefill_forwards; /* forwards over the prefix (1) */
    int prefill_rows;     /* rows of that forward (the studies, not beams) */
    int64_t prefix_len;   /* T0 */
    int steps;            /* decode forwards after the prefill */
    int64_t cache_len;    /* KV cache positions at the end (T0 + steps) */
    int max_rows;         /* most rows held by the cache at once */
} mrg_gen_stats;

/* One study: prefix_emb (1, T0, D) f32 on lm's device. out_ids must hold
 * opts->max_new ids; *out_len receives the count (eos not included). */
mrg_status mrg_generate_from_embeddings(mrg_llama *lm, mrg_tensor *prefix_emb,
                                        const mrg_gen_opts *opts, int32_t *out_ids,
                                        int *out_len);
/* B studies at once: prefix_emb (B, T0, D) → out_ids (B, max_new) row-major
 * and out_lens (B). Beam search keeps B·K rows in one cache. Each study's
 * result equals its own single-study call. stats may be NULL. */
mrg_status mrg_generate_batch_from_embeddings(mrg_llama *lm, mrg_tensor *prefix_emb,
                                              const mrg_gen_opts *opts, int32_t *out_ids,
                                              int *out_lens, mrg_gen_stats *stats);

/* The report generator: images (V, 3, S, S) normalised host floats of one
 * study → *report (malloc'd text). The input embeddings are
 * [embed(BOS prompt_before), mrg_model_prefix(images), embed(prompt_after)]. */
mrg_status mrg_generate(mrg_model *m, const float *images, const mrg_gen_opts *opts,
                        char **report);
/* The decoding input of B studies: images (B, V, 3, S, S) normalised host
 * floats → *out = [embed(BOS prompt_before), mrg_model_prefix(images),
 * embed(prompt_after)] (B, T0, D), a step tensor. Call with gradients off. */
mrg_status mrg_generate_input(mrg_model *m, const float *images, int B, mrg_tensor **out);
/* B studies: images (B, V, 3, S, S) → reports[B] (each malloc'd). */
mrg_status mrg_generate_batch(mrg_model *m, const float *images, int B,
                              const mrg_gen_opts *opts, char **reports);

/* How mrg_generate_split runs (every field may be 0). */
typedef struct mrg_split_gen {
    /* used in place of every batch's images when set: (batch size, V, 3, S, S)
     * host floats (mrg generate --blank-images) */
    const float *images;
    /* after each batch of this rank: studies this rank has done so far */
    void (*on_batch)(void *ctx, int done, int total);
    void *ctx;
    /* set (by a signal handler): abandon after the batch at hand, MRG_END */
    const volatile sig_atomic_t *stop;
} mrg_split_gen;

/* The reports of the first `total` studies of ds (unshuffled, any batch
 * size), generated by all the ranks of the job together (mrg/dist.h): rank
 * r decodes batches r, r + N, r + 2N, ... (the batches one process makes,
 * so the same reports). On rank 0 *reports receives all `total` of them in
 * dataset order (free with mrg_reports_free); on the other ranks NULL. A
 * rank that fails returns at once: its command must end the job (the others
 * wait for it). */
mrg_status mrg_generate_split(mrg_model *m, mrg_dataset *ds, int total, const mrg_gen_opts *opts,
                              const mrg_split_gen *how, char ***reports);
void mrg_reports_free(char **reports, int n);

#ifdef __cplusplus
}
#endif
#endif
