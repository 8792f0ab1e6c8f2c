/* Decoding from input embeddings: the session (one prefill of the prefix,
 * then one token per row and step through the KV cache), the logit
 * processors, and the greedy / sampling driver. Beam search is in beam.c.
 * Semantics are documented in mrg/generate.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/gen_internal.h"
#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "mrg/sampling.h"

mrg_gen_opts mrg_gen_defaults(void) {
    mrg_gen_opts o = {
        .mode = MRG_GEN_BEAM,
        .beam = 3,
        .repetition_penalty = 2.0f,
        .length_penalty = 2.0f,
        .min_new = 40,
        .max_new = 100,
        .temperature = 1.0f,
        .top_p = 0.9f,
        .seed = 0,
        .eos_id = -1,
        .kv_dtype = MRG_F32,
    };
    return o;
}

mrg_status mrg_gen_opts_check(const mrg_gen_opts *o) {
    if (!o) return mrg_error(MRG_ERR_INVALID_ARG, "generate: no options");
    if (o->mode != MRG_GEN_GREEDY && o->mode != MRG_GEN_SAMPLE && o->mode != MRG_GEN_BEAM)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: unknown mode %d", (int)o->mode);
    if (o->mode == MRG_GEN_BEAM && (o->beam < 1 || o->beam > 64))
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: beam %d outside [1, 64]", o->beam);
    if (!(o->repetition_penalty > 0) || !isfinite(o->repetition_penalty))
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: repetition penalty must be > 0 (got %g)",
                         (double)o->repetition_penalty);
    if (!isfinite(o->length_penalty))
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: length penalty must be finite");
    if (o->max_new < 1 || o->min_new < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: need max_new >= 1 and min_new >= 0 "
                                              "(got %d, %d)", o->max_new, o->min_new);
    if (o->kv_dtype != MRG_F32 && o->kv_dtype != MRG_BF16 && o->kv_dtype != MRG_F16)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: KV cache dtype %d (f32, bf16 or f16)",
                         (int)o->kv_dtype);
    if (o->mode == MRG_GEN_SAMPLE && (!(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1)))
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "generate: need temperature >= 0 and top_p in (0, 1] (got %g, %g)",
                         (double)o->temperature, (double)o->top_p);
    return MRG_OK;
}

/* ---- session ------------------------------------------------------------ */

bool mrg_gen_select_on_device(const mrg_device *dev) {
    const char *e = getenv("MRG_GEN_SELECT");
    if (e && !strcmp(e, "host")) return false;
    if (e && !strcmp(e, "device")) return true;
    return dev && !mrg_device_is_cpu(dev);
}

/* After a forward of n rows: the device chooses each row's candidates
 * (s->sel: only they are read back; the histories of the rows gain tok,
 * each continuing row src's, or its own with src NULL), or the (n, V)
 * logits are read into s->logits. */
static mrg_status take_step(gen_session *s, mrg_tensor *lg, int n, mrg_tensor *src,
                            mrg_tensor *tok) {
    if (!lg) return mrg_error_context(MRG_ERR_DEVICE, "generate: forward");
    mrg_status st;
    gen_select *g = &s->sel;
    if (g->on) {
        /* every row holds s->stats.steps generated tokens */
        int eos = s->stats.steps < g->min_new ? s->eos : -1;
        mrg_tensor *out = mrg_select_topk(lg, g->hist[g->cur], g->hlen, src, tok,
                                          g->hist[g->cur ^ 1], g->k, g->log_softmax, g->penalty,
                                          eos); /* (n, k, 3) */
        st = out ? mrg_tensor_download(out, g->packed)
                 : mrg_error_context(MRG_ERR_DEVICE, "generate: choosing tokens");
        if (st == MRG_OK) {
            mrg_select_unpack(g->packed, (int64_t)n * g->k, g->ids, g->score);
            g->cur ^= 1;
            g->hlen += tok != NULL;
        }
    } else {
        st = mrg_tensor_to_f32(lg, s->logits);
    }
    s->rows = n;
    mrg_step_reset(s->dev); /* the step's activations are no longer needed */
    return st;
}

/* The device's choice for select_k candidates per row: histories of
 * 1 + max_new ids per row that start as [BOS] (a fill: no transfer), and
 * the host arrays its results are read into. */
static mrg_status select_start(gen_session *s, const mrg_gen_opts *opts, int capacity,
                               int select_k, bool log_softmax) {
    gen_select *g = &s->sel;
    g->on = true;
    g->k = select_k;
    g->log_softmax = log_softmax;
    g->penalty = opts->repetition_penalty;
    g->min_new = opts->min_new;
    for (int i = 0; i < 2; i++)
        if (!(g->hist[i] = mrg_tensor_new_persistent(s->dev, MRG_I32,
                                                     MRG_SHAPE(capacity, 1 + s->max_new))))
            return MRG_ERR_OOM;
    size_t nk = (size_t)capacity * (size_t)select_k;
    g->packed = malloc(sizeof(int32_t) * 3 * nk);
    g->ids = malloc(sizeof(int32_t) * nk);
    g->score = malloc(sizeof(double) * nk);
    if (!g->packed || !g->ids || !g->score) return mrg_error(MRG_ERR_OOM, "out of host memory");
    g->cur = 0;
    g->hlen = s->bos >= 0 ? 1 : 0;
    return s->bos >= 0 ? mrg_tensor_fill(g->hist[0], (float)s->bos) : MRG_OK;
}

mrg_status gen_session_start(gen_session *s, mrg_llama *lm, mrg_tensor *prefix,
                             const mrg_gen_opts *opts, int capacity, int select_k,
                             bool log_softmax) {
    memset(s, 0, sizeof *s);
    if (!lm || !prefix) return mrg_error(MRG_ERR_INVALID_ARG, "generate: NULL model or prefix");
    const mrg_llama_config *c = &lm->cfg;
    if (prefix->ndim != 3 || prefix->shape[2] != c->dim || prefix->dtype != MRG_F32 ||
        prefix->shape[0] < 1 || prefix->shape[1] < 1) {
        char sh[64];
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "generate: the prefix must be f32 (B, T0, %d), got %s %s", c->dim,
                         mrg_dtype_name(prefix->dtype), mrg_shape_str(prefix, sh, sizeof sh));
    }
    if (prefix->dev != lm->dev)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: the prefix is on another device");
    int64_t T0 = prefix->shape[1];
    if (T0 >= c->max_seq)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "generate: the prefix (%lld positions) fills the model's %d",
                         (long long)T0, c->max_seq);
    s->lm = lm;
    s->dev = lm->dev;
    s->V = c->vocab_size;
    s->B = (int)prefix->shape[0];
    s->eos = opts->eos_id >= 0 ? opts->eos_id : c->eos_id;
    s->bos = c->bos_id >= 0 && c->bos_id < c->vocab_size ? c->bos_id : -1;
    if (s->eos >= s->V)
        return mrg_error(MRG_ERR_INVALID_ARG, "generate: eos id %d outside the vocabulary (%d)",
                         s->eos, s->V);
    /* the model was trained for max_seq positions: decode no further */
    s->max_new = opts->max_new;
    s->stride = opts->max_new;
    if (T0 + s->max_new > c->max_seq) s->max_new = (int)(c->max_seq - T0);
    s->grad_prev = mrg_grad_set_enabled(s->dev, false);
    if (select_k > 0 && mrg_gen_select_on_device(s->dev)) {
        MRG_TRY(select_start(s, opts, capacity, select_k, log_softmax));
    } else if (!(s->logits = malloc(sizeof(float) * (size_t)capacity * (size_t)s->V))) {
        return mrg_error(MRG_ERR_OOM, "out of host memory");
    }
    s->kv = mrg_kv_cache_new_dtype(lm, capacity, T0 + s->max_new, opts->kv_dtype);
    if (!s->kv) return MRG_ERR_OOM;
    /* the cache starts with B rows in use (its capacity holds the beams) */
    int32_t *rows = malloc(sizeof *rows * (size_t)s->B);
    if (!rows) return mrg_error(MRG_ERR_OOM, "out of host memory");
    for (int b = 0; b < s->B; b++) rows[b] = b;
    mrg_status st = mrg_kv_cache_select(s->kv, rows, s->B);
    free(rows);
    if (st != MRG_OK) return st;
    s->stats.prefix_len = T0;
    s->stats.prefill_forwards = 1;
    s->stats.prefill_rows = s->B;
    s->stats.max_rows = s->B;
    mrg_tensor *lg = mrg_llama_forward(lm, prefix, NULL, s->kv, true); /* (B, V) */
    return take_step(s, lg, s->B, NULL, NULL);
}

mrg_status gen_session_step(gen_session *s, const int32_t *src, const int32_t *tok, int n) {
    MRG_TRY(mrg_kv_cache_select(s->kv, src, n));
    if (n > s->stats.max_rows) s->stats.max_rows = n;
    mrg_tensor *ids = mrg_tensor_from_i32(s->dev, MRG_SHAPE(n, 1), tok);
    if (!ids) return MRG_ERR_OOM;
    /* the rows' sources for their histories on the device (none: row r
     * continues row r, as greedy rows do until one ends) */
    mrg_tensor *src_dev = NULL;
    bool moved = false;
    for (int r = 0; r < n; r++) moved |= src[r] != r;
    if (s->sel.on && moved && !(src_dev = mrg_tensor_from_i32(s->dev, MRG_SHAPE(n), src)))
        return MRG_ERR_OOM;
    mrg_tensor *lg = mrg_llama_forward_ids(s->lm, ids, NULL, s->kv, true); /* (n, V) */
    s->stats.steps++;
    return take_step(s, lg, n, src_dev, ids);
}

void gen_session_end(gen_session *s, mrg_gen_stats *stats) {
    if (s->kv) s->stats.cache_len = s->kv->len;
    if (stats) *stats = s->stats;
    if (s->dev) {
        mrg_step_reset(s->dev);
        mrg_grad_set_enabled(s->dev, s->grad_prev);
    }
    mrg_kv_cache_free(s->kv);
    free(s->logits);
    for (int i = 0; i < 2; i++) mrg_tensor_free(s->sel.hist[i]);
    free(s->sel.packed);
    free(s->sel.ids);
    free(s->sel.score);
    memset(s, 0, sizeof *s);
}

/* ---- processors ----------------------------------------------------------- */

/* One body for float scores (greedy, sampling) and double ones (beam). */
#define GEN_REPETITION(name, T)                                                    \
    void name(T *scores, const int32_t *toks, int n, T penalty, int *mark, int stamp) { \
        for (int i = 0; i < n; i++) {                                              \
            int t = toks[i];                                                       \
            if (mark[t] == stamp) continue;                                        \
            mark[t] = stamp;                                                       \
            scores[t] = scores[t] < 0 ? scores[t] * penalty : scores[t] / penalty; \
        }                                                                          \
    }
GEN_REPETITION(gen_repetition, float)
GEN_REPETITION(gen_repetition_d, double)

/* ---- greedy and sampling ---------------------------------------------------- */

mrg_status gen_greedy_sample(gen_session *s, const mrg_gen_opts *opts, int32_t *out_ids,
                             int *out_lens) {
    const int B = s->B, V = s->V, N = s->max_new;
    int *active = malloc(sizeof(int) * (size_t)B);   /* study of each cache row */
    int32_t *src = malloc(sizeof(int32_t) * (size_t)B);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B);
    int *mark = calloc((size_t)V, sizeof(int));
    mrg_sampler **smp = calloc((size_t)B, sizeof *smp);
    mrg_status st = MRG_OK;
    if (!active || !src || !tok || !mark || !smp) {
        st = mrg_error(MRG_ERR_OOM, "out of host memory");
        goto out;
    }
    float temp = opts->mode == MRG_GEN_SAMPLE ? opts->temperature : 0.0f;
    for (int b = 0; b < B; b++) {
        active[b] = b;
        out_lens[b] = 0;
        if (!(smp[b] = mrg_sampler_new(V, temp, opts->top_p > 0 ? opts->top_p : 1.0f,
                                       opts->seed + (uint64_t)b))) {
            st = MRG_ERR_INVALID_ARG;
            goto out;
        }
    }
    int n = B, stamp = 0;
    for (int t = 0; n > 0; t++) {
        /* rows of s->logits are the active studies, in order */
        int kept = 0;
        for (int r = 0; r < n; r++) {
            int b = active[r];
            int32_t *ids = out_ids + (size_t)b * (size_t)s->stride;
            int next;
            if (s->sel.on) {
                /* the device's argmax of the processed logits (temperature
                 * 0), with the sampler's refusal of a row without a finite
                 * maximum */
                next = s->sel.ids[r];
                if (next < 0 || !isfinite(s->sel.score[r])) {
                    mrg_error(MRG_ERR_INVALID_ARG, "sampler: the logits hold no finite value");
                    next = -1;
                }
            } else {
                float *lg = s->logits + (size_t)r * V;
                if (opts->repetition_penalty != 1.0f) {
                    /* the sequence is [BOS, generated tokens] */
                    ++stamp;
                    if (s->bos >= 0)
                        gen_repetition(lg, &s->bos, 1, opts->repetition_penalty, mark, stamp);
                    gen_repetition(lg, ids, out_lens[b], opts->repetition_penalty, mark, stamp);
                }
                if (t < opts->min_new) lg[s->eos] = -INFINITY;
                next = mrg_sampler_sample(smp[b], lg);
            }
            if (next < 0) {
                st = mrg_error_context(MRG_ERR_INVALID_ARG, "generate: study %d", b);
                goto out;
            }
            if (next == s->eos) continue; /* the row ends */
            ids[out_lens[b]++] = next;
            if (out_lens[b] >= N) continue;
            src[kept] = r;
            tok[kept] = next;
            active[kept++] = b;
        }
        n = kept;
        if (n > 0 && (st = gen_session_step(s, src, tok, n)) != MRG_OK) goto out;
    }
out:
    if (smp)
        for (int b = 0; b < B; b++) mrg_sampler_free(smp[b]);
    free(smp);
    free(mark);
    free(tok);
    free(src);
    free(active);
    return st;
}

/* ---- entry points ------------------------------------------------------------ */

mrg_status mrg_generate_batch_from_embeddings(mrg_llama *lm, mrg_tensor *prefix_emb,
                                              const mrg_gen_opts *opts, int32_t *out_ids,
                                              int *out_lens, mrg_gen_stats *stats) {
    MRG_TRY(mrg_gen_opts_check(opts));
    if (!out_ids || !out_lens) return mrg_error(MRG_ERR_INVALID_ARG, "generate: NULL output");
    /* as Hugging Face's generate(): one beam without sampling is greedy search */
    bool beam = opts->mode == MRG_GEN_BEAM && opts->beam > 1;
    int64_t B = prefix_emb && prefix_emb->ndim == 3 ? prefix_emb->shape[0] : 1;
    /* greedy search (sampling at temperature 0 too) takes each row's best
     * token, beam search each row's 2K best log-probs: chosen on the device
     * where mrg_gen_select_on_device() says so */
    bool greedy = opts->mode != MRG_GEN_SAMPLE || opts->temperature == 0;
    int select_k = beam ? 2 * opts->beam : greedy ? 1 : 0;
    gen_session s;
    mrg_status st = gen_session_start(&s, lm, prefix_emb, opts, (int)B * (beam ? opts->beam : 1),
                                      select_k, beam);
    if (st == MRG_OK)
        st = beam ? gen_beam(&s, opts, out_ids, out_lens)
                  : gen_greedy_sample(&s, opts, out_ids, out_lens);
    gen_session_end(&s, stats);
    return st;
}

mrg_status mrg_generate_from_embeddings(mrg_llama *lm, mrg_tensor *prefix_emb,
                                        const mrg_gen_opts *opts, int32_t *out_ids,
                                        int *out_len) {
    if (prefix_emb && prefix_emb->ndim == 3 && prefix_emb->shape[0] != 1)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "generate: one study expects a (1, T0, D) prefix; use the batch call");
    return mrg_generate_batch_from_embeddings(lm, prefix_emb, opts, out_ids, out_len, NULL);
}
