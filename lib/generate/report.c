/* The report generator's decoding: images → prefix P → input embeddings
 * [embed(BOS prompt_before), P, embed(prompt_after)] (B, T0, D) → the
 * search of generate.c / beam.c on the frozen LLaMA → text. */
#include <stdlib.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/generate.h"
#include "mrg/ops.h"
#include "mrg/tokenizer.h"

/* ids (n) repeated on B rows → embeddings (B, n, D). */
static mrg_tensor *embed_rows(mrg_llama *lm, const int32_t *ids, int n, int B) {
    int32_t *rows = malloc(sizeof *rows * (size_t)n * (size_t)B);
    if (!rows) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    for (int b = 0; b < B; b++) memcpy(rows + (size_t)b * n, ids, sizeof *ids * (size_t)n);
    mrg_tensor *t = mrg_tensor_from_i32(lm->dev, MRG_SHAPE(B, n), rows);
    free(rows);
    return t ? mrg_llama_embed(lm, t) : NULL;
}

mrg_status mrg_generate_input(mrg_model *m, const float *images, int B, mrg_tensor **out) {
    *out = NULL;
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_llama *lm = mrg_model_llama(m);
    const int32_t *before, *after;
    int n_before, n_after;
    mrg_status st = mrg_model_prompt_ids(m, &before, &n_before, &after, &n_after);
    if (st != MRG_OK) return st;
    if (n_before < 1) return mrg_error(MRG_ERR_INVALID_ARG, "generate: empty prompt (no BOS)");
    const int S = cfg->vit.image_size, V = cfg->n_views;
    mrg_tensor *img = mrg_tensor_from_f32(mrg_model_device(m), MRG_SHAPE(B, V, 3, S, S), images);
    mrg_tensor *parts[3] = {NULL, NULL, NULL};
    parts[0] = img ? embed_rows(lm, before, n_before, B) : NULL; /* (B, nb, D) */
    parts[1] = parts[0] ? mrg_model_prefix(m, img) : NULL;       /* (B, Kc+Kt, D) */
    int np = 2;
    if (n_after > 0) parts[np++] = parts[1] ? embed_rows(lm, after, n_after, B) : NULL;
    *out = parts[np - 1] ? mrg_concat(parts, np, 1) : NULL; /* (B, T0, D) */
    return *out ? MRG_OK : mrg_error_context(MRG_ERR_DEVICE, "generate: building the prefix");
}

mrg_status mrg_generate_batch(mrg_model *m, const float *images, int B,
                              const mrg_gen_opts *opts, char **reports) {
    if (!m || !images || !reports || B < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: NULL model, images or reports");
    mrg_status st = mrg_gen_opts_check(opts);
    if (st != MRG_OK) return st;
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_llama *lm = mrg_model_llama(m);
    const mrg_tokenizer *tok = mrg_model_tokenizer(m);
    mrg_device *dev = mrg_model_device(m);
    if (!cfg || !lm || !tok || !dev)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: the model has no LLaMA or tokenizer");
    for (int b = 0; b < B; b++) reports[b] = NULL;
    /* no report is longer than the LM's context (the search stops there
     * anyway): a huge max_new must not size the buffers */
    mrg_gen_opts clipped = *opts;
    if (clipped.max_new > cfg->lm.max_seq) clipped.max_new = cfg->lm.max_seq;
    opts = &clipped;
    int32_t *ids = malloc(sizeof *ids * (size_t)B * (size_t)opts->max_new);
    int *lens = malloc(sizeof *lens * (size_t)B);
    if (!ids || !lens) {
        free(ids);
        free(lens);
        return mrg_error(MRG_ERR_OOM, "out of host memory");
    }
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_tensor *x = NULL; /* (B, T0, D) */
    st = mrg_generate_input(m, images, B, &x);
    if (st == MRG_OK) st = mrg_generate_batch_from_embeddings(lm, x, opts, ids, lens, NULL);
    for (int b = 0; b < B && st == MRG_OK; b++) {
        reports[b] = mrg_tokenizer_decode(tok, ids + (size_t)b * opts->max_new, lens[b]);
        if (!reports[b]) st = MRG_ERR_OOM;
    }
    if (st != MRG_OK)
        for (int b = 0; b < B; b++) {
            free(reports[b]);
            reports[b] = NULL;
        }
    mrg_step_reset(dev);
    mrg_grad_set_enabled(dev, prev);
    free(ids);
    free(lens);
    return st;
}

mrg_status mrg_generate(mrg_model *m, const float *images, const mrg_gen_opts *opts,
                        char **report) {
    if (!report) return mrg_error(MRG_ERR_INVALID_ARG, "generate: NULL report");
    return mrg_generate_batch(m, images, 1, opts, report);
}
