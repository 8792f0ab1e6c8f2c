/* Beam search over B studies × K beams in one KV cache, with the Hugging
 * Face (transformers 4.30.2) semantics spelled out in mrg/generate.h:
 * log-softmax scores, repetition penalty and min_new on those scores, top
 * 2K candidates, finished hypotheses scored sum / len^length_penalty with
 * BOS counted in len, and early_stopping=False. Studies that are done leave the cache; the others
 * keep K rows each, reordered after every step (mrg_kv_cache_select). The
 * scores are kept in double on the host. Where the device chooses
 * (mrg_gen_select_on_device), the log-softmax, the processors and each
 * row's top 2K run there (mrg_select_topk) and only those candidates come
 * back; the bookkeeping below stays on the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/topk.h"
#include "generate/gen_internal.h"

typedef struct hyp {
    double score;
    int len;
    int32_t *tok; /* (max_new) */
} hyp;

typedef struct study {
    int32_t *tok, *tok_new;    /* (K, N) ids of the beams */
    double *score, *score_new; /* (K) running sums of processed log-probs */
    hyp *h;                    /* K + 1 slots, in insertion order */
    int nh;
    double worst; /* worst kept hypothesis score (1e9 while there is none) */
    bool done;
} study;

typedef struct beam_ctx {
    int K, N, V, eos;
    int bos;   /* or -1 */
    int lead;  /* 1 when the sequence starts with BOS: it counts in lengths */
    double lp; /* length penalty */
} beam_ctx;

/* BeamHypotheses.add: keeps the K best finished hypotheses. len counts the
 * generated tokens; the length penalty sees the whole sequence (BOS too). */
static void hyp_add(const beam_ctx *c, study *st, const int32_t *tok, int len, double sum) {
    int seq = len + c->lead;
    double score = sum / pow(seq < 1 ? 1.0 : (double)seq, c->lp);
    if (st->nh >= c->K && !(score > st->worst)) return;
    hyp *slot = &st->h[st->nh++];
    slot->score = score;
    slot->len = len;
    memcpy(slot->tok, tok, sizeof(int32_t) * (size_t)len);
    if (st->nh <= c->K) {
        if (score < st->worst) st->worst = score;
        return;
    }
    /* K + 1 kept: drop the lowest (the first on ties, as sorting (score,
     * index) pairs does); the new worst is the second lowest */
    int lo = 0;
    for (int i = 1; i < st->nh; i++)
        if (st->h[i].score < st->h[lo].score) lo = i;
    double second = INFINITY;
    for (int i = 0; i < st->nh; i++)
        if (i != lo && st->h[i].score < second) second = st->h[i].score;
    int32_t *buf = st->h[lo].tok; /* recycled into the freed last slot */
    memmove(&st->h[lo], &st->h[lo + 1], sizeof(hyp) * (size_t)(st->nh - lo - 1));
    st->nh--;
    st->h[st->nh].tok = buf;
    st->worst = second;
}

/* BeamHypotheses.is_done with early_stopping=False, t tokens generated
 * before this step. Hugging Face divides by the sequence length + 1 (the
 * length the new candidates would have). */
static bool hyp_is_done(const beam_ctx *c, const study *st, double best, int t) {
    if (st->nh < c->K) return false;
    return st->worst >= best / pow((double)(t + c->lead + 1), c->lp);
}

/* The highest-scoring hypothesis (the latest one on ties, as a stable sort
 * followed by pop() gives). */
static const hyp *hyp_best(const study *st) {
    const hyp *b = NULL;
    for (int i = 0; i < st->nh; i++)
        if (!b || st->h[i].score >= b->score) b = &st->h[i];
    return b;
}

static void study_free(study *st, int K) {
    if (st->h)
        for (int i = 0; i <= K; i++) free(st->h[i].tok);
    free(st->h);
    free(st->tok);
    free(st->tok_new);
    free(st->score);
    free(st->score_new);
}

static bool study_init(study *st, int K, int N) {
    memset(st, 0, sizeof *st);
    st->tok = malloc(sizeof(int32_t) * (size_t)K * (size_t)N);
    st->tok_new = malloc(sizeof(int32_t) * (size_t)K * (size_t)N);
    st->score = malloc(sizeof(double) * (size_t)K);
    st->score_new = malloc(sizeof(double) * (size_t)K);
    st->h = calloc((size_t)K + 1, sizeof(hyp));
    if (!st->tok || !st->tok_new || !st->score || !st->score_new || !st->h) return false;
    for (int i = 0; i <= K; i++)
        if (!(st->h[i].tok = malloc(sizeof(int32_t) * (size_t)N))) return false;
    st->worst = 1e9;
    return true;
}

mrg_status gen_beam(gen_session *s, const mrg_gen_opts *opts, int32_t *out_ids, int *out_lens) {
    const beam_ctx c = {opts->beam, s->max_new, s->V, s->eos, s->bos, s->bos >= 0,
                        (double)opts->length_penalty};
    const int K = c.K, N = c.N, V = c.V, B = s->B;
    if (2 * K > K * V)
        return mrg_error(MRG_ERR_INVALID_ARG, "beam search: vocabulary %d too small", V);
    study *S = calloc((size_t)B, sizeof *S);
    int *act = malloc(sizeof(int) * (size_t)B);          /* studies in cache order */
    int32_t *src = malloc(sizeof(int32_t) * (size_t)B * (size_t)K);
    int32_t *tin = malloc(sizeof(int32_t) * (size_t)B * (size_t)K);
    double *lp = malloc(sizeof(double) * (size_t)V);
    int *mark = calloc((size_t)V, sizeof(int));
    double *top_sc = malloc(sizeof(double) * 2 * (size_t)K);
    int32_t *top_ix = malloc(sizeof(int32_t) * 2 * (size_t)K);
    int *from = malloc(sizeof(int) * (size_t)K);
    mrg_status st = MRG_OK;
    bool ok = S && act && src && tin && lp && mark && top_sc && top_ix && from;
    for (int b = 0; ok && b < B; b++) ok = study_init(&S[b], K, N);
    if (!ok) {
        st = mrg_error(MRG_ERR_OOM, "out of host memory");
        goto out;
    }
    for (int b = 0; b < B; b++) act[b] = b;
    int n_act = B, t = 0, stamp = 0;
    for (;;) {
        int kept = 0;
        for (int p = 0; p < n_act; p++) {
            study *sd = &S[act[p]];
            int m = 0;
            for (int k = 0; k < K; k++) {
                /* before the first step the cache holds one row per study */
                const int row = t == 0 ? p : p * K + k;
                double base = t == 0 ? (k == 0 ? 0.0 : -1e9) : sd->score[k];
                if (s->sel.on) {
                    /* the row's 2K best processed log-probs, chosen on the
                     * device in the order below (higher first, lower id on
                     * ties): they hold the row's share of the study's top
                     * 2K, offered here row by row as the host's loop over
                     * k·V + v does. (Exact unless adding base rounds two
                     * different log-probs of a row to one sum, which needs
                     * them within ~1e-16 of |base| of each other.) */
                    const int32_t *ci = s->sel.ids + (size_t)row * 2 * K;
                    const double *cs = s->sel.score + (size_t)row * 2 * K;
                    for (int c2 = 0; c2 < 2 * K && ci[c2] >= 0; c2++)
                        mrg_top_insert(top_sc, top_ix, &m, 2 * K, cs[c2] + base, k * V + ci[c2]);
                    continue;
                }
                const float *lg = s->logits + (size_t)row * V;
                mrg_log_softmax_row_d(lg, V, lp);
                if (opts->repetition_penalty != 1.0f) { /* over [BOS, generated tokens] */
                    ++stamp;
                    if (c.bos >= 0)
                        gen_repetition_d(lp, &c.bos, 1, opts->repetition_penalty, mark, stamp);
                    gen_repetition_d(lp, sd->tok + (size_t)k * N, t, opts->repetition_penalty,
                                     mark, stamp);
                }
                if (t < opts->min_new) lp[c.eos] = -INFINITY;
                for (int v = 0; v < V; v++)
                    mrg_top_insert(top_sc, top_ix, &m, 2 * K, lp[v] + base, k * V + v);
            }
            int nb = 0;
            for (int r = 0; r < m && nb < K; r++) {
                int k = top_ix[r] / V, v = top_ix[r] % V;
                if (v == c.eos) {
                    if (r < K) hyp_add(&c, sd, sd->tok + (size_t)k * N, t, top_sc[r]);
                    continue;
                }
                int32_t *row = sd->tok_new + (size_t)nb * N;
                memcpy(row, sd->tok + (size_t)k * N, sizeof(int32_t) * (size_t)t);
                row[t] = v;
                sd->score_new[nb] = top_sc[r];
                from[nb++] = k;
            }
            if (nb < K) {
                st = mrg_error(MRG_ERR_INVALID_ARG,
                               "beam search: fewer than %d continuations (eos everywhere?)", K);
                goto out;
            }
            sd->done = hyp_is_done(&c, sd, top_sc[0], t);
            int32_t *ti = sd->tok;
            sd->tok = sd->tok_new;
            sd->tok_new = ti;
            double *ts = sd->score;
            sd->score = sd->score_new;
            sd->score_new = ts;
            if (sd->done) continue;
            for (int k = 0; k < K; k++) {
                src[kept * K + k] = t == 0 ? p : p * K + from[k];
                tin[kept * K + k] = sd->tok[(size_t)k * N + t];
            }
            act[kept++] = act[p];
        }
        t++;
        if (t >= N || kept == 0) break;
        n_act = kept;
        if ((st = gen_session_step(s, src, tin, n_act * K)) != MRG_OK) goto out;
    }
    for (int b = 0; b < B; b++) {
        study *sd = &S[b];
        if (!sd->done)
            for (int k = 0; k < K; k++) hyp_add(&c, sd, sd->tok + (size_t)k * N, t, sd->score[k]);
        const hyp *best = hyp_best(sd);
        out_lens[b] = best->len;
        memcpy(out_ids + (size_t)b * s->stride, best->tok, sizeof(int32_t) * (size_t)best->len);
    }
out:
    if (S)
        for (int b = 0; b < B; b++) study_free(&S[b], K);
    free(S);
    free(from);
    free(top_ix);
    free(top_sc);
    free(mark);
    free(lp);
    free(tin);
    free(src);
    free(act);
    return st;
}
