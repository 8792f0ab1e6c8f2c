/* Decoding from input embeddings (lib/generate) on the tiny LLaMA of
 * tests/golden/llama/hf_mha_f32, on every device:
 *   - greedy and beam search (Hugging Face semantics: repetition penalty,
 *     length penalty, min_new, max_new, early stopping) give the ids of the
 *     PyTorch reference tools/ref/beam_ref.py (tests/golden/generate), for
 *     each of two prefixes alone and for both in one batch, and stop after
 *     the same number of steps;
 *   - the prefix is prefilled once (one forward of B rows, not B·K) and the
 *     cache ends at T0 + steps positions;
 *   - greedy equals the argmax continuation of llama_ref.py's golden;
 *   - beam 1 without repetition penalty equals greedy (any length penalty);
 *   - sampling repeats with the same seed, gives the same study alone or in
 *     a batch, and equals greedy at temperature 0;
 *   - invalid options and prefixes are refused with a message;
 *   - the report generator (the micro checkpoint in tests/golden/model):
 *     mrg_generate of a study equals the same study inside a batch, and
 *     equals the search run on [embed(before), prefix, embed(after)] built
 *     here; `mrg generate` (MRG_BIN, on the CPU) prints the same report for
 *     PNG views, finds the checkpoint in a run directory's `best`, writes
 *     one JSON line per study of a dataset split (the library's report for
 *     each), and names the study of a corrupt image. */
#include <cjson/cJSON.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrg/autograd.h"
#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/image.h"
#include "mrg/llama.h"
#include "mrg/ops.h"
#include "mrg/tokenizer.h"
#include "testutil.h"

#define MAX_NEW 64

static const char *CASES[] = {"beam_r2gen", "beam_early", "greedy_rep", "greedy_plain"};

typedef struct gcase {
    mrg_gen_opts opts;
    float *x[2]; /* (T0, D) prefixes */
    int64_t T0;
    int32_t ids[2][MAX_NEW];
    int n[2];
    int steps[2]; /* forwards after the prefill */
} gcase;

static bool case_load(const mrg_st_file *f, const char *name, int D, gcase *c) {
    char key[96];
    int64_t n;
    memset(c, 0, sizeof *c);
    snprintf(key, sizeof key, "%s/params", name);
    float *p = test_golden_f32(f, key, &n);
    snprintf(key, sizeof key, "%s/info", name);
    float *info = test_golden_f32(f, key, &n);
    if (!p || !info) {
        free(p);
        free(info);
        return false;
    }
    c->opts = mrg_gen_defaults();
    c->opts.mode = (mrg_gen_mode)(int)p[0];
    c->opts.beam = (int)p[1];
    c->opts.repetition_penalty = p[2];
    c->opts.length_penalty = p[3];
    c->opts.min_new = (int)p[4];
    c->opts.max_new = (int)p[5];
    c->opts.eos_id = (int)p[6];
    c->steps[0] = (int)info[2] - 1;
    c->steps[1] = (int)info[3] - 1;
    free(p);
    free(info);
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s/prefix%d", name, i);
        c->x[i] = test_golden_f32(f, key, &n);
        if (!c->x[i]) return false;
        c->T0 = n / D;
        snprintf(key, sizeof key, "%s/ids%d", name, i);
        float *ids = test_golden_f32(f, key, &n);
        if (!ids || n > MAX_NEW) {
            free(ids);
            return false;
        }
        for (int j = 0; j < n; j++) c->ids[i][j] = (int32_t)ids[j];
        c->n[i] = (int)n;
        free(ids);
    }
    return true;
}

static void case_free(gcase *c) {
    free(c->x[0]);
    free(c->x[1]);
}

/* (B, T0, D) from the prefixes listed in which. */
static mrg_tensor *prefix_tensor(mrg_device *dev, const gcase *c, int D, const int *which, int B) {
    size_t row = (size_t)c->T0 * (size_t)D;
    float *x = malloc(sizeof(float) * row * (size_t)B);
    if (!x) return NULL;
    for (int b = 0; b < B; b++) memcpy(x + row * b, c->x[which[b]], sizeof(float) * row);
    mrg_tensor *t = mrg_tensor_from_f32(dev, MRG_SHAPE(B, c->T0, D), x);
    free(x);
    return t;
}

static bool same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

static void print_ids(const char *what, const int32_t *a, int n) {
    fprintf(stderr, "  %s:", what);
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", a[i]);
    fprintf(stderr, "\n");
}

/* Runs opts on the prefixes `which` (B of them) → ids (B, MAX_NEW). */
static mrg_status run(mrg_llama *m, const gcase *c, const mrg_gen_opts *o, const int *which,
                      int B, int32_t ids[][MAX_NEW], int *lens, mrg_gen_stats *stats) {
    int D = m->cfg.dim;
    mrg_tensor *x = prefix_tensor(m->dev, c, D, which, B);
    if (!x) return MRG_ERR_OOM;
    int32_t *flat = malloc(sizeof(int32_t) * (size_t)B * (size_t)o->max_new);
    if (!flat) return MRG_ERR_OOM;
    mrg_status st = mrg_generate_batch_from_embeddings(m, x, o, flat, lens, stats);
    for (int b = 0; st == MRG_OK && b < B; b++)
        memcpy(ids[b], flat + (size_t)b * o->max_new, sizeof(int32_t) * (size_t)lens[b]);
    free(flat);
    return st;
}

static void check_case(mrg_llama *m, const mrg_st_file *f, const char *name) {
    gcase c;
    bool ok = case_load(f, name, m->cfg.dim, &c);
    CHECK(ok);
    if (!ok) {
        case_free(&c);
        return;
    }
    int K = c.opts.mode == MRG_GEN_BEAM ? c.opts.beam : 1;
    int32_t ids[2][MAX_NEW];
    int lens[2];
    mrg_gen_stats stats;
    /* each prefix alone */
    for (int i = 0; i < 2; i++) {
        CHECK_OK(run(m, &c, &c.opts, (int[]){i}, 1, ids, lens, &stats));
        bool same = same_ids(ids[0], lens[0], c.ids[i], c.n[i]);
        CHECK(same);
        if (!same) {
            fprintf(stderr, "%s prefix %d:\n", name, i);
            print_ids("got ", ids[0], lens[0]);
            print_ids("want", c.ids[i], c.n[i]);
        }
        CHECK(stats.prefill_forwards == 1 && stats.prefill_rows == 1);
        CHECK(stats.prefix_len == c.T0);
        CHECK(stats.steps == c.steps[i]);
        CHECK(stats.cache_len == c.T0 + stats.steps);
        CHECK(stats.max_rows == (stats.steps > 0 ? K : 1));
    }
    /* both in one batch (the second first, to check the row bookkeeping) */
    CHECK_OK(run(m, &c, &c.opts, (int[]){1, 0}, 2, ids, lens, &stats));
    CHECK(same_ids(ids[0], lens[0], c.ids[1], c.n[1]));
    CHECK(same_ids(ids[1], lens[1], c.ids[0], c.n[0]));
    CHECK(stats.prefill_forwards == 1 && stats.prefill_rows == 2);
    int most = c.steps[0] > c.steps[1] ? c.steps[0] : c.steps[1];
    CHECK(stats.steps == most);
    CHECK(stats.cache_len == c.T0 + most);
    CHECK(stats.max_rows == 2 * K);

    if (!strcmp(name, "greedy_plain")) {
        /* beam 1 is greedy search (as Hugging Face's generate() dispatches
         * num_beams=1), whatever the length penalty */
        float lps[] = {1.0f, 2.0f, 0.0f};
        for (int j = 0; j < 3; j++) {
            mrg_gen_opts o = c.opts;
            o.mode = MRG_GEN_BEAM;
            o.beam = 1;
            o.length_penalty = lps[j];
            CHECK_OK(run(m, &c, &o, (int[]){0, 1}, 2, ids, lens, &stats));
            CHECK(same_ids(ids[0], lens[0], c.ids[0], c.n[0]));
            CHECK(same_ids(ids[1], lens[1], c.ids[1], c.n[1]));
        }
        /* sampling at temperature 0 is greedy */
        mrg_gen_opts o = c.opts;
        o.mode = MRG_GEN_SAMPLE;
        o.temperature = 0;
        CHECK_OK(run(m, &c, &o, (int[]){0, 1}, 2, ids, lens, &stats));
        CHECK(same_ids(ids[0], lens[0], c.ids[0], c.n[0]));
        CHECK(same_ids(ids[1], lens[1], c.ids[1], c.n[1]));
        /* seeded sampling: repeatable, and row b of a batch uses seed + b */
        o.temperature = 1.5f;
        o.top_p = 0.95f;
        o.seed = 1234;
        int32_t a[2][MAX_NEW], b1[2][MAX_NEW], solo[2][MAX_NEW];
        int la[2], lb[2], ls[2];
        CHECK_OK(run(m, &c, &o, (int[]){0, 1}, 2, a, la, NULL));
        CHECK_OK(run(m, &c, &o, (int[]){0, 1}, 2, b1, lb, NULL));
        CHECK(same_ids(a[0], la[0], b1[0], lb[0]) && same_ids(a[1], la[1], b1[1], lb[1]));
        CHECK_OK(run(m, &c, &o, (int[]){0}, 1, solo, ls, NULL));
        CHECK(same_ids(a[0], la[0], solo[0], ls[0]));
        /* a hot temperature leaves the greedy path somewhere */
        CHECK(!same_ids(a[0], la[0], c.ids[0], c.n[0]) || !same_ids(a[1], la[1], c.ids[1], c.n[1]));
    }
    case_free(&c);
}

/* Greedy decoding from embeddings of the golden prompt equals the argmax
 * continuation computed by llama_ref.py. */
static void check_argmax(mrg_llama *m, mrg_device *dev) {
    mrg_st_file *f = test_golden_open("llama/expected.safetensors");
    if (!f) return;
    int64_t np, ng;
    float *p = test_golden_f32(f, "hf_mha_f32/prompt", &np);
    float *g = test_golden_f32(f, "hf_mha_f32/greedy", &ng);
    CHECK(p && g && ng <= MAX_NEW);
    if (p && g && ng <= MAX_NEW) {
        int32_t prompt[64], want[MAX_NEW], got[MAX_NEW];
        for (int i = 0; i < np; i++) prompt[i] = (int32_t)p[i];
        for (int i = 0; i < ng; i++) want[i] = (int32_t)g[i];
        /* an eos id the continuation never produces */
        int eos = 0;
        for (bool used = true; used; eos += used) {
            used = false;
            for (int i = 0; i < ng; i++) used |= want[i] == eos;
        }
        mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(1, np), prompt);
        mrg_tensor *x = ids ? mrg_llama_embed(m, ids) : NULL; /* (1, T, D) */
        mrg_gen_opts o = mrg_gen_defaults();
        o.mode = MRG_GEN_GREEDY;
        o.repetition_penalty = 1;
        o.min_new = 0;
        o.max_new = (int)ng;
        o.eos_id = eos;
        int n = 0;
        CHECK_OK(mrg_generate_from_embeddings(m, x, &o, got, &n));
        CHECK(same_ids(got, n, want, (int)ng));
    }
    free(p);
    free(g);
    mrg_st_close(f);
}

static void check_errors(mrg_llama *m, mrg_device *dev) {
    int D = m->cfg.dim;
    int32_t out[8];
    int n;
    mrg_gen_opts o = mrg_gen_defaults();
    o.max_new = 8;
    mrg_tensor *x = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, 3, D));
    o.beam = 0;
    CHECK(mrg_generate_from_embeddings(m, x, &o, out, &n) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "beam") != NULL);
    o = mrg_gen_defaults();
    o.max_new = 0;
    CHECK(mrg_generate_from_embeddings(m, x, &o, out, &n) == MRG_ERR_INVALID_ARG);
    o.max_new = 8;
    o.repetition_penalty = 0;
    CHECK(mrg_generate_from_embeddings(m, x, &o, out, &n) == MRG_ERR_INVALID_ARG);
    o = mrg_gen_defaults();
    o.max_new = 8;
    o.eos_id = m->cfg.vocab_size;
    CHECK(mrg_generate_from_embeddings(m, x, &o, out, &n) == MRG_ERR_INVALID_ARG);
    o.eos_id = -1;
    mrg_tensor *bad = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, 3, D + 1));
    CHECK(mrg_generate_from_embeddings(m, bad, &o, out, &n) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "prefix") != NULL);
    mrg_tensor *two = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(2, 3, D));
    CHECK(mrg_generate_from_embeddings(m, two, &o, out, &n) == MRG_ERR_INVALID_ARG);
    mrg_tensor *full = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, m->cfg.max_seq, D));
    CHECK(mrg_generate_from_embeddings(m, full, &o, out, &n) == MRG_ERR_INVALID_ARG);
    /* max_new is capped by the model's positions: 2 positions left */
    mrg_tensor *near = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(1, m->cfg.max_seq - 2, D));
    o.min_new = 8;
    CHECK_OK(mrg_generate_from_embeddings(m, near, &o, out, &n));
    CHECK(n == 2);
    mrg_step_reset(dev);
}


/* ---- the report generator ------------------------------------------------- */

/* The search on [embed(before), prefix, embed(after)] assembled here, one
 * study of images (V, 3, S, S) → text. */
static char *by_hand(mrg_model *m, const float *images, const mrg_gen_opts *o) {
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_device *dev = mrg_model_device(m);
    mrg_llama *lm = mrg_model_llama(m);
    const int32_t *before, *after;
    int nb, na;
    if (mrg_model_prompt_ids(m, &before, &nb, &after, &na) != MRG_OK) return NULL;
    bool prev = mrg_grad_set_enabled(dev, false);
    int S = cfg->vit.image_size;
    mrg_tensor *img = mrg_tensor_from_f32(dev, MRG_SHAPE(1, cfg->n_views, 3, S, S), images);
    mrg_tensor *parts[3] = {
        mrg_llama_embed(lm, mrg_tensor_from_i32(dev, MRG_SHAPE(1, nb), before)),
        mrg_model_prefix(m, img),
        na ? mrg_llama_embed(lm, mrg_tensor_from_i32(dev, MRG_SHAPE(1, na), after)) : NULL};
    mrg_tensor *x = mrg_concat(parts, na ? 3 : 2, 1);
    int32_t ids[256];
    int n = 0;
    char *text = NULL;
    if (x && o->max_new <= 256 && mrg_generate_from_embeddings(lm, x, o, ids, &n) == MRG_OK)
        text = mrg_tokenizer_decode(mrg_model_tokenizer(m), ids, n);
    mrg_grad_set_enabled(dev, prev);
    return text;
}

/* Writes a random 8-bit gray PNG of side S. */
static void write_png(const char *path, int S, unsigned seed) {
    mrg_image img = {0};
    CHECK_OK(mrg_image_alloc(&img, 1, S, S));
    if (img.data) test_fill_uniform(img.data, (int64_t)S * S, seed, 0.0f, 1.0f);
    CHECK_OK(mrg_image_save_png(path, &img));
    mrg_image_free(&img);
}

/* One study's model input from its view files, as the command and the
 * dataset load them (fewer views than the model takes: the last repeats). */
static float *load_views(const mrg_model_config *cfg, char paths[][600], int n) {
    int S = cfg->vit.image_size, V = cfg->n_views;
    size_t view = (size_t)3 * S * S;
    float *x = malloc(sizeof(float) * view * (size_t)V);
    for (int v = 0; x && v < V; v++) {
        mrg_image img = {0};
        CHECK_OK(mrg_image_load_for_model(paths[v < n ? v : n - 1], S, S, cfg->vit.mean,
                                          cfg->vit.std, &img));
        if (img.data) memcpy(x + view * v, img.data, sizeof(float) * view);
        mrg_image_free(&img);
    }
    return x;
}

/* `mrg generate` on PNG views (checkpoint found as RUN/best) and on a
 * small dataset in the R2Gen layout. */
static void check_cli(mrg_model *m, const mrg_gen_opts *o, const char *ckpt) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set: mrg generate not tested\n");
        return;
    }
    const mrg_model_config *cfg = mrg_model_get_config(m);
    int S = cfg->vit.image_size;
    char dir[] = "/tmp/mrg_test_generate_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[1024], run[600], png[3][2][600];
    snprintf(run, sizeof run, "%s/run", dir);
    CHECK(mkdir(run, 0755) == 0);
    snprintf(path, sizeof path, "%s/best", run);
    CHECK(symlink(ckpt, path) == 0);
    snprintf(path, sizeof path, "%s/data", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/data/images", dir);
    CHECK(mkdir(path, 0755) == 0);
    /* studies s0, s1 with two views, s2 with one */
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/data/images/s%d", dir, k);
        CHECK(mkdir(path, 0755) == 0);
        for (int v = 0; v < (k < 2 ? 2 : 1); v++) {
            snprintf(png[k][v], sizeof png[k][v], "%s/data/images/s%d/%d.png", dir, k, v);
            write_png(png[k][v], S, 40u + 2u * (unsigned)k + (unsigned)v);
        }
    }
    snprintf(path, sizeof path, "%s/data/annotation.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "{\"train\": [], \"val\": [], \"test\": ["
                   "{\"id\": \"s0\", \"report\": \"a.\","
                   " \"image_path\": [\"s0/0.png\", \"s0/1.png\"]},"
                   "{\"id\": \"s1\", \"report\": \"b.\","
                   " \"image_path\": [\"s1/0.png\", \"s1/1.png\"]},"
                   "{\"id\": \"s2\", \"report\": \"c.\", \"image_path\": [\"s2/0.png\"]}]}\n");
        fclose(f);
    }

    /* one study */
    float *x = load_views(cfg, png[0], 2);
    char *want = NULL;
    CHECK_OK(mrg_generate(m, x, o, &want));
    free(x);
    static char out[1 << 16];
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s --image %s --image %s --beam %d --repetition-penalty %g "
             "--length-penalty %g --min-new %d --max-new %d --device cpu 2>/dev/null",
             bin, run, png[0][0], png[0][1], o->beam, (double)o->repetition_penalty,
             (double)o->length_penalty, o->min_new, o->max_new);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    size_t n = strlen(out);
    if (n && out[n - 1] == '\n') out[n - 1] = '\0';
    /* the terminal gets the display form of the library's report */
    char *shown = want ? mrg_report_display(want) : NULL;
    CHECK(shown && !strcmp(out, shown));
    if (shown && strcmp(out, shown))
        fprintf(stderr, "mrg generate: \"%s\"\nlibrary: \"%s\"\n", out, shown);
    free(shown);
    free(want);

    /* the split, batched two at a time: one line per study in file order,
     * each the library's report for that study */
    mrg_gen_opts g = *o;
    g.mode = MRG_GEN_GREEDY;
    g.min_new = 1;
    g.max_new = 6;
    char jsonl[700];
    snprintf(jsonl, sizeof jsonl, "%s/preds.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s --data %s/data --split test --out %s --batch 2 --greedy "
             "--min-new 1 --max-new 6 --repetition-penalty %g --device cpu 2>&1",
             bin, ckpt, dir, jsonl, (double)g.repetition_penalty);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    f = fopen(jsonl, "r");
    CHECK(f != NULL);
    int lines = 0;
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        cJSON *id = cJSON_GetObjectItem(j, "id"), *rep = cJSON_GetObjectItem(j, "report");
        char want_id[16];
        snprintf(want_id, sizeof want_id, "s%d", lines);
        CHECK(cJSON_IsString(id) && cJSON_IsString(rep) && !strcmp(id->valuestring, want_id));
        /* "report" is what the metrics score, "display" what people read */
        cJSON *disp = cJSON_GetObjectItem(j, "display");
        char *want_disp = cJSON_IsString(rep) ? mrg_report_display(rep->valuestring) : NULL;
        CHECK(cJSON_IsString(disp) && want_disp && !strcmp(disp->valuestring, want_disp));
        free(want_disp);
        if (lines < 3 && cJSON_IsString(rep)) {
            float *xs = load_views(cfg, png[lines], lines < 2 ? 2 : 1);
            char *lib = NULL;
            CHECK_OK(mrg_generate(m, xs, &g, &lib));
            CHECK(lib && !strcmp(lib, rep->valuestring));
            if (lib && strcmp(lib, rep->valuestring))
                fprintf(stderr, "s%d: jsonl \"%s\" library \"%s\"\n", lines, rep->valuestring, lib);
            free(lib);
            free(xs);
        }
        cJSON_Delete(j);
        lines++;
    }
    if (f) fclose(f);
    CHECK(lines == 3);

    /* the dataset hands out the same inputs as the single-study loader */
    mrg_dataset_opts dopt = mrg_dataset_defaults();
    dopt.image_size = S;
    memcpy(dopt.mean, cfg->vit.mean, sizeof dopt.mean);
    memcpy(dopt.std, cfg->vit.std, sizeof dopt.std);
    dopt.n_views = cfg->n_views;
    dopt.batch_size = 3;
    dopt.shuffle = false;
    snprintf(path, sizeof path, "%s/data", dir);
    mrg_dataset *ds = mrg_dataset_open(path, MRG_SPLIT_TEST, &dopt);
    CHECK(ds != NULL);
    mrg_batch b;
    if (ds && mrg_dataset_next(ds, &b) == MRG_OK) {
        size_t study = (size_t)cfg->n_views * 3 * S * S;
        for (int k = 0; k < 3 && k < b.B; k++) {
            float *xs = load_views(cfg, png[k], k < 2 ? 2 : 1);
            CHECK(xs && test_close("dataset images", b.images + study * k, xs, (int64_t)study,
                                   1e-6, 1e-6));
            free(xs);
        }
        mrg_batch_free(&b);
    }
    mrg_dataset_free(ds);

    /* errors: a corrupt image names its study; usage errors exit 2 */
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s --data %s --out %s --greedy --max-new 4 --device cpu 2>&1",
             bin, ckpt, test_golden_path("dataset"), jsonl);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 1);
    CHECK(strstr(out, "t1") != NULL);
    snprintf(cmd, sizeof cmd, "%s generate --model %s 2>&1", bin, run);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "%s generate --model %s --image %s --beam 0 --device cpu 2>&1", bin,
             run, png[0][0]);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void check_model(mrg_device *dev, bool cli) {
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", test_golden_path("model/ckpt"));
    mrg_model *m = mrg_model_load(ckpt, dev);
    CHECK(m != NULL);
    if (!m) return;
    const mrg_model_config *cfg = mrg_model_get_config(m);
    int S = cfg->vit.image_size, V = cfg->n_views;
    size_t study = (size_t)V * 3 * S * S;
    float *x = malloc(sizeof(float) * study * 2);
    test_fill_uniform(x, (int64_t)study * 2, 7u, -1.0f, 1.0f);
    mrg_gen_opts o = mrg_gen_defaults();
    o.min_new = 3;
    o.max_new = 12;
    char *batch[2] = {NULL, NULL}, *one = NULL;
    CHECK_OK(mrg_generate_batch(m, x, 2, &o, batch));
    for (int b = 0; b < 2; b++) {
        CHECK_OK(mrg_generate(m, x + study * b, &o, &one));
        CHECK(one && batch[b] && !strcmp(one, batch[b]));
        char *hand = by_hand(m, x + study * b, &o);
        CHECK(hand && one && !strcmp(hand, one));
        /* at least min_new tokens were generated */
        int32_t *ids = NULL;
        int n = 0;
        CHECK(one && mrg_tokenizer_encode(mrg_model_tokenizer(m), one, false, &ids, &n) == MRG_OK);
        CHECK(n >= 1);
        free(ids);
        free(hand);
        free(one);
        one = NULL;
        free(batch[b]);
    }
    free(x);
    if (cli) check_cli(m, &o, ckpt);
    mrg_model_free(m);
}

int main(void) {
    mrg_st_file *f = test_golden_open("generate/expected.safetensors");
    if (!f) return test_finish("test_generate");
    for (test_device_iter it = {0}; test_next_device(&it);) {
        mrg_device *dev = it.dev;
        mrg_llama *m = mrg_llama_load(test_golden_path("llama/hf_mha_f32"), dev, NULL);
        CHECK(m != NULL);
        if (m) {
            for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(m, f, CASES[i]);
            check_argmax(m, dev);
            check_errors(m, dev);
        }
        mrg_llama_free(m);
        check_model(dev, mrg_device_is_cpu(dev));
    }
    mrg_st_close(f);
    return test_finish("test_generate");
}
