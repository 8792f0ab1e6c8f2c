/* The `micro` report generator memorises 4 studies (issue 4, item 7): with
 * the LLaMA frozen, AdamW on the trained parts (ViT, content and topic
 * encoders, projection) drives the loss of a 4-study batch down until greedy
 * generation from each study's images reproduces its report exactly.
 *
 * The frozen LLaMA is the micro shape pretrained here (mrg_pretrain_lm_texts
 * with its own BPE tokenizer) on the 4 reports in the report generator's
 * own context: BOS + "Human: <Img>" + slot + "</Img> Generate ... \nAssistant:"
 * + report, the slot's Kc + Kt positions holding mean embeddings of random
 * spans of the report (MRG_SLOT_SPANS: exact memorisation needs the wording
 * in the hints, which finding codes do not carry). Two reports
 * start with the same word ("the heart ...", "the lungs ..."), so after
 * "the" only the prefix P can tell the LM which one to continue with: 4/4
 * exact means image information reaches the decoder, per study. Each study
 * has its own image pattern.
 *
 * Measured on cpu: with the slot hints all 4 reports are exact after 50
 * steps; pretrained with an empty slot (slot_tokens 0) the LM ignores the
 * prefix and 400 steps end at 3/4 (LM loss 0.07), so the check below fails
 * without them. With a random frozen LM nothing works (LM loss stalls near
 * 2.4-3.0 nats/token): the prefix cannot steer an LM that never learnt to
 * read its context.
 *
 * Runs on every test device. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/autograd.h"
#include "mrg/clock.h"
#include "mrg/generate.h"
#include "mrg/model.h"
#include "mrg/optim.h"
#include "mrg/pretrain.h"
#include "mrg/tokenizer.h"
#include "testutil.h"

#define NB 4          /* studies */
#define MAX_STEPS 400 /* AdamW steps at most */
#define CHECK_EVERY 25
#define LR 1e-2f
#define MAX_DEV 8

static const char *const REPORTS[NB] = {
    "no pleural effusion",
    "the heart is normal in size",
    "the lungs are clear",
    "mild cardiomegaly",
};

/* images (NB, V, 3, S, S) in [-1, 1]: study i view v is a stripe pattern
 * whose level, direction and period depend on (i, v), so no two views of the
 * batch are alike. */
static float *make_images(int V, int S) {
    float *img = malloc(sizeof(float) * (size_t)NB * V * 3 * S * S);
    if (!img) return NULL;
    for (int i = 0; i < NB; i++)
        for (int v = 0; v < V; v++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++) {
                        int period = 2 + i + v;
                        int coord = (i + v) % 2 ? x : y; /* stripes across or down */
                        float level = -0.75f + 0.5f * (float)i;
                        float stripe = (coord / period) % 2 ? 0.25f : -0.25f;
                        img[((((size_t)i * V + v) * 3 + c) * S + y) * S + x] =
                            level + stripe * (v ? -1.0f : 1.0f) + 0.05f * (float)c;
                    }
    return img;
}

/* The batch of the 4 studies: report ids (tokens, then </s>, padded -1). */
static bool make_batch(const mrg_tokenizer *tok, const mrg_model_config *cfg, mrg_batch *b) {
    memset(b, 0, sizeof *b);
    b->B = NB;
    b->V = cfg->n_views;
    b->S = cfg->vit.image_size;
    b->images = make_images(b->V, b->S);
    b->report_len = calloc(NB, sizeof(int));
    b->ids = calloc(NB, sizeof(char *));
    b->reports = calloc(NB, sizeof(char *));
    int32_t *ids[NB] = {0};
    int n[NB] = {0};
    bool ok = b->images && b->report_len && b->ids && b->reports;
    for (int i = 0; i < NB && ok; i++) {
        ok = mrg_tokenizer_encode(tok, REPORTS[i], false, &ids[i], &n[i]) == MRG_OK;
        if (!ok) break;
        /* every piece is known: the text decodes back unchanged, no <unk> */
        for (int k = 0; k < n[i]; k++) CHECK(ids[i][k] != mrg_tokenizer_unk(tok));
        char *back = mrg_tokenizer_decode(tok, ids[i], n[i]);
        CHECK(back && !strcmp(back, REPORTS[i]));
        free(back);
        b->report_len[i] = n[i] + 1;
        if (b->report_len[i] > b->T) b->T = b->report_len[i];
        b->ids[i] = strdup("overfit");
        b->reports[i] = strdup(REPORTS[i]);
    }
    if (ok) b->report_ids = malloc(sizeof(int32_t) * (size_t)NB * (size_t)b->T);
    ok = ok && b->report_ids;
    for (int i = 0; i < NB && ok; i++) {
        for (int t = 0; t < b->T; t++) b->report_ids[i * b->T + t] = -1;
        memcpy(b->report_ids + i * b->T, ids[i], sizeof(int32_t) * (size_t)n[i]);
        b->report_ids[i * b->T + n[i]] = mrg_tokenizer_eos(tok);
    }
    for (int i = 0; i < NB; i++) free(ids[i]);
    return ok;
}

static void free_batch(mrg_batch *b) {
    for (int i = 0; i < NB; i++) {
        if (b->ids) free(b->ids[i]);
        if (b->reports) free(b->reports[i]);
    }
    free(b->ids);
    free(b->reports);
    free(b->images);
    free(b->report_ids);
    free(b->report_len);
}

/* Greedy reports of the batch's images; returns how many equal their
 * reference exactly, and prints the ones that differ when verbose. */
static int generate_matches(mrg_model *m, const mrg_batch *b, bool verbose) {
    mrg_gen_opts o = mrg_gen_defaults();
    o.mode = MRG_GEN_GREEDY;
    o.beam = 1;
    o.repetition_penalty = 1.0f;
    o.min_new = 0;
    o.max_new = 40;
    char *out[NB] = {0};
    int match = 0;
    mrg_status st = mrg_generate_batch(m, b->images, NB, &o, out);
    CHECK_OK(st);
    for (int i = 0; i < NB && st == MRG_OK; i++) {
        bool same = out[i] && !strcmp(out[i], REPORTS[i]);
        match += same;
        if (verbose)
            printf("    study %d: %s \"%s\" (want \"%s\")\n", i, same ? "ok  " : "DIFF",
                   out[i] ? out[i] : "(null)", REPORTS[i]);
    }
    for (int i = 0; i < NB; i++) free(out[i]);
    return match;
}

static void test_device(const char *name) {
    mrg_device *dev = mrg_device_open(name);
    CHECK(dev != NULL);
    if (!dev) return;
    printf("%s\n", name);
    double t0 = mrg_now_s();
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    char tokpath[4096], lmdir[] = "/tmp/mrg_overfit_XXXXXX";
    snprintf(tokpath, sizeof tokpath, "%s", test_golden_path("model/lm/tokenizer.model"));
    CHECK(mkdtemp(lmdir) != NULL);
    char lmout[64];
    snprintf(lmout, sizeof lmout, "%s/lm", lmdir);
    mrg_pretrain_opts po = mrg_pretrain_defaults();
    po.tokenizer = NULL;
    po.vocab_size = 300;
    po.context_before = cfg.prompt_before;
    po.context_after = cfg.prompt_after;
    po.slot_tokens = cfg.Kc + cfg.Kt;
    po.slot_hint = MRG_SLOT_SPANS;
    po.steps = 300;
    po.batch_size = NB;
    po.lr = 1e-2f;
    po.min_lr = po.lr;
    po.log_every = 0;
    float pf = NAN, pl = NAN;
    CHECK_OK(mrg_pretrain_lm_texts(REPORTS, NB, &cfg.lm, &po, dev, lmout, &pf, &pl));
    printf("  LM pretraining: loss %.4f -> %.4f, %.1f s\n", pf, pl, mrg_now_s() - t0);
    mrg_model *m = mrg_model_create(&cfg, dev, lmout, NULL, NULL);
    CHECK(m != NULL);
    mrg_batch b;
    bool have_batch = m && make_batch(mrg_model_tokenizer(m), mrg_model_get_config(m), &b);
    CHECK(!m || have_batch);
    if (!have_batch) {
        if (m) free_batch(&b);
        mrg_model_free(m);
        mrg_rm_tree(lmdir);
        mrg_device_free(dev);
        return;
    }

    mrg_tensor *tp[256];
    int nt = mrg_model_trainable(m, tp, NULL, 256);
    CHECK(nt > 0 && nt <= 256);
    mrg_adamw_opts ao = mrg_adamw_defaults();
    ao.lr = LR;
    ao.weight_decay = 0.0f;
    mrg_adamw *opt = mrg_adamw_create(tp, nt, &ao);
    CHECK(opt != NULL);

    /* with the trained parts still random, the 4 reports do not all come out */
    int match = generate_matches(m, &b, false);
    CHECK(match < NB);
    float first = NAN, last = NAN, last_lm = NAN;
    int steps = 0;
    for (int s = 1; s <= MAX_STEPS && opt; s++) {
        mrg_loss_parts lp;
        CHECK_OK(mrg_zero_grad(tp, nt));
        if (mrg_model_loss(m, &b, &lp) != MRG_OK) {
            CHECK(false);
            break;
        }
        CHECK_OK(mrg_tensor_item(lp.total, &last));
        CHECK_OK(mrg_tensor_item(lp.lm, &last_lm));
        if (s == 1) first = last;
        CHECK_OK(mrg_backward(lp.total));
        CHECK_OK(mrg_clip_grad_norm(tp, nt, 1.0f, NULL));
        CHECK_OK(mrg_adamw_step(opt, LR));
        mrg_step_reset(dev);
        steps = s;
        if (!isfinite(last)) break;
        if (s % CHECK_EVERY == 0) {
            match = generate_matches(m, &b, false);
            printf("  step %3d: loss %.4f (lm %.4f), %d/%d reports exact\n", s, last, last_lm,
                   match, NB);
            if (match == NB) break;
        }
    }
    printf("  loss %.4f -> %.4f after %d steps, %.1f s\n", first, last, steps, mrg_now_s() - t0);
    CHECK(isfinite(last) && last < first);
    /* the final check: every study's greedy report is its reference, exactly */
    match = generate_matches(m, &b, true);
    CHECK(match == NB);

    mrg_adamw_free(opt);
    free_batch(&b);
    mrg_model_free(m);
    mrg_rm_tree(lmdir);
    mrg_device_free(dev);
}

int main(void) {
    char names[MAX_DEV][32];
    int nd = test_devices(names, MAX_DEV);
    for (int d = 0; d < nd; d++) test_device(names[d]);
    return test_finish("overfit");
}
