/* Validation during training: greedy decoding of a batch through the
 * model's prefix and the frozen LLaMA with a KV cache, and the scores
 * (BLEU-4, CIDEr, finding F1) that choose the best checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "mrg/sampling.h"
#include "mrg/trainer.h"

/* (B, n) I32 tensor with the same n ids in every row */
static mrg_tensor *tile_ids(mrg_device *dev, const int32_t *ids, int n, int B) {
    int32_t *buf = malloc(sizeof(int32_t) * (size_t)n * (size_t)B);
    if (!buf) return NULL;
    for (int b = 0; b < B; b++) memcpy(buf + (size_t)b * n, ids, sizeof(int32_t) * (size_t)n);
    mrg_tensor *t = mrg_tensor_from_i32(dev, MRG_SHAPE(B, n), buf);
    free(buf);
    return t;
}

mrg_status mrg_greedy_reports(mrg_model *m, const mrg_batch *b, int max_new, char **preds) {
    mrg_device *dev = mrg_model_device(m);
    mrg_llama *lm = mrg_model_llama(m);
    const mrg_tokenizer *tok = mrg_model_tokenizer(m);
    const int32_t *before, *after;
    int nb, na, B = b->B;
    mrg_status st = mrg_model_prompt_ids(m, &before, &nb, &after, &na);
    if (st) return st;
    if (max_new < 1) max_new = 1;
    for (int i = 0; i < B; i++) preds[i] = NULL;
    bool prev = mrg_grad_set_enabled(dev, false);
    int32_t *out = calloc((size_t)B * (size_t)max_new, sizeof(int32_t));
    int *len = calloc((size_t)B, sizeof(int));
    bool *done = calloc((size_t)B, sizeof(bool));
    int V = lm->cfg.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)B * (size_t)V);
    mrg_kv_cache *kv = NULL;
    if (!out || !len || !done || !logits) {
        st = mrg_error(MRG_ERR_OOM, "greedy decoding: out of memory");
        goto end;
    }
    /* prefill: [BOS] before (B, nb, D) ; prefix (B, K, D) ; after (B, na, D) */
    mrg_tensor *img = mrg_tensor_from_f32(dev, MRG_SHAPE(B, b->V, 3, b->S, b->S), b->images);
    mrg_tensor *prefix = img ? mrg_model_prefix(m, img) : NULL;
    mrg_tensor *eb = tile_ids(dev, before, nb, B), *ea = na > 0 ? tile_ids(dev, after, na, B) : NULL;
    mrg_tensor *parts[3] = {eb ? mrg_llama_embed(lm, eb) : NULL, prefix, ea ? mrg_llama_embed(lm, ea) : NULL};
    int np = na > 0 ? 3 : 2;
    mrg_tensor *x = parts[0] && parts[1] && (np == 2 || parts[2]) ? mrg_concat(parts, np, 1) : NULL;
    if (!x) {
        st = mrg_error_context(MRG_ERR_DEVICE, "greedy decoding: prefill");
        goto end;
    }
    kv = mrg_kv_cache_new(lm, B, x->shape[1] + max_new);
    mrg_tensor *lg = kv ? mrg_llama_forward(lm, x, NULL, kv, true) : NULL; /* (B, V) */
    int32_t eos = lm->cfg.eos_id;
    for (int t = 0; t < max_new; t++) {
        if (!lg || (st = mrg_tensor_download(lg, logits))) {
            if (!st) st = mrg_error_context(MRG_ERR_DEVICE, "greedy decoding: forward");
            goto end;
        }
        int32_t next[1024];
        int32_t *nx = B <= 1024 ? next : malloc(sizeof(int32_t) * (size_t)B);
        if (!nx) { st = mrg_error(MRG_ERR_OOM, "greedy decoding: out of memory"); goto end; }
        bool all = true;
        for (int i = 0; i < B; i++) {
            int id = mrg_argmax(logits + (size_t)i * V, V);
            nx[i] = done[i] ? eos : id;
            if (!done[i]) {
                if (id == eos) done[i] = true;
                else out[(size_t)i * max_new + len[i]++] = id;
            }
            all = all && done[i];
        }
        mrg_step_reset(dev);
        if (all || t + 1 == max_new) {
            if (nx != next) free(nx);
            break;
        }
        mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(B, 1), nx);
        if (nx != next) free(nx);
        lg = ids ? mrg_llama_forward_ids(lm, ids, NULL, kv, true) : NULL;
    }
    for (int i = 0; i < B; i++) {
        preds[i] = mrg_tokenizer_decode(tok, out + (size_t)i * max_new, len[i]);
        if (!preds[i]) {
            st = mrg_error_context(MRG_ERR_FORMAT, "greedy decoding: decode");
            goto end;
        }
    }
end:
    if (st)
        for (int i = 0; i < B; i++) { free(preds[i]); preds[i] = NULL; }
    mrg_kv_cache_free(kv);
    mrg_step_reset(dev);
    mrg_grad_set_enabled(dev, prev);
    free(out); free(len); free(done); free(logits);
    return st;
}

mrg_status mrg_evaluate(mrg_model *m, mrg_dataset *ds, int max_studies, mrg_eval_result *res) {
    memset(res, 0, sizeof *res);
    int cap = mrg_dataset_size(ds);
    if (max_studies > 0 && max_studies < cap) cap = max_studies;
    if (cap <= 0) return mrg_error(MRG_ERR_INVALID_ARG, "evaluate: the split is empty");
    char **preds = calloc((size_t)cap, sizeof(char *)), **refs = calloc((size_t)cap, sizeof(char *));
    if (!preds || !refs) {
        free(preds); free(refs);
        return mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
    }
    int n = 0, max_new = mrg_model_get_config(m)->max_new;
    mrg_status st = mrg_dataset_seek(ds, 0, 0);
    while (!st && n < cap) {
        mrg_batch b = {0};
        st = mrg_dataset_next(ds, &b);
        if (st == MRG_END) { st = MRG_OK; break; }
        if (st) break;
        char **p = calloc((size_t)b.B, sizeof(char *));
        st = p ? mrg_greedy_reports(m, &b, max_new, p) : mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        for (int i = 0; i < b.B; i++) {
            if (!st && n < cap) {
                preds[n] = p[i];
                refs[n] = strdup(b.reports[i] ? b.reports[i] : "");
                n++;
            } else if (p) {
                free(p[i]);
            }
        }
        free(p);
        mrg_batch_free(&b);
    }
    if (!st && n == 0) st = mrg_error(MRG_ERR_INVALID_ARG, "evaluate: no studies");
    if (!st) {
        const char *const **rr = malloc(sizeof(*rr) * (size_t)n);
        int *nr = malloc(sizeof(int) * (size_t)n);
        if (!rr || !nr) st = mrg_error(MRG_ERR_OOM, "evaluate: out of memory");
        for (int i = 0; !st && i < n; i++) {
            rr[i] = (const char *const *)&refs[i];
            nr[i] = 1;
        }
        mrg_eval_opts eo = {0};
        eo.no_meteor = true;
        if (!st)
            st = mrg_eval_scores((const char *const *)preds, rr, nr, n, &eo, &res->scores, NULL);
        free(rr); free(nr);
    }
    res->n = n;
    res->score = 0.5 * res->scores.bleu[3] + 0.5 * res->scores.cider;
    for (int i = 0; i < n; i++) { free(preds[i]); free(refs[i]); }
    free(preds); free(refs);
    return st;
}
