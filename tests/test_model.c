/* The report generator (micro preset) against the PyTorch reference of
 * tools/ref/model_ref.py: prompt ids, topic embeddings, the prefix, the
 * three losses and the gradient of every trainable parameter, on every test
 * device; save/load round trips (a loaded LM and a random one kept inside
 * the checkpoint); 20 AdamW steps giving the same losses on every device;
 * presets and JSON configs. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "models/model_internal.h"
#include "mrg/autograd.h"
#include "mrg/model.h"
#include "mrg/optim.h"
#include "testutil.h"

#define RTOL 1e-4
#define STEPS 20
#define MAX_DEV 8

/* tensor vs golden `name`: relative 1e-4, floor 1e-4 of the largest value.
 * Gradients that are zero in exact arithmetic (key biases: softmax ignores
 * a shift shared by all keys) are f32 rounding noise here: floor 1e-6. */
static bool close_to(const char *what, const mrg_tensor *t, const mrg_st_file *exp,
                     const char *name) {
    return test_golden_close(what, t, exp, name, RTOL, 1e-6);
}

static bool scalar_close(const char *what, const mrg_tensor *t, float want) {
    float got = NAN;
    if (!t || mrg_tensor_item(t, &got) != MRG_OK) return false;
    return test_close(what, &got, &want, 1, RTOL, 1e-6);
}

static int32_t *golden_i32(const mrg_st_file *f, const char *name, int64_t *n) {
    const mrg_st_tensor *st = mrg_st_find(f, name);
    if (!st || st->dtype != MRG_I32) return NULL;
    *n = (int64_t)(st->nbytes / sizeof(int32_t));
    int32_t *out = malloc(st->nbytes);
    if (out) memcpy(out, st->data, st->nbytes); /* may be unaligned in the file */
    return out;
}

/* The golden batch on the host. */
typedef struct golden {
    mrg_batch b;
    float loss_total, loss_lm, loss_con;
} golden;

static bool golden_load(const mrg_st_file *exp, golden *g) {
    memset(g, 0, sizeof *g);
    const mrg_st_tensor *img = mrg_st_find(exp, "images");
    const mrg_st_tensor *ids = mrg_st_find(exp, "report_ids");
    if (!img || img->ndim != 5 || !ids || ids->ndim != 2) return false;
    int64_t n;
    g->b.B = (int)img->shape[0];
    g->b.V = (int)img->shape[1];
    g->b.S = (int)img->shape[3];
    g->b.T = (int)ids->shape[1];
    g->b.images = test_golden_f32(exp, "images", &n);
    g->b.report_ids = golden_i32(exp, "report_ids", &n);
    g->b.report_len = (int *)golden_i32(exp, "report_len", &n); /* int is int32 here */
    float *l = test_golden_f32(exp, "loss_total", &n);
    float *lm = test_golden_f32(exp, "loss_lm", &n);
    float *con = test_golden_f32(exp, "loss_con", &n);
    bool ok = g->b.images && g->b.report_ids && g->b.report_len && l && lm && con;
    if (ok) {
        g->loss_total = l[0];
        g->loss_lm = lm[0];
        g->loss_con = con[0];
    }
    free(l);
    free(lm);
    free(con);
    return ok;
}

static void golden_free(golden *g) {
    free(g->b.images);
    free(g->b.report_ids);
    free(g->b.report_len);
}

static float loss_of(mrg_model *m, const golden *g) {
    mrg_device *dev = mrg_model_device(m);
    bool prev = mrg_grad_set_enabled(dev, false);
    mrg_loss_parts lp;
    float v = NAN;
    if (mrg_model_loss(m, &g->b, &lp) == MRG_OK) mrg_tensor_item(lp.total, &v);
    mrg_grad_set_enabled(dev, prev);
    mrg_step_reset(dev);
    return v;
}

/* Prompt ids, topic embeddings, prefix, losses and gradients. */
static void test_reference(mrg_model *m, const mrg_st_file *exp, const golden *g) {
    mrg_device *dev = mrg_model_device(m);
    int64_t n;
    const int32_t *before, *after;
    int nb, na;
    CHECK_OK(mrg_model_prompt_ids(m, &before, &nb, &after, &na));
    int32_t *wb = golden_i32(exp, "prompt_before", &n);
    CHECK(wb && n == nb && !memcmp(wb, before, sizeof(int32_t) * (size_t)nb));
    free(wb);
    int32_t *wa = golden_i32(exp, "prompt_after", &n);
    CHECK(wa && n == na && !memcmp(wa, after, sizeof(int32_t) * (size_t)na));
    free(wa);
    CHECK(close_to("topic_emb", m->topic_emb, exp, "topic_emb"));

    mrg_tensor *img =
        mrg_tensor_from_f32(dev, MRG_SHAPE(g->b.B, g->b.V, 3, g->b.S, g->b.S), g->b.images);
    CHECK(close_to("prefix", mrg_model_prefix(m, img), exp, "prefix"));
    mrg_step_reset(dev);

    mrg_tensor *tp[256];
    const char *names[256];
    int nt = mrg_model_trainable(m, tp, names, 256);
    CHECK(nt > 0 && nt <= 256);
    CHECK_OK(mrg_zero_grad(tp, nt));
    mrg_loss_parts lp;
    CHECK_OK(mrg_model_loss(m, &g->b, &lp));
    CHECK(scalar_close("loss total", lp.total, g->loss_total));
    CHECK(scalar_close("loss lm", lp.lm, g->loss_lm));
    CHECK(scalar_close("loss con", lp.con, g->loss_con));
    CHECK_OK(mrg_backward(lp.total));
    int compared = 0;
    for (int i = 0; i < nt && i < 256; i++) {
        char key[128];
        snprintf(key, sizeof key, "grad/%s", names[i]);
        CHECK(tp[i]->grad != NULL);
        if (tp[i]->grad && close_to(key, tp[i]->grad, exp, key)) compared++;
    }
    /* every parameter of the reference is trainable here and has its gradient */
    int golden_grads = 0;
    for (int i = 0; i < mrg_st_count(exp); i++)
        golden_grads += !strncmp(mrg_st_get(exp, i)->name, "grad/", 5);
    CHECK(compared == nt && nt == golden_grads);
    printf("  %d parameter gradients match\n", compared);
    mrg_step_reset(dev);
    CHECK_OK(mrg_zero_grad(tp, nt));
}

/* 20 AdamW steps on the golden batch; losses into out. */
static void train_steps(mrg_model *m, const golden *g, float *out) {
    mrg_device *dev = mrg_model_device(m);
    mrg_tensor *tp[256];
    int nt = mrg_model_trainable(m, tp, NULL, 256);
    mrg_adamw_opts o = mrg_adamw_defaults();
    o.lr = 1e-3f;
    mrg_adamw *opt = mrg_adamw_create(tp, nt, &o);
    CHECK(opt != NULL);
    for (int s = 0; s < STEPS && opt; s++) {
        mrg_loss_parts lp;
        out[s] = NAN;
        CHECK_OK(mrg_zero_grad(tp, nt));
        if (mrg_model_loss(m, &g->b, &lp) != MRG_OK) break;
        CHECK_OK(mrg_tensor_item(lp.total, &out[s]));
        CHECK_OK(mrg_backward(lp.total));
        CHECK_OK(mrg_adamw_step(opt, o.lr));
        mrg_step_reset(dev);
    }
    mrg_adamw_free(opt);
    printf("  losses: step 1 %.6f, step %d %.6f\n", out[0], STEPS, out[STEPS - 1]);
    CHECK(out[STEPS - 1] < out[0]); /* it learns */
}

/* Checkpoint round trip: the loaded model computes the same loss. */
static void test_save_load(mrg_model *m, mrg_device *dev, const golden *g, bool lm_inside) {
    char dir[] = "/tmp/mrg_model_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[64];
    snprintf(sub, sizeof sub, "%s/ck", dir);
    float before = loss_of(m, g);
    CHECK_OK(mrg_model_save(m, sub));
    mrg_model *m2 = mrg_model_load(sub, dev);
    CHECK(m2 != NULL);
    if (m2) {
        float after = loss_of(m2, g);
        CHECK(isfinite(before) && after == before);
        char lm_cfg[128];
        snprintf(lm_cfg, sizeof lm_cfg, "%s/lm/config.json", sub);
        CHECK((access(lm_cfg, F_OK) == 0) == lm_inside);
        snprintf(lm_cfg, sizeof lm_cfg, "%s/tokenizer.model", sub); /* a copy travels along */
        CHECK(access(lm_cfg, F_OK) == 0);
        const mrg_model_config *a = mrg_model_get_config(m), *b = mrg_model_get_config(m2);
        char *ja = mrg_model_config_to_json(a), *jb = mrg_model_config_to_json(b);
        CHECK(ja && jb && !strcmp(ja, jb));
        free(ja);
        free(jb);
        mrg_model_free(m2);
    }
    mrg_rm_tree(dir);
}

/* With both views identical, averaging the views (mean) and concatenating
 * them give the same prefix: attention over duplicated tokens equals
 * attention over one copy. Also the batch checks. */
static void test_views(mrg_model *m, const golden *g) {
    mrg_device *dev = mrg_model_device(m);
    const mrg_batch *b = &g->b;
    size_t view = (size_t)3 * b->S * b->S;
    float *same = malloc(sizeof(float) * view * (size_t)(b->B * b->V));
    CHECK(same != NULL);
    if (!same) return;
    for (int i = 0; i < b->B; i++)
        for (int v = 0; v < b->V; v++)
            memcpy(same + ((size_t)i * b->V + v) * view, b->images + (size_t)i * b->V * view,
                   sizeof(float) * view);
    mrg_tensor *img = mrg_tensor_from_f32(dev, MRG_SHAPE(b->B, b->V, 3, b->S, b->S), same);
    float *cat = test_download(mrg_model_prefix(m, img));
    m->cfg.view_combine = MRG_VIEWS_MEAN;
    float *mean = test_download(mrg_model_prefix(m, img));
    m->cfg.view_combine = MRG_VIEWS_CONCAT;
    int64_t n = (int64_t)b->B * (m->cfg.Kc + m->cfg.Kt) * m->cfg.lm.dim;
    CHECK(cat && mean &&
          test_close("prefix, mean vs concat of equal views", mean, cat, n, RTOL,
                     RTOL * test_max_abs(cat, n)));
    free(cat);
    free(mean);
    free(same);
    mrg_step_reset(dev);
    /* malformed batches are refused with a message */
    mrg_batch bad = *b;
    mrg_loss_parts lp;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(b->B * b->T));
    CHECK(ids != NULL);
    if (!ids) return;
    memcpy(ids, b->report_ids, sizeof(int32_t) * (size_t)(b->B * b->T));
    ids[0] = m->cfg.lm.vocab_size; /* out of the vocabulary */
    bad.report_ids = ids;
    CHECK(mrg_model_loss(m, &bad, &lp) == MRG_ERR_INVALID_ARG && lp.total == NULL);
    bad = *b;
    bad.V = b->V + 1;
    CHECK(mrg_model_loss(m, &bad, &lp) == MRG_ERR_INVALID_ARG);
    free(ids);
    mrg_step_reset(dev);
}

/* A ViT initialised from a timm-style directory (tests/golden/vit: 32 px,
 * 48 wide, with a classifier head that the model drops). */
static void test_vit_dir(mrg_device *dev) {
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    char lm[4096];
    snprintf(lm, sizeof lm, "%s", test_golden_path("model/lm")); /* a static buffer */
    mrg_model *m = mrg_model_create(&cfg, dev, lm, test_golden_path("vit"), NULL);
    CHECK(m != NULL);
    if (!m) return;
    const mrg_model_config *c = mrg_model_get_config(m);
    CHECK(c->vit.image_size == 32 && c->vit.dim == 48 && c->vit.num_classes == 0);
    mrg_st_file *f = test_golden_open("vit/model.safetensors");
    mrg_tensor *ps[256];
    const char *names[256];
    int n = mrg_model_params(m, ps, names, 256), vit = 0;
    for (int i = 0; f && i < n && i < 256; i++) {
        if (strncmp(names[i], "vit.", 4)) continue;
        vit++;
        CHECK(close_to(names[i], ps[i], f, names[i] + 4));
    }
    CHECK(vit == mrg_st_count(f) - 2); /* all but head.weight and head.bias */
    mrg_st_close(f);
    mrg_model_free(m);
}

/* A fresh model's projection LayerNorm gain is the RMS of the frozen LM's
 * input embeddings (the whole table when it has at most 4096 rows), so the
 * prefix starts at the scale of the LM's own tokens. */
static void check_prefix_scale(mrg_model *m) {
    mrg_llama *lm = mrg_model_llama(m);
    int64_t V = lm->cfg.vocab_size, D = lm->cfg.dim;
    float *e = test_download(lm->tok_emb);
    mrg_tensor *ps[256];
    const char *names[256];
    int n = mrg_model_params(m, ps, names, 256);
    float *gain = NULL;
    for (int i = 0; i < n && i < 256; i++)
        if (!strcmp(names[i], "proj.norm.weight")) gain = test_download(ps[i]);
    CHECK(e && gain && V <= 4096);
    if (e && gain) {
        double ss = 0;
        for (int64_t i = 0; i < V * D; i++) ss += (double)e[i] * e[i];
        float rms = (float)sqrt(ss / (double)(V * D));
        bool all = true;
        for (int64_t j = 0; j < D; j++) all &= fabsf(gain[j] - rms) <= 1e-5f * rms;
        printf("  prefix LayerNorm gain %.6f = LM embedding RMS %.6f\n", gain[0], rms);
        CHECK(all && rms > 0);
    }
    free(e);
    free(gain);
}

static void test_device(const char *name, const mrg_st_file *exp, const golden *g, float *losses) {
    mrg_device *dev = mrg_device_open(name);
    CHECK(dev != NULL);
    if (!dev) return;
    printf("%s\n", name);
    mrg_model *m = mrg_model_load(test_golden_path("model/ckpt"), dev);
    CHECK(m != NULL);
    if (m) {
        test_reference(m, exp, g);
        test_views(m, g);
        test_save_load(m, dev, g, false);
        train_steps(m, g, losses);
        mrg_model_free(m);
    }
    test_vit_dir(dev);
    /* a fresh model: trainable lists, frozen ViT, a random LM kept in the checkpoint */
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    m = mrg_model_create(&cfg, dev, test_golden_path("model/lm"), NULL, NULL);
    CHECK(m != NULL);
    int all = m ? mrg_model_params(m, NULL, NULL, 0) : 0;
    CHECK(m && mrg_model_trainable(m, NULL, NULL, 0) == all && all > 0);
    CHECK(m && isfinite(loss_of(m, g)));
    if (m) check_prefix_scale(m);
    mrg_model_free(m);
    CHECK(mrg_model_create(&cfg, dev, NULL, NULL, NULL) == NULL); /* no tokenizer */
    CHECK(strstr(mrg_last_error(), "tokenizer") != NULL);
    cfg.freeze_vit = true;
    m = mrg_model_create(&cfg, dev, NULL, NULL, test_golden_path("model/lm/tokenizer.model"));
    CHECK(m != NULL);
    if (m) {
        const char *names[256];
        int nt = mrg_model_trainable(m, NULL, names, 256);
        int vit = 0;
        for (int i = 0; i < nt; i++) vit += !strncmp(names[i], "vit.", 4);
        CHECK(nt > 0 && vit == 0 && mrg_model_params(m, NULL, NULL, 0) > nt);
        test_save_load(m, dev, g, true);
        mrg_model_free(m);
    }
    mrg_device_free(dev);
}

static void test_config(void) {
    const char *presets[] = {"paper", "tiny", "micro"};
    for (int i = 0; i < 3; i++) {
        mrg_model_config c, d;
        CHECK_OK(mrg_model_preset(presets[i], &c));
        CHECK_OK(mrg_model_config_check(&c));
        CHECK(!strcmp(c.preset, presets[i]));
        /* JSON round trip through a config of another preset */
        char *j = mrg_model_config_to_json(&c);
        CHECK_OK(mrg_model_preset(i ? "paper" : "micro", &d));
        CHECK(j && mrg_model_config_apply_json(&d, j) == MRG_OK);
        char *j2 = mrg_model_config_to_json(&d);
        CHECK(j && j2 && !strcmp(j, j2));
        free(j);
        free(j2);
    }
    mrg_model_config c;
    CHECK_OK(mrg_model_preset("paper", &c));
    CHECK(c.vit.dim == 768 && c.Kc == 64 && c.Kt == 8 && c.lm.dim == 4096 &&
          !strcmp(c.topic_words[5], "mediastinum") && c.lm.rope_layout == MRG_ROPE_HALF);
    CHECK(mrg_model_preset("huge", &c) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_model_config_apply_json(&c,
                                      "{\"Lc\": 3, \"vit\": {\"depth\": 4}, "
                                      "\"lm\": {\"rope_layout\": \"interleaved\"}, "
                                      "\"view_combine\": \"mean\", "
                                      "\"topic_words\": [\"a\", \"b\", \"c\"]}") == MRG_OK);
    CHECK(c.Lc == 3 && c.vit.depth == 4 && c.lm.rope_layout == MRG_ROPE_INTERLEAVED &&
          c.view_combine == MRG_VIEWS_MEAN && c.Kt == 3 && !strcmp(c.topic_words[2], "c") &&
          c.topic_words[3][0] == 0);
    CHECK(mrg_model_config_apply_json(&c, "{\"Lcc\": 3}") == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "Lcc") != NULL);
    CHECK(mrg_model_config_apply_json(&c, "{\"vit\": {\"deep\": 3}}") == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "vit.deep") != NULL);
    CHECK(mrg_model_config_apply_json(&c, "{\"Kt\": 2, \"topic_words\": [\"x\"]}") != MRG_OK);
    CHECK(mrg_model_config_apply_json(&c, "{\"Lc\": 1.5}") == MRG_ERR_FORMAT);
    CHECK(c.Lc == 3); /* a failed override leaves the config untouched */
    CHECK(mrg_model_config_apply_json(&c, "[1]") != MRG_OK);
    c.enc_heads = 5; /* 768 is not a multiple of 5 */
    CHECK(mrg_model_config_check(&c) == MRG_ERR_INVALID_ARG);
}

int main(void) {
    test_config();
    mrg_st_file *exp = test_golden_open("model/expected.safetensors");
    if (!exp) return test_finish("model");
    golden g;
    CHECK(golden_load(exp, &g));
    char names[MAX_DEV][32];
    int nd = test_devices(names, MAX_DEV);
    float losses[MAX_DEV][STEPS];
    for (int d = 0; d < nd; d++) test_device(names[d], exp, &g, losses[d]);
    /* every device trains the same way */
    for (int d = 1; d < nd; d++) {
        char what[96];
        snprintf(what, sizeof what, "%s vs %s: %d training losses", names[d], names[0], STEPS);
        CHECK(test_close(what, losses[d], losses[0], STEPS, RTOL, 1e-6));
    }
    golden_free(&g);
    mrg_st_close(exp);
    return test_finish("model");
}
