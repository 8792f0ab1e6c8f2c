/* mrg eval: BLEU-1..4, METEOR, ROUGE-L, CIDEr and finding scores of
 * predicted reports against references, as pycocoevalcap computes them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "eval_report.h"
#include "out_guard.h"
#include "scores_json.h"
#include "mrg/limits.h"
#include "mrg/metrics.h"

#define EVAL_MAX_RUNS 32

static void help(FILE *out) {
    fprintf(out,
            "usage: mrg eval --pred P.jsonl --ref R.jsonl [options]\n"
            "       mrg eval --pred A.jsonl --pred B.jsonl [--pred C.jsonl ...] --ref R.jsonl [options]\n\n"
            "Scores predicted reports against references with BLEU-1..4, METEOR 1.5,\n"
            "ROUGE-L and CIDEr exactly as pycocoevalcap does (no PTB tokenizer), plus\n"
            "the finding labeler's per-finding and macro precision/recall/F1.\n\n"
            "Input: JSON lines {\"id\": ..., \"report\": \"...\"}; a reference line may\n"
            "carry \"reports\": [...] for several references. Predictions are matched\n"
            "to references by id; unmatched ids are reported and left out.\n\n"
            "options:\n"
            "  --pred FILE          predicted reports (JSON lines); give it several times\n"
            "                       to compare runs (seeds, systems; at most %d)\n"
            "  --ref FILE           reference reports (JSON lines)\n"
            "  --bootstrap N        95 %% percentile-bootstrap interval of every metric from\n"
            "                       N resamples of the reports (10 to 100000; 1000 is usual)\n"
            "  --seed S             the resamples' seed (default 1); needs --bootstrap or\n"
            "                       exactly two runs\n"
            "  --clean              apply the R2Gen IU X-Ray cleaning to both first\n"
            "  --json               print one JSON object instead of a table\n"
            "  --per-report FILE    write per-report scores and finding labels (JSON lines,\n"
            "                       atomically; never one of the input files; an existing\n"
            "                       FILE must be an earlier --per-report output; one --pred)\n"
            "  --force              replace another existing --per-report FILE anyway\n"
            "  --wordnet DIR        WordNet data for METEOR synonyms (METEOR's synonym\n"
            "                       files or a WordNet 3.0 dict directory)\n"
            "  --meteor-data DIR    directory with paraphrase-en.gz for METEOR paraphrases\n"
            "  --no-meteor          skip METEOR (excludes --wordnet and --meteor-data)\n"
            "  --strict             fail when ids are missing on either side\n"
            "  -h, --help           this help\n\n"
            "Intervals (--bootstrap N): each resample draws as many reports as were scored,\n"
            "uniformly with replacement, and scores them as pycocoevalcap would score that\n"
            "sample (corpus BLEU from its summed counts, METEOR from its summed statistics,\n"
            "CIDEr with document frequencies from the sample's references, a report drawn\n"
            "twice counting as two documents); the interval is the 2.5th and 97.5th\n"
            "percentile of the N values (linear interpolation). With --json every metric\n"
            "KEY gets \"KEY_ci\": [low, high] beside it (in \"findings\": precision_ci,\n"
            "recall_ci, f1_ci). The same --seed gives the same resamples and intervals.\n\n"
            "Several runs (--pred given more than once) are scored on the ids that every\n"
            "run predicts: each run's scores, and the mean and sample standard deviation\n"
            "(n - 1) across runs. With exactly two runs also run2 - run1 per metric with\n"
            "a paired bootstrap (the same resamples for both, --bootstrap N or 1000): the\n"
            "95 %% interval of the difference and the two-sided p-value\n"
            "  p = min(1, 2 (1 + min(#{d <= 0}, #{d >= 0})) / (N + 1))\n"
            "over the resamples' differences d. --json: {\"runs\": [per-run objects with\n"
            "\"pred\"], \"n\", \"mean\", \"sd\", \"paired\": {\"a\", \"b\", \"diff\", \"diff_ci\",\n"
            "\"p\"}, \"bootstrap\": {\"resamples\", \"seed\", \"level\"}}, the metrics nested as\n"
            "in a single run's object.\n\n"
            "METEOR data: without --wordnet / --meteor-data, WordNet is read from an\n"
            "installed pycocoevalcap's jar or /usr/share/wordnet (Debian's wordnet-base),\n"
            "and paraphrase-en.gz from MRG_METEOR_DATA, /usr/local/share/mrg/meteor (put\n"
            "there by tools/install-deps.sh) or an installed pycocoevalcap; the table is\n"
            "indexed once into ~/.cache/mrg ($XDG_CACHE_HOME/mrg). A missing resource\n"
            "switches its METEOR module off with a message, and a score is still reported.\n"
            "Limits (mrg/limits.h): a report of at most 65536 bytes, a line of at most 1 MiB;\n"
            "METEOR aligns the first 1024 words of a longer prediction or reference and\n"
            "says how many it cut.\n"
            "Exit status: 0 ok, 1 unreadable or malformed input, 2 usage error.\n",
            EVAL_MAX_RUNS);
}

/* Whether a and b name the same existing file. */
static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* An earlier --per-report output: JSON lines {"id", ..., "findings_pred"}. */
static bool is_per_report_file(const char *path) { return out_jsonl_has(path, "id", "findings_pred"); }

static int write_per_report(const char *path, const mrg_report_set *pred, const int *pi, int n,
                            const mrg_report_scores *per) {
    mrg_atomic_file af;
    if (mrg_atomic_begin(&af, path, true) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        return 1;
    }
    FILE *f = af.f;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", pred->ids[pi[i]]);
        scores_add_json(o, per[i].bleu, per[i].meteor, per[i].rouge_l, per[i].cider);
        cJSON *fp = cJSON_AddObjectToObject(o, "findings_pred");
        cJSON *fr = cJSON_AddObjectToObject(o, "findings_ref");
        for (int k = 0; k < MRG_N_FINDINGS; k++) {
            cJSON_AddStringToObject(fp, mrg_finding_name((mrg_finding)k), scores_label_name(per[i].pred_labels[k]));
            cJSON_AddStringToObject(fr, mrg_finding_name((mrg_finding)k), scores_label_name(per[i].ref_labels[k]));
        }
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (txt) fprintf(f, "%s\n", txt);
        free(txt);
    }
    if (mrg_atomic_commit(&af) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        return 1;
    }
    return 0;
}

/* The reports that every run predicts, with their references. */
typedef struct matched {
    int n;
    int *pi;                 /* [n] index of each report in run 1's file (--per-report ids) */
    const char **p[EVAL_MAX_RUNS]; /* [run][n] prediction texts */
    const char *const **r;   /* [n] references */
    int *nr;                 /* [n] */
} matched;

static void matched_free(matched *m) {
    free(m->pi);
    for (int i = 0; i < EVAL_MAX_RUNS; i++) free(m->p[i]);
    free(m->r);
    free(m->nr);
}

/* Matches the runs' predictions to the references by id (messages on
 * stderr, at most 5 of each kind); 0, or 1 when nothing can be scored. */
static int match(const char *const *paths, int runs, const mrg_report_set *pred, const char *ref_path,
                 const mrg_report_set *ref, bool strict, matched *m) {
    int rc = 1, n_missing = 0, n_empty = 0, n_unpred = 0;
    int *have[EVAL_MAX_RUNS] = {0}; /* [run][ref index]: 1 + index of its prediction, 0 none */
    memset(m, 0, sizeof *m);
    size_t cap = (size_t)pred[0].n + 1;
    m->pi = malloc(cap * sizeof *m->pi);
    m->r = malloc(cap * sizeof *m->r);
    m->nr = malloc(cap * sizeof *m->nr);
    bool oom = !m->pi || !m->r || !m->nr;
    for (int k = 0; k < runs && !oom; k++)
        oom = !(m->p[k] = malloc(cap * sizeof *m->p[k])) || !(have[k] = calloc((size_t)ref->n + 1, sizeof *have[k]));
    if (oom) {
        fprintf(stderr, "mrg eval: out of memory\n");
        goto done;
    }
    for (int k = 0; k < runs; k++)
        for (int i = 0; i < pred[k].n; i++) {
            if (pred[k].n_texts[i] != 1) {
                fprintf(stderr, "mrg eval: %s:%d: a prediction must have one \"report\", not \"reports\"\n",
                        paths[k], pred[k].line[i]);
                goto done;
            }
            int j = mrg_report_set_find(ref, pred[k].ids[i]);
            if (j < 0) {
                if (n_missing++ < 5)
                    fprintf(stderr, "mrg eval: prediction id \"%s\" (%s:%d) has no reference\n",
                            pred[k].ids[i], paths[k], pred[k].line[i]);
                continue;
            }
            const char *t = pred[k].texts[i][0];
            while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
            if (!*t && n_empty++ < 5)
                fprintf(stderr, "mrg eval: prediction id \"%s\" (%s:%d) is empty (scored as empty)\n",
                        pred[k].ids[i], paths[k], pred[k].line[i]);
            have[k][j] = i + 1;
        }
    if (n_missing > 5) fprintf(stderr, "mrg eval: ... %d predictions without reference in all\n", n_missing);
    if (n_empty > 5) fprintf(stderr, "mrg eval: ... %d empty predictions in all\n", n_empty);
    for (int k = 0; k < runs; k++)
        for (int j = 0; j < ref->n; j++)
            if (!have[k][j] && n_unpred++ < 5)
                fprintf(stderr, "mrg eval: reference id \"%s\" (%s:%d) has no prediction%s%s\n", ref->ids[j],
                        ref_path, ref->line[j], runs > 1 ? " in " : "", runs > 1 ? paths[k] : "");
    if (n_unpred > 5) fprintf(stderr, "mrg eval: ... %d references without prediction in all\n", n_unpred);
    /* run 1's order; ids every run predicts */
    for (int i = 0; i < pred[0].n; i++) {
        int j = mrg_report_set_find(ref, pred[0].ids[i]);
        bool all = j >= 0;
        for (int k = 1; k < runs && all; k++) all = have[k][j] != 0;
        if (!all) continue;
        m->pi[m->n] = i;
        for (int k = 0; k < runs; k++) m->p[k][m->n] = pred[k].texts[have[k][j] - 1][0];
        m->r[m->n] = (const char *const *)ref->texts[j];
        m->nr[m->n] = ref->n_texts[j];
        m->n++;
    }
    if (m->n == 0) {
        fprintf(stderr, "mrg eval: no prediction id matches a reference id%s; nothing to score\n",
                runs > 1 ? " in every run" : "");
        goto done;
    }
    if (strict && (n_missing || n_unpred)) {
        if (runs > 1)
            fprintf(stderr, "mrg eval: --strict: ids differ between the runs and %s\n", ref_path);
        else
            fprintf(stderr, "mrg eval: --strict: ids differ between %s and %s\n", paths[0], ref_path);
        goto done;
    }
    if (n_missing || n_unpred) fprintf(stderr, "mrg eval: scoring the %d matched reports\n", m->n);
    rc = 0;
done:
    for (int k = 0; k < runs; k++) free(have[k]);
    return rc;
}

static void meteor_messages(const mrg_scores *s, const char *run) {
    if (s->meteor_truncated)
        fprintf(stderr,
                "mrg eval: METEOR%s%s: %d %s (predictions and references) longer than %d words "
                "scored on their first %d words (MRG_METEOR_MAX_WORDS)\n",
                run ? " " : "", run ? run : "", s->meteor_truncated,
                s->meteor_truncated == 1 ? "report" : "reports", MRG_METEOR_MAX_WORDS, MRG_METEOR_MAX_WORDS);
}

int cmd_eval(int argc, char **argv) {
    const char *pred_paths[EVAL_MAX_RUNS] = {0}, *ref_path = NULL, *per_path = NULL;
    bool json = false, strict = false, force = false;
    int n_boot = 0;
    uint64_t seed = 1;
    mrg_eval_opts opts = {0};
    opt_spec specs[] = {
        OPT_STRINGS("--pred", pred_paths, EVAL_MAX_RUNS),
        OPT_STRING("--ref", &ref_path),
        OPT_STRING("--per-report", &per_path),
        OPT_STRING("--wordnet", &opts.meteor_opts.wordnet_dir),
        OPT_STRING("--meteor-data", &opts.meteor_opts.meteor_data_dir),
        OPT_INTEGER("--bootstrap", &n_boot, 10, 100000),
        OPT_SEED("--seed", &seed),
        OPT_SET("--clean", &opts.clean),
        OPT_SET("--json", &json),
        OPT_SET("--no-meteor", &opts.no_meteor),
        OPT_SET("--strict", &strict),
        OPT_SET("--force", &force),
    };
    const int n_specs = OPTS_COUNT(specs);
    int rc = opts_parse("eval", argc, argv, specs, n_specs);
    if (rc == 1) {
        help(stdout);
        return 0;
    }
    if (rc || (rc = opts_require("eval", specs, n_specs, "--pred", "--ref", NULL)) ||
        (rc = opts_exclusive("eval", specs, n_specs, "--no-meteor", "--wordnet")) ||
        (rc = opts_exclusive("eval", specs, n_specs, "--no-meteor", "--meteor-data")))
        return rc;
    const int runs = opts_given(specs, n_specs, "--pred");
    if (runs > 1 && per_path) return opts_fail("eval", "--per-report takes one --pred, not %d", runs);
    if (opts_given(specs, n_specs, "--seed") && !n_boot && runs != 2)
        return opts_fail("eval", "--seed needs --bootstrap N or exactly two --pred runs (it seeds their resamples)");
    /* --per-report must not overwrite an input */
    if (per_path) {
        if (same_file(per_path, pred_paths[0]) || same_file(per_path, ref_path))
            return opts_fail("eval", "--per-report %s would overwrite an input file", per_path);
        const mrg_named_path inputs[] = {{"--pred", pred_paths[0]}, {"--ref", ref_path}};
        if (out_file_guard("eval", per_path, force, is_per_report_file, inputs, 2)) return 2;
    }
    mrg_report_set pred[EVAL_MAX_RUNS], ref;
    memset(pred, 0, sizeof pred);
    memset(&ref, 0, sizeof ref);
    int n_read = 0;
    rc = 1;
    mrg_eval_stats *stats[EVAL_MAX_RUNS] = {0};
    mrg_scores *scores = calloc((size_t)runs, sizeof *scores);
    double (*low)[MRG_N_METRICS] = calloc((size_t)runs, sizeof *low);
    double (*high)[MRG_N_METRICS] = calloc((size_t)runs, sizeof *high);
    mrg_report_scores *per = NULL;
    mrg_meteor *met = NULL;
    matched m;
    memset(&m, 0, sizeof m);
    if (!scores || !low || !high) {
        fprintf(stderr, "mrg eval: out of memory\n");
        goto done;
    }
    for (; n_read < runs; n_read++)
        if (mrg_report_set_read(pred_paths[n_read], &pred[n_read]) != MRG_OK) {
            fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
            goto done;
        }
    if (mrg_report_set_read(ref_path, &ref) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        goto done;
    }
    if (match(pred_paths, runs, pred, ref_path, &ref, strict, &m)) goto done;
    int n = m.n;
    if (per_path && !(per = calloc((size_t)n, sizeof *per))) {
        fprintf(stderr, "mrg eval: out of memory\n");
        goto done;
    }
    /* METEOR's resources once for every run */
    if (!opts.no_meteor && !(opts.meteor = met = mrg_meteor_open(&opts.meteor_opts))) {
        fprintf(stderr, "mrg eval: METEOR resources: %s\n", mrg_last_error());
        goto done;
    }
    for (int k = 0; k < runs; k++)
        if (mrg_eval_stats_build(m.p[k], m.r, m.nr, n, &opts, &stats[k]) != MRG_OK ||
            mrg_eval_stats_per_report(stats[k], &scores[k], k == 0 ? per : NULL) != MRG_OK) {
            fprintf(stderr, "mrg eval: %s%s%s\n", runs > 1 ? pred_paths[k] : "", runs > 1 ? ": " : "",
                    mrg_last_error());
            goto done;
        }
    if (scores[0].meteor_note[0]) fprintf(stderr, "mrg eval: METEOR: %s\n", scores[0].meteor_note);
    for (int k = 0; k < runs; k++) meteor_messages(&scores[k], runs > 1 ? pred_paths[k] : NULL);
    eval_boot boot = {n_boot, seed, 0.95};
    for (int k = 0; k < runs && n_boot; k++)
        if (mrg_eval_bootstrap(stats[k], n_boot, seed, boot.level, low[k], high[k]) != MRG_OK) {
            fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
            goto done;
        }
    if (runs == 1) {
        const double *lo = n_boot ? low[0] : NULL, *hi = n_boot ? high[0] : NULL;
        if (json)
            rc = json_print(eval_run_json(&scores[0], n, lo, hi, &boot));
        else
            eval_print_run_table(&scores[0], n, lo, hi, &boot), rc = 0;
        if (rc == 0 && per_path) rc = write_per_report(per_path, &pred[0], m.pi, n, per);
        goto done;
    }
    eval_runs er = {
        .n_runs = runs,
        .n = n,
        .paths = pred_paths,
        .scores = scores,
        .low = n_boot ? (const double(*)[MRG_N_METRICS])low : NULL,
        .high = n_boot ? (const double(*)[MRG_N_METRICS])high : NULL,
        .boot = boot,
    };
    if (runs == 2) {
        er.paired = true;
        if (!er.boot.resamples) er.boot.resamples = 1000;
        if (mrg_eval_bootstrap_paired(stats[0], stats[1], er.boot.resamples, seed, boot.level, er.diff_low,
                                      er.diff_high, er.p) != MRG_OK) {
            fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
            goto done;
        }
    }
    if (json)
        rc = json_print(eval_runs_json(&er));
    else
        eval_print_runs_table(&er), rc = 0;
done:
    matched_free(&m);
    for (int k = 0; k < runs; k++) mrg_eval_stats_free(stats[k]);
    mrg_meteor_free(met);
    free(scores);
    free(low);
    free(high);
    free(per);
    for (int k = 0; k < n_read; k++) mrg_report_set_free(&pred[k]);
    mrg_report_set_free(&ref);
    return rc;
}
