/* Pretraining the report generator's parts on a dataset's own reports:
 * the small LLaMA as a causal LM (lib/train/pretrain_lm.c) and a ViT
 * warm-up on the findings read in the reports (lib/train/pretrain_vit.c). */
#ifndef MRG_PRETRAIN_H
#define MRG_PRETRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/llama.h"
#include "mrg/metrics.h"
#include "mrg/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- LM pretraining (lib/train/pretrain_lm.c) --------------------------- */

typedef enum mrg_slot_hint { MRG_SLOT_FINDINGS = 0, MRG_SLOT_SENTENCES, MRG_SLOT_SPANS } mrg_slot_hint;

typedef struct mrg_pretrain_opts {
    const char *tokenizer; /* a .model; NULL: train one on the texts */
    int vocab_size;        /* for a trained (BPE) tokenizer (default 1024) */
    /* false (default): when the texts hold too few distinct pieces for
     * vocab_size, the tokenizer has as many as they allow; true: that is an
     * error (MRG_ERR_INVALID_ARG naming the largest size they allow), for a
     * size the user chose */
    bool vocab_exact;
    int64_t steps;         /* updates; 0: from epochs */
    int epochs;            /* default 20 when steps is 0 */
    int batch_size;        /* sequences per update (default 16) */
    int max_tokens;        /* report tokens kept, before </s> (default 60) */
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
    uint64_t seed;
    bool bar, jsonl_stdout;
    int log_every;
    /* Text the report generator puts between BOS and the report (its prompt
     * around the image prefix); each sequence becomes BOS + before + after +
     * text + EOS so the frozen LM has seen its context, and a trained
     * tokenizer learns their pieces. NULL: no context. */
    const char *context_before, *context_after;
    /* Positions of the image prefix between the two contexts (the report
     * generator's Kc + Kt); 0: none. Each sequence then carries hints made
     * from its own report there (see slot_hint): the LM learns to read what
     * sits between <Img> and </Img>, so that when it is frozen the visual
     * prefix can steer it (an LM that never saw anything informative there
     * ignores the prefix, and the image encoders get almost no gradient
     * through it). The loss covers the report and EOS only whenever there
     * is a context. */
    int slot_tokens;
    /* What each slot position holds (drawn anew every time a sequence is
     * used when random).
     * MRG_SLOT_FINDINGS (default): the mean of F learned vectors, one per
     * finding and state (positive / negative / absent, as the finding
     * labeler reads the report), the same in every slot position; the
     * vectors are trained with the LM and dropped afterwards. The LM learns
     * to write a report (wording from its own prior) for given findings;
     * the report generator's prefix then has to carry only the findings,
     * which its visual features hold linearly, and all its slot positions
     * may start alike (as its queries do). With con_weight > 0 the vectors
     * also learn to sit where the generator's contrastive loss will pull
     * its prefix (see con_weight).
     * MRG_SLOT_SENTENCES: the mean token embedding of one whole sentence of
     * the report (pieces ending in . ! ?), sentences in a random order,
     * cycling through fresh orders until the slot is full: richer (wording
     * too), but the generator must learn to put different statements in
     * different positions.
     * MRG_SLOT_SPANS: the mean token embedding of a random contiguous span
     * of 1..slot_span tokens (0: up to the whole report, -1: always the
     * whole report; 1: one random token of the report per position). */
    mrg_slot_hint slot_hint;
    int slot_span; /* for MRG_SLOT_SPANS (default 8) */
    /* Skip an update whose loss or gradient norm is not finite (logged as
     * {"type":"skip"}) instead of stopping with MRG_ERR_NONFINITE. */
    bool skip_nonfinite;
    /* Finding hints only: loss = LM + con_weight · InfoNCE(normalized mean
     * of the sequence's codes, normalized mean input embedding of its
     * report; temperature), the report generator's contrastive term with
     * the codes in place of its prefix (default 0: none; `mrg pretrain-lm`
     * uses the config's con_weight / lm_weight and temperature). */
    float con_weight, temperature;
    /* Validation texts (NULL or n_val 0: none; mrg_pretrain_lm fills them
     * with the dataset's cleaned "val" reports). After each epoch (and after
     * the last update) the perplexity on them is logged as
     * {"type":"val","step","epoch","val_perplexity","val_nll","val_tokens"}:
     * exp(mean next-token cross-entropy) over the tokens that training
     * scores (the text and EOS), on sequences built as training builds them
     * (same context, truncation to max_tokens, slot hints drawn from a fixed
     * seed so every epoch sees the same ones). */
    const char *const *val_texts;
    int n_val;
} mrg_pretrain_opts;

mrg_pretrain_opts mrg_pretrain_defaults(void);

/* Trains a LLaMA of shape lm (vocab, BOS and EOS taken from the tokenizer)
 * from a seeded random init as a causal LM on BOS + text + EOS (with the
 * options' context and slot hints around the text, when set), and writes a
 * Hugging Face directory out_dir (config.json, model.safetensors,
 * tokenizer.model, and pretrain_log.jsonl: the JSONL progress records;
 * not log.jsonl, which marks a `mrg train` run) atomically. *final_loss
 * (may be NULL) gets the mean loss
 * of the last update, *first_loss the first. */
mrg_status mrg_pretrain_lm_texts(const char *const *texts, int n, const mrg_llama_config *lm,
                                 const mrg_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                                 float *first_loss, float *final_loss);
/* The same on the cleaned training reports of an R2Gen-layout dataset,
 * validated on its cleaned "val" reports (a dataset without a usable val
 * split trains without validation; a line on stderr says why). */
mrg_status mrg_pretrain_lm(const char *data_dir, const mrg_llama_config *lm,
                           const mrg_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                           float *first_loss, float *final_loss);

/* ---- ViT warm-up on report-derived labels (lib/train/pretrain_vit.c) ---- */

/* What the warm-up's head is trained with (mrg_vit_pretrain_opts.head_loss). */
typedef enum mrg_vit_head_loss {
    /* cross-entropy of the two logits per finding (default) */
    MRG_VIT_HEAD_CROSS_ENTROPY = 0,
    /* squared error of the two logits against (−1, +1) for a positive
     * finding and (+1, −1) otherwise: the head must then read every finding
     * at the same strength whatever else the study shows, so the mean token
     * holds co-occurring findings additively -- the form in which the
     * report generator's first, nearly uniform reading of the tokens passes
     * them on (README.md, the demo) */
    MRG_VIT_HEAD_SQUARED = 1,
} mrg_vit_head_loss;

/* The analogue, for a dataset without an ImageNet-scale corpus (the
 * phantoms), of the paper's ImageNet-initialised ViT: the ViT learns to see
 * the findings before the report generator is trained on top of it. Every
 * view of a study goes through the ViT; a linear head on the mean of all
 * their output tokens (what the content encoder's attention starts from)
 * gives two logits per finding (absent or negative / positive), trained
 * (cross-entropy or squared error: head_loss) against the finding
 * labeler's reading of the study's training report (no other annotation
 * is used). */
typedef struct mrg_vit_pretrain_opts {
    int epochs;     /* passes over the training split (default 10) */
    int batch_size; /* studies per update (default 16) */
    int n_views;    /* views per study (default 2) */
    float lr, min_lr, weight_decay, warmup_frac, clip_norm;
    uint64_t seed;
    bool bar, jsonl_stdout;
    int log_every;
    /* skip non-finite updates instead of stopping (see mrg_pretrain_opts) */
    bool skip_nonfinite;
    /* the head's loss (default: cross-entropy) */
    mrg_vit_head_loss head_loss;
    /* weight of a positive target's loss term against a negative one's
     * (the loss is the weighted mean); 1 (default): the plain mean. Each
     * finding is positive in about a fifth of the phantoms, so a head
     * trained unweighted first learns "absent" and the small findings (a
     * nodule is a few pixels at 64 px) late. */
    float pos_weight;
    /* true: write the ViT of the epoch whose head scored the best macro
     * finding F1 on val (the first of equals; the last epoch without val
     * studies); false (default): the ViT after the last epoch */
    bool keep_best;
} mrg_vit_pretrain_opts;

mrg_vit_pretrain_opts mrg_vit_pretrain_defaults(void);

typedef struct mrg_vit_pretrain_result {
    float first_loss, final_loss;  /* of the first and last update */
    int n_val;                     /* validation studies scored (0: none) */
    mrg_finding_scores val;        /* the head's findings on val, for the ViT written */
    int epoch;                     /* the epoch (1-based) whose ViT was written */
} mrg_vit_pretrain_result;

/* Trains a ViT of shape vit (num_classes ignored: no head is kept) from a
 * seeded random init on the training split of data_dir, scores the head on
 * the validation split after each epoch (logged), and writes the ViT
 * (model.safetensors in timm names + config.json) atomically to out_dir,
 * loadable by `mrg train --vit`. res may be NULL. */
mrg_status mrg_pretrain_vit(const char *data_dir, const mrg_vit_config *vit,
                            const mrg_vit_pretrain_opts *o, mrg_device *dev, const char *out_dir,
                            mrg_vit_pretrain_result *res);

#ifdef __cplusplus
}
#endif
#endif
