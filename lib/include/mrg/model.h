/* The report generator (DESIGN.md §3): ViT per view → content encoder →
 * topic encoder → projection into the LLaMA embedding space → frozen LLaMA.
 *
 *   images (B, V, 3, S, S)
 *    → ViT per view → visual tokens (B, V·(N+1), Dv) (concat) or (B, N+1, Dv) (mean)
 *    → content encoder: Lc pre-LN self-attention blocks, then Kc learned
 *      queries cross-attend (one cross block)          → content (B, Kc, Dv)
 *    → topic encoder: Kt queries = Linear(frozen LLaMA embedding of each topic
 *      word, mean over its tokens), Lt cross blocks over content
 *                                                      → topic (B, Kt, Dv)
 *    → projection Linear(Dv → D) + LayerNorm(D) of [content; topic]
 *                                                      → prefix P (B, Kc+Kt, D)
 *    → LLaMA on [BOS] prompt_before P prompt_after report </s>
 *
 * Loss = lm_weight·LM + con_weight·InfoNCE, where LM is the cross-entropy of
 * the report tokens and </s> only, and InfoNCE is symmetric over the batch
 * between normalize(mean_tokens(P)) and normalize(mean of the frozen LLaMA
 * input embeddings of the report tokens), divided by the temperature. */
#ifndef MRG_MODEL_H
#define MRG_MODEL_H

#include "mrg/dataset.h"
#include "mrg/llama.h"
#include "mrg/tensor.h"
#include "mrg/tokenizer.h"
#include "mrg/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRG_MAX_TOPICS 16

typedef enum mrg_view_combine { MRG_VIEWS_CONCAT = 0, MRG_VIEWS_MEAN = 1 } mrg_view_combine;

typedef struct mrg_model_config {
    char preset[16];               /* "paper", "tiny", "micro" or "custom" */
    /* vision */
    mrg_vit_config vit;            /* num_classes 0 */
    int n_views;                   /* V (2 for IU X-Ray) */
    mrg_view_combine view_combine;
    bool freeze_vit;
    /* semantic encoders (width = vit.dim), with the paper's symbols */
    int enc_heads;                 /* attention heads of every encoder block */
    int Lc;                        /* content encoder depth: pre-LN self-attention
                                    * blocks over the visual tokens (paper: 2) */
    int Kc;                        /* content tokens: learned queries that then
                                    * cross-attend to those tokens (paper: 64) */
    int Lt;                        /* topic encoder depth: cross-attention blocks
                                    * of the topic queries over the content tokens
                                    * (paper: 2) */
    int Kt;                        /* topic tokens: one query per topic word
                                    * (paper: 8); the prefix has Kc + Kt positions */
    char topic_words[MRG_MAX_TOPICS][24]; /* the Kt words, e.g. "heart", "lungs" */
    /* language model (shape used when none is loaded; frozen in training) */
    mrg_llama_config lm;
    int max_report_tokens;         /* 60: reports are truncated to this */
    char prompt_before[64];        /* "Human: <Img>" (after BOS) */
    char prompt_after[160];        /* "</Img> Generate ... \nAssistant:" */
    /* losses */
    float lm_weight, con_weight, temperature;
    /* GEMM precision of the loss forward and backward (mrg_set_precision):
     * f32, or bf16-mixed, which also keeps the frozen LLaMA in bf16 */
    mrg_precision precision;
    /* training defaults (mrg train may override) */
    float lr, weight_decay, min_lr, warmup_frac, clip_norm;
    int batch_size, grad_accum, epochs;
    uint64_t seed;
    /* generation defaults */
    int beam, min_new, max_new;
    float repetition_penalty, length_penalty;
} mrg_model_config;

/* Fills cfg from a preset name ("paper", "tiny", "micro"). */
mrg_status mrg_model_preset(const char *name, mrg_model_config *cfg);
/* Overrides any field from a JSON object (same keys as the JSON written by
 * mrg_model_config_to_json; nested "vit" and "lm" objects). Unknown keys
 * are an error naming the key. */
mrg_status mrg_model_config_apply_json(mrg_model_config *cfg, const char *json);
mrg_status mrg_model_config_apply_file(mrg_model_config *cfg, const char *path);
/* Malloc'd JSON text of every field. */
char *mrg_model_config_to_json(const mrg_model_config *cfg);
mrg_status mrg_model_config_check(const mrg_model_config *cfg);

typedef struct mrg_model mrg_model;

/* A new model: trainable parts randomly initialised from cfg->seed; the
 * LLaMA loaded from lm_path (a directory written by `mrg pretrain-lm` or any
 * Hugging Face / llama2.c checkpoint; its config replaces cfg->lm) or, when
 * NULL, created randomly from cfg->lm; the ViT initialised from vit_dir
 * (timm weights) when not NULL. The tokenizer is tokenizer_path, or the
 * `tokenizer.model` inside lm_path. */
mrg_model *mrg_model_create(const mrg_model_config *cfg, mrg_device *dev, const char *lm_path,
                            const char *vit_dir, const char *tokenizer_path);
/* A checkpoint directory written by mrg_model_save. Its frozen LM must
 * still be where the checkpoint says and hold the same content (hash);
 * otherwise NULL with a message saying which. */
mrg_model *mrg_model_load(const char *dir, mrg_device *dev);
/* The same with the frozen LM read from lm_path (NULL: the recorded place)
 * instead, for an LM that moved: its content hash must equal the recorded
 * one. */
mrg_model *mrg_model_load_lm(const char *dir, mrg_device *dev, const char *lm_path);
/* Writes dir/config.json (the model config plus the LM's location --
 * relative when the LM lies beside the checkpoint's run directory -- and
 * content hash, and the tokenizer's location) and dir/model.safetensors (the trained parts), atomically;
 * also dir/tokenizer.model (a copy) and, for a random LM that was not
 * loaded from a path, dir/lm/ (Hugging Face layout). */
mrg_status mrg_model_save(const mrg_model *m, const char *dir);
void mrg_model_free(mrg_model *m);

const mrg_model_config *mrg_model_get_config(const mrg_model *m);
mrg_device *mrg_model_device(const mrg_model *m);
mrg_llama *mrg_model_llama(mrg_model *m);
const mrg_tokenizer *mrg_model_tokenizer(const mrg_model *m);
/* The frozen LM's content hash (16 hex digits, computed on first use: the
 * LM's files are read once; "" for a random LM kept in the checkpoint, or
 * when the files cannot be read, with a message) and absolute path (""
 * for a random LM). */
const char *mrg_model_lm_hash(const mrg_model *m);
const char *mrg_model_lm_path(const mrg_model *m);
/* The trained parameters (ViT unless frozen, encoders, projection) with
 * their checkpoint names; returns the count, fills up to max. */
int mrg_model_trainable(mrg_model *m, mrg_tensor **out, const char **names, int max);
/* Every parameter of the trained parts (frozen ViT included). */
int mrg_model_params(mrg_model *m, mrg_tensor **out, const char **names, int max);

/* The prefix P (B, Kc+Kt, D) of images (B, V, 3, S, S) uploaded to the
 * model's device. Differentiable with respect to the trained parts. */
mrg_tensor *mrg_model_prefix(mrg_model *m, mrg_tensor *images);

typedef struct mrg_loss_parts {
    mrg_tensor *total; /* (1) */
    mrg_tensor *lm;    /* (1) */
    mrg_tensor *con;   /* (1) */
} mrg_loss_parts;

/* Forward of a batch with its losses (recorded for mrg_backward when
 * gradients are on). */
mrg_status mrg_model_loss(mrg_model *m, const mrg_batch *b, mrg_loss_parts *out);

/* Token ids of the prompt around the prefix: before (with BOS) and after. */
mrg_status mrg_model_prompt_ids(const mrg_model *m, const int32_t **before, int *n_before,
                                const int32_t **after, int *n_after);

#ifdef __cplusplus
}
#endif
#endif
