/* The hints pretrain-lm puts in the image slot (see mrg_pretrain_opts.
 * slot_hint): each is a row of weights over a table (the token embeddings,
 * or the learned finding codes) whose product with it is the slot vector,
 * so that the table learns through the hints; and the finding codes'
 * contrastive term. */
#include <stdlib.h>
#include <string.h>

#include "mrg/nn.h"
#include "mrg/ops.h"
#include "train/pretrain_lm_internal.h"

/* start[0..ns] (room for k + 1): where each sentence of r[0..k) begins,
 * then k; returns ns >= 1 for k >= 1 */
static int sentence_starts(const lm_corpus *c, const int32_t *r, int k, int *start) {
    int ns = 0;
    for (int t = 0; t < k; t++)
        if (t == 0 || c->ends_sentence[r[t - 1]]) start[ns++] = t;
    start[ns] = k;
    return ns;
}

/* Row j of w (slot, V): the mean of one whole sentence of r[0..k), k >= 1,
 * sentences in a random order, a fresh order each time they run out;
 * scratch has room for 2k + 2. */
static void sentence_hints(const lm_corpus *c, const int32_t *r, int k, uint64_t *rng, float *w, int V,
                           int *scratch) {
    int *start = scratch, *order = scratch + k + 1;
    int ns = sentence_starts(c, r, k, start);
    for (int j = 0; j < c->slot; j++) {
        if (j % ns == 0) lm_shuffle(order, ns, rng);
        int s = order[j % ns], m = start[s + 1] - start[s];
        float *row = w + (size_t)j * V;
        for (int e = start[s]; e < start[s + 1]; e++) row[r[e]] += 1.0f / (float)m;
    }
}

/* row (3F, zeroed): 1/F at code 3f + state of each finding f, so that
 * row @ codes is the mean of the F codes of these labels */
static void code_weights(const mrg_finding_label *label, float *row) {
    for (int f = 0; f < MRG_N_FINDINGS; f++) row[3 * f + (int)label[f]] = 1.0f / MRG_N_FINDINGS;
}

/* Row j of w (slot, 3F), every j: the mean of the codes of the labels. */
static void finding_hints(const lm_corpus *c, const mrg_finding_label *label, float *w) {
    for (int j = 0; j < c->slot; j++) code_weights(label, w + (size_t)j * 3 * MRG_N_FINDINGS);
}

/* Slot hints of sequences idx[0..B): row b·slot + j of w (B·slot, width)
 * gets the weights whose product with the hint table (w @ table: the token
 * embeddings, or the finding codes) is slot j of sequence b; scratch has
 * room for 2·max_len + 2.
 * Spans: a random contiguous span of report b (length drawn in
 * 1..slot_span, or up to the whole report when slot_span is 0). A span
 * keeps the words of a phrase together ("left pleural effusion" is not "no
 * right pleural effusion"), which a bag of random tokens loses. */
static void hint_weights(const lm_corpus *c, const int *idx, int B, mrg_slot_hint hint, int slot_span,
                         int V, uint64_t *rng, float *w, int *scratch) {
    memset(w, 0, sizeof(float) * (size_t)B * c->slot * V);
    for (int b = 0; b < B; b++) {
        const int32_t *r = c->report[idx[b]];
        int k = c->report_len[idx[b]];
        if (hint == MRG_SLOT_FINDINGS) {
            finding_hints(c, c->labels + (size_t)idx[b] * MRG_N_FINDINGS, w + (size_t)b * c->slot * V);
            continue;
        }
        if (hint == MRG_SLOT_SENTENCES && k > 0) {
            sentence_hints(c, r, k, rng, w + (size_t)b * c->slot * V, V, scratch);
            continue;
        }
        for (int j = 0; j < c->slot; j++) {
            float *row = w + ((size_t)b * c->slot + j) * V;
            if (k == 0) { /* an empty report: EOS, as in the one-token slots */
                row[c->eos] = 1.0f;
                continue;
            }
            int most = slot_span <= 0 || slot_span > k ? k : slot_span;
            int m = slot_span < 0 ? k : 1 + (int)(mrg_nn_rand_u64(rng) % (uint64_t)most);
            int start = (int)(mrg_nn_rand_u64(rng) % (uint64_t)(k - m + 1));
            for (int e = 0; e < m; e++) row[r[start + e]] += 1.0f / (float)m;
        }
    }
}

/* Input embeddings (B, T, D) of ids, the slot's rows replaced by hints;
 * codes (3F, D): the finding codes, for finding hints. */
mrg_tensor *slot_hint_inputs(mrg_llama *m, const lm_corpus *c, const int *idx, int B, int T,
                             const mrg_pretrain_opts *o, mrg_tensor *codes, uint64_t *rng, mrg_tensor *ids) {
    bool findings = o->slot_hint == MRG_SLOT_FINDINGS;
    int V = findings ? 3 * MRG_N_FINDINGS : m->cfg.vocab_size, at = 1 + c->n_before;
    float *w = malloc(sizeof(float) * (size_t)B * c->slot * V);
    int *scratch = malloc(sizeof(int) * (size_t)(2 * c->max_len + 2));
    if (!w || !scratch) {
        free(w);
        free(scratch);
        mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
        return NULL;
    }
    hint_weights(c, idx, B, o->slot_hint, o->slot_span, V, rng, w, scratch);
    free(scratch);
    mrg_tensor *wt = mrg_tensor_from_f32(m->dev, MRG_SHAPE(B * c->slot, V), w);
    free(w);
    mrg_tensor *hints = mrg_reshape(mrg_matmul(wt, findings ? codes : m->tok_emb, false, false),
                                    MRG_SHAPE(B, c->slot, m->cfg.dim)); /* (B, slot, D) */
    mrg_tensor *emb = mrg_llama_embed(m, ids);                         /* (B, T, D) */
    mrg_tensor *parts[3] = {mrg_slice(emb, 1, 0, at), hints,
                            mrg_slice(emb, 1, at + c->slot, T - at - c->slot)};
    return mrg_concat(parts, 3, 1);
}

/* The report generator's contrastive loss with the finding codes in place
 * of its prefix: symmetric InfoNCE between z_code = normalize(mean of the
 * codes of sequence b's findings) and z_txt = normalize(mean input
 * embedding of report b's tokens). Trained together with the LM, the codes
 * settle where the generator's own contrastive term will pull its prefix,
 * so that its two losses agree instead of pulling the prefix apart. */
mrg_tensor *slot_code_contrastive(mrg_llama *m, const lm_corpus *c, const int *idx, int B, mrg_tensor *codes,
                                  float temperature) {
    int V = m->cfg.vocab_size, F = MRG_N_FINDINGS;
    float *wc = calloc((size_t)B * 3 * F, sizeof(float)), *wt = calloc((size_t)B * V, sizeof(float));
    mrg_tensor *loss = NULL;
    if (wc && wt) {
        for (int b = 0; b < B; b++) {
            code_weights(c->labels + (size_t)idx[b] * F, wc + (size_t)b * 3 * F);
            int k = c->report_len[idx[b]];
            for (int j = 0; j < k; j++) wt[(size_t)b * V + c->report[idx[b]][j]] += 1.0f / (float)k;
            if (k == 0) wt[(size_t)b * V + c->eos] = 1.0f; /* an empty report: EOS */
        }
        mrg_tensor *code_mean = mrg_matmul(mrg_tensor_from_f32(m->dev, MRG_SHAPE(B, 3 * F), wc), codes, false,
                                           false);                                      /* (B, D) */
        mrg_tensor *text_mean = mrg_matmul(mrg_tensor_from_f32(m->dev, MRG_SHAPE(B, V), wt), m->tok_emb, false,
                                           false);                                      /* (B, D) */
        loss = mrg_nn_info_nce(code_mean, text_mean, temperature);
    } else {
        mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
    }
    free(wc);
    free(wt);
    return loss;
}
