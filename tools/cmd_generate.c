/* mrg generate: reports from a trained report generator, for one study
 * (--image, once per view) or for a whole split of a dataset (--data,
 * batched, one {"id","report"} JSON line per study). Decoding follows the
 * Hugging Face beam search R2GenGPT uses (lib/include/mrg/generate.h); the
 * defaults come from the model's config. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/image.h"
#include "mrg/mrg.h"
#include "mrg/trainer.h"
#include "out_guard.h"

#define MAX_IMAGES 8

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg generate --model RUN --image A.png [--image B.png] [options]\n"
            "       mrg generate --model RUN --data DIR [--split test] --out preds.jsonl\n"
            "                    [options]\n\n"
            "Writes the report of one study (its views, in order) to stdout, or one line\n"
            "{\"id\", \"report\", \"display\"} per study of a dataset split (R2Gen layout) to\n"
            "--out. \"report\" is the cleaned form the metrics score (mrg eval),\n"
            "\"display\" and the terminal output the form people read (\"Heart is normal.\").\n\n"
            "  --model RUN             a checkpoint directory, or a run directory with a\n"
            "                          `best` checkpoint inside (RUN/last: the latest)\n"
            "  --image FILE            a view: PNG, JPEG or DICOM (its first frame, windowed\n"
            "                          to gray); repeat per view (at most 8); with\n"
            "                          fewer views than the model takes, the last one is\n"
            "                          repeated (and a note says so)\n"
            "  --lm DIR                the model's frozen LM from another place (when it\n"
            "                          moved): it must be the same LM (content hash)\n"
            "  --data DIR --out FILE   a dataset and the JSONL output, written atomically;\n"
            "                          an existing FILE must be an earlier output of\n"
            "                          generate (or empty), and not inside --data\n"
            "  --force                 replace another existing --out FILE anyway\n"
            "with --data only:\n"
            "  --split S               train, val or test (default test)\n"
            "  --batch N               studies decoded together, 1..1024 (default 8)\n"
            "  --limit N               only the first N >= 1 studies of the split\n"
            "  --blank-images          every view replaced by a blank image (uniform, at the\n"
            "                          model's normalisation mean): what the model writes\n"
            "                          from no image at all, the text-only baseline that\n"
            "                          mrg demo reports; no image file is read\n"
            "decoding (defaults from the model's config, else R2GenGPT's):\n"
            "  --beam K                beams, 1..64 (default 3)\n"
            "  --greedy                greedy decoding instead of beam search\n"
            "  --sample                temperature + top-p sampling instead of beam search:\n"
            "                          --temperature T (>= 0, default 1.0), --top-p P\n"
            "                          (0 < P <= 1, default 0.9), --seed S (default 0)\n"
            "  --repetition-penalty R  on tokens already generated, > 0 (default 2.0; 1 = off)\n"
            "  --length-penalty L      beam search: finished beams score sum_logprob / len^L\n"
            "                          (any finite L, default 2.0)\n"
            "  --min-new N             no end of report before N tokens, 0..100000 (default\n"
            "                          40); at most --max-new\n"
            "  --max-new N             at most N tokens, 1..100000 (default 100) and below\n"
            "                          the LM's maximum sequence length; a --max-new below\n"
            "                          the model's min_new lowers min_new (with a note)\n"
            "  --kv-cache D            KV cache storage: f32 (default), bf16 or f16 (half the\n"
            "                          cache memory and decode reads; keys and values\n"
            "                          rounded, so reports may differ slightly)\n"
            "  --device D              cpu, opencl, opencl:N\n\n"
            "Options the chosen decoding would ignore are refused (--beam with --greedy,\n"
            "--temperature without --sample, --split with --image, ...).\n"
            "A progress bar goes to stderr when it is a terminal.\n\n"
            "Under mpirun (or srun) with N processes, --data shares the split's batches\n"
            "between the ranks (batch k on rank k mod N, each on its own device, see\n"
            "--device) and rank 0 writes --out in dataset order: the same file as one\n"
            "process writes.\n");
    return code;
}

/* An earlier output of generate: JSON lines {"id", "report"}. */
static bool is_preds_file(const char *path) { return out_jsonl_has(path, "id", "report"); }

/* RUN/best when it holds a checkpoint, else RUN itself; the frozen LM from
 * lm when not NULL. A run directory (RUN/last, or RUN/log.jsonl) without a
 * best checkpoint yet says so. */
static mrg_model *load_model(const char *run, const char *lm, mrg_device *dev) {
    char path[4200];
    snprintf(path, sizeof path, "%s/best/config.json", run);
    if (access(path, R_OK) == 0) {
        snprintf(path, sizeof path, "%s/best", run);
        return mrg_model_load_lm(path, dev, lm);
    }
    snprintf(path, sizeof path, "%s/config.json", run);
    char last[4200], log[4200];
    snprintf(last, sizeof last, "%s/last/config.json", run);
    snprintf(log, sizeof log, "%s/log.jsonl", run);
    if (access(path, F_OK) != 0 && (access(last, F_OK) == 0 || access(log, F_OK) == 0)) {
        if (access(last, F_OK) == 0)
            mrg_error(MRG_ERR_NOT_FOUND,
                      "the run %s has no best checkpoint yet (%s/best is written after a "
                      "validation); use the latest one: --model %s/last",
                      run, run, run);
        else
            mrg_error(MRG_ERR_NOT_FOUND,
                      "the run %s has no checkpoint yet (neither %s/best nor %s/last)", run, run,
                      run);
        return NULL;
    }
    return mrg_model_load_lm(run, dev, lm);
}

/* "\r[bar] k/n studies  rate  ETA", cut to the terminal's width less one
 * column so it never wraps; the bar shrinks first. */
static void progress(int done, int total, double t0) {
    double el = mrg_now_s() - t0, rate = el > 0 ? done / el : 0;
    char tail[128];
    int k = snprintf(tail, sizeof tail, "%d/%d studies  %.2f studies/s", done, total, rate);
    if (rate > 0 && done < total && k > 0 && k < (int)sizeof tail)
        snprintf(tail + k, sizeof tail - (size_t)k, "  ETA %.0fs", (total - done) / rate);
    int width = mrg_terminal_width(2) - 1, cells = width - 3 - (int)strlen(tail);
    if (cells > 30) cells = 30;
    char line[256];
    int n = 0;
    if (cells >= 5) {
        int fill = total > 0 ? (int)((long)cells * done / total) : cells;
        line[n++] = '[';
        for (int i = 0; i < cells; i++) line[n++] = i < fill ? '#' : ' ';
        line[n++] = ']';
        line[n++] = ' ';
    }
    snprintf(line + n, sizeof line - (size_t)n, "%s", tail);
    if (width > 0 && (int)strlen(line) > width) line[width] = 0;
    fprintf(stderr, "\r\033[K%s", line);
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
    else if (n_images < V) {
        char views[32];
        if (V - n_images > 1) snprintf(views, sizeof views, "views %d-%d", n_images + 1, V);
        else snprintf(views, sizeof views, "view %d", V);
        fprintf(stderr,
                "mrg generate: the model takes %d views; %s is repeated as %s (give --image once "
                "per view)\n",
                V, images[n_images - 1], views);
    }
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
    char *shown = mrg_report_display(report); /* for people: capitals, "effusion." */
    free(report);
    if (!shown) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        return 1;
    }
    printf("%s\n", shown);
    free(shown);
    return 0;
}

/* The JSON line of one study, newline-terminated (malloc'd; NULL when out
 * of memory). */
static char *study_line(const char *id, const char *report) {
    cJSON *o_json = cJSON_CreateObject();
    if (!o_json) return NULL;
    cJSON_AddStringToObject(o_json, "id", id);
    /* "report" is the form the metrics score; "display" the one to show */
    cJSON_AddStringToObject(o_json, "report", report);
    char *shown = mrg_report_display(report);
    if (shown) cJSON_AddStringToObject(o_json, "display", shown);
    free(shown);
    char *line = cJSON_PrintUnformatted(o_json);
    cJSON_Delete(o_json);
    if (!line) return NULL;
    size_t n = strlen(line);
    char *nl = realloc(line, n + 2);
    if (!nl) {
        free(line);
        return NULL;
    }
    nl[n] = '\n';
    nl[n + 1] = 0;
    return nl;
}

static void show_progress(void *t0, int done, int total) {
    progress(done, total, *(const double *)t0);
}

/* Rank 0's part of whole_split: the lines of the reports, in dataset
 * order, into the open output. */
static mrg_status write_study_lines(FILE *out, const mrg_dataset *ds, char **reports, int total) {
    for (int i = 0; i < total; i++) {
        char *line = study_line(mrg_dataset_id(ds, i), reports[i]);
        if (!line) return mrg_error(MRG_ERR_OOM, "out of memory");
        fputs(line, out);
        free(line);
        if (ferror(out)) break; /* the commit says why */
    }
    return MRG_OK;
}

static int whole_split(mrg_model *m, const mrg_gen_opts *g, const char *data, mrg_split split,
                       const char *out_path, int batch, int limit, bool blank) {
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
    o.load_images = !blank;
    mrg_dataset *ds = mrg_dataset_open(data, split, &o);
    if (!ds) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        return 1;
    }
    /* written beside out_path and renamed into place at the end: a failed
     * run leaves an earlier output as it was (opened first, so that a bad
     * path fails before the generation) */
    const int ranks = mrg_dist_size(), rank = mrg_dist_rank();
    mrg_atomic_file af;
    if (rank == 0 && mrg_atomic_begin(&af, out_path, true) != MRG_OK) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        mrg_dataset_free(ds);
        return 1;
    }
    /* blank views: 0 everywhere after normalisation, i.e. every pixel at
     * the normalisation mean, a constant image with no structure */
    const size_t study_floats = (size_t)cfg->n_views * 3 * (size_t)cfg->vit.image_size * (size_t)cfg->vit.image_size;
    float *blank_images = blank ? calloc((size_t)batch * study_floats, sizeof(float)) : NULL;
    int total = mrg_dataset_size(ds);
    if (limit > 0 && limit < total) total = limit;
    bool bar = isatty(2) && rank == 0;
    double t0 = mrg_now_s();
    if (bar) progress(0, total, t0);
    mrg_split_gen how = {.images = blank_images, .on_batch = bar ? show_progress : NULL, .ctx = &t0};
    char **reports = NULL;
    mrg_status st = blank && !blank_images ? mrg_error(MRG_ERR_OOM, "out of memory")
                                           : mrg_generate_split(m, ds, total, g, &how, &reports);
    if (bar) fputc('\n', stderr);
    free(blank_images);
    int rc = 0;
    if (st) {
        if (ranks > 1) fprintf(stderr, "mrg generate: rank %d: %s\n", rank, mrg_last_error());
        else fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        rc = 1;
    }
    if (rank == 0) {
        if (!rc && write_study_lines(af.f, ds, reports, total) != MRG_OK) {
            fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
            rc = 1;
        }
        if (rc) {
            mrg_atomic_abort(&af); /* an earlier output stays as it was */
        } else if (mrg_atomic_commit(&af) != MRG_OK) {
            fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
            rc = 1;
        } else if (ranks > 1) {
            fprintf(stderr, "mrg generate: %d reports from %d ranks in %.1f s written to %s\n", total, ranks,
                    mrg_now_s() - t0, out_path);
        } else {
            fprintf(stderr, "mrg generate: %d reports in %.1f s written to %s\n", total, mrg_now_s() - t0,
                    out_path);
        }
    }
    mrg_reports_free(reports, total);
    mrg_dataset_free(ds);
    /* a failed generation ends the job (mrg.c); otherwise every rank ends
     * with rank 0's verdict on the file */
    if (st || ranks == 1) return rc;
    int v = rc;
    if (mrg_dist_bcast(&v, sizeof v, 0) != MRG_OK) v = 1;
    return v;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *lm = NULL, *data = NULL, *out = NULL, *device = NULL;
    static const char *const splits[] = {"train", "val", "test", NULL};
    int split_index = 2;
    const char *images[MAX_IMAGES];
    int batch = 8, limit = 0;
    int beam = -1, min_new = -1, max_new = -1, kv_index = -1;
    float rep = -1, lp = NAN, temperature = 1.0f, top_p = 0.9f;
    uint64_t seed = 0;
    bool greedy = false, sample = false, force = false, blank = false;
    opt_spec specs[] = {
        OPT_STRING("--model", &model),
        OPT_STRING("--lm", &lm),
        OPT_SET("--force", &force),
        OPT_STRINGS("--image", images, MAX_IMAGES),
        OPT_STRING("--data", &data),
        OPT_ONE_OF("--split", &split_index, splits),
        OPT_STRING("--out", &out),
        OPT_STRING("--device", &device),
        OPT_INTEGER("--batch", &batch, 1, 1024),
        OPT_INTEGER("--limit", &limit, 1, INT_MAX),
        OPT_SET("--blank-images", &blank),
        OPT_SET("--greedy", &greedy),
        OPT_SET("--sample", &sample),
        OPT_INTEGER("--beam", &beam, 1, 64),
        OPT_POSITIVE("--repetition-penalty", &rep, INFINITY),
        OPT_REAL("--length-penalty", &lp, -INFINITY, INFINITY),
        OPT_INTEGER("--min-new", &min_new, 0, 100000),
        OPT_INTEGER("--max-new", &max_new, 1, 100000),
        OPT_REAL("--temperature", &temperature, 0, INFINITY),
        OPT_POSITIVE("--top-p", &top_p, 1),
        OPT_SEED("--seed", &seed),
        OPT_ONE_OF("--kv-cache", &kv_index, opts_float_dtype_names()),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("generate", argc, argv, specs, n);
    if (rc) return rc == 1 ? usage(0) : rc;
    const int n_images = opts_given(specs, n, "--image");
    if ((rc = opts_require("generate", specs, n, "--model", NULL)) ||
        (rc = opts_exclusive("generate", specs, n, "--image", "--data")) ||
        (rc = opts_exclusive("generate", specs, n, "--greedy", "--sample")))
        return rc;
    if (!n_images && !data) return opts_fail("generate", "--image or --data is required (see mrg generate --help)");
    static const char *const split_only[] = {"--split", "--out", "--batch", "--limit", "--blank-images"};
    for (int k = 0; k < 5; k++)
        if (n_images && opts_given(specs, n, split_only[k]))
            return opts_fail("generate", "%s applies to --data only, not to --image", split_only[k]);
    if (data && !out) return opts_fail("generate", "--data needs --out FILE");
    /* options the chosen decoding would ignore */
    static const char *const beam_only[] = {"--beam", "--length-penalty"};
    for (int k = 0; k < 2; k++)
        if ((greedy || sample) && opts_given(specs, n, beam_only[k]))
            return opts_fail("generate", "%s applies to beam search, not to %s", beam_only[k],
                             greedy ? "--greedy" : "--sample");
    static const char *const sample_only[] = {"--temperature", "--top-p", "--seed"};
    for (int k = 0; k < 3; k++)
        if (!sample && opts_given(specs, n, sample_only[k]))
            return opts_fail("generate", "%s applies to --sample only", sample_only[k]);
    if (min_new >= 0 && max_new >= 0 && min_new > max_new)
        return opts_fail("generate", "--min-new %d is above --max-new %d", min_new, max_new);
    mrg_split split;
    mrg_split_parse(splits[split_index], &split);
    const mrg_named_path inputs[] = {{"--data", data}, {"--model", model}};
    if (out && out_file_guard("generate", out, force, is_preds_file, inputs, 2)) return 2;
    mrg_device *dev = opts_device("generate", device);
    if (!dev) return 2;
    mrg_grad_set_enabled(dev, false);
    rc = 1;
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
    /* one of the pair from the command line, the other from the model */
    if (min_new >= 0 && g.min_new > g.max_new) {
        fprintf(stderr, "mrg generate: --min-new %d is above the model's max_new %d (give --max-new too)\n",
                min_new, g.max_new);
        rc = 2;
        goto done;
    }
    if (max_new >= 0 && g.min_new > g.max_new) {
        fprintf(stderr, "mrg generate: --max-new %d is below the model's min_new %d: using --min-new %d\n",
                max_new, g.min_new, max_new);
        g.min_new = max_new;
    }
    const int max_seq = mrg_model_llama(m)->cfg.max_seq;
    if (max_new >= 0 && max_new >= max_seq) {
        fprintf(stderr, "mrg generate: --max-new %d does not fit the model's %d positions\n", max_new,
                max_seq);
        rc = 2;
        goto done;
    }
    if (rep >= 0) g.repetition_penalty = rep;
    if (!isnan(lp)) g.length_penalty = lp;
    g.mode = greedy ? MRG_GEN_GREEDY : sample ? MRG_GEN_SAMPLE : MRG_GEN_BEAM;
    g.temperature = temperature;
    g.top_p = top_p;
    g.seed = seed;
    if (kv_index >= 0) g.kv_dtype = opts_float_dtype[kv_index];
    if (mrg_gen_opts_check(&g) != MRG_OK) {
        fprintf(stderr, "mrg generate: %s\n", mrg_last_error());
        rc = 2;
        goto done;
    }
    rc = data ? whole_split(m, &g, data, split, out, batch, limit, blank)
              : mrg_dist_rank() == 0 ? one_study(m, &g, images, n_images)
                                     : 0; /* under mpirun one study is rank 0's */
done:
    mrg_model_free(m);
    mrg_device_free(dev);
    return rc;
}
