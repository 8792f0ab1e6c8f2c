/* `mrg bench step` end to end without the 7B file: a tiny random LLaMA in
 * the Hugging Face layout (bf16, two shards + index, written here with the
 * library's safetensors writer) is loaded into the `micro` report generator,
 * which runs one training step and one generation on every device; the JSON
 * report must show bf16 weights, the expected token counts and the same loss
 * on every device. Also: backward through a frozen bf16 weight with enough
 * rows to take the converted-chunk GEMM path the 7B step uses (not the GEMV),
 * against a host reference; the LLaMA's block checkpointing (which lets the
 * 7B step fit 24 GiB) gives the plain backward's gradients; and tools/make_random_llama.py's output loads
 * (when /usr/bin/python3 has numpy). */
#include <cjson/cJSON.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrg/llama.h"
#include "testutil.h"

/* the tiny LM: dim 32, SwiGLU 64, 2 layers, 4 heads over 2 kv heads */
enum { D = 32, F = 64, L = 2, H = 4, HKV = 2, VOCAB = 100, DH = D / H };

static bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* One bf16 tensor into w: normal-ish (uniform, std 0.02) or ones for norms. */
static mrg_status add_bf16(mrg_st_writer *w, const char *name, int64_t rows, int64_t cols,
                           unsigned seed) {
    int64_t n = rows * cols;
    float *x = malloc(sizeof(float) * (size_t)n);
    uint16_t *h = malloc(sizeof(uint16_t) * (size_t)n);
    mrg_status st = MRG_ERR_OOM;
    if (x && h) {
        if (cols == 1)
            for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
        else
            test_fill_uniform(x, n, seed, -0.0346f, 0.0346f); /* std 0.02 */
        for (int64_t i = 0; i < n; i++) h[i] = mrg_f32_to_bf16(x[i]);
        int64_t shape[2] = {rows, cols};
        st = mrg_st_writer_add(w, name, MRG_BF16, cols == 1 ? 1 : 2, shape, h);
    }
    free(x);
    free(h);
    return st;
}

/* dir/config.json, two shards and model.safetensors.index.json, and a link
 * to the golden tokenizer. Returns the parameter count (0 on failure). */
static int64_t write_tiny_llama(const char *dir) {
    static const char *const shard[2] = {"model-00001-of-00002.safetensors",
                                         "model-00002-of-00002.safetensors"};
    char path[8400], names[64];
    mrg_st_writer *w[2] = {mrg_st_writer_new(), mrg_st_writer_new()};
    cJSON *index = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(index, "weight_map");
    int64_t count = 0;
    bool ok = w[0] && w[1] && index && map;
    unsigned seed = 100;
    /* layer 0 and the embedding in shard 1; the rest in shard 2 */
#define ADD(s, nm, r, c)                                                         \
    do {                                                                         \
        ok = ok && add_bf16(w[s], nm, r, c, seed++) == MRG_OK;                   \
        ok = ok && cJSON_AddStringToObject(map, nm, shard[s]) != NULL;           \
        count += (int64_t)(r) * (c);                                             \
    } while (0)
    ADD(0, "model.embed_tokens.weight", VOCAB, D);
    for (int l = 0; l < L; l++) {
        int s = l == 0 ? 0 : 1;
        static const char *const mats[7] = {"self_attn.q_proj", "self_attn.k_proj",
                                            "self_attn.v_proj", "self_attn.o_proj",
                                            "mlp.gate_proj",    "mlp.up_proj",
                                            "mlp.down_proj"};
        const int64_t rows[7] = {D, HKV * DH, HKV * DH, D, F, F, D};
        const int64_t cols[7] = {D, D, D, D, D, D, F};
        for (int k = 0; k < 7; k++) {
            snprintf(names, sizeof names, "model.layers.%d.%s.weight", l, mats[k]);
            ADD(s, names, rows[k], cols[k]);
        }
        snprintf(names, sizeof names, "model.layers.%d.input_layernorm.weight", l);
        ADD(s, names, D, 1);
        snprintf(names, sizeof names, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(s, names, D, 1);
    }
    ADD(1, "model.norm.weight", D, 1);
    ADD(1, "lm_head.weight", VOCAB, D);
#undef ADD
    for (int s = 0; s < 2 && ok; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, shard[s]);
        ok = mrg_st_writer_save(w[s], path) == MRG_OK;
    }
    char *json = ok ? cJSON_Print(index) : NULL;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    ok = json && write_text(path, json);
    free(json);
    cJSON_Delete(index);
    mrg_st_writer_free(w[0]);
    mrg_st_writer_free(w[1]);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\",\n"
             " \"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d,\n"
             " \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d,\n"
             " \"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,\n"
             " \"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": 2,\n"
             " \"torch_dtype\": \"bfloat16\"}\n",
             D, F, L, H, HKV, VOCAB);
    snprintf(path, sizeof path, "%s/config.json", dir);
    ok = ok && write_text(path, cfg);
    char tok[4200];
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    ok = ok && realpath(test_golden_path("model/lm/tokenizer.model"), tok) && symlink(tok, path) == 0;
    return ok ? count : 0;
}

static double num(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One `mrg bench step --json` on dev; the parsed object (NULL on failure). */
static cJSON *bench(const char *bin, const char *dir, const char *dev) {
    static char out[1 << 16];
    char cmd[4600];
    snprintf(cmd, sizeof cmd,
             "%s bench step --lm %s --preset micro --device %s --min-new 12 --max-new 12 --json",
             bin, dir, dev);
    int rc = test_run_cmd(cmd, out, sizeof out);
    CHECK(rc == 0);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) fprintf(stderr, "bench step on %s printed: %s\n", dev, out);
    return j;
}

/* dx of y = x·wᵀ through a frozen bf16 w, with 40 rows of x (above the
 * GEMV bound: the chunked-conversion GEMM on the CPU, the tiled kernel on
 * OpenCL), against a double host reference on the stored weight. */
static void test_bf16_backward(mrg_device *dev) {
    enum { N = 40, K = 300, M = 130 };
    float *xv = malloc(sizeof(float) * N * K), *wv = malloc(sizeof(float) * M * K);
    float *gv = malloc(sizeof(float) * N * M), *ws = malloc(sizeof(float) * M * K);
    float *want = malloc(sizeof(float) * N * K);
    CHECK(xv && wv && gv && ws && want);
    if (!xv || !wv || !gv || !ws || !want) goto out;
    test_fill_uniform(xv, N * K, 11, -1, 1);
    test_fill_uniform(wv, M * K, 12, -1, 1);
    test_fill_uniform(gv, N * M, 13, -1, 1);
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(N, K), xv, true, "x");
    mrg_tensor *w = test_param_f32(dev, MRG_BF16, MRG_SHAPE(M, K), wv, false, "w");
    mrg_tensor *g = mrg_tensor_from_f32(dev, MRG_SHAPE(N, M), gv);
    CHECK(x && w && g && w->dtype == MRG_BF16);
    if (x && w && g) {
        CHECK_OK(mrg_tensor_to_f32(w, ws));
        mrg_tensor *loss = test_dot_loss(mrg_linear(x, w, NULL), g);
        CHECK(loss && mrg_backward(loss) == MRG_OK);
        CHECK(w->grad == NULL);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < K; k++) {
                double s = 0;
                for (int j = 0; j < M; j++) s += (double)gv[i * M + j] * ws[j * K + k];
                want[i * K + k] = (float)s;
            }
        CHECK(test_tensor_close("dx through a frozen bf16 w (40 rows)", x->grad, want, 1e-4,
                                1e-5));
    }
    mrg_step_reset(dev);
    mrg_tensor_free(x);
    mrg_tensor_free(w);
out:
    free(xv);
    free(wv);
    free(gv);
    free(ws);
    free(want);
}

/* Input (and, for a trainable model, weight) gradients of Σ g·hidden(x)
 * with the blocks checkpointed equal those of the plain backward, while the
 * forward keeps less in the step arena. */
static void ckpt_run(mrg_llama *m, bool ckpt, const float *xv, const float *gv, float *dx,
                     float *dw, size_t *arena) {
    mrg_device *dev = m->dev;
    enum { T = 9 };
    m->checkpoint_blocks = ckpt;
    mrg_tensor *x = test_param_f32(dev, MRG_F32, MRG_SHAPE(1, T, D), xv, true, "x");
    mrg_tensor *g = mrg_tensor_from_f32(dev, MRG_SHAPE(1, T, D), gv);
    if (dw) CHECK_OK(mrg_zero_grad(&m->layers[0].wq, 1));
    mrg_tensor *h = x && g ? mrg_llama_hidden(m, x, NULL, NULL) : NULL;
    *arena = mrg_device_arena_bytes(dev);
    mrg_tensor *loss = h ? test_dot_loss(h, g) : NULL;
    CHECK(loss && mrg_backward(loss) == MRG_OK);
    CHECK(x && x->grad && mrg_tensor_to_f32(x->grad, dx) == MRG_OK);
    if (dw) CHECK(m->layers[0].wq->grad && mrg_tensor_to_f32(m->layers[0].wq->grad, dw) == MRG_OK);
    mrg_step_reset(dev);
    mrg_tensor_free(x);
}

static void test_checkpoint(mrg_device *dev, const char *dir) {
    enum { T = 9 };
    float xv[T * D], gv[T * D], dx0[T * D], dx1[T * D], dw0[D * D], dw1[D * D];
    test_fill_uniform(xv, T * D, 21, -1, 1);
    test_fill_uniform(gv, T * D, 22, -1, 1);
    size_t a0 = 0, a1 = 0;
    mrg_llama *m = mrg_llama_load(dir, dev, NULL); /* frozen bf16, 2 shards */
    CHECK(m != NULL);
    if (m) {
        CHECK(m->layers[0].wq->dtype == MRG_BF16 && !m->checkpoint_blocks); /* small: off */
        ckpt_run(m, false, xv, gv, dx0, NULL, &a0);
        ckpt_run(m, true, xv, gv, dx1, NULL, &a1);
        CHECK(test_close("checkpointed dx, frozen bf16 LLaMA", dx1, dx0, T * D, 1e-6, 1e-7));
        CHECK(a1 < a0);
        fprintf(stderr, "%s: forward arena %zu bytes plain, %zu checkpointed\n",
                mrg_device_name(dev), a0, a1);
        /* trainable f32 weights: the recompute adds the weight gradients */
        mrg_llama *t = mrg_llama_create(&m->cfg, MRG_F32, true, dev);
        CHECK(t != NULL);
        int np = t ? mrg_llama_params(t, NULL, 0) : 0;
        mrg_tensor *ps[64];
        if (t && np <= 64) {
            mrg_llama_params(t, ps, np);
            for (int i = 0; i < np; i++) {
                int64_t n = mrg_numel(ps[i]);
                float *v = malloc(sizeof(float) * (size_t)n);
                if (!v) continue;
                test_fill_uniform(v, n, 40 + (unsigned)i, ps[i]->ndim == 1 ? 0.5f : -0.2f,
                                  ps[i]->ndim == 1 ? 1.5f : 0.2f);
                CHECK_OK(mrg_tensor_upload_f32(ps[i], v));
                free(v);
            }
            ckpt_run(t, false, xv, gv, dx0, dw0, &a0);
            ckpt_run(t, true, xv, gv, dx1, dw1, &a1);
            CHECK(test_close("checkpointed dx, trainable LLaMA", dx1, dx0, T * D, 1e-6, 1e-7));
            CHECK(test_close("checkpointed dW, trainable LLaMA", dw1, dw0, D * D, 1e-6, 1e-7));
        }
        mrg_llama_free(t);
    }
    mrg_llama_free(m);
}

/* tools/make_random_llama.py writes a directory the loader takes, bf16. */
static void test_python_writer(const char *tmp, int64_t count) {
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no /usr/bin/python3 with numpy: make_random_llama.py not tested\n");
        return;
    }
    char tools[4200], dir[4200], cmd[9000];
    /* MRG_TEST_DATA is <source>/tests/golden */
    snprintf(tools, sizeof tools, "%s/../../tools/make_random_llama.py", test_golden_path(""));
    snprintf(dir, sizeof dir, "%s/py", tmp);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s --out %s --dim %d --hidden %d --layers %d --heads %d "
             "--kv-heads %d --vocab %d --max-position 512 --shard-gb 0.00002 "
             "--tokenizer %s >/dev/null",
             tools, dir, D, F, L, H, HKV, VOCAB, test_golden_path("model/lm/tokenizer.model"));
    CHECK(system(cmd) == 0);
    mrg_device *dev = mrg_device_open("cpu");
    mrg_llama *m = dev ? mrg_llama_load(dir, dev, NULL) : NULL;
    CHECK(m != NULL);
    if (m) {
        CHECK(m->cfg.dim == D && m->cfg.n_kv_heads == HKV && m->cfg.vocab_size == VOCAB);
        CHECK(m->tok_emb->dtype == MRG_BF16 && m->lm_head->dtype == MRG_BF16);
        CHECK(mrg_llama_weight_bytes(m) == (size_t)count * 2);
        float *q = malloc(sizeof(float) * D * D), nrm[D];
        CHECK_OK(mrg_tensor_to_f32(m->norm, nrm));
        CHECK(nrm[0] == 1.0f && nrm[D - 1] == 1.0f);
        if (q && mrg_tensor_to_f32(m->layers[1].wq, q) == MRG_OK) {
            double s = 0;
            for (int i = 0; i < D * D; i++) s += (double)q[i] * q[i];
            double sd = sqrt(s / (D * D));
            fprintf(stderr, "make_random_llama.py: q_proj std %.4f\n", sd);
            CHECK(sd > 0.018 && sd < 0.022);
        }
        free(q);
    }
    snprintf(cmd, sizeof cmd, "%s/model-*-of-*.safetensors", dir);
    glob_t gl;
    CHECK(glob(cmd, 0, NULL, &gl) == 0 && gl.gl_pathc > 1); /* sharded at 20 KB */
    globfree(&gl);
    mrg_llama_free(m);
    mrg_device_free(dev);
}

/* o[key] is the string want. */
static bool str_is(const cJSON *o, const char *key, const char *want) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    if (v && !strcmp(v, want)) return true;
    fprintf(stderr, "  %s: %s, want %s\n", key, v ? v : "(none)", want);
    return false;
}

/* --batch 2 --warmup 1 --steps 2 --no-generate on the cpu: the JSON that
 * bench/torch_ref.py builds its PyTorch twin from (config, prompt lengths,
 * batch) and the step statistics. */
static void test_batch_steps(const char *bin, const char *dir) {
    static char out[1 << 16];
    char cmd[4600];
    snprintf(cmd, sizeof cmd,
             "%s bench step --lm %s --preset micro --device cpu --batch 2 --warmup 1 --steps 2 "
             "--report-tokens 9 --no-generate --json",
             bin, dir);
    int rc = test_run_cmd(cmd, out, sizeof out);
    CHECK(rc == 0);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "bench step --batch 2 printed: %s\n", out);
        return;
    }
    CHECK(num(j, "batch") == 2 && num(j, "warmup_steps") == 1 && num(j, "timed_steps") == 2);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "generated")));
    CHECK(num(j, "new_tokens") == 0 && num(j, "generate_s") == 0);
    CHECK(num(j, "step_s") > 0 && num(j, "step_s") <= num(j, "step_mean_s"));
    CHECK(num(j, "threads") >= 1);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    const cJSON *vit = cJSON_GetObjectItemCaseSensitive(cfg, "vit");
    CHECK(cJSON_IsObject(cfg) && num(vit, "image_size") == 16 && num(cfg, "Kc") == 4);
    /* [BOS before] P [after] report[:-1] */
    CHECK(num(j, "report_tokens") == 10);
    CHECK(num(j, "seq_tokens") == num(j, "prompt_before_tokens") + num(cfg, "Kc") +
                                       num(cfg, "Kt") + num(j, "prompt_after_tokens") + 9);
    /* two different studies: a contrastive loss above zero */
    CHECK(num(j, "loss_con") > 0 && isfinite(num(j, "loss")));
    CHECK(str_is(j, "precision", "f32") && str_is(j, "weight_dtype", "bf16"));
    double loss32 = num(j, "loss");
    cJSON_Delete(j);
    /* the same step under bf16-mixed (bench/side_by_side.py's bf16 row):
     * a loss close to the f32 one (this LLaMA is stored in bf16 anyway) */
    snprintf(cmd, sizeof cmd,
             "%s bench step --lm %s --preset micro --device cpu --batch 2 --warmup 1 --steps 2 "
             "--report-tokens 9 --no-generate --json --precision bf16-mixed",
             bin, dir);
    rc = test_run_cmd(cmd, out, sizeof out);
    CHECK(rc == 0);
    j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) return;
    const cJSON *c16 = cJSON_GetObjectItemCaseSensitive(j, "config");
    CHECK(str_is(j, "precision", "bf16-mixed") && str_is(c16, "precision", "bf16-mixed") &&
          str_is(j, "weight_dtype", "bf16"));
    printf("bench step --precision bf16-mixed: loss %.6f (f32 %.6f)\n", num(j, "loss"), loss32);
    CHECK(fabs(num(j, "loss") - loss32) <= 2e-2 * fabs(loss32));
    cJSON_Delete(j);
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    char tmp[] = "/tmp/mrg-bench-step-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    char dir[4200], cmd[9000];
    static char out[1 << 16];
    snprintf(dir, sizeof dir, "%s/lm", tmp);
    CHECK(mkdir(dir, 0755) == 0);
    int64_t count = write_tiny_llama(dir);
    CHECK(count > 0);

    /* usage errors and a missing directory */
    snprintf(cmd, sizeof cmd, "%s bench step --help", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "--lm DIR") != NULL);
    snprintf(cmd, sizeof cmd, "%s bench step --preset micro 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--lm is required") != NULL);
    snprintf(cmd, sizeof cmd, "%s bench step --lm %s --beam x 2>&1", bin, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--beam must be a whole number") != NULL);
    snprintf(cmd, sizeof cmd, "%s bench step --lm %s/none --preset micro 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 1 && strstr(out, "no such LLaMA directory") != NULL);

    char devs[8][32];
    int nd = test_devices(devs, 8);
    double loss0 = NAN;
    for (int d = 0; d < nd && count > 0; d++) {
        mrg_device *dev = mrg_device_open(devs[d]);
        CHECK(dev != NULL);
        if (dev) test_bf16_backward(dev);
        if (dev) test_checkpoint(dev, dir);
        mrg_device_free(dev);

        cJSON *j = bench(bin, dir, devs[d]);
        if (!j) continue;
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "weight_dtype");
        CHECK(cJSON_IsString(dt) && !strcmp(dt->valuestring, "bf16"));
        CHECK(num(j, "weight_bytes") == 2.0 * (double)count);
        CHECK(num(j, "weight_f32_bytes") == 4.0 * (double)count);
        CHECK(num(j, "lm_dim") == D && num(j, "lm_layers") == L);
        CHECK(num(j, "report_tokens") == 61); /* micro: 60 report tokens + </s> */
        CHECK(num(j, "seq_tokens") > 61);
        CHECK(num(j, "new_tokens") == 12 && num(j, "decode_steps") == 11);
        CHECK(num(j, "beam") == 3 && num(j, "max_new") == 12);
        CHECK(num(j, "load_s") > 0 && num(j, "step_s") > 0 && num(j, "generate_s") > 0);
        CHECK(num(j, "tokens_per_s") > 0);
        CHECK(num(j, "trained_params") > 0 &&
              num(j, "adamw_state_bytes") == 8 * num(j, "trained_params"));
        CHECK(num(j, "peak_rss_bytes") >= num(j, "rss_load_bytes") &&
              num(j, "rss_load_bytes") > 0);
        /* near-uniform predictions of small random weights: the LM loss is
         * about ln(vocab); one study has a zero contrastive loss */
        double loss = num(j, "loss"), lm = num(j, "loss_lm");
        CHECK(fabs(lm - log((double)VOCAB)) < 0.5);
        CHECK(num(j, "loss_con") == 0 && fabs(loss - 0.5 * lm) < 1e-5);
        CHECK(isfinite(num(j, "grad_norm")) && num(j, "grad_norm") > 0);
        if (d == 0) loss0 = loss;
        else CHECK(fabs(loss - loss0) < 1e-4 * fabs(loss0));
        fprintf(stderr, "bench step on %s: load %.3f s, step %.3f s, generate %.3f s, loss %.6f\n",
                devs[d], num(j, "load_s"), num(j, "step_s"), num(j, "generate_s"), loss);
        cJSON_Delete(j);
    }

    if (count > 0) test_batch_steps(bin, dir);
    test_python_writer(tmp, count);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return test_finish("bench_step");
}
