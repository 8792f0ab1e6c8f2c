/* Training machinery:
 *   - the warmup + cosine schedule (endpoints, midpoint, monotonicity);
 *   - atomic checkpoint directories (commit, replace, no leftovers), the
 *     JSON sidecar and the AdamW moments file round trips (a restored
 *     optimizer continues bit-for-bit);
 *   - a sentencepiece tokenizer trained on report text (LLaMA ids, byte
 *     fallback) and `pretrain-lm` on a tiny LLaMA (the loss falls; the
 *     Hugging Face directory loads back);
 *   - on every device, with the micro preset on a synthetic dataset written
 *     here: training N updates straight equals N/2 + stop + resume + N/2,
 *     loss for loss, bit for bit; RUN/last, RUN/best and log.jsonl exist;
 *     --select-by finding-f1 keeps RUN/best by the val finding F1. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/checkpoint.h"
#include "mrg/dataset.h"
#include "mrg/evaluate.h"
#include "mrg/generate.h"
#include "mrg/image.h"
#include "mrg/model.h"
#include "mrg/pretrain.h"
#include "mrg/schedule.h"
#include "mrg/spm_train.h"
#include "mrg/train_run.h"
#include "testutil.h"


static char root[256];

/* ---- schedule ------------------------------------------------------------ */

static void test_schedule(void) {
    mrg_lr_schedule s = mrg_lr_schedule_make(1e-3f, 1e-5f, 0.1f, 100);
    CHECK(s.warmup_steps == 10 && s.total_steps == 100);
    CHECK(fabsf(mrg_lr_at(&s, 0) - 1e-4f) < 1e-10f);
    CHECK(fabsf(mrg_lr_at(&s, 4) - 5e-4f) < 1e-10f);
    CHECK(mrg_lr_at(&s, 9) == 1e-3f);  /* warmup ends at the peak */
    CHECK(mrg_lr_at(&s, 10) == 1e-3f); /* cosine starts at the peak */
    CHECK(fabsf(mrg_lr_at(&s, 55) - (1e-5f + 0.5f * (1e-3f - 1e-5f))) < 1e-9f);
    CHECK(fabsf(mrg_lr_at(&s, 100) - 1e-5f) < 1e-12f);
    CHECK(fabsf(mrg_lr_at(&s, 5000) - 1e-5f) < 1e-12f);
    bool mono = true;
    for (int i = 11; i <= 100; i++) mono = mono && mrg_lr_at(&s, i) <= mrg_lr_at(&s, i - 1);
    CHECK(mono);
    mrg_lr_schedule z = mrg_lr_schedule_make(2e-4f, 0.0f, 0.0f, 10);
    CHECK(z.warmup_steps == 0 && mrg_lr_at(&z, 0) == 2e-4f && mrg_lr_at(&z, 10) == 0.0f);
    mrg_lr_schedule w = mrg_lr_schedule_make(1e-4f, 0.0f, 0.001f, 10); /* rounds to >= 1 */
    CHECK(w.warmup_steps == 1 && mrg_lr_at(&w, 0) == 1e-4f);
}

/* ---- checkpoints --------------------------------------------------------- */

static bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

static bool file_equals(const char *path, const char *text) {
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

static int count_hidden(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A %s | grep -c '^\\.' ", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

static void test_checkpoint_dirs(void) {
    char parent[300], final[400], tmp[600], file[700];
    snprintf(parent, sizeof parent, "%s/ck", root);
    snprintf(final, sizeof final, "%s/last", parent);
    CHECK_OK(mrg_mkdirs(parent));
    /* first commit: the directory appears */
    CHECK_OK(mrg_ckpt_begin(final, tmp, sizeof tmp));
    CHECK(mrg_path_exists(tmp) && !mrg_path_exists(final));
    snprintf(file, sizeof file, "%s/a.txt", tmp);
    CHECK(write_text(file, "one"));
    CHECK_OK(mrg_ckpt_commit(tmp, final));
    snprintf(file, sizeof file, "%s/a.txt", final);
    CHECK(file_equals(file, "one"));
    CHECK(!mrg_path_exists(tmp));
    /* second commit replaces it whole: the old file b.txt is gone */
    snprintf(file, sizeof file, "%s/b.txt", final);
    CHECK(write_text(file, "stale"));
    CHECK_OK(mrg_ckpt_begin(final, tmp, sizeof tmp));
    snprintf(file, sizeof file, "%s/a.txt", tmp);
    CHECK(write_text(file, "two"));
    CHECK_OK(mrg_ckpt_commit(tmp, final));
    snprintf(file, sizeof file, "%s/a.txt", final);
    CHECK(file_equals(file, "two"));
    snprintf(file, sizeof file, "%s/b.txt", final);
    CHECK(!mrg_path_exists(file));
    CHECK(count_hidden(parent) == 0); /* no .tmp-* or .old-* left */
    /* a crash between the two renames of the fallback swap is repaired */
    char old[500];
    snprintf(old, sizeof old, "%s/.old-last", parent);
    CHECK(rename(final, old) == 0);
    CHECK_OK(mrg_ckpt_recover(final));
    snprintf(file, sizeof file, "%s/a.txt", final);
    CHECK(file_equals(file, "two"));
    /* an abandoned temporary is removed by mrg_rm_tree */
    CHECK_OK(mrg_ckpt_begin(final, tmp, sizeof tmp));
    CHECK_OK(mrg_rm_tree(tmp));
    CHECK(!mrg_path_exists(tmp));
}

static void test_state_roundtrip(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/state.json", root);
    mrg_train_state s = {123456789012LL, 3, 7, 999, 0xFFFFFFFFFFFFFFF1ull, 0.4321, 2, 5};
    CHECK_OK(mrg_train_state_write(path, &s, "{\"epochs\":5,\"lr\":0.0001}", "{\"preset\":\"micro\"}"));
    mrg_train_state r;
    char *opt = NULL, *cfg = NULL;
    CHECK_OK(mrg_train_state_read(path, &r, &opt, &cfg));
    CHECK(r.step == s.step && r.epoch == 3 && r.batch == 7 && r.samples == 999);
    CHECK(r.data_seed == 0xFFFFFFFFFFFFFFF1ull && r.best_score == 0.4321 && r.best_epoch == 2 && r.skipped == 5);
    CHECK(opt && strstr(opt, "\"epochs\":5"));
    CHECK(cfg && strstr(cfg, "micro"));
    free(opt);
    free(cfg);
    CHECK(mrg_train_state_write(path, &s, "{not json", NULL) == MRG_ERR_INVALID_ARG);
    CHECK(write_text(path, "{\"step\": 1}"));
    CHECK(mrg_train_state_read(path, &r, NULL, NULL) == MRG_ERR_FORMAT);
}

/* Two parameters, three AdamW steps, save; a fresh optimizer loads the file
 * and both take two more steps from equal parameters: bit-identical. */
static void test_adamw_roundtrip(mrg_device *dev) {
    char path[400];
    snprintf(path, sizeof path, "%s/opt.safetensors", root);
    float w0[6] = {0.5f, -1, 2, 0.25f, 3, -0.75f}, g[6];
    mrg_tensor *p[2] = {mrg_param_new(dev, MRG_F32, MRG_SHAPE(2, 2), true, "a.weight"),
                        mrg_param_new(dev, MRG_F32, MRG_SHAPE(2), true, "b.bias")};
    mrg_tensor *q[2] = {mrg_param_new(dev, MRG_F32, MRG_SHAPE(2, 2), true, "a.weight"),
                        mrg_param_new(dev, MRG_F32, MRG_SHAPE(2), true, "b.bias")};
    const char *names[2] = {"a.weight", "b.bias"};
    CHECK(p[0] && p[1] && q[0] && q[1]);
    if (!p[0] || !p[1] || !q[0] || !q[1]) return;
    CHECK_OK(mrg_tensor_upload_f32(p[0], w0));
    CHECK_OK(mrg_tensor_upload_f32(p[1], w0 + 4));
    mrg_adamw_opts o = mrg_adamw_defaults();
    o.weight_decay = 0.01f;
    mrg_adamw *a = mrg_adamw_create(p, 2, &o), *b = NULL;
    CHECK(a != NULL);
    for (int s = 0; s < 5 && a; s++) {
        if (s == 3) {
            /* checkpoint: copy parameters and moments into a fresh optimizer */
            CHECK_OK(mrg_adamw_save(a, names, 2, path));
            CHECK_OK(mrg_tensor_copy(q[0], p[0]));
            CHECK_OK(mrg_tensor_copy(q[1], p[1]));
            b = mrg_adamw_create(q, 2, &o);
            CHECK(b && mrg_adamw_load(b, names, 2, path) == MRG_OK);
            CHECK(b && mrg_adamw_steps(b) == 3);
        }
        test_fill_uniform(g, 6, 100u + (unsigned)s, -1, 1);
        CHECK_OK(mrg_tensor_upload_f32(p[0]->grad, g));
        CHECK_OK(mrg_tensor_upload_f32(p[1]->grad, g + 4));
        CHECK_OK(mrg_adamw_step(a, 1e-2f));
        if (b) {
            CHECK_OK(mrg_tensor_upload_f32(q[0]->grad, g));
            CHECK_OK(mrg_tensor_upload_f32(q[1]->grad, g + 4));
            CHECK_OK(mrg_adamw_step(b, 1e-2f));
        }
    }
    float x[6], y[6];
    CHECK_OK(mrg_tensor_to_f32(p[0], x));
    CHECK_OK(mrg_tensor_to_f32(p[1], x + 4));
    CHECK_OK(mrg_tensor_to_f32(q[0], y));
    CHECK_OK(mrg_tensor_to_f32(q[1], y + 4));
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK(memcmp(x, w0, sizeof x) != 0);
    /* a file missing a parameter is an error */
    const char *wrong[2] = {"a.weight", "c.bias"};
    if (b) CHECK(mrg_adamw_load(b, wrong, 2, path) != MRG_OK);
    mrg_adamw_free(a);
    mrg_adamw_free(b);
    for (int i = 0; i < 2; i++) { mrg_tensor_free(p[i]); mrg_tensor_free(q[i]); }
    mrg_step_reset(dev);
}

/* ---- text, tokenizer, LM pretraining ------------------------------------ */

#define N_TEXTS 48

static const char *HEART[] = {"the heart is normal in size .", "the heart is enlarged .",
                              "heart size is within normal limits .", "cardiomegaly is present ."};
static const char *LUNG[] = {"the lungs are clear .", "there is a small left pleural effusion .",
                             "no pneumothorax is seen .", "there is a right lower lobe opacity ."};

static void make_texts(char texts[][160], int n) {
    for (int i = 0; i < n; i++)
        snprintf(texts[i], 160, "%s %s no acute bony abnormality .", HEART[i % 4], LUNG[(i / 4 + i) % 4]);
}

static const mrg_llama_config SMALL_LM = {.dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 2,
                                          .n_kv_heads = 2, .vocab_size = 0, .max_seq = 128,
                                          .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                                          .rope_layout = MRG_ROPE_HALF, .tied_embeddings = false,
                                          .bos_id = 1, .eos_id = 2};

static void test_spm_train(void) {
    char texts[N_TEXTS][160];
    const char *ptr[N_TEXTS];
    make_texts(texts, N_TEXTS);
    for (int i = 0; i < N_TEXTS; i++) ptr[i] = texts[i];
    char path[400], path2[400];
    snprintf(path, sizeof path, "%s/spm.model", root);
    snprintf(path2, sizeof path2, "%s/spm2.model", root);
    mrg_spm_train_opts o = mrg_spm_train_defaults();
    o.vocab_size = 300;
    CHECK_OK(mrg_spm_train(ptr, N_TEXTS, &o, path));
    CHECK_OK(mrg_spm_train(ptr, N_TEXTS, &o, path2));
    mrg_tokenizer *t = mrg_tokenizer_load(path), *t2 = mrg_tokenizer_load(path2);
    CHECK(t && t2);
    if (!t || !t2) { mrg_tokenizer_free(t); mrg_tokenizer_free(t2); return; }
    CHECK(mrg_tokenizer_unk(t) == 0 && mrg_tokenizer_bos(t) == 1 && mrg_tokenizer_eos(t) == 2);
    CHECK(mrg_tokenizer_pad(t) == -1);
    int v = mrg_tokenizer_vocab_size(t);
    CHECK(v > 259 && v <= 300);
    CHECK(v == mrg_tokenizer_vocab_size(t2)); /* deterministic */
    int32_t *ids;
    int n;
    /* a word of the corpus: few pieces; an unseen character: byte pieces */
    CHECK_OK(mrg_tokenizer_encode(t, "the heart is enlarged .", false, &ids, &n));
    CHECK(n >= 1 && n < (int)strlen("the heart is enlarged .")); /* merges, not just bytes */
    char *back = mrg_tokenizer_decode(t, ids, n);
    CHECK(back && !strcmp(back, "the heart is enlarged ."));
    free(back);
    free(ids);
    CHECK_OK(mrg_tokenizer_encode(t, "\xc3\xa9", false, &ids, &n)); /* é */
    uint8_t byte, got[4];
    int nb = 0;
    for (int i = 0; i < n; i++)
        if (mrg_tokenizer_is_byte(t, ids[i], &byte) && nb < 4) got[nb++] = byte;
    CHECK(nb == 2 && got[0] == 0xc3 && got[1] == 0xa9);
    free(ids);
    mrg_tokenizer_free(t);
    mrg_tokenizer_free(t2);
    o.vocab_size = 100; /* too small for byte fallback */
    CHECK(mrg_spm_train(ptr, N_TEXTS, &o, path) == MRG_ERR_INVALID_ARG);
}

static void test_pretrain(mrg_device *dev) {
    char texts[N_TEXTS][160];
    const char *ptr[N_TEXTS];
    make_texts(texts, N_TEXTS);
    for (int i = 0; i < N_TEXTS; i++) ptr[i] = texts[i];
    char out[400], tok[500];
    snprintf(out, sizeof out, "%s/lm-%s", root, mrg_device_name(dev));
    for (char *c = out + strlen(root); *c; c++) if (*c == ':') *c = '_';
    mrg_pretrain_opts o = mrg_pretrain_defaults();
    o.vocab_size = 300;
    o.steps = 60;
    o.batch_size = 8;
    o.lr = 3e-3f;
    o.log_every = 1000;
    float first = 0, last = 0;
    CHECK_OK(mrg_pretrain_lm_texts(ptr, N_TEXTS, &SMALL_LM, &o, dev, out, &first, &last));
    printf("pretrain on %s: loss %.4f -> %.4f\n", mrg_device_name(dev), first, last);
    CHECK(first > 4.0f);          /* about ln(vocab) at a random init */
    CHECK(last < 0.5f * first);   /* and it learns the templates */
    snprintf(tok, sizeof tok, "%s/tokenizer.model", out);
    mrg_tokenizer *t = mrg_tokenizer_load(tok);
    mrg_llama *m = mrg_llama_load(out, dev, NULL);
    CHECK(t && m);
    if (t && m) {
        CHECK(m->cfg.vocab_size == mrg_tokenizer_vocab_size(t));
        CHECK(m->cfg.dim == 32 && m->cfg.n_layers == 2 && m->cfg.bos_id == 1 && m->cfg.eos_id == 2);
        /* the saved weights are the trained ones: a corpus sentence scores
         * well below the random-init loss */
        int32_t *ids;
        int n;
        CHECK_OK(mrg_tokenizer_encode(t, ptr[5], true, &ids, &n));
        mrg_tensor *x = mrg_tensor_from_i32(dev, MRG_SHAPE(1, n - 1), ids);
        mrg_tensor *y = mrg_tensor_from_i32(dev, MRG_SHAPE(n - 1), ids + 1);
        mrg_tensor *lg = x ? mrg_llama_forward_ids(m, x, NULL, NULL, false) : NULL; /* (1, n-1, V) */
        mrg_tensor *ce = lg && y ? mrg_cross_entropy(mrg_reshape(lg, MRG_SHAPE(n - 1, m->cfg.vocab_size)), y, -1)
                                 : NULL;
        float l = 1e9f;
        CHECK(ce && mrg_tensor_item(ce, &l) == MRG_OK);
        printf("  reloaded model: loss %.4f on a training sentence\n", l);
        CHECK(l < 0.6f * first);
        free(ids);
    }
    /* with a given tokenizer the same one is copied in */
    char out2[500];
    snprintf(out2, sizeof out2, "%s-given", out);
    o.tokenizer = tok;
    o.steps = 2;
    CHECK_OK(mrg_pretrain_lm_texts(ptr, N_TEXTS, &SMALL_LM, &o, dev, out2, NULL, NULL));
    /* in a context with hints in the slot: the findings' codes, whole
     * sentences, single tokens, spans of up to 3 tokens, and the whole
     * report's mean in every slot; all learn */
    o.context_before = "Human: <Img>";
    o.context_after = "</Img> Report:";
    o.slot_tokens = 6;
    o.steps = 60;
    const mrg_slot_hint kinds[5] = {MRG_SLOT_FINDINGS, MRG_SLOT_SENTENCES, MRG_SLOT_SPANS, MRG_SLOT_SPANS,
                                    MRG_SLOT_SPANS};
    const char *const kind_names[3] = {"findings", "sentences", "span"};
    const int spans[5] = {0, 0, 1, 3, -1};
    for (int k = 0; k < 5; k++) {
        o.slot_hint = kinds[k];
        o.con_weight = kinds[k] == MRG_SLOT_FINDINGS ? 1.0f : 0.0f; /* the codes' contrastive term */
        o.slot_span = spans[k];
        float f0 = 0, f1 = 0;
        CHECK_OK(mrg_pretrain_lm_texts(ptr, N_TEXTS, &SMALL_LM, &o, dev, out2, &f0, &f1));
        printf("  slot hints, %s %d: loss %.4f -> %.4f\n", kind_names[kinds[k]], spans[k], f0, f1);
        CHECK(isfinite(f0) && f1 < 0.7f * f0);
    }
    /* diverging (lr 1e10: a NaN loss at update 2): stopped, nothing written,
     * or with skip_nonfinite every NaN update skipped and a finite LM written */
    char out3[500];
    snprintf(out3, sizeof out3, "%s-nan", out);
    o = mrg_pretrain_defaults();
    o.vocab_size = 300;
    o.steps = 4;
    o.lr = 1e10f;
    o.log_every = 1000;
    CHECK(mrg_pretrain_lm_texts(ptr, N_TEXTS, &SMALL_LM, &o, dev, out3, NULL, NULL) == MRG_ERR_NONFINITE);
    CHECK(strstr(mrg_last_error(), "update 2 of 4 (no output written)") != NULL);
    CHECK(!mrg_path_exists(out3) && count_hidden(root) == 0);
    o.skip_nonfinite = true;
    CHECK_OK(mrg_pretrain_lm_texts(ptr, N_TEXTS, &SMALL_LM, &o, dev, out3, NULL, NULL));
    mrg_llama_free(m);
    mrg_tokenizer_free(t);
    mrg_step_reset(dev);
}

/* ---- resume bit-for-bit (micro preset) ---------------------------------- */

#define N_STUDIES 12

/* DIR/annotation.json + DIR/images/sK/{0,1}.png, 8 train / 2 val / 2 test */
static bool write_dataset(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/images", dir);
    if (mrg_mkdirs(path)) return false;
    char texts[N_STUDIES][160];
    make_texts(texts, N_STUDIES);
    snprintf(path, sizeof path, "%s/annotation.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fprintf(f, "{");
    const char *split[3] = {"train", "val", "test"};
    int start[4] = {0, 8, 10, 12};
    for (int s = 0; s < 3; s++) {
        fprintf(f, "%s\"%s\": [", s ? ", " : "", split[s]);
        for (int i = start[s]; i < start[s + 1]; i++) {
            fprintf(f, "%s{\"id\": \"s%d\", \"report\": \"%s\", \"image_path\": [\"s%d/0.png\", \"s%d/1.png\"]}",
                    i > start[s] ? ", " : "", i, texts[i], i, i);
            for (int v = 0; v < 2; v++) {
                mrg_image img;
                if (mrg_image_alloc(&img, 1, 20, 20)) { fclose(f); return false; }
                for (int p = 0; p < 400; p++)
                    img.data[p] = (float)((p * (i + 3) + v * 37) % 97) / 96.0f * (i % 4 == 0 ? 1.0f : 0.5f);
                snprintf(path, sizeof path, "%s/images/s%d", dir, i);
                mrg_mkdirs(path);
                snprintf(path, sizeof path, "%s/images/s%d/%d.png", dir, i, v);
                mrg_status st = mrg_image_save_png(path, &img);
                mrg_image_free(&img);
                if (st) { fclose(f); return false; }
            }
        }
        fprintf(f, "]");
    }
    fprintf(f, "}\n");
    return fclose(f) == 0;
}

static bool run_selecting(mrg_device *dev, const char *data, const char *lm, const char *out, bool resume,
                          int64_t stop_after, const char *select_by, mrg_train_run_result *r) {
    mrg_train_run_opts o = mrg_train_run_defaults();
    o.select_by = select_by;
    o.data_dir = data;
    o.preset = "micro";
    o.lm_dir = lm;
    o.out_dir = out;
    o.resume = resume;
    o.epochs = 3;       /* 8 studies, batch 2, 2 micro-batches per update: 2 updates per epoch */
    o.batch_size = 2;
    o.grad_accum = 2;
    o.save_every = 1;
    o.eval_max = 2;
    o.stop_after = stop_after;
    mrg_status st = mrg_train_run(&o, dev, r);
    if (st) fprintf(stderr, "train run %s: %s\n", out, mrg_last_error());
    return st == MRG_OK;
}

static bool run(mrg_device *dev, const char *data, const char *lm, const char *out, bool resume,
                int64_t stop_after, mrg_train_run_result *r) {
    return run_selecting(dev, data, lm, out, resume, stop_after, NULL, r);
}

/* A number after "key": in a JSON line (NAN when absent). */
static double json_number(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* --select-by finding-f1: every validation's score is its macro finding F1,
 * RUN/best holds the epoch of the first best one, and a resume keeps the
 * choice (started with it, resumed without it). */
static void test_select_by_findings(mrg_device *dev, const char *data, const char *lm) {
    char out[400], p[500];
    snprintf(out, sizeof out, "%s/run-f1-%c", root, mrg_device_name(dev)[0]);
    mrg_train_run_result r1 = {0}, r2 = {0};
    CHECK(run_selecting(dev, data, lm, out, false, 3, "finding-f1", &r1));
    CHECK(run_selecting(dev, data, lm, out, true, 0, NULL, &r2));
    CHECK(r2.steps == 6);
    snprintf(p, sizeof p, "%s/log.jsonl", out);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    char line[4096];
    int evals = 0, first_best = 0;
    double best = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"type\":\"eval\"")) continue;
        double f1 = json_number(line, "finding_f1"), score = json_number(line, "score");
        CHECK(!isnan(f1) && score == f1);
        evals++;
        if (f1 > best) {
            best = f1;
            first_best = (int)json_number(line, "epoch");
        }
    }
    if (f) fclose(f);
    CHECK(evals == 3);
    mrg_train_state st;
    char *opts = NULL;
    snprintf(p, sizeof p, "%s/last/trainer_state.json", out);
    CHECK_OK(mrg_train_state_read(p, &st, &opts, NULL));
    CHECK(st.best_epoch == first_best && fabs(st.best_score - best) < 1e-6);
    CHECK(opts && strstr(opts, "\"select_by\":\"finding-f1\""));
    printf("  %s select-by finding-f1: %d validations, best epoch %d (F1 %.3f)\n", mrg_device_name(dev), evals,
           first_best, best);
    free(opts);
    mrg_train_run_result_free(&r1);
    mrg_train_run_result_free(&r2);
    /* an unknown choice is refused before anything is written */
    mrg_train_run_result r3 = {0};
    snprintf(out, sizeof out, "%s/run-bad-select-%c", root, mrg_device_name(dev)[0]);
    CHECK(!run_selecting(dev, data, lm, out, false, 0, "finding_f1", &r3));
    CHECK(!mrg_path_exists(out));
    mrg_train_run_result_free(&r3);
}

/* The validation decoder (prompt + prefix prefilled once, then the
 * generator's cached greedy steps) against a full recompute of the whole
 * sequence at every step, for a batch of 2 val studies. */
static void test_generate_reports(mrg_device *dev, const char *data, const char *model_dir) {
    mrg_model *m = mrg_model_load(model_dir, dev);
    CHECK(m != NULL);
    if (!m) return;
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_dataset_opts dopt = mrg_dataset_defaults();
    dopt.image_size = cfg->vit.image_size;
    dopt.n_views = cfg->n_views;
    dopt.tok = mrg_model_tokenizer(m);
    dopt.batch_size = 2;
    dopt.shuffle = false;
    mrg_dataset *ds = mrg_dataset_open(data, MRG_SPLIT_VAL, &dopt);
    mrg_batch b = {0};
    CHECK(ds && mrg_dataset_next(ds, &b) == MRG_OK && b.B == 2);
    mrg_gen_opts g = mrg_eval_gen_opts(cfg, false);
    g.max_new = 6;
    char *preds[2] = {NULL, NULL};
    if (ds && b.B == 2) CHECK_OK(mrg_generate_batch(m, b.images, b.B, &g, preds));
    mrg_llama *lm = mrg_model_llama(m);
    const int32_t *before, *after;
    int nb, na;
    CHECK_OK(mrg_model_prompt_ids(m, &before, &nb, &after, &na));
    bool prev = mrg_grad_set_enabled(dev, false);
    for (int i = 0; i < 2 && preds[0] && preds[1]; i++) {
        int32_t ids[8];
        int n = 0;
        int64_t one = (int64_t)b.V * 3 * b.S * b.S;
        for (int t = 0; t < g.max_new; t++) {
            mrg_tensor *img = mrg_tensor_from_f32(dev, MRG_SHAPE(1, b.V, 3, b.S, b.S), b.images + i * one);
            mrg_tensor *parts[4] = {mrg_llama_embed(lm, mrg_tensor_from_i32(dev, MRG_SHAPE(1, nb), before)),
                                    mrg_model_prefix(m, img),
                                    mrg_llama_embed(lm, mrg_tensor_from_i32(dev, MRG_SHAPE(1, na), after)),
                                    n ? mrg_llama_embed(lm, mrg_tensor_from_i32(dev, MRG_SHAPE(1, n), ids)) : NULL};
            mrg_tensor *x = mrg_concat(parts, n ? 4 : 3, 1);
            mrg_tensor *lg = x ? mrg_llama_forward(lm, x, NULL, NULL, true) : NULL; /* (1, V) */
            float *h = lg ? test_download(lg) : NULL;
            if (!h) break;
            int id = mrg_argmax(h, lm->cfg.vocab_size);
            free(h);
            mrg_step_reset(dev);
            if (id == lm->cfg.eos_id) break;
            ids[n++] = id;
        }
        char *want = mrg_tokenizer_decode(mrg_model_tokenizer(m), ids, n);
        printf("  %s val study %d: %d tokens, cached decoding = full recompute\n", mrg_device_name(dev), i, n);
        CHECK(want && !strcmp(want, preds[i]));
        if (want && strcmp(want, preds[i])) fprintf(stderr, "  generated '%s', recomputed '%s'\n", preds[i], want);
        free(want);
    }
    mrg_grad_set_enabled(dev, prev);
    free(preds[0]);
    free(preds[1]);
    mrg_batch_free(&b);
    mrg_dataset_free(ds);
    mrg_model_free(m);
    mrg_step_reset(dev);
}

static void test_resume(mrg_device *dev, const char *data) {
    char lm[400], a[400], b[400], p[500];
    const char *dn = mrg_device_name(dev);
    snprintf(lm, sizeof lm, "%s/micro-lm-%c", root, dn[0]);
    snprintf(a, sizeof a, "%s/run-a-%c", root, dn[0]);
    snprintf(b, sizeof b, "%s/run-b-%c", root, dn[0]);
    /* the frozen LM: pretrained briefly on the training reports */
    if (test_pretrain_micro_lm(dev, data, lm, 5) != MRG_OK) {
        CHECK(!"pretrain-lm on the dataset");
        return;
    }
    mrg_train_run_result ra = {0}, rb1 = {0}, rb2 = {0};
    CHECK(run(dev, data, lm, a, false, 0, &ra));
    CHECK(ra.n_losses == 6 && ra.steps == 6 && ra.epochs_done == 3);
    /* stopped after 3 updates (in the middle of epoch 1), then resumed */
    CHECK(run(dev, data, lm, b, false, 3, &rb1));
    CHECK(rb1.n_losses == 3 && rb1.steps == 3);
    CHECK(run(dev, data, lm, b, true, 0, &rb2));
    CHECK(rb2.n_losses == 3 && rb2.steps == 6);
    if (ra.n_losses == 6 && rb1.n_losses == 3 && rb2.n_losses == 3) {
        bool same = !memcmp(ra.losses, rb1.losses, 3 * sizeof(float)) &&
                    !memcmp(ra.losses + 3, rb2.losses, 3 * sizeof(float));
        for (int i = 0; i < 6; i++)
            printf("  %s step %d: straight %.9g  resumed %.9g\n", dn, i + 1, ra.losses[i],
                   i < 3 ? rb1.losses[i] : rb2.losses[i - 3]);
        CHECK(same);
        CHECK(ra.losses[0] != ra.losses[5]); /* it did train */
    }
    /* resuming a finished run does nothing more */
    mrg_train_run_result rc = {0};
    CHECK(run(dev, data, lm, a, true, 0, &rc));
    CHECK(rc.n_losses == 0 && rc.steps == 6);
    const char *files[] = {"last/trainer_state.json", "last/optimizer.safetensors", "last/config.json",
                           "best/config.json", "log.jsonl"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", a, files[i]);
        CHECK(mrg_path_exists(p));
    }
    CHECK(count_hidden(a) == 0);
    mrg_train_state st;
    snprintf(p, sizeof p, "%s/last/trainer_state.json", a);
    CHECK_OK(mrg_train_state_read(p, &st, NULL, NULL));
    CHECK(st.step == 6 && st.epoch == 3 && st.batch == 0 && st.samples == 24 && st.best_epoch >= 0);
    snprintf(p, sizeof p, "%s/best", a);
    test_generate_reports(dev, data, p);
    test_select_by_findings(dev, data, lm);
    mrg_train_run_result_free(&ra);
    mrg_train_run_result_free(&rb1);
    mrg_train_run_result_free(&rb2);
    mrg_train_run_result_free(&rc);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/mrg_test_trainer_%ld", (long)getpid());
    if (mrg_mkdirs(root)) {
        fprintf(stderr, "cannot create %s\n", root);
        return 1;
    }
    test_schedule();
    test_checkpoint_dirs();
    test_state_roundtrip();
    test_spm_train();
    char data[400];
    snprintf(data, sizeof data, "%s/data", root);
    bool have_data = write_dataset(data);
    CHECK(have_data);

    for (test_device_iter it = {0}; test_next_device(&it);) {
        mrg_device *dev = it.dev;
        test_adamw_roundtrip(dev);
        test_pretrain(dev);
        if (have_data) test_resume(dev, data);
    }
    if (mrg_test_failures == 0) mrg_rm_tree(root);
    return test_finish("trainer");
}
