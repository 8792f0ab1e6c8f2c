/* Decoding without copies, bit for bit as before, on every device:
 *   - mrg_sdpa_cache (attention reading a KV cache in place, in runs of
 *     cache rows) equals mrg_sdpa_composed (the GEMM + softmax composition
 *     it reads the cache with) on the gathered, sliced keys and values
 *     exactly (grouped and plain heads, one and two queries, with and
 *     without a key mask, rows in and out of order), and refuses what it
 *     cannot do;
 *   - a LLaMA decoding through a cache that beam search reorders (the
 *     cache permutes its row map and copies only repeated rows) gives
 *     exactly the logits of a cache whose rows are physically gathered
 *     after every reorder, as the cache did before; also for a forward
 *     with gradients after a reorder, and for the MHA and GQA models;
 *   - a permutation moves no cached data, only the map. */
#include <string.h>

#include "mrg/autograd.h"
#include "mrg/llama.h"
#include "mrg/ops.h"
#include "testutil.h"

static bool same_bits(const char *what, const mrg_tensor *got, const mrg_tensor *want) {
    int64_t n = mrg_numel(want);
    if (!got || mrg_numel(got) != n) {
        fprintf(stderr, "%s: missing or wrong size (%s)\n", what, mrg_last_error());
        return false;
    }
    float *g = test_download(got), *w = test_download(want);
    bool same = g && w && memcmp(g, w, sizeof(float) * (size_t)n) == 0;
    if (g && w && !same)
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&g[i], &w[i], sizeof(float)) != 0) {
                fprintf(stderr, "%s: element %lld: %.9g vs %.9g\n", what, (long long)i, g[i],
                        w[i]);
                break;
            }
    free(g);
    free(w);
    return same;
}

/* ---- the op -------------------------------------------------------------- */

static void test_op(mrg_device *dev, const char *dname) {
    const int64_t R = 3, Hkv = 2, Lmax = 7, D = 4, len = 5;
    float kc[3 * 2 * 7 * 4], vc[3 * 2 * 7 * 4];
    test_fill_uniform(kc, R * Hkv * Lmax * D, 11, -1, 1);
    test_fill_uniform(vc, R * Hkv * Lmax * D, 12, -1, 1);
    /* persistent, as a cache is: they outlive mrg_step_reset */
    mrg_tensor *kt = test_param_f32(dev, MRG_F32, MRG_SHAPE(R, Hkv, Lmax, D), kc, false, "k");
    mrg_tensor *vt = test_param_f32(dev, MRG_F32, MRG_SHAPE(R, Hkv, Lmax, D), vc, false, "v");
    static const int32_t in_order[2] = {0, 1}, swapped[2] = {2, 0}, run[2] = {1, 2};
    const int32_t *row_sets[4] = {NULL, in_order, swapped, run};
    for (int H = 2; H <= 4; H += 2)          /* plain heads (H = Hkv), grouped (G = 2) */
        for (int64_t Tq = 1; Tq <= 2; Tq++)  /* decoding one token, or two */
            for (int masked = 0; masked <= 1; masked++)
                for (int rs = 0; rs < 4; rs++) {
                    const int64_t B = 2;
                    const int32_t *rows = row_sets[rs];
                    float qh[2 * 4 * 2 * 4], mk[2 * 5];
                    test_fill_uniform(qh, B * H * Tq * D, 13 + (unsigned)rs, -1, 1);
                    for (int64_t i = 0; i < B * len; i++) mk[i] = (i % 4 == 1) ? -1e9f : 0.0f;
                    /* the keys and values the cache gave before: gathered
                     * rows, first len positions */
                    float ks[2 * 2 * 5 * 4], vs[2 * 2 * 5 * 4];
                    for (int64_t b = 0; b < B; b++)
                        for (int64_t h = 0; h < Hkv; h++)
                            for (int64_t t = 0; t < len; t++)
                                for (int64_t d = 0; d < D; d++) {
                                    int64_t r = rows ? rows[b] : b;
                                    int64_t src = ((r * Hkv + h) * Lmax + t) * D + d;
                                    int64_t dst = ((b * Hkv + h) * len + t) * D + d;
                                    ks[dst] = kc[src];
                                    vs[dst] = vc[src];
                                }
                    mrg_tensor *q = mrg_tensor_from_f32(dev, MRG_SHAPE(B, H, Tq, D), qh);
                    mrg_tensor *m = masked ? mrg_tensor_from_f32(dev, MRG_SHAPE(B, len), mk) : NULL;
                    mrg_tensor *want = mrg_sdpa_composed(
                        q, mrg_tensor_from_f32(dev, MRG_SHAPE(B, Hkv, len, D), ks),
                        mrg_tensor_from_f32(dev, MRG_SHAPE(B, Hkv, len, D), vs), m, true, 0.5f);
                    mrg_tensor *got = mrg_sdpa_cache(q, kt, vt, rows, len, m, true, 0.5f);
                    char what[160];
                    snprintf(what, sizeof what, "%s sdpa_cache H %d Tq %lld mask %d rows %d", dname,
                             H, (long long)Tq, masked, rs);
                    CHECK(want != NULL);
                    CHECK(same_bits(what, got, want));
                    mrg_step_reset(dev);
                }
    /* refusals */
    float qh[2 * 2 * 1 * 4] = {0};
    mrg_tensor *q = mrg_tensor_from_f32(dev, MRG_SHAPE(2, 2, 1, 4), qh);
    CHECK(mrg_sdpa_cache(q, kt, vt, NULL, Lmax + 1, NULL, true, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "positions") != NULL);
    CHECK(mrg_sdpa_cache(q, kt, vt, (const int32_t[]){0, 3}, 4, NULL, true, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "row 3") != NULL);
    mrg_tensor *q3 = mrg_tensor_from_f32(dev, MRG_SHAPE(1, 3, 1, 4), qh);
    CHECK(mrg_sdpa_cache(q3, kt, vt, NULL, 4, NULL, true, 1.0f) == NULL); /* 3 heads, 2 kv */
    mrg_tensor *p = test_param_f32(dev, MRG_F32, MRG_SHAPE(2, 2, 1, 4), qh, true, "q");
    bool prev = mrg_grad_set_enabled(dev, true);
    CHECK(mrg_sdpa_cache(p, kt, vt, NULL, 4, NULL, true, 1.0f) == NULL);
    CHECK(strstr(mrg_last_error(), "gradient") != NULL);
    mrg_grad_set_enabled(dev, prev);
    mrg_tensor_free(p);
    mrg_tensor_free(kt);
    mrg_tensor_free(vt);
    mrg_step_reset(dev);
}

/* ---- a LLaMA decoding through a reordered cache -------------------------- */

/* The cache as it behaved before: rows physically gathered (row map left
 * as the identity), through a host round trip. */
static void gather_rows(mrg_kv_cache *c, const int32_t *src, int64_t nb) {
    int64_t per_row = c->n_kv_heads * c->max_len * c->head_dim;
    int64_t n = c->capacity * per_row;
    float *old = malloc(sizeof(float) * (size_t)n), *cur = malloc(sizeof(float) * (size_t)n);
    CHECK(old && cur);
    for (int l = 0; l < c->n_layers && old && cur; l++) {
        mrg_tensor *kv[2] = {c->k[l], c->v[l]};
        for (int j = 0; j < 2; j++) {
            CHECK_OK(mrg_tensor_download(kv[j], old));
            memcpy(cur, old, sizeof(float) * (size_t)n);
            for (int64_t b = 0; b < nb; b++)
                for (int64_t h = 0; h < c->n_kv_heads; h++)
                    memcpy(cur + b * per_row + h * c->max_len * c->head_dim,
                           old + src[b] * per_row + h * c->max_len * c->head_dim,
                           sizeof(float) * (size_t)(c->len * c->head_dim));
            CHECK_OK(mrg_tensor_upload(kv[j], cur));
        }
    }
    c->batch = nb;
    free(old);
    free(cur);
}

static bool is_permutation(const mrg_kv_cache *c) {
    int seen[16] = {0};
    for (int64_t b = 0; b < c->capacity; b++) {
        if (c->row[b] < 0 || c->row[b] >= c->capacity || seen[c->row[b]]) return false;
        seen[c->row[b]] = 1;
    }
    return true;
}

static void test_model(mrg_device *dev, const char *dname, const char *model) {
    mrg_llama *m = mrg_llama_load(test_golden_path(model), dev, NULL);
    CHECK(m != NULL);
    if (!m) return;
    const int cap = 3, P = 6, steps = 6;
    mrg_kv_cache *a = mrg_kv_cache_new(m, cap, P + steps + 2);
    mrg_kv_cache *b = mrg_kv_cache_new(m, cap, P + steps + 2);
    CHECK(a && b);
    if (!a || !b) {
        mrg_kv_cache_free(a);
        mrg_kv_cache_free(b);
        mrg_llama_free(m);
        return;
    }
    bool prev = mrg_grad_set_enabled(dev, false);
    int32_t prompt[3 * 6];
    for (int i = 0; i < cap * P; i++) prompt[i] = 3 + (i * 7) % 50;
    mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(cap, P), prompt);
    mrg_tensor *la = mrg_llama_forward_ids(m, ids, NULL, a, true);
    mrg_tensor *lb = mrg_llama_forward_ids(m, ids, NULL, b, true);
    char what[160];
    snprintf(what, sizeof what, "%s %s prefill", dname, model);
    CHECK(same_bits(what, la, lb));
    mrg_step_reset(dev);

    /* beam-search-like reorders: a permutation, repeats, fewer rows, more */
    static const int32_t srcs[6][3] = {{1, 0, 2}, {0, 0, 1}, {2, 2, 2}, {1, 0, 0},
                                       {1, 0, 0}, {0, 1, 1}};
    static const int64_t nbs[6] = {3, 3, 3, 2, 2, 3};
    int64_t nb_prev = cap;
    for (int s = 0; s < steps; s++) {
        int64_t nb = nbs[s];
        int32_t src[3];
        for (int64_t i = 0; i < nb; i++) src[i] = srcs[s][i] < nb_prev ? srcs[s][i] : 0;
        int32_t before[3];
        memcpy(before, a->row, sizeof before);
        CHECK_OK(mrg_kv_cache_select(a, src, nb));
        CHECK(is_permutation(a));
        if (s == 0) /* a permutation only swaps indices */
            for (int i = 0; i < 3; i++) CHECK(a->row[i] == before[src[i]]);
        gather_rows(b, src, nb);
        int32_t tok[3] = {5 + s, 9 + s, 17 + s};
        mrg_tensor *t = mrg_tensor_from_i32(dev, MRG_SHAPE(nb, 1), tok);
        la = mrg_llama_forward_ids(m, t, NULL, a, true);
        lb = mrg_llama_forward_ids(m, t, NULL, b, true);
        snprintf(what, sizeof what, "%s %s decode step %d", dname, model, s);
        CHECK(same_bits(what, la, lb));
        mrg_step_reset(dev);
        nb_prev = nb;
    }

    /* a forward with gradients after a reorder gathers the past through
     * the map */
    const int32_t src[3] = {2, 0, 1};
    CHECK_OK(mrg_kv_cache_select(a, src, 3));
    gather_rows(b, src, 3);
    mrg_grad_set_enabled(dev, true);
    int64_t Dm = m->cfg.dim;
    float *xh = malloc(sizeof(float) * (size_t)(3 * Dm));
    test_fill_uniform(xh, 3 * Dm, 21, -0.5f, 0.5f);
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(3, 1, Dm), xh, true, "x");
    la = mrg_llama_forward(m, x, NULL, a, true);
    lb = mrg_llama_forward(m, x, NULL, b, true);
    snprintf(what, sizeof what, "%s %s forward with gradients", dname, model);
    CHECK(la && la->requires_grad);
    CHECK(same_bits(what, la, lb));
    mrg_step_reset(dev);
    mrg_tensor_free(x);
    free(xh);
    mrg_grad_set_enabled(dev, prev);
    mrg_kv_cache_free(a);
    mrg_kv_cache_free(b);
    mrg_llama_free(m);
}

int main(void) {
    for (test_device_iter it = {0}; test_next_device(&it);) {
        test_op(it.dev, it.name);
        test_model(it.dev, it.name, "llama/hf_mha_f32");
        test_model(it.dev, it.name, "llama/hf_gqa_bf16");
    }
    return test_finish("kv_inplace");
}
