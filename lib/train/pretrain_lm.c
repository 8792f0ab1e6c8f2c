/* Causal-LM pretraining of the small LLaMA on report text (so the report
 * generator can freeze it): a sentencepiece tokenizer (given, or trained
 * here on the texts), BOS + context + slot hints (slot_hints.c) + report +
 * EOS sequences, next-token cross-entropy, AdamW with warmup + cosine, then
 * a Hugging Face directory with the tokenizer inside. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/nn.h"
#include "mrg/ops.h"
#include "mrg/outputs.h"
#include "mrg/spm_train.h"
#include "mrg/text.h"
#include "mrg/tokenizer.h"
#include "core/files.h"
#include "mrg/checkpoint.h"
#include "mrg/dataset.h"
#include "mrg/pretrain.h"
#include "mrg/progress.h"
#include "mrg/schedule.h"
#include "train/pretrain_lm_internal.h"
#include "train/train_internal.h"

#define MAX_LM_PARAMS 1024
#define IGNORE (-1)

mrg_pretrain_opts mrg_pretrain_defaults(void) {
    mrg_pretrain_opts o;
    memset(&o, 0, sizeof o);
    o.vocab_size = 1024;
    o.epochs = 20;
    o.batch_size = 16;
    o.max_tokens = 60;
    o.lr = 1e-3f; /* from scratch and small: a larger rate than fine-tuning */
    o.min_lr = 1e-4f;
    o.weight_decay = 0.01f;
    o.warmup_frac = 0.05f;
    o.clip_norm = 1.0f;
    o.seed = 1234;
    o.log_every = 10;
    o.slot_hint = MRG_SLOT_FINDINGS; /* see mrg_pretrain_opts */
    o.slot_span = 8;
    o.temperature = 0.07f;
    return o;
}

/* Weights N(0, 0.02²) from the seed; RMSNorm weights (1-D) stay at one. */
static mrg_status init_weights(mrg_tensor **p, int n, uint64_t seed) {
    uint64_t rng = seed;
    for (int i = 0; i < n; i++) {
        if (p[i]->ndim < 2) continue;
        int64_t cnt = mrg_numel(p[i]);
        float *w = malloc(sizeof(float) * (size_t)cnt);
        if (!w) return mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
        for (int64_t j = 0; j < cnt; j++) w[j] = 0.02f * mrg_nn_rand_normal(&rng);
        mrg_status st = mrg_tensor_upload_f32(p[i], w);
        free(w);
        if (st) return st;
    }
    return MRG_OK;
}

static mrg_status encode_one(const mrg_tokenizer *tok, const char *text, int32_t **ids, int *k) {
    *ids = NULL;
    *k = 0;
    if (!text || !*text) return MRG_OK;
    return mrg_tokenizer_encode(tok, text, false, ids, k);
}

/* Encodes the contexts (each on its own, as the report generator does) and
 * every report, truncated to max_tokens. */
static mrg_status corpus_encode(const mrg_tokenizer *tok, const char *const *texts, int n,
                                const mrg_pretrain_opts *o, lm_corpus *c) {
    c->bos = mrg_tokenizer_bos(tok);
    c->eos = mrg_tokenizer_eos(tok);
    if (c->bos < 0 || c->eos < 0) return mrg_error(MRG_ERR_FORMAT, "pretrain: the tokenizer has no BOS or EOS");
    c->slot = o->slot_tokens > 0 ? o->slot_tokens : 0;
    mrg_status st = encode_one(tok, o->context_before, &c->before, &c->n_before);
    if (!st) st = encode_one(tok, o->context_after, &c->after, &c->n_after);
    int V = mrg_tokenizer_vocab_size(tok);
    c->ends_sentence = calloc((size_t)V, sizeof(bool));
    if (!c->ends_sentence) return mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
    for (int v = 0; v < V; v++) {
        const char *piece = mrg_tokenizer_piece(tok, v);
        size_t len = piece ? strlen(piece) : 0;
        c->ends_sentence[v] = len > 0 && strchr(".!?", piece[len - 1]);
    }
    if (o->slot_hint == MRG_SLOT_FINDINGS) {
        c->labels = calloc((size_t)n * MRG_N_FINDINGS, sizeof *c->labels);
        if (!c->labels) return mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
        for (int i = 0; i < n && !st; i++)
            st = mrg_label_report(texts[i] ? texts[i] : "", c->labels + (size_t)i * MRG_N_FINDINGS);
    }
    int longest = 0;
    for (int i = 0; !st && i < n; i++) {
        st = encode_one(tok, texts[i], &c->report[i], &c->report_len[i]);
        if (c->report_len[i] > o->max_tokens) c->report_len[i] = o->max_tokens;
        if (c->report_len[i] > longest) longest = c->report_len[i];
    }
    c->max_len = 2 + c->n_before + c->slot + c->n_after + longest;
    return st;
}

static void corpus_free(lm_corpus *c, int n) {
    for (int i = 0; c->report && i < n; i++) free(c->report[i]);
    free(c->report);
    free(c->report_len);
    free(c->before);
    free(c->after);
    free(c->ends_sentence);
    free(c->labels);
}

/* Writes sequence i into seq (room for max_len), the slot filled with
 * report tokens drawn without replacement (with it once the report runs
 * out), in random order; scratch has room for the report. Returns the
 * length; *report_at gets the index of the first report token. */
static int corpus_sequence(const lm_corpus *c, int i, uint64_t *rng, int32_t *scratch, int32_t *seq,
                           int *report_at) {
    const int32_t *r = c->report[i];
    int k = c->report_len[i], L = 0;
    seq[L++] = c->bos;
    for (int j = 0; j < c->n_before; j++) seq[L++] = c->before[j];
    if (k) memcpy(scratch, r, sizeof(int32_t) * (size_t)k);
    for (int j = 0; j < c->slot; j++) {
        if (k == 0) {
            seq[L + j] = c->eos;
        } else if (j < k) { /* partial Fisher-Yates */
            int pick = j + (int)(mrg_nn_rand_u64(rng) % (uint64_t)(k - j));
            int32_t t = scratch[j];
            scratch[j] = scratch[pick];
            scratch[pick] = t;
            seq[L + j] = scratch[j];
        } else {
            seq[L + j] = scratch[mrg_nn_rand_u64(rng) % (uint64_t)k];
        }
    }
    L += c->slot;
    for (int j = 0; j < c->n_after; j++) seq[L++] = c->after[j];
    *report_at = L;
    for (int j = 0; j < k; j++) seq[L++] = r[j];
    seq[L++] = c->eos;
    return L;
}

void lm_shuffle(int *perm, int n, uint64_t *rng) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(mrg_nn_rand_u64(rng) % (uint64_t)(i + 1));
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

/* Inputs and targets (B, T) of sequences idx[0..B): inputs seq[0..L-2],
 * targets seq[1..L-1], right-padded (padding targets ignored; causal
 * attention keeps the real positions unaffected by the padding after them).
 * With a context, only the report and EOS are targets. *in and *tg are
 * malloc'd. */
static mrg_status batch_tokens(const lm_corpus *c, const int *idx, int B, uint64_t *rng,
                               int32_t **in_out, int32_t **tg_out, int *T_out) {
    int Lmax = c->max_len, T = 0;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)B * Lmax), *scratch = malloc(sizeof(int32_t) * (size_t)Lmax);
    int *len = malloc(sizeof(int) * (size_t)B), *report_at = malloc(sizeof(int) * (size_t)B);
    int32_t *in = NULL, *tg = NULL;
    bool ok = seq && scratch && len && report_at;
    for (int b = 0; ok && b < B; b++) {
        len[b] = corpus_sequence(c, idx[b], rng, scratch, seq + (size_t)b * Lmax, &report_at[b]);
        if (len[b] - 1 > T) T = len[b] - 1;
    }
    if (ok) {
        in = malloc(sizeof(int32_t) * (size_t)B * T);
        tg = malloc(sizeof(int32_t) * (size_t)B * T);
        ok = in && tg;
    }
    bool has_context = c->n_before + c->slot + c->n_after > 0;
    for (int b = 0; ok && b < B; b++) {
        const int32_t *s = seq + (size_t)b * Lmax;
        int L = len[b] - 1;
        for (int t = 0; t < T; t++) {
            in[b * T + t] = t < L ? s[t] : s[L]; /* pad with EOS (any valid id) */
            bool target = t < L && (!has_context || t + 1 >= report_at[b]);
            tg[b * T + t] = target ? s[t + 1] : IGNORE;
        }
    }
    free(seq);
    free(scratch);
    free(len);
    free(report_at);
    if (!ok) {
        free(in);
        free(tg);
        return mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
    }
    *in_out = in;
    *tg_out = tg;
    *T_out = T;
    return MRG_OK;
}

/* One update on sequences idx[0..B); *con gets the contrastive term (0
 * without one). */
static mrg_status lm_step(mrg_llama *m, mrg_adamw *opt, mrg_tensor **params, int np, const lm_corpus *c,
                          const int *idx, int B, uint64_t *rng, const mrg_pretrain_opts *o, mrg_tensor *codes, float lr,
                          float *loss, float *con, float *grad_norm) {
    int32_t *in = NULL, *tg = NULL;
    int T = 0;
    mrg_status st = batch_tokens(c, idx, B, rng, &in, &tg, &T);
    if (st) return st;
    mrg_device *dev = m->dev;
    mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(B, T), in);
    mrg_tensor *tgt = mrg_tensor_from_i32(dev, MRG_SHAPE(B * T), tg);
    mrg_tensor *x = NULL;
    if (ids && c->slot > 0 && (o->slot_hint != MRG_SLOT_SPANS || o->slot_span != 1))
        x = slot_hint_inputs(m, c, idx, B, T, o, codes, rng, ids);
    else if (ids)
        x = mrg_llama_embed(m, ids);
    free(in);
    free(tg);
    mrg_tensor *logits = x ? mrg_llama_forward(m, x, NULL, NULL, false) : NULL; /* (B, T, V) */
    mrg_tensor *flat = logits ? mrg_reshape(logits, MRG_SHAPE(B * T, m->cfg.vocab_size)) : NULL;
    mrg_tensor *l = flat && tgt ? mrg_cross_entropy(flat, tgt, IGNORE) : NULL;
    *con = 0;
    if (l && codes && o->con_weight > 0) {
        mrg_tensor *lc = slot_code_contrastive(m, c, idx, B, codes, o->temperature);
        l = lc && mrg_tensor_item(lc, con) == MRG_OK ? mrg_add(l, mrg_scale(lc, o->con_weight)) : NULL;
    }
    return train_update(dev, l, "pretrain", params, np, opt, lr, o->clip_norm, loss, grad_norm);
}

/* Perplexity on the validation corpus: batches of B sequences built as
 * training builds them (slot hints from a fixed seed), no gradients;
 * exp(Σ cross-entropy / tokens scored). */
static mrg_status val_perplexity(mrg_llama *m, const lm_corpus *v, int n, int B, const mrg_pretrain_opts *o,
                                 mrg_tensor *codes, double *ppl, double *nll, int64_t *tokens) {
    mrg_device *dev = m->dev;
    bool prev = mrg_grad_set_enabled(dev, false);
    uint64_t rng = o->seed ^ 0x7a11da7eull;
    int idx[4096];
    double sum = 0;
    int64_t count = 0;
    mrg_status st = MRG_OK;
    for (int start = 0; !st && start < n; start += B) {
        int k = n - start < B ? n - start : B;
        for (int j = 0; j < k; j++) idx[j] = start + j;
        int32_t *in = NULL, *tg = NULL;
        int T = 0;
        if ((st = batch_tokens(v, idx, k, &rng, &in, &tg, &T))) break;
        int64_t scored = 0;
        for (int64_t j = 0; j < (int64_t)k * T; j++) scored += tg[j] != IGNORE;
        mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(k, T), in);
        mrg_tensor *tgt = mrg_tensor_from_i32(dev, MRG_SHAPE(k * T), tg);
        free(in);
        free(tg);
        mrg_tensor *x = NULL;
        if (ids && v->slot > 0 && (o->slot_hint != MRG_SLOT_SPANS || o->slot_span != 1))
            x = slot_hint_inputs(m, v, idx, k, T, o, codes, &rng, ids);
        else if (ids)
            x = mrg_llama_embed(m, ids);
        mrg_tensor *logits = x ? mrg_llama_forward(m, x, NULL, NULL, false) : NULL; /* (k, T, V) */
        mrg_tensor *flat = logits ? mrg_reshape(logits, MRG_SHAPE(k * T, m->cfg.vocab_size)) : NULL;
        mrg_tensor *l = flat && tgt ? mrg_cross_entropy(flat, tgt, IGNORE) : NULL; /* mean over scored */
        float mean = 0;
        st = l ? mrg_tensor_item(l, &mean) : mrg_error_context(MRG_ERR_DEVICE, "pretrain: validation forward");
        mrg_step_reset(dev);
        sum += (double)mean * (double)scored;
        count += scored;
    }
    mrg_grad_set_enabled(dev, prev);
    if (st) return st;
    *tokens = count;
    *nll = count ? sum / (double)count : NAN;
    *ppl = exp(*nll);
    return MRG_OK;
}

/* Logs the validation perplexity after `step` updates in `epoch` (0-based). */
static mrg_status log_validation(mrg_progress *prog, mrg_llama *m, const lm_corpus *v, int n, int B,
                                 const mrg_pretrain_opts *o, mrg_tensor *codes, int64_t step, int epoch) {
    double ppl = 0, nll = 0;
    int64_t tokens = 0;
    mrg_progress_phase(prog, "validating", 0, n);
    mrg_status st = val_perplexity(m, v, n, B, o, codes, &ppl, &nll, &tokens);
    if (st) return mrg_error_context(st, "validation after update %lld", (long long)step);
    char json[256], text[160];
    snprintf(json, sizeof json,
             "{\"type\":\"val\",\"step\":%lld,\"epoch\":%d,\"val_perplexity\":%.9g,\"val_nll\":%.9g,"
             "\"val_tokens\":%lld}",
             (long long)step, epoch + 1, ppl, nll, (long long)tokens);
    snprintf(text, sizeof text, "epoch %d: validation perplexity %.4f (%lld tokens)", epoch + 1, ppl,
             (long long)tokens);
    mrg_progress_record(prog, json, text);
    return MRG_OK;
}

mrg_status mrg_pretrain_lm_texts(const char *const *texts, int n, const mrg_llama_config *lm,
                                 const mrg_pretrain_opts *opts, mrg_device *dev, const char *out_dir,
                                 float *first_loss, float *final_loss) {
    mrg_pretrain_opts o = opts ? *opts : mrg_pretrain_defaults();
    if (n <= 0 || !texts) return mrg_error(MRG_ERR_INVALID_ARG, "pretrain: no texts");
    if (o.batch_size < 1 || o.max_tokens < 1 || !(o.lr > 0) || (o.steps <= 0 && o.epochs <= 0))
        return mrg_error(MRG_ERR_INVALID_ARG, "pretrain: batch, max tokens, lr and steps/epochs must be positive");
    char tmp[4200], tok_path[4400];
    mrg_status st = mrg_output_begin(out_dir, tmp, sizeof tmp);
    if (st) return st;
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.model", tmp);

    mrg_tokenizer *tok = NULL;
    mrg_llama *m = NULL;
    mrg_adamw *opt = NULL;
    mrg_progress *prog = NULL;
    lm_corpus corpus = {0}, val = {0};
    const int n_val = o.val_texts ? o.n_val : 0;
    corpus.report = calloc((size_t)n, sizeof *corpus.report);
    corpus.report_len = calloc((size_t)n, sizeof *corpus.report_len);
    int *perm = calloc((size_t)n, sizeof *perm);
    mrg_tensor *params[MAX_LM_PARAMS + 1], *codes = NULL;
    mrg_params code_list; /* owns the finding codes; they are not saved */
    mrg_params_init(&code_list);
    if (n_val > 0) {
        val.report = calloc((size_t)n_val, sizeof *val.report);
        val.report_len = calloc((size_t)n_val, sizeof *val.report_len);
    }
    if (!corpus.report || !corpus.report_len || !perm || (n_val > 0 && (!val.report || !val.report_len))) { st = mrg_error(MRG_ERR_OOM, "pretrain: out of memory"); goto end; }
    if (o.tokenizer) {
        st = mrg_copy_file(o.tokenizer, tok_path);
    } else {
        mrg_spm_train_opts so = mrg_spm_train_defaults();
        if (o.vocab_size > 0) so.vocab_size = o.vocab_size;
        /* BPE, like LLaMA's own tokenizer. On templated report text unigram
         * stops at ~400 pieces and splits a word into two pieces on average
         * (phantom reports: ~73 tokens, beyond the 60-token truncation); BPE
         * with 1024 pieces keeps nearly every word whole (~35 tokens). */
        so.bpe = true;
        /* the corpus: the texts, and the context once per text so that its
         * pieces weigh as much as a report's */
        const char **corpus = malloc(sizeof(char *) * (size_t)n * 3);
        int nc = 0;
        if (!corpus) { st = mrg_error(MRG_ERR_OOM, "pretrain: out of memory"); goto end; }
        for (int i = 0; i < n; i++) {
            corpus[nc++] = texts[i] ? texts[i] : "";
            if (o.context_before && *o.context_before) corpus[nc++] = o.context_before;
            if (o.context_after && *o.context_after) corpus[nc++] = o.context_after;
        }
        st = mrg_spm_train(corpus, nc, &so, tok_path);
        free(corpus);
    }
    if (st) goto end;
    if (!(tok = mrg_tokenizer_load(tok_path))) { st = MRG_ERR_FORMAT; goto end; }
    /* the trainer stops early when the texts hold too few distinct pieces */
    if (!o.tokenizer && o.vocab_exact && mrg_tokenizer_vocab_size(tok) < o.vocab_size) {
        st = mrg_error(MRG_ERR_INVALID_ARG,
                       "pretrain: the texts support a tokenizer of at most %d pieces, not --vocab %d "
                       "(choose 260..%d)",
                       mrg_tokenizer_vocab_size(tok), o.vocab_size, mrg_tokenizer_vocab_size(tok));
        goto end;
    }
    if ((st = corpus_encode(tok, texts, n, &o, &corpus))) goto end;
    if (n_val > 0 && (st = corpus_encode(tok, o.val_texts, n_val, &o, &val))) goto end;

    mrg_llama_config cfg = *lm;
    cfg.vocab_size = mrg_tokenizer_vocab_size(tok);
    cfg.bos_id = mrg_tokenizer_bos(tok);
    cfg.eos_id = mrg_tokenizer_eos(tok);
    if (cfg.max_seq < corpus.max_len) cfg.max_seq = corpus.max_len;
    if (n_val > 0 && cfg.max_seq < val.max_len) cfg.max_seq = val.max_len;
    if ((st = mrg_llama_config_check(&cfg))) goto end;
    if (!(m = mrg_llama_create(&cfg, MRG_F32, true, dev))) { st = MRG_ERR_OOM; goto end; }
    int np = mrg_llama_params(m, params, MAX_LM_PARAMS);
    if (np > MAX_LM_PARAMS) { st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain: too many parameters"); goto end; }
    if ((st = init_weights(params, np, o.seed))) goto end;
    if (o.slot_hint == MRG_SLOT_FINDINGS && corpus.slot > 0) {
        /* one learned vector per finding and state, at the scale of a token */
        mrg_nn_ctx ctx = mrg_nn_ctx_make(dev, &code_list, o.seed ^ 0xc0de5ull, true);
        int64_t shape[2] = {3 * MRG_N_FINDINGS, cfg.dim};
        if (!(codes = mrg_nn_param(&ctx, "slot_codes", MRG_F32, 2, shape, MRG_NN_NORMAL, 0.02f))) {
            st = MRG_ERR_OOM;
            goto end;
        }
        params[np++] = codes;
    }
    if ((st = train_adamw(params, np, o.lr, o.weight_decay, &opt))) goto end;
    int B = o.batch_size < n ? o.batch_size : n;
    if (B > 4096) B = 4096; /* idx below */
    int64_t per_epoch = (n + B - 1) / B;
    int64_t total = o.steps > 0 ? o.steps : (int64_t)o.epochs * per_epoch;
    mrg_lr_schedule sched = mrg_lr_schedule_make(o.lr, o.min_lr, o.warmup_frac, total);
    char log_path[4400];
    snprintf(log_path, sizeof log_path, "%s/pretrain_log.jsonl", tmp);
    mrg_progress_opts po = {log_path, o.bar, o.jsonl_stdout, total, 0, o.log_every};
    if (!(prog = mrg_progress_new(&po))) { st = MRG_ERR_OOM; goto end; }

    uint64_t rng = o.seed ^ 0x9e3779b97f4a7c15ull, hint_rng = o.seed ^ 0x51a7ull;
    int pos = n, epoch = -1, idx[4096];
    int64_t skipped = 0;
    for (int64_t step = 0; step < total; step++) {
        /* the next B sequences of the epoch's permutation, reshuffling at its end */
        int k = 0;
        while (k < B) {
            if (pos >= n) { lm_shuffle(perm, n, &rng); pos = 0; epoch++; }
            idx[k++] = perm[pos++];
            if (pos >= n && k > 0 && n >= B) break; /* epochs end on a short batch */
        }
        mrg_step_stats s = {0};
        s.lr = mrg_lr_at(&sched, step);
        st = lm_step(m, opt, params, np, &corpus, idx, k, &hint_rng, &o, codes, s.lr, &s.loss, &s.con,
                     &s.grad_norm);
        if (st == MRG_ERR_NONFINITE && o.skip_nonfinite) {
            train_log_skip(prog, step + 1, epoch, -1, ++skipped);
            st = MRG_OK;
            continue;
        }
        if (st) {
            mrg_error_context(st, "update %lld of %lld (no output written)", (long long)(step + 1), (long long)total);
            goto end;
        }
        if (!isfinite(s.loss)) { st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain: loss %g at step %lld", s.loss, (long long)step); goto end; }
        if (step == 0 && first_loss) *first_loss = s.loss;
        if (final_loss) *final_loss = s.loss;
        s.step = step + 1;
        s.epoch = epoch;
        s.lm = s.loss - o.con_weight * s.con;
        s.samples = k;
        mrg_progress_step(prog, &s);
        /* after each epoch, and after the last update */
        if (n_val > 0 && (pos >= n || step + 1 == total) &&
            (st = log_validation(prog, m, &val, n_val, B, &o, codes, step + 1, epoch)))
            goto end;
    }
    /* the output must be finite: the LM is frozen from here on */
    if ((st = train_check_finite(params, NULL, np, "parameter"))) goto end;
    st = mrg_llama_save_hf(m, tmp);
end:
    /* the log is complete before the directory is committed (a failed log
     * write was reported on stderr and does not cost the model) */
    mrg_progress_free(prog);
    prog = NULL;
    st = mrg_output_finish(tmp, out_dir, "pretrain-lm", st);
    if (st) mrg_error_context(st, "pretraining the LM into %s", out_dir);
    mrg_progress_free(prog);
    mrg_adamw_free(opt);
    mrg_llama_free(m);
    mrg_params_free(&code_list);
    mrg_tokenizer_free(tok);
    corpus_free(&corpus, n);
    corpus_free(&val, n_val);
    free(perm);
    return st;
}

mrg_status mrg_pretrain_lm(const char *data_dir, const mrg_llama_config *lm, const mrg_pretrain_opts *o,
                           mrg_device *dev, const char *out_dir, float *first_loss, float *final_loss) {
    mrg_dataset_opts dopt = mrg_dataset_defaults();
    dopt.tok = NULL;
    dopt.load_images = false;
    dopt.shuffle = false;
    dopt.prefetch = 0;
    dopt.batch_size = 1;
    mrg_dataset *ds = mrg_dataset_open(data_dir, MRG_SPLIT_TRAIN, &dopt);
    if (!ds) return mrg_error_context(MRG_ERR_INVALID_ARG, "pretrain: reading %s", data_dir);
    int n = mrg_dataset_size(ds);
    const char **texts = n > 0 ? malloc(sizeof(char *) * (size_t)n) : NULL;
    /* validation reports; without them the run goes on unvalidated */
    mrg_pretrain_opts po = o ? *o : mrg_pretrain_defaults();
    mrg_dataset *vs = mrg_dataset_open(data_dir, MRG_SPLIT_VAL, &dopt);
    int n_val = vs ? mrg_dataset_size(vs) : 0;
    const char **val = n_val > 0 ? malloc(sizeof(char *) * (size_t)n_val) : NULL;
    if (!vs || n_val <= 0)
        fprintf(stderr, "pretrain: no validation perplexity: %s\n",
                vs ? "the val split is empty" : mrg_last_error());
    mrg_status st;
    if (n <= 0) st = mrg_error(MRG_ERR_INVALID_ARG, "pretrain: %s has no training reports", data_dir);
    else if (!texts || (n_val > 0 && !val)) st = mrg_error(MRG_ERR_OOM, "pretrain: out of memory");
    else {
        for (int i = 0; i < n; i++) texts[i] = mrg_dataset_report(ds, i); /* cleaned */
        for (int i = 0; i < n_val; i++) val[i] = mrg_dataset_report(vs, i);
        po.val_texts = val;
        po.n_val = n_val;
        st = mrg_pretrain_lm_texts(texts, n, lm, &po, dev, out_dir, first_loss, final_loss);
    }
    free(texts);
    free(val);
    mrg_dataset_free(vs);
    mrg_dataset_free(ds);
    return st;
}
