/* LLaMA model object: config checks, allocation of the weights, parameter
 * listing and freeing. Loading lives in llama_load.c / io/llama2c.c, the
 * forward pass in llama_forward.c, the KV cache in llama_cache.c. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama_internal.h"

mrg_status mrg_llama_config_check(const mrg_llama_config *c) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "llama config: NULL");
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->vocab_size <= 0 || c->max_seq <= 0)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "llama config: sizes must be positive (dim %d, hidden %d, layers %d, "
                         "heads %d, kv heads %d, vocab %d, max_seq %d)",
                         c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                         c->vocab_size, c->max_seq);
    if (c->dim % c->n_heads != 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "llama config: dim %d is not a multiple of heads %d",
                         c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads != 0)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "llama config: heads %d is not a multiple of kv heads %d", c->n_heads,
                         c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2 != 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "llama config: head size %d must be even for RoPE",
                         c->dim / c->n_heads);
    if (!(c->norm_eps > 0) || !(c->rope_theta > 0) || !isfinite(c->norm_eps) ||
        !isfinite(c->rope_theta))
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "llama config: norm_eps and rope_theta must be finite and > 0");
    if (c->rope_layout != MRG_ROPE_HALF && c->rope_layout != MRG_ROPE_INTERLEAVED)
        return mrg_error(MRG_ERR_INVALID_ARG, "llama config: unknown RoPE layout %d",
                         (int)c->rope_layout);
    return MRG_OK;
}

mrg_llama *llama_alloc(const mrg_llama_config *cfg, mrg_device *dev) {
    if (!dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama: no device");
        return NULL;
    }
    if (mrg_llama_config_check(cfg) != MRG_OK) return NULL;
    mrg_llama *m = calloc(1, sizeof *m);
    if (m) m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m || !m->layers) {
        free(m);
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->dev = dev;
    return m;
}

/* Visits every weight slot with its Hugging Face name and shape. The tied
 * classifier is visited only when it is a separate tensor. */
int llama_slots(mrg_llama *m, llama_slot *out, int max) {
    const mrg_llama_config *c = &m->cfg;
    int64_t D = c->dim, F = c->hidden_dim, V = c->vocab_size;
    int64_t Dh = D / c->n_heads, Dq = Dh * c->n_heads, Dkv = Dh * c->n_kv_heads;
    int n = 0;
#define SLOT(ptr, nd, s0, s1, ...)                                                                 \
    do {                                                                                           \
        if (n < max) {                                                                             \
            out[n].t = (ptr);                                                                      \
            out[n].ndim = (nd);                                                                    \
            out[n].shape[0] = (s0);                                                                \
            out[n].shape[1] = (s1);                                                                \
            snprintf(out[n].name, sizeof out[n].name, __VA_ARGS__);                                \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    SLOT(&m->tok_emb, 2, V, D, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        mrg_llama_layer *L = &m->layers[l];
        SLOT(&L->attn_norm, 1, D, 0, "model.layers.%d.input_layernorm.weight", l);
        SLOT(&L->wq, 2, Dq, D, "model.layers.%d.self_attn.q_proj.weight", l);
        SLOT(&L->wk, 2, Dkv, D, "model.layers.%d.self_attn.k_proj.weight", l);
        SLOT(&L->wv, 2, Dkv, D, "model.layers.%d.self_attn.v_proj.weight", l);
        SLOT(&L->wo, 2, D, Dq, "model.layers.%d.self_attn.o_proj.weight", l);
        SLOT(&L->ffn_norm, 1, D, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        SLOT(&L->w_gate, 2, F, D, "model.layers.%d.mlp.gate_proj.weight", l);
        SLOT(&L->w_up, 2, F, D, "model.layers.%d.mlp.up_proj.weight", l);
        SLOT(&L->w_down, 2, D, F, "model.layers.%d.mlp.down_proj.weight", l);
    }
    SLOT(&m->norm, 1, D, 0, "model.norm.weight");
    if (!c->tied_embeddings) SLOT(&m->lm_head, 2, V, D, "lm_head.weight");
#undef SLOT
    return n;
}

llama_slot *llama_slots_alloc(mrg_llama *m, int *n) {
    *n = llama_slots(m, NULL, 0);
    llama_slot *s = calloc((size_t)*n, sizeof *s);
    if (!s) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    llama_slots(m, s, *n);
    return s;
}

mrg_llama *mrg_llama_create(const mrg_llama_config *cfg, mrg_dtype dt, bool trainable,
                            mrg_device *dev) {
    if (dt != MRG_F32 && dt != MRG_BF16 && dt != MRG_F16) {
        mrg_error(MRG_ERR_INVALID_ARG, "llama: weights must be f32, bf16 or f16");
        return NULL;
    }
    mrg_llama *m = llama_alloc(cfg, dev);
    if (!m) return NULL;
    int n;
    llama_slot *s = llama_slots_alloc(m, &n);
    if (!s) {
        mrg_llama_free(m);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        *s[i].t = mrg_param_new(dev, dt, s[i].ndim, s[i].shape, trainable, s[i].name);
        if (!*s[i].t) {
            free(s);
            mrg_llama_free(m);
            return NULL;
        }
        if (s[i].ndim == 1) {
            /* RMSNorm weights start at one */
            float *ones = malloc(sizeof(float) * (size_t)s[i].shape[0]);
            mrg_status st = MRG_ERR_OOM;
            if (ones) {
                for (int64_t j = 0; j < s[i].shape[0]; j++) ones[j] = 1.0f;
                st = mrg_tensor_upload_f32(*s[i].t, ones);
                free(ones);
            } else {
                mrg_error(st, "out of host memory");
            }
            if (st != MRG_OK) {
                free(s);
                mrg_llama_free(m);
                return NULL;
            }
        }
    }
    free(s);
    llama_finish(m);
    return m;
}

void llama_finish(mrg_llama *m) {
    if (m->cfg.tied_embeddings) m->lm_head = m->tok_emb;
    m->checkpoint_blocks = mrg_llama_weight_bytes(m) >= ((size_t)1 << 30);
}

void mrg_llama_free(mrg_llama *m) {
    if (!m) return;
    if (m->lm_head != m->tok_emb) mrg_tensor_free(m->lm_head);
    mrg_tensor_free(m->tok_emb);
    mrg_tensor_free(m->norm);
    if (m->layers) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            mrg_llama_layer *L = &m->layers[l];
            mrg_tensor *ts[] = {L->attn_norm, L->wq,     L->wk,   L->wv,    L->wo,
                                L->ffn_norm,  L->w_gate, L->w_up, L->w_down};
            for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) mrg_tensor_free(ts[i]);
        }
        free(m->layers);
    }
    free(m);
}

int mrg_llama_params(mrg_llama *m, mrg_tensor **out, int max) {
    if (!m) return 0;
    int n;
    llama_slot *s = llama_slots_alloc(m, &n);
    if (!s) return 0;
    for (int i = 0; i < n && i < max; i++) out[i] = *s[i].t;
    free(s);
    return n;
}

size_t mrg_llama_weight_bytes(const mrg_llama *m) {
    if (!m) return 0;
    int n;
    llama_slot *s = llama_slots_alloc((mrg_llama *)m, &n);
    if (!s) return 0;
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += *s[i].t ? mrg_nbytes(*s[i].t) : 0;
    free(s);
    return bytes;
}
