/* LLaMA decoder against PyTorch (tools/ref/llama_ref.py writes the models in
 * tests/golden/llama and their expected outputs), on every device:
 *   - logits of the whole prompt and of the last position only, within
 *     1e-4 relative (float64 reference): Hugging Face MHA f32, Hugging Face
 *     GQA bf16 (tied, sharded), llama2.c GQA (shared classifier), llama2.c
 *     MHA (separate classifier);
 *   - a 32-token greedy continuation through the KV cache, identical ids,
 *     and the cached logits equal to a full recompute of the sequence;
 *   - chunked prefill (two chunks) equals one prefill;
 *   - the gradient of a cross-entropy loss with respect to the input
 *     embeddings (through the frozen weights) against PyTorch;
 *   - batched prefill with a left-padding key mask, and KV-cache reordering
 *     along the batch (beam search);
 *   - bf16 weights stay bf16 (half the bytes of f32), load-time conversion,
 *     a Hugging Face save/load round trip, and clear errors for damaged
 *     checkpoints;
 *   - the sampler (greedy, seeded temperature/top-p). */
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/llama.h"
#include "mrg/sampling.h"
#include "testutil.h"

#define N_NEW 32
#define RTOL 1e-4

typedef struct model_case {
    const char *name, *path; /* path inside tests/golden/llama */
    mrg_dtype wdtype;
    bool tied;
    int n_kv_heads, n_heads;
} model_case;

static const model_case CASES[] = {
    {"hf_mha_f32", "llama/hf_mha_f32", MRG_F32, false, 4, 4},
    {"hf_gqa_bf16", "llama/hf_gqa_bf16", MRG_BF16, true, 2, 4},
    {"l2c_gqa", "llama/l2c_gqa.bin", MRG_F32, true, 2, 4},
    {"l2c_mha_cls", "llama/l2c_mha_cls.bin", MRG_F32, false, 2, 2},
};

/* Golden values of one model. */
typedef struct golden {
    int32_t prompt[64];
    int T;
    float *logits; /* (T, V) */
    int32_t greedy[N_NEW];
    float *grad_x; /* (T, D) */
} golden;

static bool golden_load(const mrg_st_file *f, const char *name, golden *g) {
    char key[96];
    int64_t n;
    memset(g, 0, sizeof *g);
    snprintf(key, sizeof key, "%s/prompt", name);
    float *p = test_golden_f32(f, key, &n);
    if (!p || n > 64) {
        free(p);
        return false;
    }
    g->T = (int)n;
    for (int i = 0; i < g->T; i++) g->prompt[i] = (int32_t)p[i];
    free(p);
    snprintf(key, sizeof key, "%s/greedy", name);
    float *q = test_golden_f32(f, key, &n);
    if (!q || n != N_NEW) {
        free(q);
        return false;
    }
    for (int i = 0; i < N_NEW; i++) g->greedy[i] = (int32_t)q[i];
    free(q);
    snprintf(key, sizeof key, "%s/logits", name);
    g->logits = test_golden_f32(f, key, &n);
    snprintf(key, sizeof key, "%s/grad_x", name);
    g->grad_x = test_golden_f32(f, key, &n);
    return g->logits && g->grad_x;
}

/* Logits of ids (1, T) as host floats (T·V, malloc'd); NULL on failure. */
static float *logits_of(mrg_llama *m, const int32_t *ids, int T, mrg_kv_cache *kv, bool last_only) {
    mrg_tensor *t = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, T), ids);
    mrg_tensor *lg = mrg_llama_forward_ids(m, t, NULL, kv, last_only);
    float *h = lg ? malloc(sizeof(float) * (size_t)mrg_numel(lg)) : NULL;
    if (!h || mrg_tensor_to_f32(lg, h) != MRG_OK) {
        fprintf(stderr, "  forward failed: %s\n", mrg_last_error());
        free(h);
        return NULL;
    }
    return h;
}

/* Logits (full and last-only) against the reference. */
static void check_logits(mrg_llama *m, const golden *g, const char *what) {
    int V = m->cfg.vocab_size, T = g->T;
    double atol = RTOL * test_max_abs(g->logits, (int64_t)T * V);
    float *full = logits_of(m, g->prompt, T, NULL, false);
    CHECK(full != NULL);
    if (full) {
        char w[256];
        snprintf(w, sizeof w, "%s logits", what);
        CHECK(test_close(w, full, g->logits, (int64_t)T * V, RTOL, atol));
    }
    free(full);
    float *last = logits_of(m, g->prompt, T, NULL, true);
    CHECK(last != NULL);
    if (last) {
        char w[256];
        snprintf(w, sizeof w, "%s last-position logits", what);
        CHECK(test_close(w, last, g->logits + (int64_t)(T - 1) * V, V, RTOL, atol));
    }
    free(last);
    mrg_step_reset(m->dev);
}

/* Greedy decoding through the KV cache; then the whole sequence once
 * without a cache: the cached logits of every step must equal the
 * recomputed ones. */
static void check_greedy(mrg_llama *m, const golden *g, const char *what) {
    int V = m->cfg.vocab_size, T = g->T, total = T + N_NEW;
    mrg_kv_cache *kv = mrg_kv_cache_new(m, 1, total);
    CHECK(kv != NULL);
    if (!kv) return;
    int32_t seq[128];
    memcpy(seq, g->prompt, sizeof(int32_t) * (size_t)T);
    float *cached =
        malloc(sizeof(float) * (size_t)N_NEW * (size_t)V); /* logits before each new token */
    bool ok = cached != NULL;
    for (int i = 0; ok && i < N_NEW; i++) {
        /* the prompt in one batched prefill, then one token at a time */
        float *lg =
            i == 0 ? logits_of(m, seq, T, kv, true) : logits_of(m, seq + T + i - 1, 1, kv, true);
        mrg_step_reset(m->dev);
        if (!lg) {
            ok = false;
            break;
        }
        memcpy(cached + (size_t)i * (size_t)V, lg, sizeof(float) * (size_t)V);
        seq[T + i] = mrg_argmax(lg, V);
        free(lg);
    }
    CHECK(ok);
    CHECK(ok && kv->len == total - 1);
    if (ok) {
        int same = 0;
        for (int i = 0; i < N_NEW; i++) same += seq[T + i] == g->greedy[i];
        if (same != N_NEW) {
            fprintf(stderr, "  %s: greedy continuation differs (%d of %d ids equal):\n   got ",
                    what, same, N_NEW);
            for (int i = 0; i < N_NEW; i++) fprintf(stderr, " %d", seq[T + i]);
            fprintf(stderr, "\n  want ");
            for (int i = 0; i < N_NEW; i++) fprintf(stderr, " %d", g->greedy[i]);
            fprintf(stderr, "\n");
        }
        CHECK(same == N_NEW);
        /* full recompute of seq[0 .. total−2]: position T−1+i predicts token i */
        float *full = logits_of(m, seq, total - 1, NULL, false);
        CHECK(full != NULL);
        if (full) {
            char w[256];
            snprintf(w, sizeof w, "%s KV-cache vs full recompute", what);
            CHECK(test_close(w, cached, full + (size_t)(T - 1) * (size_t)V, (int64_t)N_NEW * V,
                             1e-5, 1e-5 * test_max_abs(full, (int64_t)(total - 1) * V)));
        }
        free(full);
    }
    free(cached);
    mrg_kv_cache_free(kv);
    mrg_step_reset(m->dev);
}

/* Two prefill chunks (T−3 then 3 positions) equal one prefill. */
static void check_chunked(mrg_llama *m, const golden *g, const char *what) {
    int V = m->cfg.vocab_size, T = g->T;
    mrg_kv_cache *kv = mrg_kv_cache_new(m, 1, T);
    CHECK(kv != NULL);
    float *a = kv ? logits_of(m, g->prompt, T - 3, kv, true) : NULL;
    float *b = a ? logits_of(m, g->prompt + T - 3, 3, kv, false) : NULL; /* (1, 3, V) */
    CHECK(b != NULL);
    if (b) {
        char w[256];
        snprintf(w, sizeof w, "%s chunked prefill", what);
        CHECK(test_close(w, b, g->logits + (size_t)(T - 3) * (size_t)V, 3 * V, RTOL,
                         RTOL * test_max_abs(g->logits, (int64_t)T * V)));
    }
    free(a);
    free(b);
    /* again with the second chunk as embeddings that need a gradient (the
     * forward then attends to the chunk through the op graph, not through
     * the cache copy) */
    mrg_device *dev = m->dev;
    mrg_step_reset(dev);
    bool prev = mrg_grad_set_enabled(dev, true);
    mrg_kv_cache_clear(kv);
    a = kv ? logits_of(m, g->prompt, T - 3, kv, true) : NULL;
    mrg_tensor *x =
        mrg_llama_embed(m, mrg_tensor_from_i32(dev, MRG_SHAPE(1, 3), g->prompt + T - 3));
    if (x) x->requires_grad = true;
    mrg_tensor *lg = a ? mrg_llama_forward(m, x, NULL, kv, false) : NULL; /* (1, 3, V) */
    CHECK(lg != NULL && lg->requires_grad);
    if (lg) {
        char w[256];
        snprintf(w, sizeof w, "%s chunked prefill with gradients", what);
        CHECK(test_tensor_close(w, lg, g->logits + (size_t)(T - 3) * (size_t)V, RTOL,
                                RTOL * test_max_abs(g->logits, (int64_t)T * V)));
    }
    free(a);
    mrg_grad_set_enabled(dev, prev);
    mrg_kv_cache_free(kv);
    mrg_step_reset(m->dev);
}

/* d mean-CE(logits[:-1], prompt[1:]) / d input embeddings. */
static void check_grad(mrg_llama *m, const golden *g, const char *what) {
    mrg_device *dev = m->dev;
    int T = g->T, V = m->cfg.vocab_size, D = m->cfg.dim;
    bool prev = mrg_grad_set_enabled(dev, true);
    mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(1, T), g->prompt);
    mrg_tensor *tg = mrg_tensor_from_i32(dev, MRG_SHAPE(T - 1), g->prompt + 1);
    mrg_tensor *x = mrg_llama_embed(m, ids); /* (1, T, D) */
    CHECK(x != NULL && !x->requires_grad);   /* the table is frozen */
    if (x) x->requires_grad = true;          /* a leaf, as a trained prefix would be */
    mrg_tensor *lg = mrg_llama_forward(m, x, NULL, NULL, false); /* (1, T, V) */
    mrg_tensor *l2 = mrg_slice(mrg_reshape(lg, MRG_SHAPE(T, V)), 0, 0, T - 1);
    mrg_tensor *loss = mrg_cross_entropy(l2, tg, -100);
    CHECK(loss != NULL);
    if (loss) {
        CHECK_OK(mrg_backward(loss));
        CHECK(x->grad != NULL);
        if (x->grad) {
            char w[256];
            snprintf(w, sizeof w, "%s d loss / d embeddings", what);
            CHECK(test_tensor_close(w, x->grad, g->grad_x, 1e-3,
                                    1e-4 * test_max_abs(g->grad_x, (int64_t)T * D)));
        }
    }
    mrg_step_reset(dev);
    mrg_grad_set_enabled(dev, prev);
}

/* Batch of two: row 0 the prompt, row 1 the prompt's first T−2 tokens
 * left-padded by two masked positions. RoPE attention depends only on
 * relative positions, so each row's last logits equal those of the
 * unpadded sequence; without the mask row 1 would differ. Then the cache
 * is reordered so that both rows hold row 1, and one more decoding step
 * gives row 1's continuation in both rows. */
static void check_batch_mask_reorder(mrg_llama *m, const golden *g, const char *what) {
    mrg_device *dev = m->dev;
    int V = m->cfg.vocab_size, T = g->T, S = T - 2;
    int32_t ids[2 * 64];
    float mask[2 * 64];
    for (int t = 0; t < T; t++) {
        ids[t] = g->prompt[t];
        ids[T + t] = t < 2 ? 0 : g->prompt[t - 2];
        mask[t] = 0.0f;
        mask[T + t] = t < 2 ? -1e9f : 0.0f;
    }
    /* reference: row 1 alone, and its next step with token 5 */
    int32_t alone[65];
    memcpy(alone, g->prompt, sizeof(int32_t) * (size_t)S);
    alone[S] = 5;
    float *ref1 = logits_of(m, alone, S, NULL, true);
    float *ref2 = logits_of(m, alone, S + 1, NULL, true);
    mrg_step_reset(dev);
    mrg_kv_cache *kv = mrg_kv_cache_new(m, 2, T + 1);
    mrg_tensor *idt = mrg_tensor_from_i32(dev, MRG_SHAPE(2, T), ids);
    mrg_tensor *mk = mrg_tensor_from_f32(dev, MRG_SHAPE(2, T), mask);
    mrg_tensor *lg = mrg_llama_forward_ids(m, idt, mk, kv, true); /* (2, V) */
    float *got = malloc(sizeof(float) * 2 * (size_t)V);
    CHECK(lg != NULL && ref1 && ref2 && got && kv);
    if (lg && ref1 && ref2 && got && mrg_tensor_to_f32(lg, got) == MRG_OK) {
        char w[256];
        double atol = RTOL * test_max_abs(g->logits, (int64_t)T * V);
        snprintf(w, sizeof w, "%s batch row 0", what);
        CHECK(test_close(w, got, g->logits + (size_t)(T - 1) * (size_t)V, V, RTOL, atol));
        snprintf(w, sizeof w, "%s batch row 1 (left-padded, masked)", what);
        CHECK(test_close(w, got + V, ref1, V, RTOL, atol));
        mrg_step_reset(dev);
        CHECK_OK(mrg_kv_cache_reorder(kv, (const int32_t[]){1, 1}));
        int32_t next[2] = {5, 5};
        float mask2[2 * 65];
        for (int r = 0; r < 2; r++)
            for (int t = 0; t <= T; t++) mask2[r * (T + 1) + t] = t < 2 ? -1e9f : 0.0f;
        idt = mrg_tensor_from_i32(dev, MRG_SHAPE(2, 1), next);
        mk = mrg_tensor_from_f32(dev, MRG_SHAPE(2, T + 1), mask2);
        lg = mrg_llama_forward_ids(m, idt, mk, kv, true);
        CHECK(lg != NULL);
        if (lg && mrg_tensor_to_f32(lg, got) == MRG_OK) {
            snprintf(w, sizeof w, "%s reordered cache row 0", what);
            CHECK(test_close(w, got, ref2, V, RTOL, atol));
            snprintf(w, sizeof w, "%s reordered cache row 1", what);
            CHECK(test_close(w, got + V, ref2, V, RTOL, atol));
        }
    }
    /* beam start: prefill one row of the 2-row cache, fan it out to both
     * rows, then continue each row with its own token */
    mrg_step_reset(dev);
    mrg_kv_cache_clear(kv);
    CHECK_OK(mrg_kv_cache_select(kv, (const int32_t[]){0}, 1));
    float *p1 = kv ? logits_of(m, g->prompt, S, kv, true) : NULL;
    CHECK(p1 != NULL);
    free(p1);
    CHECK_OK(mrg_kv_cache_select(kv, (const int32_t[]){0, 0}, 2));
    CHECK(kv && kv->batch == 2 && kv->len == S);
    CHECK(mrg_kv_cache_select(kv, (const int32_t[]){0, 0, 0}, 3) != MRG_OK); /* over capacity */
    int32_t two[2] = {5, 9};
    lg = mrg_llama_forward_ids(m, mrg_tensor_from_i32(dev, MRG_SHAPE(2, 1), two), NULL, kv, true);
    alone[S] = 9;
    float *ref3 = logits_of(m, alone, S + 1, NULL, true);
    CHECK(lg != NULL && ref3 != NULL && got != NULL);
    if (lg && ref3 && got && ref2 && mrg_tensor_to_f32(lg, got) == MRG_OK) {
        double atol = RTOL * test_max_abs(g->logits, (int64_t)T * V);
        char w[256];
        snprintf(w, sizeof w, "%s fanned-out cache row 0", what);
        CHECK(test_close(w, got, ref2, V, RTOL, atol));
        snprintf(w, sizeof w, "%s fanned-out cache row 1", what);
        CHECK(test_close(w, got + V, ref3, V, RTOL, atol));
    }
    free(ref3);
    free(ref1);
    free(ref2);
    free(got);
    mrg_kv_cache_free(kv);
    mrg_step_reset(dev);
}

static void check_model(mrg_device *dev, const mrg_st_file *exp, const model_case *c) {
    char what[128];
    snprintf(what, sizeof what, "%s %s", mrg_device_name(dev), c->name);
    golden g;
    bool have = golden_load(exp, c->name, &g);
    CHECK(have);
    size_t before = mrg_device_persistent_bytes(dev);
    mrg_llama *m = have ? mrg_llama_load(test_golden_path(c->path), dev, NULL) : NULL;
    if (have && !m) fprintf(stderr, "  %s: %s\n", what, mrg_last_error());
    CHECK(m != NULL);
    if (m) {
        CHECK(m->cfg.n_heads == c->n_heads && m->cfg.n_kv_heads == c->n_kv_heads);
        CHECK(m->cfg.tied_embeddings == c->tied && (m->lm_head == m->tok_emb) == c->tied);
        CHECK(m->tok_emb->dtype == c->wdtype && m->layers[0].wq->dtype == c->wdtype);
        CHECK(!m->tok_emb->requires_grad && !m->layers[0].w_down->trainable);
        /* the weights are all the device holds for the model: no f32 copy */
        CHECK(mrg_device_persistent_bytes(dev) - before == mrg_llama_weight_bytes(m));
        check_logits(m, &g, what);
        check_greedy(m, &g, what);
        check_chunked(m, &g, what);
        check_grad(m, &g, what);
        if (!strcmp(c->name, "l2c_gqa") || !strcmp(c->name, "hf_gqa_bf16"))
            check_batch_mask_reorder(m, &g, what);
    }
    mrg_llama_free(m);
    free(g.logits);
    free(g.grad_x);
}

/* Conversion on load, save/load round trip, storage bytes. */
static void check_dtypes_and_save(mrg_device *dev, const mrg_st_file *exp) {
    golden g;
    if (!golden_load(exp, "hf_mha_f32", &g)) {
        CHECK(false);
        return;
    }
    const char *path = test_golden_path("llama/hf_mha_f32");
    mrg_llama *f32 = mrg_llama_load(path, dev, NULL);
    mrg_llama *bf = mrg_llama_load(path, dev, &(mrg_llama_load_opts){.weight_dtype = MRG_BF16});
    mrg_llama *h16 = mrg_llama_load(path, dev, &(mrg_llama_load_opts){.weight_dtype = MRG_F16});
    CHECK(f32 && bf && h16);
    if (f32 && bf && h16) {
        CHECK(bf->layers[1].w_up->dtype == MRG_BF16 && h16->layers[1].w_up->dtype == MRG_F16);
        CHECK(2 * mrg_llama_weight_bytes(bf) == mrg_llama_weight_bytes(f32));
        CHECK(2 * mrg_llama_weight_bytes(h16) == mrg_llama_weight_bytes(f32));
        int V = f32->cfg.vocab_size, T = g.T;
        float *lb = logits_of(bf, g.prompt, T, NULL, true);
        float *lh = logits_of(h16, g.prompt, T, NULL, true);
        /* rounding the weights moves the logits a little, not a lot */
        double scale = test_max_abs(g.logits, (int64_t)T * V);
        CHECK(lb && test_close("bf16-converted logits", lb, g.logits + (size_t)(T - 1) * (size_t)V,
                               V, 0, 0.05 * scale));
        CHECK(lh && test_close("f16-converted logits", lh, g.logits + (size_t)(T - 1) * (size_t)V,
                               V, 0, 0.01 * scale));
        free(lb);
        free(lh);
        /* save as bf16 and load again: identical weights and logits */
        char dir[] = "/tmp/mrg_llama_saveXXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        CHECK_OK(mrg_llama_save_hf(bf, dir));
        mrg_llama *back = mrg_llama_load(dir, dev, NULL);
        CHECK(back != NULL);
        if (back) {
            CHECK(back->layers[0].wk->dtype == MRG_BF16 && !back->cfg.tied_embeddings);
            float *a = logits_of(bf, g.prompt, T, NULL, false);
            float *b = logits_of(back, g.prompt, T, NULL, false);
            CHECK(a && b && memcmp(a, b, sizeof(float) * (size_t)T * (size_t)V) == 0);
            free(a);
            free(b);
        }
        mrg_llama_free(back);
        CHECK_OK(mrg_rm_tree(dir));
    }
    mrg_llama_free(f32);
    mrg_llama_free(bf);
    mrg_llama_free(h16);
    free(g.logits);
    free(g.grad_x);
    mrg_step_reset(dev);
}

/* Writes the first n bytes of src (patched by `patch` at offset 0 when
 * non-NULL) to dst. */
static bool copy_prefix(const char *src, const char *dst, long n, const int32_t *patch,
                        int npatch) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    bool ok = in && out;
    char buf[4096];
    long done = 0;
    while (ok && done < n) {
        size_t k = fread(buf, 1, (size_t)(n - done < 4096 ? n - done : 4096), in);
        if (k == 0) break;
        if (done == 0 && patch) memcpy(buf, patch, sizeof(int32_t) * (size_t)npatch);
        ok = fwrite(buf, 1, k, out) == k;
        done += (long)k;
    }
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = false;
    return ok;
}

static void check_errors(mrg_device *dev) {
    char src[4096]; /* test_golden_path returns a static buffer */
    snprintf(src, sizeof src, "%s", test_golden_path("llama/l2c_gqa.bin"));
    char tmp[] = "/tmp/mrg_llama_badXXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    FILE *f = fopen(src, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (f) fclose(f);
    CHECK(size > 100);
    /* truncated: the size check names both sizes */
    CHECK(copy_prefix(src, tmp, size - 4, NULL, 0));
    CHECK(mrg_llama_load(tmp, dev, NULL) == NULL);
    CHECK(strstr(mrg_last_error(), "implies") != NULL);
    /* a header claiming more layers */
    const int32_t bad[7] = {32, 56, 3, 4, 2, 64, 48};
    CHECK(copy_prefix(src, tmp, size, bad, 7));
    CHECK(mrg_llama_load(tmp, dev, NULL) == NULL);
    CHECK(strstr(mrg_last_error(), "implies") != NULL);
    /* nonsense header */
    const int32_t junk[7] = {32, 56, 2, 5, 2, 64, 48}; /* 32 not divisible by 5 heads */
    CHECK(copy_prefix(src, tmp, size, junk, 7));
    CHECK(mrg_llama_load(tmp, dev, NULL) == NULL);
    CHECK(strstr(mrg_last_error(), "not a llama2.c checkpoint") != NULL);
    /* too short */
    CHECK(copy_prefix(src, tmp, 10, NULL, 0));
    CHECK(mrg_llama_load(tmp, dev, NULL) == NULL);
    unlink(tmp);
    /* missing paths */
    CHECK(mrg_llama_load("/nonexistent/model", dev, NULL) == NULL);
    CHECK(mrg_llama_load(test_golden_path("llama"), dev, NULL) == NULL); /* no config.json */
    /* bad call arguments */
    mrg_llama *m = mrg_llama_load(src, dev, NULL);
    CHECK(m != NULL);
    if (m) {
        mrg_kv_cache *kv = mrg_kv_cache_new(m, 1, 4);
        float *lg = kv ? logits_of(m, (const int32_t[]){1, 2, 3, 4, 5}, 5, kv, true) : NULL;
        CHECK(lg == NULL && strstr(mrg_last_error(), "exceed") != NULL); /* cache too short */
        free(lg);
        CHECK(mrg_kv_cache_reorder(kv, (const int32_t[]){3}) != MRG_OK);
        mrg_kv_cache_free(kv);
        mrg_tensor *x = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, 2, 7));
        CHECK(mrg_llama_forward(m, x, NULL, NULL, true) == NULL);
    }
    mrg_llama_free(m);
    mrg_step_reset(dev);
}

static void check_sampler(void) {
    const float lg[4] = {1.0f, 3.0f, 2.0f, 3.0f};
    CHECK(mrg_argmax(lg, 4) == 1);
    mrg_sampler *greedy = mrg_sampler_new(4, 0.0f, 1.0f, 7);
    CHECK(greedy && mrg_sampler_sample(greedy, lg) == 1);
    mrg_sampler_free(greedy);
    CHECK(mrg_sampler_new(4, -1.0f, 0.9f, 1) == NULL);
    CHECK(mrg_sampler_new(4, 1.0f, 0.0f, 1) == NULL);
    /* same seed, same stream; another seed, another stream */
    mrg_sampler *a = mrg_sampler_new(4, 1.0f, 1.0f, 42), *b = mrg_sampler_new(4, 1.0f, 1.0f, 42);
    mrg_sampler *c = mrg_sampler_new(4, 1.0f, 1.0f, 43);
    int same_ab = 0, same_ac = 0, count[4] = {0};
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        int x = mrg_sampler_sample(a, lg), y = mrg_sampler_sample(b, lg),
            z = mrg_sampler_sample(c, lg);
        same_ab += x == y;
        same_ac += x == z;
        if (x >= 0) count[x]++;
    }
    CHECK(same_ab == N && same_ac < N);
    /* frequencies follow softmax(lg) */
    double sum = 0, p[4];
    for (int i = 0; i < 4; i++) sum += exp(lg[i]);
    for (int i = 0; i < 4; i++) {
        p[i] = exp(lg[i]) / sum;
        CHECK(fabs((double)count[i] / N - p[i]) < 0.015);
    }
    mrg_sampler_free(a);
    mrg_sampler_free(b);
    mrg_sampler_free(c);
    /* top-p 0.5: the two tokens of logit 3 have 0.40 each, so the nucleus is
     * exactly ids 1 and 3 (0.40 < 0.5 <= 0.80) */
    mrg_sampler *n = mrg_sampler_new(4, 1.0f, 0.5f, 5);
    int seen[4] = {0};
    for (int i = 0; n && i < 2000; i++) {
        int x = mrg_sampler_sample(n, lg);
        if (x >= 0) seen[x]++;
    }
    CHECK(seen[0] == 0 && seen[2] == 0 && seen[1] > 800 && seen[3] > 800);
    mrg_sampler_free(n);
}

int main(void) {
    mrg_st_file *exp = test_golden_open("llama/expected.safetensors");
    if (!exp) return test_finish("test_llama");
    check_sampler();
    for (test_device_iter it = {0}; test_next_device(&it);) {
        mrg_device *dev = it.dev;
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
            check_model(dev, exp, &CASES[i]);
        check_dtypes_and_save(dev, exp);
        check_errors(dev);
    }
    mrg_st_close(exp);
    return test_finish("test_llama");
}
