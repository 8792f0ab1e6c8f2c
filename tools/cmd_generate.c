/* mrg generate: reports from a trained report generator, for one study
 * (--image, once per view) or for a whole split of a dataset (--data,
 * batched, one {"id","report"} JSON line per study). Decoding follows the
 * Hugging Face beam search R2GenGPT uses (lib/include/mrg/generate.h); the
 * defaults come from the model's config. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/image.h"
#include "mrg/mrg.h"
#include "out_guard.h"

#define MAX_IMAGES 8

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg generate --model RUN --image A.png [--image B.png] [options]\n"
            "       mrg generate --model RUN --data DIR [--split test] --out preds.jsonl\n"
            "                    [options]\n\n"
            "Writes the report of one study (its views, in order) to stdout, or one line\n"
            "{\"id\", \"report\"} per study of a dataset split (R2Gen layout) to --out.\n\n"
            "  --model RUN             a checkpoint directory, or a run directory with a\n"
            "                          `best` checkpoint inside\n"
            "  --lm DIR                the model's frozen LM from another place (when it\n"
            "                          moved): it must be the same LM (content hash)\n"
            "  --image FILE            a view (PNG/JPEG); repeat per view; with fewer views\n"
            "                          than the model takes, the last one is repeated\n"
            "  --data DIR --out FILE   a dataset and the JSONL output, written atomically;\n"
            "                          an existing FILE must be an earlier output of\n"
            "                          generate (or empty), and not inside --data\n"
            "  --force                 replace another existing --out FILE anyway\n"
            "  --split S               train, val or test (default test)\n"
            "  --batch N               studies decoded together (default 8)\n"
            "  --limit N               only the first N studies of the split\n"
            "decoding (defaults from the model's config, else R2GenGPT's):\n"
            "  --beam K                beams (default 3)\n"
            "  --greedy                greedy decoding instead of beam search\n"
            "  --sample                temperature + top-p sampling (--temperature T,\n"
            "                          --top-p P, --seed S; defaults 1.0, 0.9, 0)\n"
            "  --repetition-penalty R  on tokens already generated (default 2.0; 1 = off)\n"
            "  --length-penalty L      finished beams score sum_logprob / len^L (default 2.0)\n"
            "  --min-new N             no end of report before N tokens (default 40)\n"
            "  --max-new N             at most N tokens (default 100)\n"
            "  --device D              cpu, opencl, opencl:N\n\n"
            "A progress bar goes to stderr when it is a terminal.\n");
    return code;
}

/* An earlier output of generate: JSON lines {"id", "report"}. */
static bool is_preds_file(const char *path) { return out_jsonl_has(path, "id", "report"); }

/* RUN/best when it holds a checkpoint, else RUN itself. */
static mrg_model *load_model(const char *run, const char *lm, mrg_device *dev) {
    char best[4096];
    snprintf(best, sizeof best, "%s/best/config.json", run);
    if (access(best, R_OK) == 0) {
        snprintf(best, sizeof best, "%s/best", run);
        return mrg_model_load_lm(best, dev, lm);
    }
    char cfg[4200], last[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", run);
    snprintf(last, sizeof last, "%s/last/config.json", run);
    if (access(cfg, F_OK) != 0 && access(last, F_OK) == 0) {
        mrg_error(MRG_ERR_NOT_FOUND,
                  "the run %s has no best checkpoint yet (it is written by validation; a run "
                  "with --no-eval has none); use --model %s/last for its latest one",
                  run, run);
        return NULL;
    }
    return mrg_model_load_lm(run, dev, lm);
}

static void progress(int done, int total, double t0) {
    double el = now_s() - t0, rate = el > 0 ? done / el : 0;
    int w = 30, fill = total > 0 ? (int)((long)w * done / total) : w;
    fprintf(stderr, "\r[");
    for (int i = 0; i < w; i++) fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %d/%d studies  %.2f studies/s", done, total, rate);
    if (rate > 0 && done < total) fprintf(stderr, "  ETA %.0fs  ", (total - done) / rate);
    else fprintf(stderr, "            ");
    fflush(stderr);
}

/* One study from image files → report on stdout. */
static int one_study(mrg_model *m, const mrg_gen_opts *g, const char **images, int n_images) {
    const mrg_model_config *cfg = mrg_model_get_config(m);
    const int S = cfg->vit.image_size, V = cfg->n_views;
    size_t view = (size_t)3 * S * S;
    float *x = malloc(sizeof(float) * view * (size_t)V);
    if (!x) {
        fprintf(stderr, "mrg generate: out of memory\n");
        return 1;
    }
    if (n_images > V)
        fprintf(stderr, "mrg generate: the model takes %d views; using the first %d images\n", V,
                V);
    for (int v = 0; v < V; v++) {
        mrg_image img = {0};
        const char *path = images[v < n_images ? v : n_images - 1];
        if (mrg_image_load_for_model(path, S, S, cfg->vit.mean, cfg->vit.std, &img) != MRG_OK) {
            fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
            free(x);
            return 1;
        }
        memcpy(x + view * v, img.data, sizeof(float) * view);
        mrg_image_free(&img);
    }
    char *report = NULL;
    mrg_status st = mrg_generate(m, x, g, &report);
    free(x);
    if (st != MRG_OK) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        return 1;
    }
    printf("%s\n", report);
    free(report);
    return 0;
}

static int whole_split(mrg_model *m, const mrg_gen_opts *g, const char *data, mrg_split split,
                       const char *out_path, int batch, int limit) {
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_dataset_opts o = mrg_dataset_defaults();
    o.image_size = cfg->vit.image_size;
    memcpy(o.mean, cfg->vit.mean, sizeof o.mean);
    memcpy(o.std, cfg->vit.std, sizeof o.std);
    o.n_views = cfg->n_views;
    o.max_report_tokens = cfg->max_report_tokens;
    o.tok = NULL; /* references are not needed here */
    o.batch_size = batch;
    o.shuffle = false;
    o.drop_last = false;
    mrg_dataset *ds = mrg_dataset_open(data, split, &o);
    if (!ds) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        return 1;
    }
    /* written beside out_path and renamed into place at the end: a failed
     * run leaves an earlier output as it was */
    char tmp_path[4400];
    FILE *out = mrg_output_file_open(out_path, tmp_path, sizeof tmp_path);
    if (!out) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        mrg_dataset_free(ds);
        return 1;
    }
    int total = mrg_dataset_size(ds), done = 0, rc = 0;
    if (limit > 0 && limit < total) total = limit;
    bool bar = isatty(2);
    double t0 = now_s();
    if (bar) progress(0, total, t0);
    while (done < total) {
        mrg_batch b;
        mrg_status st = mrg_dataset_next(ds, &b);
        if (st == MRG_END) break;
        if (st != MRG_OK) {
            fprintf(stderr, "%smrg generate: %s\n", bar ? "\n" : "", mrg_last_error());
            rc = 1;
            break;
        }
        int n = b.B < total - done ? b.B : total - done;
        char **reports = calloc((size_t)b.B, sizeof *reports);
        st = reports ? mrg_generate_batch(m, b.images, n, g, reports) : MRG_ERR_OOM;
        for (int i = 0; st == MRG_OK && i < n; i++) {
            cJSON *o_json = cJSON_CreateObject();
            cJSON_AddStringToObject(o_json, "id", b.ids[i]);
            cJSON_AddStringToObject(o_json, "report", reports[i]);
            char *line = cJSON_PrintUnformatted(o_json);
            if (line) fprintf(out, "%s\n", line);
            free(line);
            cJSON_Delete(o_json);
        }
        if (reports)
            for (int i = 0; i < b.B; i++) free(reports[i]);
        free(reports);
        mrg_batch_free(&b);
        if (st != MRG_OK) {
            fprintf(stderr, "%smrg generate: %s\n", bar ? "\n" : "", mrg_last_error());
            rc = 1;
            break;
        }
        done += n;
        if (bar) progress(done, total, t0);
    }
    if (bar) fputc('\n', stderr);
    if (mrg_output_file_close(out, tmp_path, out_path, rc == 0) != MRG_OK && rc == 0) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        rc = 1;
    }
    if (rc == 0)
        fprintf(stderr, "mrg generate: %d reports in %.1f s written to %s\n", done, now_s() - t0,
                out_path);
    mrg_dataset_free(ds);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *lm = NULL, *data = NULL, *split_name = "test", *out = NULL, *device = NULL;
    const char *images[MAX_IMAGES];
    int n_images = 0, batch = 8, limit = 0;
    int beam = -1, min_new = -1, max_new = -1;
    float rep = -1, lp = NAN, temperature = 1.0f, top_p = 0.9f;
    unsigned long long seed = 0;
    bool greedy = false, sample = false, force = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(0);
        if (!strcmp(a, "--greedy")) {
            greedy = true;
            continue;
        }
        if (!strcmp(a, "--sample")) {
            sample = true;
            continue;
        }
        if (!strcmp(a, "--force")) { force = true; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "mrg generate: %s needs a value\n", a);
            return usage(2);
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--lm")) lm = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split_name = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--image")) {
            if (n_images == MAX_IMAGES) {
                fprintf(stderr, "mrg generate: at most %d images\n", MAX_IMAGES);
                return 2;
            }
            images[n_images++] = v;
        } else if (!strcmp(a, "--batch")) batch = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--limit")) limit = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--beam")) beam = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--min-new")) min_new = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--max-new")) max_new = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--repetition-penalty")) rep = strtof(v, &end);
        else if (!strcmp(a, "--length-penalty")) lp = strtof(v, &end);
        else if (!strcmp(a, "--temperature")) temperature = strtof(v, &end);
        else if (!strcmp(a, "--top-p")) top_p = strtof(v, &end);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, &end, 10);
        else {
            fprintf(stderr, "mrg generate: unknown option %s\n", a);
            return usage(2);
        }
        if (end && *end) {
            fprintf(stderr, "mrg generate: %s: not a number: %s\n", a, v);
            return 2;
        }
    }
    if (!model || (n_images > 0) == (data != NULL)) {
        fprintf(stderr, "mrg generate: --model and either --image or --data are required\n");
        return usage(2);
    }
    if (data && !out) {
        fprintf(stderr, "mrg generate: --data needs --out FILE\n");
        return 2;
    }
    if (greedy && sample) {
        fprintf(stderr, "mrg generate: --greedy and --sample exclude each other\n");
        return 2;
    }
    if (batch < 1) {
        fprintf(stderr, "mrg generate: --batch must be >= 1\n");
        return 2;
    }
    mrg_split split;
    if (mrg_split_parse(split_name, &split) != MRG_OK) {
        fprintf(stderr, "mrg generate: --split must be train, val or test\n");
        return 2;
    }
    const mrg_named_path inputs[] = {{"--data", data}, {"--model", model}};
    if (out && out_file_guard("generate", out, force, is_preds_file, inputs, 2)) return 2;
    mrg_device *dev = mrg_device_open(device);
    if (!dev) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        return 2;
    }
    mrg_grad_set_enabled(dev, false);
    int rc = 1;
    mrg_model *m = load_model(model, lm, dev);
    if (!m) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        goto done;
    }
    /* options: command line, else the model's config, else R2GenGPT's */
    const mrg_model_config *cfg = mrg_model_get_config(m);
    mrg_gen_opts g = mrg_gen_defaults();
    if (cfg->beam > 0) g.beam = cfg->beam;
    if (cfg->min_new >= 0) g.min_new = cfg->min_new;
    if (cfg->max_new > 0) g.max_new = cfg->max_new;
    if (cfg->repetition_penalty > 0) g.repetition_penalty = cfg->repetition_penalty;
    if (!isnan(cfg->length_penalty)) g.length_penalty = cfg->length_penalty;
    if (beam >= 0) g.beam = beam;
    if (min_new >= 0) g.min_new = min_new;
    if (max_new >= 0) g.max_new = max_new;
    if (rep >= 0) g.repetition_penalty = rep;
    if (!isnan(lp)) g.length_penalty = lp;
    g.mode = greedy ? MRG_GEN_GREEDY : sample ? MRG_GEN_SAMPLE : MRG_GEN_BEAM;
    g.temperature = temperature;
    g.top_p = top_p;
    g.seed = seed;
    if (mrg_gen_opts_check(&g) != MRG_OK) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        rc = 2;
        goto done;
    }
    rc = data ? whole_split(m, &g, data, split, out, batch, limit)
              : one_study(m, &g, images, n_images);
done:
    mrg_model_free(m);
    mrg_device_free(dev);
    return rc;
}
