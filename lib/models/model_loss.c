/* The report generator's forward: images → prefix P, and the training
 * losses (LM cross-entropy on the report, symmetric InfoNCE). */
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "mrg/nn.h"
#include "mrg/ops.h"

/* q (n, Dv) or (1, n, Dv) broadcast over the batch → (B, n, Dv); the
 * gradient of the shared queries sums over the batch. */
static mrg_tensor *batch_queries(mrg_device *dev, mrg_tensor *q, int64_t B, int64_t n, int64_t Dv) {
    return mrg_add(mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(B, n, Dv)), q);
}

mrg_tensor *mrg_model_prefix(mrg_model *m, mrg_tensor *images) {
    if (!m || !images) return NULL;
    const mrg_model_config *c = &m->cfg;
    int64_t V = c->n_views, S = c->vit.image_size, Dv = c->vit.dim;
    if (images->ndim != 5 || images->shape[1] != V || images->shape[2] != 3 ||
        images->shape[3] != S || images->shape[4] != S) {
        char s[96];
        mrg_error(MRG_ERR_INVALID_ARG, "model: images %s, expected (B, %lld, 3, %lld, %lld)",
                  mrg_shape_str(images, s, sizeof s), (long long)V, (long long)S, (long long)S);
        return NULL;
    }
    int64_t B = images->shape[0];
    /* every view through the same ViT */
    mrg_tensor *feats = NULL;
    mrg_status st = mrg_vit_forward(m->vit, mrg_reshape(images, MRG_SHAPE(B * V, 3, S, S)), &feats,
                                    NULL); /* (B·V, N+1, Dv) */
    if (st != MRG_OK) return NULL;
    int64_t N1 = feats->shape[1];
    mrg_tensor *x;
    if (c->view_combine == MRG_VIEWS_CONCAT)
        x = mrg_reshape(feats, MRG_SHAPE(B, V * N1, Dv)); /* (B, V·(N+1), Dv) */
    else
        x = mrg_mean(mrg_reshape(feats, MRG_SHAPE(B, V, N1, Dv)), 1, false); /* (B, N+1, Dv) */
    /* content encoder */
    for (int i = 0; i < c->Lc; i++) x = mrg_nn_block_forward(&m->content_blocks[i], x, NULL);
    mrg_tensor *content = mrg_nn_cross_block_forward(
        &m->content_cross, batch_queries(m->dev, m->content_queries, B, c->Kc, Dv), x,
        NULL); /* (B, Kc, Dv) */
    mrg_tensor *tokens = content;
    if (c->Kt > 0) {
        /* topic encoder: queries from the words' embeddings, over the content */
        mrg_tensor *tq = mrg_nn_linear_forward(&m->topic_proj, m->topic_emb); /* (Kt, Dv) */
        mrg_tensor *t = batch_queries(m->dev, tq, B, c->Kt, Dv);              /* (B, Kt, Dv) */
        for (int i = 0; i < c->Lt; i++)
            t = mrg_nn_cross_block_forward(&m->topic_blocks[i], t, content, NULL);
        mrg_tensor *parts[2] = {content, t};
        tokens = mrg_concat(parts, 2, 1); /* (B, Kc+Kt, Dv) */
    }
    /* into the LLaMA embedding space */
    mrg_tensor *p = mrg_nn_linear_forward(&m->proj, tokens); /* (B, K, D) */
    p = mrg_nn_layernorm_forward(&m->proj_norm, p);          /* (B, K, D) */
    if (!p) mrg_error_context(MRG_ERR_DEVICE, "model prefix");
    return p;
}

static mrg_status check_batch(const mrg_model *m, const mrg_batch *b) {
    const mrg_model_config *c = &m->cfg;
    if (!b || !b->images || !b->report_ids || !b->report_len || b->B < 1 || b->T < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "model loss: empty batch or no report ids");
    if (b->V != c->n_views || b->S != c->vit.image_size)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "model loss: batch of %d views at %d px, the model takes %d at %d", b->V,
                         b->S, c->n_views, c->vit.image_size);
    int vocab = c->lm.vocab_size;
    for (int i = 0; i < b->B; i++) {
        if (b->report_len[i] < 1 || b->report_len[i] > b->T)
            return mrg_error(MRG_ERR_INVALID_ARG, "model loss: report %d has length %d (T %d)", i,
                             b->report_len[i], b->T);
        for (int j = 0; j < b->T; j++) {
            int32_t id = b->report_ids[(size_t)i * b->T + j];
            bool pad = j >= b->report_len[i];
            if (pad ? id != -1 : (id < 0 || id >= vocab))
                return mrg_error(MRG_ERR_INVALID_ARG,
                                 "model loss: report %d token %d is %d (ids in [0, %d), -1 "
                                 "padding after report_len)",
                                 i, j, id, vocab);
        }
    }
    return MRG_OK;
}

/* ids (n) repeated over B rows, embedded → (B, n, D) */
static mrg_tensor *embed_rows(mrg_model *m, const int32_t *ids, int n, int64_t B) {
    int32_t *h = malloc(sizeof(int32_t) * (size_t)(B * n));
    if (!h) {
        mrg_error(MRG_ERR_OOM, "prompt ids");
        return NULL;
    }
    for (int64_t b = 0; b < B; b++) memcpy(h + b * n, ids, sizeof(int32_t) * (size_t)n);
    mrg_tensor *t = mrg_tensor_from_i32(m->dev, MRG_SHAPE(B, n), h);
    free(h);
    return mrg_llama_embed(m->lm, t);
}

/* LM loss: the sequence [BOS before] P [after] report[:-1]; position of the
 * last prompt token and of every report token predicts the next report
 * token or </s>. Padding (-1) is ignored. Right padding needs no key mask:
 * under causal attention a real token never sees the padding after it. */
static mrg_tensor *lm_loss(mrg_model *m, const mrg_batch *b, mrg_tensor *P) {
    int64_t B = b->B, T = b->T, K = P->shape[1], nb = m->n_before, na = m->n_after;
    int32_t eos = mrg_tokenizer_eos(m->tok) >= 0 ? mrg_tokenizer_eos(m->tok) : m->cfg.lm.eos_id;
    mrg_tensor *parts[4];
    int np = 0;
    parts[np++] = embed_rows(m, m->before_ids, m->n_before, B); /* (B, nb, D) */
    parts[np++] = P;                                            /* (B, K, D) */
    parts[np++] = embed_rows(m, m->after_ids, m->n_after, B);   /* (B, na, D) */
    if (T > 1) {
        int32_t *in = malloc(sizeof(int32_t) * (size_t)(B * (T - 1)));
        if (!in) {
            mrg_error(MRG_ERR_OOM, "report ids");
            return NULL;
        }
        for (int64_t i = 0; i < B; i++)
            for (int64_t j = 0; j < T - 1; j++) {
                int32_t id = b->report_ids[i * T + j];
                in[i * (T - 1) + j] = id < 0 ? eos : id; /* padding: any valid id */
            }
        mrg_tensor *t = mrg_tensor_from_i32(m->dev, MRG_SHAPE(B, T - 1), in);
        free(in);
        parts[np++] = mrg_llama_embed(m->lm, t); /* (B, T−1, D) */
    }
    mrg_tensor *x = mrg_concat(parts, np, 1);               /* (B, nb+K+na+T−1, D) */
    mrg_tensor *h = mrg_llama_hidden(m->lm, x, NULL, NULL); /* same */
    h = mrg_slice(h, 1, nb + K + na - 1, T);                /* (B, T, D) */
    if (!h) return NULL;
    int64_t D = h->shape[2];
    mrg_tensor *logits =
        mrg_llama_logits(m->lm, mrg_reshape(h, MRG_SHAPE(B * T, D))); /* (B·T, V) */
    mrg_tensor *targets = mrg_tensor_from_i32(m->dev, MRG_SHAPE(B * T), b->report_ids);
    return mrg_cross_entropy(logits, targets, -1);
}

/* Symmetric InfoNCE between z_img = normalize(mean over the prefix tokens)
 * and z_txt = normalize(mean of the frozen input embeddings of the report
 * tokens; </s> and padding excluded, as they say nothing about the study). */
static mrg_tensor *con_loss(mrg_model *m, const mrg_batch *b, mrg_tensor *P) {
    int64_t B = b->B, T = b->T;
    int32_t eos = mrg_tokenizer_eos(m->tok) >= 0 ? mrg_tokenizer_eos(m->tok) : m->cfg.lm.eos_id;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * T));
    float *w = malloc(sizeof(float) * (size_t)(B * T));
    if (!ids || !w) {
        free(ids);
        free(w);
        mrg_error(MRG_ERR_OOM, "contrastive loss");
        return NULL;
    }
    for (int64_t i = 0; i < B; i++) {
        int n = 0;
        for (int64_t j = 0; j < T; j++) {
            int32_t id = b->report_ids[i * T + j];
            bool word = j < b->report_len[i] && id >= 0 && id != eos;
            ids[i * T + j] = id < 0 ? eos : id;
            w[i * T + j] = word ? 1.0f : 0.0f;
            n += word;
        }
        for (int64_t j = 0; j < T; j++) w[i * T + j] /= (float)(n > 0 ? n : 1); /* masked mean */
    }
    mrg_tensor *emb = mrg_llama_embed(m->lm, mrg_tensor_from_i32(m->dev, MRG_SHAPE(B, T), ids));
    mrg_tensor *wt = mrg_tensor_from_f32(m->dev, MRG_SHAPE(B, T, 1), w);
    free(ids);
    free(w);
    mrg_tensor *txt = mrg_sum(mrg_mul(emb, wt), 1, false); /* (B, D) */
    mrg_tensor *img = mrg_mean(P, 1, false);               /* (B, D) */
    return mrg_nn_info_nce(img, txt, m->cfg.temperature);  /* image i vs text j */
}

mrg_status mrg_model_loss(mrg_model *m, const mrg_batch *b, mrg_loss_parts *out) {
    if (!m || !out) return mrg_error(MRG_ERR_INVALID_ARG, "model loss: NULL argument");
    memset(out, 0, sizeof *out);
    mrg_status st = check_batch(m, b);
    if (st != MRG_OK) return st;
    const mrg_model_config *c = &m->cfg;
    /* the products recorded here keep this precision for their backward */
    mrg_precision prev = mrg_set_precision(m->dev, c->precision);
    mrg_tensor *img = mrg_tensor_from_f32(m->dev, MRG_SHAPE(b->B, b->V, 3, b->S, b->S),
                                          b->images); /* (B, V, 3, S, S) */
    mrg_tensor *P = mrg_model_prefix(m, img);         /* (B, K, D) */
    mrg_tensor *lm = P ? lm_loss(m, b, P) : NULL;
    mrg_tensor *con = P ? con_loss(m, b, P) : NULL;
    mrg_tensor *total = mrg_add(mrg_scale(lm, c->lm_weight), mrg_scale(con, c->con_weight));
    mrg_set_precision(m->dev, prev);
    if (!total) return mrg_error_context(MRG_ERR_DEVICE, "model loss");
    out->total = total;
    out->lm = lm;
    out->con = con;
    return MRG_OK;
}
