/* ViT against the PyTorch reference of tools/ref/vit_ref.py (a random-weight
 * tiny ViT in timm's layout): logits and features of both config styles,
 * parameter gradients, the `mrg vit` command (no-resize and resize paths,
 * .npy and .safetensors features), save/load round trip, config errors, and
 * the nn layers' parameter handling. On every test device. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/nn.h"
#include "mrg/vit.h"
#include "testutil.h"

#define RTOL 1e-4

static char golden_dir[4096];

static const char *gpath(const char *file) {
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", golden_dir, file);
    return buf[k];
}

/* tensor vs golden `name`: relative 1e-4, floor 1e-4 of the largest value */
static bool close_to(const char *what, const mrg_tensor *t, const mrg_st_file *exp,
                     const char *name) {
    return test_golden_close(what, t, exp, name, RTOL, 0);
}

static mrg_vit *load(mrg_device *dev, const char *config, bool trainable) {
    mrg_vit_opts o = {.trainable = trainable, .seed = 1, .prefix = NULL};
    return mrg_vit_load_files(gpath(config), gpath("model.safetensors"), dev, &o);
}

static void test_forward(mrg_device *dev, const mrg_st_file *exp, const char *config) {
    mrg_vit *vit = load(dev, config, false);
    CHECK(vit != NULL);
    if (!vit) return;
    const mrg_vit_config *c = mrg_vit_get_config(vit);
    CHECK(c->image_size == 32 && c->patch_size == 8 && c->dim == 48 && c->depth == 2 &&
          c->heads == 3 && c->num_classes == 10 && c->mlp_hidden == 192 && c->in_chans == 3);
    CHECK(fabsf(c->mean[1] - 0.456f) < 1e-6f && fabsf(c->std[2] - 0.225f) < 1e-6f);
    CHECK(mrg_vit_tokens(vit) == 17);
    CHECK(mrg_params_trainable(mrg_vit_params(vit), NULL) == 0);
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_tensor *x = test_load(dev, exp, "images"), *feats = NULL, *logits = NULL;
    CHECK_OK(mrg_vit_forward(vit, x, &feats, &logits));
    char what[128];
    snprintf(what, sizeof what, "%s logits (%s)", config, mrg_device_name(dev));
    CHECK(close_to(what, logits, exp, "logits"));
    snprintf(what, sizeof what, "%s features (%s)", config, mrg_device_name(dev));
    CHECK(close_to(what, feats, exp, "features"));
    CHECK(feats && feats->ndim == 3 && feats->shape[0] == 2 && feats->shape[1] == 17 &&
          feats->shape[2] == 48);
    /* logits are optional outputs; a wrong input size is an error */
    CHECK_OK(mrg_vit_forward(vit, x, &feats, NULL));
    mrg_tensor *bad = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, 3, 24, 24));
    CHECK(mrg_vit_forward(vit, bad, &feats, &logits) == MRG_ERR_INVALID_ARG && !feats && !logits);
    mrg_grad_set_enabled(dev, prev);
    mrg_step_reset(dev);
    mrg_vit_free(vit);
}

/* full sum of x → (1) */
static mrg_tensor *sum_all(mrg_tensor *x) {
    return mrg_sum(mrg_reshape(x, MRG_SHAPE(-1)), 0, false);
}

static void test_grad(mrg_device *dev, const mrg_st_file *exp) {
    mrg_vit *vit = load(dev, "config.json", true);
    CHECK(vit != NULL);
    if (!vit) return;
    mrg_params *ps = mrg_vit_params(vit);
    CHECK(mrg_params_trainable(ps, NULL) == ps->n);
    bool prev = mrg_grad_set_enabled(dev, true);
    mrg_tensor *x = test_load(dev, exp, "images"), *feats = NULL, *logits = NULL;
    CHECK_OK(mrg_vit_forward(vit, x, &feats, &logits));
    mrg_tensor *loss = mrg_add(sum_all(mrg_mul(logits, test_load(dev, exp, "g_logits"))),
                               sum_all(mrg_mul(feats, test_load(dev, exp, "g_features"))));
    CHECK(loss != NULL);
    CHECK_OK(mrg_backward(loss));
    const char *list = mrg_st_metadata(exp, "grad_params");
    CHECK(list != NULL);
    char names[1024];
    snprintf(names, sizeof names, "%s", list ? list : "");
    int checked = 0;
    for (char *name = strtok(names, ","); name; name = strtok(NULL, ","), checked++) {
        mrg_tensor *p = mrg_params_find(ps, name);
        char gname[128], what[160];
        snprintf(gname, sizeof gname, "grad/%s", name);
        snprintf(what, sizeof what, "d loss / d %s (%s)", name, mrg_device_name(dev));
        CHECK(p && p->grad);
        if (p && p->grad) CHECK(close_to(what, p->grad, exp, gname));
    }
    CHECK(checked >= 10);
    mrg_grad_set_enabled(dev, prev);
    mrg_step_reset(dev);

    /* freezing drops the gradients; thawing brings them back */
    CHECK_OK(mrg_params_set_trainable(ps, "blocks.", false));
    CHECK(mrg_params_trainable(ps, NULL) == ps->n - 2 * 12);
    CHECK(mrg_params_find(ps, "blocks.1.mlp.fc2.bias")->grad == NULL);
    CHECK_OK(mrg_params_set_trainable(ps, "", true));
    CHECK(mrg_params_trainable(ps, NULL) == ps->n);
    mrg_vit_free(vit);
}

/* save → load gives the same model; prefixes name the parameters */
static void test_save_load(mrg_device *dev, const mrg_st_file *exp) {
    char dir[] = "/tmp/mrg_test_vit_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    mrg_vit_opts o = {.trainable = false, .seed = 0, .prefix = "vit."};
    mrg_vit *a = mrg_vit_load_files(gpath("config_timm.json"), gpath("model.safetensors"), dev, &o);
    CHECK(a != NULL);
    if (!a) return;
    CHECK(mrg_params_find(mrg_vit_params(a), "vit.blocks.0.attn.qkv.weight") != NULL);
    CHECK_OK(mrg_vit_save(a, dir));
    mrg_vit *b = mrg_vit_load(dir, dev, NULL);
    CHECK(b != NULL);
    if (b) {
        bool prev = mrg_grad_set_enabled(dev, false);
        mrg_tensor *logits = NULL;
        CHECK_OK(mrg_vit_forward(b, test_load(dev, exp, "images"), NULL, &logits));
        CHECK(close_to("reloaded logits", logits, exp, "logits"));
        mrg_grad_set_enabled(dev, prev);
        mrg_step_reset(dev);
        mrg_vit_free(b);
    }
    mrg_vit_free(a);
    CHECK_OK(mrg_rm_tree(dir));
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* configs that contradict the weights, or cannot name the heads, fail */
static void test_config_errors(mrg_device *dev) {
    const char *cfg = "/tmp/mrg_test_vit_config.json";
    const char *cases[][2] = {
        {"{\"image_size\": 32, \"patch_size\": 8, \"dim\": 64, \"depth\": 2, \"heads\": 4, "
         "\"num_classes\": 10, \"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}",
         "dim"},
        {"{\"image_size\": 32, \"patch_size\": 8, \"dim\": 48, \"depth\": 2, \"heads\": 3, "
         "\"num_classes\": 10}",
         "mean"},
        {"{\"architecture\": \"vit_custom_patch8_32\", \"num_classes\": 10}", "heads"},
        {"{\"architecture\": \"vit_tiny_patch8_32\", \"num_classes\": 0}", "num_classes"},
        {"{\"architecture\": \"vit_tiny_patch8_32\", \"pretrained_cfg\": {\"input_size\": [3, 64, "
         "64]}}",
         "image_size"},
        {"{\"image_size\": 32, \"patch_size\": 8, \"dim\": 48, \"depth\": 2, \"heads\": 5, "
         "\"num_classes\": 10, \"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}",
         "heads"},
        {"[1, 2]", "JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(cfg, cases[i][0]);
        mrg_vit *v = mrg_vit_load_files(cfg, gpath("model.safetensors"), dev, NULL);
        CHECK(v == NULL);
        CHECK(strstr(mrg_last_error(), cases[i][1]) != NULL);
        if (v || !strstr(mrg_last_error(), cases[i][1]))
            fprintf(stderr, "  config case %zu: %s\n", i, mrg_last_error());
        mrg_vit_free(v);
    }
    /* heads from model_args when the name does not tell them */
    write_text(cfg,
               "{\"architecture\": \"vit_custom_patch8_32.x\", \"num_classes\": 10, "
               "\"model_args\": {\"num_heads\": 3, \"img_size\": [32, 32], \"embed_dim\": 48}}");
    mrg_vit *v = mrg_vit_load_files(cfg, gpath("model.safetensors"), dev, NULL);
    CHECK(v != NULL);
    if (v) CHECK(mrg_vit_get_config(v)->heads == 3 && mrg_vit_get_config(v)->mean[0] == 0.5f);
    mrg_vit_free(v);
    remove(cfg);
    /* a checkpoint with a tensor this ViT does not have is refused */
    CHECK(mrg_vit_load_files(gpath("config.json"), gpath("expected.safetensors"), dev, NULL) ==
          NULL);
    CHECK(mrg_vit_load("/nonexistent/vit", dev, NULL) == NULL);
}

/* the nn layers: names, counts, seeded init; cross-attention with the
 * self-attention's q/k/v weights equals self-attention */
static void test_nn(mrg_device *dev) {
    mrg_params ps;
    mrg_params_init(&ps);
    mrg_nn_ctx ctx = mrg_nn_ctx_make(dev, &ps, 42, false);
    snprintf(ctx.prefix, sizeof ctx.prefix, "enc.");
    mrg_nn_attention sa;
    mrg_nn_cross_attention ca;
    const int64_t D = 24, H = 4, T = 5, B = 2;
    CHECK_OK(mrg_nn_attention_init(&sa, &ctx, "self", D, (int)H));
    CHECK_OK(mrg_nn_cross_attention_init(&ca, &ctx, "cross", D, D, (int)H));
    CHECK(ps.n == 4 + 8);
    CHECK(mrg_params_find(&ps, "enc.self.qkv.weight") && mrg_params_find(&ps, "enc.cross.v.bias"));
    CHECK(mrg_params_numel(&ps) == (3 * D * D + 3 * D + D * D + D) + 4 * (D * D + D));
    mrg_nn_attention scratch;
    CHECK(mrg_nn_attention_init(&scratch, &ctx, "self", D, (int)H) != MRG_OK); /* duplicate */
    CHECK(mrg_nn_attention_init(&scratch, &ctx, "bad", D, 5) == MRG_ERR_INVALID_ARG);
    /* copy qkv rows [0,D), [D,2D), [2D,3D) into q, k, v; proj into proj */
    int64_t nw = 3 * D * D;
    float *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * 3 * (size_t)D);
    float *pw = malloc(sizeof(float) * (size_t)(D * D)), *pb = malloc(sizeof(float) * (size_t)D);
    CHECK_OK(mrg_tensor_to_f32(sa.qkv.weight, w));
    CHECK_OK(mrg_tensor_to_f32(sa.qkv.bias, b));
    test_fill_uniform(b, 3 * D, 3, -0.5f, 0.5f); /* biases start at zero: make them count */
    CHECK_OK(mrg_tensor_upload_f32(sa.qkv.bias, b));
    mrg_nn_linear *dst[3] = {&ca.q, &ca.k, &ca.v};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(mrg_tensor_upload_f32(dst[i]->weight, w + i * D * D));
        CHECK_OK(mrg_tensor_upload_f32(dst[i]->bias, b + i * D));
    }
    CHECK_OK(mrg_tensor_to_f32(sa.proj.weight, pw));
    CHECK_OK(mrg_tensor_to_f32(sa.proj.bias, pb));
    CHECK_OK(mrg_tensor_upload_f32(ca.proj.weight, pw));
    CHECK_OK(mrg_tensor_upload_f32(ca.proj.bias, pb));
    /* seeded init: not all equal, std near 0.02 */
    double s2 = 0;
    for (int64_t i = 0; i < nw; i++) s2 += (double)w[i] * w[i];
    CHECK(fabs(sqrt(s2 / (double)nw) - 0.02 * 0.88) < 0.004); /* ±2σ truncation: σ·0.88 */
    float *xh = malloc(sizeof(float) * (size_t)(B * T * D));
    test_fill_uniform(xh, B * T * D, 7, -1, 1);
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(B, T, D), xh);
    mrg_tensor *ys = mrg_nn_attention_forward(&sa, x, NULL);
    mrg_tensor *yc = mrg_nn_cross_attention_forward(&ca, x, x, NULL);
    float *a = malloc(sizeof(float) * (size_t)(B * T * D)),
          *c = malloc(sizeof(float) * (size_t)(B * T * D));
    CHECK(ys && yc);
    if (ys && yc) {
        CHECK_OK(mrg_tensor_to_f32(ys, a));
        CHECK_OK(mrg_tensor_to_f32(yc, c));
        CHECK(test_close("cross == self attention", c, a, B * T * D, 1e-5, 1e-6));
        CHECK(test_max_abs(a, B * T * D) > 1e-3);
    }
    /* shape errors are reported, not crashed on */
    CHECK(mrg_nn_attention_forward(&sa, mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(B, T, D + 1)),
                                   NULL) == NULL);
    mrg_grad_set_enabled(dev, prev);
    mrg_step_reset(dev);
    free(w), free(b), free(pw), free(pb), free(xh), free(a), free(c);
    mrg_params_free(&ps);
    CHECK(ps.n == 0);
}

/* runs `mrg vit` and parses "id<TAB>logit" lines; returns the line count */
static int run_cli(const char *args, int *ids, float *vals, int max) {
    const char *bin = getenv("MRG_BIN");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' vit %s", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int n = 0, id;
    float v;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "%d\t%f", &id, &v) == 2 && n < max) {
            ids[n] = id;
            vals[n++] = v;
        }
    int rc = pclose(p);
    return rc == 0 ? n : -1;
}

/* checks K printed lines against the expected logits row: ids best first */
static void check_ranked(const char *what, const int *ids, const float *vals, int n, int k,
                         const float *want, int C) {
    CHECK(n == k);
    double floor = RTOL * test_max_abs(want, C);
    for (int i = 0; i < n && i < k; i++) {
        CHECK(ids[i] >= 0 && ids[i] < C);
        if (ids[i] < 0 || ids[i] >= C) continue;
        int better = 0; /* rank of ids[i] among the expected logits */
        for (int c = 0; c < C; c++) better += want[c] > want[ids[i]];
        CHECK(better == i);
        bool ok = fabs((double)vals[i] - want[ids[i]]) <= fmax(RTOL * fabs(want[ids[i]]), floor);
        CHECK(ok);
        if (!ok || better != i)
            fprintf(stderr, "  %s line %d: %d %.7g, expected logit %.7g (rank %d)\n", what, i,
                    ids[i], (double)vals[i], (double)want[ids[i]], better);
    }
}

static void test_cli(const char *device, const mrg_st_file *exp) {
    if (!getenv("MRG_BIN") || access(getenv("MRG_BIN"), X_OK) != 0) {
        fprintf(stderr, "  (MRG_BIN not set: command checks skipped)\n");
        return;
    }
    int64_t n;
    float *logits = test_golden_f32(exp, "logits", &n);
    float *resize = test_golden_f32(exp, "logits_resize", &n);
    float *feats = test_golden_f32(exp, "features", &n);
    int ids[16];
    float vals[16];
    char args[8192];
    const char *npy = "/tmp/mrg_test_vit_features.npy",
               *st = "/tmp/mrg_test_vit_features.safetensors";
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 10 --device %s --features %s",
             golden_dir, gpath("test.png"), device, npy);
    int got = run_cli(args, ids, vals, 16);
    CHECK(got == 10);
    if (logits) check_ranked("mrg vit test.png", ids, vals, got, 10, logits, 10);
    /* the .npy: header then (1, 17, 48) f32 = features[0] */
    FILE *f = fopen(npy, "rb");
    CHECK(f != NULL);
    if (f && feats) {
        unsigned char pre[10];
        CHECK(fread(pre, 1, 10, f) == 10 && !memcmp(pre, "\x93NUMPY\x01\x00", 8));
        int hlen = pre[8] | pre[9] << 8;
        char header[512] = {0};
        CHECK(hlen < (int)sizeof header && (10 + hlen) % 64 == 0);
        CHECK(fread(header, 1, (size_t)hlen, f) == (size_t)hlen);
        CHECK(strstr(header, "'shape': (1, 17, 48)") && strstr(header, "'<f4'"));
        float data[17 * 48];
        CHECK(fread(data, sizeof(float), 17 * 48, f) == 17 * 48 && fgetc(f) == EOF);
        CHECK(test_close("mrg vit --features .npy", data, feats, 17 * 48, RTOL,
                         RTOL * test_max_abs(feats, 17 * 48)));
    }
    if (f) fclose(f);
    remove(npy);
    /* resize path (40x48 → 32x32), safetensors features */
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 3 --device %s --features %s",
             golden_dir, gpath("test_resize.png"), device, st);
    got = run_cli(args, ids, vals, 16);
    if (resize) check_ranked("mrg vit test_resize.png", ids, vals, got, 3, resize, 10);
    mrg_st_file *sf = mrg_st_open(st);
    CHECK(sf != NULL);
    if (sf) {
        const mrg_st_tensor *t = mrg_st_require(sf, "features", MRG_SHAPE(1, 17, 48));
        const mrg_st_tensor *l = mrg_st_require(sf, "logits", MRG_SHAPE(1, 10));
        CHECK(t && l && t->dtype == MRG_F32);
        if (l && resize)
            CHECK(test_close("features file logits", (const float *)l->data, resize, 10, RTOL,
                             RTOL * test_max_abs(resize, 10)));
        mrg_st_close(sf);
    }
    remove(st);
    /* failures: missing image → 1, unknown option → 2 */
    snprintf(args, sizeof args, "--model '%s' --image /nonexistent.png --device %s 2>/dev/null",
             golden_dir, device);
    CHECK(run_cli(args, ids, vals, 16) == -1);
    CHECK(run_cli("--bogus 1 2>/dev/null", ids, vals, 16) == -1);
    free(logits);
    free(resize);
    free(feats);
}

int main(void) {
    snprintf(golden_dir, sizeof golden_dir, "%s", test_golden_path("vit"));
    mrg_st_file *exp = mrg_st_open(gpath("expected.safetensors"));
    CHECK(exp != NULL);
    if (!exp) return test_finish("vit");
    for (test_device_iter it = {0}; test_next_device(&it);) {
        mrg_device *dev = it.dev;
        test_forward(dev, exp, "config.json");
        test_forward(dev, exp, "config_timm.json");
        test_grad(dev, exp);
        test_save_load(dev, exp);
        test_config_errors(dev);
        test_nn(dev);
        test_cli(it.name, exp);
    }
    mrg_st_close(exp);
    return test_finish("vit");
}
