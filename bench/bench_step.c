/* mrg bench step: the report generator at scale, once. Builds the model of a
 * preset (default `paper`) around a frozen LLaMA loaded from a Hugging Face
 * directory (kept in its storage dtype: a bf16 7B model stays 13.5 GB), makes
 * one synthetic study (a phantom's two views at the preset's image size and a
 * report of max_report_tokens tokens), runs ONE training step (forward,
 * backward through the frozen LLaMA into the trained parts, AdamW update)
 * and ONE generation (the preset's decoding settings), and reports the
 * times and the process's peak memory. Nothing is warmed up: on OpenCL the
 * step time includes the kernel builds. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/generate.h"
#include "mrg/mrg.h"
#include "mrg/phantom.h"
#include "mrg/trainer.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench step --lm DIR [--preset P] [--config F] [--vit DIR]\n"
            "                      [--tokenizer FILE] [--device D] [--report-tokens N]\n"
            "                      [--beam K] [--min-new N] [--max-new N] [--seed S]\n"
            "                      [--batch B] [--warmup N] [--steps N] [--no-generate] [--json]\n"
            "                      [--precision f32|bf16-mixed]\n\n"
            "One training step (forward, backward, AdamW update) and one generation of the\n"
            "report generator with the frozen LLaMA in DIR, on a batch of synthetic studies\n"
            "(one by default), with load time, step time, generation time and tokens/s, and\n"
            "peak memory.\n\n"
            "  --lm DIR           Hugging Face LLaMA directory (weights stay in their stored\n"
            "                     dtype; tools/make_random_llama.py writes a random one)\n"
            "  --preset P         paper, tiny or micro (default paper)\n"
            "  --config F         JSON overriding any config field (applied to the preset)\n"
            "  --vit DIR          timm ViT weights (default: random init)\n"
            "  --tokenizer FILE   sentencepiece model (default: DIR/tokenizer.model)\n"
            "  --device D         cpu, opencl, opencl:N\n"
            "  --report-tokens N  report length before </s>, 1..100000 (default:\n"
            "                     max_report_tokens)\n"
            "  --beam K (1..64), --min-new N (0..100000), --max-new N (1..100000)\n"
            "                     decoding (default: the preset's; a --max-new below the\n"
            "                     preset's min_new lowers min_new)\n"
            "  --seed S           the synthetic study, 0..2^64-1 (default 1; study i of a\n"
            "                     batch is drawn from S + i)\n"
            "  --batch B          studies per step, 1..4096 (default 1; generation reads the\n"
            "                     first)\n"
            "  --warmup N         untimed steps first, 0..1000000 (default 0)\n"
            "  --steps N          timed steps, 1..1000000 (default 1): the best and the mean\n"
            "                     are reported\n"
            "  --no-generate      the training step(s) only\n"
            "  --precision P      f32 or bf16-mixed (default: the config's, f32): the\n"
            "                     training step as `mrg train --precision` runs it (the\n"
            "                     LLaMA is then held in bf16)\n"
            "  --json             one JSON object instead of text (with the full model\n"
            "                     config and the prompt lengths, for a side-by-side\n"
            "                     reference)\n\n"
            "Peak memory is getrusage's ru_maxrss of the whole process. Without --warmup\n"
            "nothing is warmed up: on OpenCL the first step includes kernel builds.\n"
            "Example (LLaMA-2-7B shape, ~13.5 GB in /tmp):\n"
            "  /usr/bin/python3 tools/make_random_llama.py --out /tmp/llama7b \\\n"
            "      --tokenizer /path/to/llama2/tokenizer.model\n"
            "  mrg bench step --lm /tmp/llama7b --preset paper --device cpu\n");
    return code;
}

/* Resident set size now (VmRSS) in KiB, -1 when unavailable. */
static long rss_kib(void) { return bench_status_kib("VmRSS"); }

/* Peak resident set size of the process in KiB (Linux: ru_maxrss is KiB). */
static long peak_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static double gib(long kib) { return kib < 0 ? -1.0 : (double)kib / (1024.0 * 1024.0); }

/* Study i of the batch: the phantom drawn from seed + i, both views
 * rendered at the model's image size (at least the phantom minimum, then
 * resized), grayscale replicated to 3 channels and normalised into
 * images + i·V·3·S·S; views beyond the two a phantom has repeat the lateral.
 * Its report is the phantom's text tokenized and repeated until it has n
 * tokens, then </s>, so T = n + 1 as the dataset gives for a report
 * truncated to n. *text receives study 0's report. */
static mrg_status make_study(mrg_model *m, uint64_t seed, int n, mrg_batch *b, int i, char **text) {
    const mrg_model_config *c = mrg_model_get_config(m);
    const mrg_tokenizer *tok = mrg_model_tokenizer(m);
    int S = c->vit.image_size, V = c->n_views;
    int R = S < MRG_PHANTOM_MIN_SIZE ? MRG_PHANTOM_MIN_SIZE : S > MRG_PHANTOM_MAX_SIZE ? MRG_PHANTOM_MAX_SIZE : S;
    size_t view = (size_t)3 * S * S;
    float *images = b->images + view * (size_t)V * (size_t)i;
    mrg_phantom_case pc;
    mrg_phantom_case_draw(seed + (uint64_t)i, &pc);
    mrg_image im[2] = {{0}, {0}};
    mrg_status st = mrg_phantom_render(&pc, R, &im[0], &im[1]);
    for (int v = 0; v < V && st == MRG_OK; v++) {
        const mrg_image *src = &im[v < 2 ? v : 1];
        mrg_image rgb = {0}, sized = {0};
        st = mrg_image_alloc(&rgb, 3, R, R);
        for (int ch = 0; ch < 3 && st == MRG_OK; ch++)
            memcpy(rgb.data + (size_t)ch * R * R, src->data, sizeof(float) * (size_t)R * R);
        const mrg_image *use = &rgb;
        if (st == MRG_OK && R != S) {
            st = mrg_image_resize(&rgb, S, S, &sized);
            use = &sized;
        }
        if (st == MRG_OK) {
            memcpy(images + view * (size_t)v, use->data, sizeof(float) * view);
            mrg_image tmp = {3, S, S, images + view * (size_t)v};
            st = mrg_image_normalize(&tmp, c->vit.mean, c->vit.std);
        }
        mrg_image_free(&rgb);
        mrg_image_free(&sized);
    }
    mrg_image_free(&im[0]);
    mrg_image_free(&im[1]);
    if (st != MRG_OK) return mrg_error_context(st, "bench step: phantom images");

    char *report = mrg_phantom_report(&pc);
    if (!report) return MRG_ERR_OOM;
    int32_t *ids = NULL;
    int k = 0;
    st = mrg_tokenizer_encode(tok, report, false, &ids, &k);
    if (st == MRG_OK && k < 1) st = mrg_error(MRG_ERR_INVALID_ARG, "bench step: empty report");
    int32_t eos = mrg_tokenizer_eos(tok) >= 0 ? mrg_tokenizer_eos(tok) : c->lm.eos_id;
    int32_t *row = b->report_ids + (size_t)i * (size_t)(n + 1);
    for (int j = 0; st == MRG_OK && j < n; j++) row[j] = ids[j % k];
    row[n] = eos;
    b->report_len[i] = n + 1;
    free(ids);
    if (i == 0) *text = report;
    else free(report);
    return st;
}

/* A batch of B studies (see make_study): images (B, V, 3, S, S), reports
 * (B, n + 1). */
static mrg_status make_batch(mrg_model *m, uint64_t seed, int n, int B, mrg_batch *b, char **text) {
    const mrg_model_config *c = mrg_model_get_config(m);
    int S = c->vit.image_size, V = c->n_views;
    memset(b, 0, sizeof *b);
    b->B = B;
    b->V = V;
    b->S = S;
    b->T = n + 1;
    b->images = malloc(sizeof(float) * (size_t)3 * S * S * (size_t)V * (size_t)B);
    b->report_ids = malloc(sizeof(int32_t) * (size_t)(n + 1) * (size_t)B);
    b->report_len = malloc(sizeof(int) * (size_t)B);
    if (!b->images || !b->report_ids || !b->report_len)
        return mrg_error(MRG_ERR_OOM, "bench step: out of host memory");
    mrg_status st = MRG_OK;
    for (int i = 0; i < B && st == MRG_OK; i++) st = make_study(m, seed, n, b, i, text);
    return st;
}

static void free_batch(mrg_batch *b) {
    free(b->images);
    free(b->report_ids);
    free(b->report_len);
}

typedef struct bench_args {
    const char *lm, *preset, *config, *vit, *tokenizer, *device;
    int precision; /* index into PRECISIONS, -1: the config's */
    int report_tokens, beam, min_new, max_new, batch, warmup, steps;
    uint64_t seed;
    bool json, no_generate;
} bench_args;

typedef struct bench_result {
    double t_load, t_step, t_step_mean, t_gen; /* t_step: the best timed step */
    long rss_start, rss_load, rss_step, peak_load, peak_step, peak;
    size_t w_bytes, w_f32_bytes, trained, adamw_bytes;
    mrg_dtype w_dtype;
    int seq_len, report_len, new_tokens, steps, n_before, n_after;
    mrg_step_stats stats;
    mrg_gen_opts g;
    char *report;
} bench_result;

static const char *const PRECISIONS[] = {"f32", "bf16-mixed", NULL};

/* 0: run; -1: --help was printed; else the exit code of a usage error. */
static int parse(int argc, char **argv, bench_args *a) {
    *a = (bench_args){.preset = "paper", .report_tokens = -1, .beam = -1, .min_new = -1,
                      .max_new = -1, .seed = 1, .batch = 1, .warmup = 0, .steps = 1,
                      .precision = -1};
    opt_spec specs[] = {
        OPT_STRING("--lm", &a->lm),
        OPT_STRING("--preset", &a->preset),
        OPT_STRING("--config", &a->config),
        OPT_STRING("--vit", &a->vit),
        OPT_STRING("--tokenizer", &a->tokenizer),
        OPT_STRING("--device", &a->device),
        OPT_INTEGER("--report-tokens", &a->report_tokens, 1, 100000),
        OPT_INTEGER("--beam", &a->beam, 1, 64),
        OPT_INTEGER("--min-new", &a->min_new, 0, 100000),
        OPT_INTEGER("--max-new", &a->max_new, 1, 100000),
        OPT_SEED("--seed", &a->seed),
        OPT_INTEGER("--batch", &a->batch, 1, 4096),
        OPT_INTEGER("--warmup", &a->warmup, 0, 1000000),
        OPT_INTEGER("--steps", &a->steps, 1, 1000000),
        OPT_SET("--no-generate", &a->no_generate),
        OPT_SET("--json", &a->json),
        OPT_ONE_OF("--precision", &a->precision, PRECISIONS),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("bench step", argc, argv, specs, n);
    if (rc == 1) {
        usage(0);
        return -1;
    }
    if (rc || (rc = opts_require("bench step", specs, n, "--lm", NULL))) return rc;
    if (a->min_new >= 0 && a->max_new >= 0 && a->min_new > a->max_new)
        return opts_fail("bench step", "--min-new %d is above --max-new %d", a->min_new, a->max_new);
    if (a->no_generate)
        for (const char *const *o = (const char *const[]){"--beam", "--min-new", "--max-new", NULL}; *o; o++)
            if (opts_given(specs, n, *o))
                return opts_fail("bench step", "%s has no effect with --no-generate", *o);
    return 0;
}

/* Step and generation on a built model; fills r. */
static mrg_status run(mrg_model *m, const bench_args *a, bench_result *r) {
    const mrg_model_config *c = mrg_model_get_config(m);
    mrg_device *dev = mrg_model_device(m);
    mrg_llama *lm = mrg_model_llama(m);
    /* weights of the frozen LLaMA: as held, and as f32 would hold them */
    int nw = mrg_llama_params(lm, NULL, 0);
    mrg_tensor **ws = calloc((size_t)nw, sizeof *ws);
    if (!ws) return mrg_error(MRG_ERR_OOM, "bench step: out of host memory");
    mrg_llama_params(lm, ws, nw);
    for (int i = 0; i < nw; i++) r->w_f32_bytes += (size_t)mrg_numel(ws[i]) * sizeof(float);
    free(ws);
    r->w_bytes = mrg_llama_weight_bytes(lm);
    r->w_dtype = lm->layers[0].wq->dtype;
    mrg_tensor *tp[4096];
    int nt = mrg_model_trainable(m, tp, NULL, 4096);
    for (int i = 0; i < nt && i < 4096; i++) r->trained += (size_t)mrg_numel(tp[i]);
    r->adamw_bytes = 2 * r->trained * sizeof(float); /* m and v */

    int n = a->report_tokens > 0 ? a->report_tokens : c->max_report_tokens;
    mrg_batch b;
    mrg_status st = make_batch(m, a->seed, n, a->batch, &b, &r->report);
    const int32_t *before, *after;
    int nb = 0, na = 0;
    if (st == MRG_OK) st = mrg_model_prompt_ids(m, &before, &nb, &after, &na);
    r->report_len = b.T;
    r->n_before = nb;
    r->n_after = na;
    r->seq_len = nb + c->Kc + c->Kt + na + b.T - 1;
    if (st == MRG_OK && r->seq_len > lm->cfg.max_seq)
        st = mrg_error(MRG_ERR_INVALID_ARG, "bench step: %d tokens exceed the LM's max_seq %d",
                       r->seq_len, lm->cfg.max_seq);

    /* --warmup untimed training steps, then --steps timed ones */
    mrg_train_opts to = mrg_train_opts_from_config(c, 1);
    mrg_trainer *tr = st == MRG_OK ? mrg_trainer_create(m, &to) : NULL;
    if (st == MRG_OK && !tr) st = MRG_ERR_OOM;
    double total = 0;
    r->t_step = INFINITY;
    for (int i = 0; st == MRG_OK && i < a->warmup + a->steps; i++) {
        double t0 = mrg_now_s();
        st = mrg_trainer_step(tr, &b, &r->stats);
        if (st == MRG_OK) st = mrg_device_sync(dev);
        double t = mrg_now_s() - t0;
        if (i >= a->warmup) {
            total += t;
            if (t < r->t_step) r->t_step = t;
        }
        if (st == MRG_OK && !(isfinite(r->stats.loss) && isfinite(r->stats.grad_norm)))
            st = mrg_error(MRG_ERR_DEVICE, "bench step: loss %g, grad norm %g after step %d",
                           (double)r->stats.loss, (double)r->stats.grad_norm, i + 1);
    }
    r->t_step_mean = total / a->steps;
    r->rss_step = rss_kib();
    r->peak_step = peak_kib();

    /* one generation */
    r->g = mrg_gen_defaults();
    r->g.mode = MRG_GEN_BEAM;
    r->g.beam = a->beam > 0 ? a->beam : c->beam;
    r->g.min_new = a->min_new >= 0 ? a->min_new : c->min_new;
    r->g.max_new = a->max_new > 0 ? a->max_new : c->max_new;
    if (a->max_new > 0 && a->min_new < 0 && r->g.min_new > r->g.max_new) r->g.min_new = r->g.max_new;
    r->g.repetition_penalty = c->repetition_penalty;
    r->g.length_penalty = c->length_penalty;
    int32_t *ids = malloc(sizeof *ids * (size_t)r->g.max_new);
    if (st == MRG_OK && !ids) st = mrg_error(MRG_ERR_OOM, "bench step: out of host memory");
    if (st == MRG_OK) st = mrg_gen_opts_check(&r->g);
    if (st == MRG_OK && !a->no_generate) {
        bool prev = mrg_grad_set_enabled(dev, false);
        double t0 = mrg_now_s();
        mrg_tensor *x = NULL; /* (1, T0, D) */
        mrg_gen_stats gs = {0};
        st = mrg_generate_input(m, b.images, 1, &x);
        if (st == MRG_OK)
            st = mrg_generate_batch_from_embeddings(lm, x, &r->g, ids, &r->new_tokens, &gs);
        r->t_gen = mrg_now_s() - t0;
        r->steps = gs.steps;
        mrg_step_reset(dev);
        mrg_grad_set_enabled(dev, prev);
    }
    if (st == MRG_OK && !a->no_generate) {
        /* the text is for show: an LM vocabulary larger than the tokenizer's
         * may produce ids it cannot decode, which is no failure of the bench */
        free(r->report);
        r->report = mrg_tokenizer_decode(mrg_model_tokenizer(m), ids, r->new_tokens);
    }
    free(ids);
    mrg_trainer_free(tr);
    free_batch(&b);
    return st;
}

static void print_text(const bench_args *a, mrg_model *m, const bench_result *r) {
    const mrg_model_config *c = mrg_model_get_config(m);
    const mrg_llama_config *l = &mrg_model_llama(m)->cfg;
    mrg_device *dev = mrg_model_device(m);
    printf("model     preset %s, LLaMA %s: dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d\n",
           c->preset, a->lm, l->dim, l->hidden_dim, l->n_layers, l->n_heads, l->n_kv_heads,
           l->vocab_size);
    printf("          ViT %d px, dim %d, depth %d, %d views; trained %.2f M parameters\n",
           c->vit.image_size, c->vit.dim, c->vit.depth, c->n_views, (double)r->trained / 1e6);
    printf("device    %s (%s)\n", mrg_device_name(dev), mrg_device_description(dev));
    printf("load      %.2f s; LLaMA weights %s %.2f GiB (f32 would be %.2f GiB)\n", r->t_load,
           mrg_dtype_name(r->w_dtype), (double)r->w_bytes / 1073741824.0,
           (double)r->w_f32_bytes / 1073741824.0);
    printf("step      %.2f s forward+backward+AdamW on %d x %d tokens (report %d incl. </s>): "
           "loss %.4f (lm %.4f, con %.4f), grad norm %.4g\n",
           r->t_step, a->batch, r->seq_len, r->report_len, (double)r->stats.loss,
           (double)r->stats.lm, (double)r->stats.con, (double)r->stats.grad_norm);
    if (a->steps > 1 || a->warmup > 0)
        printf("          best of %d timed steps after %d untimed; mean %.2f s\n", a->steps,
               a->warmup, r->t_step_mean);
    if (!a->no_generate)
        printf("generate  %.2f s, %d new tokens in %d decode steps (beam %d, min %d, max %d): "
               "%.2f tokens/s\n",
               r->t_gen, r->new_tokens, r->steps, r->g.beam, r->g.min_new, r->g.max_new,
               r->t_gen > 0 ? r->new_tokens / r->t_gen : 0.0);
    if (r->report && !a->no_generate)
        printf("text      %.120s%s\n", r->report, strlen(r->report) > 120 ? "..." : "");
    printf("memory    peak RSS %.2f GiB: %.2f by the end of loading, %.2f by the end of the "
           "step; RSS %.2f at start, %.2f after load, %.2f after the step\n",
           gib(r->peak), gib(r->peak_load), gib(r->peak_step), gib(r->rss_start),
           gib(r->rss_load), gib(r->rss_step));
    printf("          trained parameters + gradients + AdamW state %.1f MiB\n",
           (double)(4 * r->trained * sizeof(float)) / 1048576.0);
}

static int print_json(const bench_args *a, mrg_model *m, const bench_result *r) {
    const mrg_model_config *c = mrg_model_get_config(m);
    const mrg_llama_config *l = &mrg_model_llama(m)->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return 1;
    cJSON_AddStringToObject(j, "preset", c->preset);
    cJSON_AddStringToObject(j, "lm", a->lm);
    cJSON_AddStringToObject(j, "device", mrg_device_name(mrg_model_device(m)));
    cJSON_AddNumberToObject(j, "lm_dim", l->dim);
    cJSON_AddNumberToObject(j, "lm_layers", l->n_layers);
    cJSON_AddNumberToObject(j, "lm_vocab", l->vocab_size);
    cJSON_AddStringToObject(j, "weight_dtype", mrg_dtype_name(r->w_dtype));
    cJSON_AddStringToObject(j, "precision", mrg_precision_name(c->precision));
    cJSON_AddNumberToObject(j, "weight_bytes", (double)r->w_bytes);
    cJSON_AddNumberToObject(j, "weight_f32_bytes", (double)r->w_f32_bytes);
    cJSON_AddNumberToObject(j, "trained_params", (double)r->trained);
    cJSON_AddNumberToObject(j, "adamw_state_bytes", (double)r->adamw_bytes);
    cJSON_AddNumberToObject(j, "load_s", r->t_load);
    cJSON_AddNumberToObject(j, "seq_tokens", r->seq_len);
    cJSON_AddNumberToObject(j, "report_tokens", r->report_len);
    cJSON_AddNumberToObject(j, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(j, "batch", a->batch);
    cJSON_AddNumberToObject(j, "prompt_before_tokens", r->n_before);
    cJSON_AddNumberToObject(j, "prompt_after_tokens", r->n_after);
    cJSON_AddNumberToObject(j, "warmup_steps", a->warmup);
    cJSON_AddNumberToObject(j, "timed_steps", a->steps);
    cJSON_AddNumberToObject(j, "step_s", r->t_step);
    cJSON_AddNumberToObject(j, "step_mean_s", r->t_step_mean);
    cJSON_AddBoolToObject(j, "generated", !a->no_generate);
    cJSON_AddNumberToObject(j, "loss", r->stats.loss);
    cJSON_AddNumberToObject(j, "loss_lm", r->stats.lm);
    cJSON_AddNumberToObject(j, "loss_con", r->stats.con);
    cJSON_AddNumberToObject(j, "grad_norm", r->stats.grad_norm);
    cJSON_AddNumberToObject(j, "beam", r->g.beam);
    cJSON_AddNumberToObject(j, "min_new", r->g.min_new);
    cJSON_AddNumberToObject(j, "max_new", r->g.max_new);
    cJSON_AddNumberToObject(j, "generate_s", r->t_gen);
    cJSON_AddNumberToObject(j, "new_tokens", r->new_tokens);
    cJSON_AddNumberToObject(j, "decode_steps", r->steps);
    cJSON_AddNumberToObject(j, "tokens_per_s", r->t_gen > 0 ? r->new_tokens / r->t_gen : 0.0);
    cJSON_AddNumberToObject(j, "rss_start_bytes", 1024.0 * (double)r->rss_start);
    cJSON_AddNumberToObject(j, "rss_load_bytes", 1024.0 * (double)r->rss_load);
    cJSON_AddNumberToObject(j, "rss_step_bytes", 1024.0 * (double)r->rss_step);
    cJSON_AddNumberToObject(j, "peak_rss_load_bytes", 1024.0 * (double)r->peak_load);
    cJSON_AddNumberToObject(j, "peak_rss_step_bytes", 1024.0 * (double)r->peak_step);
    cJSON_AddNumberToObject(j, "peak_rss_bytes", 1024.0 * (double)r->peak);
    cJSON_AddStringToObject(j, "report", r->report ? r->report : "");
    char *cfg = mrg_model_config_to_json(c);
    cJSON *cj = cfg ? cJSON_Parse(cfg) : NULL;
    free(cfg);
    if (!cj) {
        cJSON_Delete(j);
        return 1;
    }
    cJSON_AddItemToObject(j, "config", cj);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}

int bench_step(int argc, char **argv) {
    bench_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    mrg_model_config cfg;
    if (opts_model_config("bench step", a.preset, a.config, &cfg)) return 2;
    if (a.precision >= 0) cfg.precision = (mrg_precision)a.precision; /* PRECISIONS' order */
    struct stat sb;
    if (stat(a.lm, &sb) != 0) {
        fprintf(stderr, "mrg bench step: no such LLaMA directory: %s\n", a.lm);
        return 1;
    }
    mrg_device *dev = opts_device("bench step", a.device);
    if (!dev) return 2;
    bench_result r = {0};
    r.rss_start = rss_kib();
    double t0 = mrg_now_s();
    mrg_model *m = mrg_model_create(&cfg, dev, a.lm, a.vit, a.tokenizer);
    r.t_load = mrg_now_s() - t0;
    r.rss_load = rss_kib();
    r.peak_load = peak_kib();
    mrg_status st = m ? run(m, &a, &r) : MRG_ERR_IO;
    r.peak = peak_kib();
    if (st == MRG_OK) rc = a.json ? print_json(&a, m, &r) : (print_text(&a, m, &r), 0);
    else {
        fprintf(stderr, "mrg bench step: %s\n", mrg_last_error());
        rc = st == MRG_ERR_INVALID_ARG ? 2 : 1;
    }
    free(r.report);
    mrg_model_free(m);
    mrg_device_free(dev);
    return rc;
}
