/* Internal pieces of the report generator shared by lib/models/model*.c.
 * Not installed. */
#ifndef MRG_MODELS_MODEL_INTERNAL_H
#define MRG_MODELS_MODEL_INTERNAL_H

#include <cjson/cJSON.h>

#include "mrg/model.h"
#include "mrg/nn.h"

struct mrg_model {
    mrg_model_config cfg;
    mrg_device *dev;
    mrg_vit *vit;  /* owns the "vit." parameters */
    mrg_llama *lm; /* frozen */
    mrg_tokenizer *tok;
    mrg_params params; /* owns every parameter below (not the ViT's) */
    /* content encoder */
    mrg_nn_block *content_blocks;     /* Lc self-attention blocks over the visual tokens */
    mrg_tensor *content_queries;      /* (1, Kc, Dv) */
    mrg_nn_cross_block content_cross; /* queries ← visual tokens */
    /* topic encoder */
    mrg_tensor *topic_emb;            /* (Kt, D) constant: frozen LLaMA embedding of each word */
    mrg_nn_linear topic_proj;         /* D → Dv */
    mrg_nn_cross_block *topic_blocks; /* Lt blocks, topic queries ← content tokens */
    /* projection into the LLaMA embedding space */
    mrg_nn_linear proj;         /* Dv → D */
    mrg_nn_layernorm proj_norm; /* LayerNorm(D), eps 1e-5 (PyTorch's default) */
    /* prompt around the prefix */
    int32_t *before_ids, *after_ids; /* before starts with BOS */
    int n_before, n_after;
    /* where the LM and the tokenizer came from (absolute, "" = none) */
    char lm_path[4096];
    char tok_path[4096];
    bool lm_in_checkpoint; /* a random LM, saved under <checkpoint>/lm */
    char lm_hash[17];      /* content hash of the LM at lm_path (hex; "" for a random LM) */
};

/* Applies every key of a parsed JSON object to cfg (unknown keys are an
 * error naming the key). */
mrg_status mrg_model_config_apply_cjson(mrg_model_config *cfg, const cJSON *obj);

#endif
