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
#include "out_guard.h"
#include "scores_json.h"
#include "mrg/limits.h"
#include "mrg/metrics.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: mrg eval --pred P.jsonl --ref R.jsonl [options]\n\n"
            "Scores predicted reports against references with BLEU-1..4, METEOR 1.5,\n"
            "ROUGE-L and CIDEr exactly as pycocoevalcap does (no PTB tokenizer), plus\n"
            "the finding labeler's per-finding and macro precision/recall/F1.\n\n"
            "Input: JSON lines {\"id\": ..., \"report\": \"...\"}; a reference line may\n"
            "carry \"reports\": [...] for several references. Predictions are matched\n"
            "to references by id; unmatched ids are reported and left out.\n\n"
            "options:\n"
            "  --pred FILE          predicted reports (JSON lines)\n"
            "  --ref FILE           reference reports (JSON lines)\n"
            "  --clean              apply the R2Gen IU X-Ray cleaning to both first\n"
            "  --json               print one JSON object instead of a table\n"
            "  --per-report FILE    write per-report scores and finding labels (JSON lines,\n"
            "                       atomically; never one of the input files; an existing\n"
            "                       FILE must be an earlier --per-report output)\n"
            "  --force              replace another existing --per-report FILE anyway\n"
            "  --wordnet DIR        WordNet data for METEOR synonyms (METEOR's synonym\n"
            "                       files or a WordNet 3.0 dict directory)\n"
            "  --meteor-data DIR    directory with paraphrase-en.gz for METEOR paraphrases\n"
            "  --no-meteor          skip METEOR (excludes --wordnet and --meteor-data)\n"
            "  --strict             fail when ids are missing on either side\n"
            "  -h, --help           this help\n\n"
            "Without --wordnet / --meteor-data the data is looked for next to an installed\n"
            "pycocoevalcap (and MRG_METEOR_DATA, /usr/share/wordnet); a missing resource\n"
            "switches its METEOR module off with a message, and a score is still reported.\n"
            "Limits (mrg/limits.h): a report of at most 65536 bytes, a line of at most 1 MiB;\n"
            "METEOR aligns the first 1024 words of a longer prediction or reference and\n"
            "says how many it cut.\n"
            "Exit status: 0 ok, 1 unreadable or malformed input, 2 usage error.\n");
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
    char tmp[4400];
    FILE *f = mrg_output_file_open(path, tmp, sizeof tmp);
    if (!f) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        return 1;
    }
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
    if (mrg_output_file_close(f, tmp, path, true) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        return 1;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *pred_path = NULL, *ref_path = NULL, *per_path = NULL;
    bool json = false, strict = false, force = false;
    mrg_eval_opts opts = {0};
    opt_spec specs[] = {
        OPT_STRING("--pred", &pred_path),
        OPT_STRING("--ref", &ref_path),
        OPT_STRING("--per-report", &per_path),
        OPT_STRING("--wordnet", &opts.meteor_opts.wordnet_dir),
        OPT_STRING("--meteor-data", &opts.meteor_opts.meteor_data_dir),
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
    /* --per-report must not overwrite an input */
    if (per_path && (same_file(per_path, pred_path) || same_file(per_path, ref_path)))
        return opts_fail("eval", "--per-report %s would overwrite an input file", per_path);
    const mrg_named_path inputs[] = {{"--pred", pred_path}, {"--ref", ref_path}};
    if (per_path && out_file_guard("eval", per_path, force, is_per_report_file, inputs, 2)) return 2;
    mrg_report_set pred, ref;
    if (mrg_report_set_read(pred_path, &pred) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        return 1;
    }
    if (mrg_report_set_read(ref_path, &ref) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        mrg_report_set_free(&pred);
        return 1;
    }
    rc = 1;
    int *pi = malloc((size_t)(pred.n + 1) * sizeof *pi), *ri = malloc((size_t)(pred.n + 1) * sizeof *ri);
    const char **p = malloc((size_t)(pred.n + 1) * sizeof *p);
    const char *const **r = malloc((size_t)(pred.n + 1) * sizeof *r);
    int *nr = malloc((size_t)(pred.n + 1) * sizeof *nr);
    char *ref_used = calloc((size_t)ref.n + 1, 1);
    mrg_report_scores *per = NULL;
    if (!pi || !ri || !p || !r || !nr || !ref_used) {
        fprintf(stderr, "mrg eval: out of memory\n");
        goto done;
    }
    int n = 0, n_missing = 0, n_empty = 0;
    for (int i = 0; i < pred.n; i++) {
        if (pred.n_texts[i] != 1) {
            fprintf(stderr, "mrg eval: %s:%d: a prediction must have one \"report\", not \"reports\"\n",
                    pred_path, pred.line[i]);
            goto done;
        }
        int k = mrg_report_set_find(&ref, pred.ids[i]);
        if (k < 0) {
            if (n_missing++ < 5)
                fprintf(stderr, "mrg eval: prediction id \"%s\" (%s:%d) has no reference\n",
                        pred.ids[i], pred_path, pred.line[i]);
            continue;
        }
        const char *t = pred.texts[i][0];
        while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
        if (!*t && n_empty++ < 5)
            fprintf(stderr, "mrg eval: prediction id \"%s\" (%s:%d) is empty (scored as empty)\n",
                    pred.ids[i], pred_path, pred.line[i]);
        ref_used[k] = 1;
        pi[n] = i;
        ri[n] = k;
        p[n] = pred.texts[i][0];
        r[n] = (const char *const *)ref.texts[k];
        nr[n] = ref.n_texts[k];
        n++;
    }
    if (n_missing > 5) fprintf(stderr, "mrg eval: ... %d predictions without reference in all\n", n_missing);
    if (n_empty > 5) fprintf(stderr, "mrg eval: ... %d empty predictions in all\n", n_empty);
    int n_unpred = 0;
    for (int k = 0; k < ref.n; k++)
        if (!ref_used[k] && n_unpred++ < 5)
            fprintf(stderr, "mrg eval: reference id \"%s\" (%s:%d) has no prediction\n", ref.ids[k],
                    ref_path, ref.line[k]);
    if (n_unpred > 5) fprintf(stderr, "mrg eval: ... %d references without prediction in all\n", n_unpred);
    if (n == 0) {
        fprintf(stderr, "mrg eval: no prediction id matches a reference id; nothing to score\n");
        goto done;
    }
    if (strict && (n_missing || n_unpred)) {
        fprintf(stderr, "mrg eval: --strict: ids differ between %s and %s\n", pred_path, ref_path);
        goto done;
    }
    if (n_missing || n_unpred) fprintf(stderr, "mrg eval: scoring the %d matched reports\n", n);
    if (per_path && !(per = calloc((size_t)n, sizeof *per))) {
        fprintf(stderr, "mrg eval: out of memory\n");
        goto done;
    }
    mrg_scores s;
    if (mrg_eval_scores(p, r, nr, n, &opts, &s, per) != MRG_OK) {
        fprintf(stderr, "mrg eval: %s\n", mrg_last_error());
        goto done;
    }
    if (s.meteor_note[0]) fprintf(stderr, "mrg eval: METEOR: %s\n", s.meteor_note);
    if (s.meteor_truncated)
        fprintf(stderr,
                "mrg eval: METEOR: %d %s (predictions and references) longer than %d words "
                "scored on their first %d words (MRG_METEOR_MAX_WORDS)\n",
                s.meteor_truncated, s.meteor_truncated == 1 ? "report" : "reports",
                MRG_METEOR_MAX_WORDS, MRG_METEOR_MAX_WORDS);
    rc = json ? scores_print_json(&s, n) : (scores_print_table(&s, n), 0);
    if (rc == 0 && per_path) rc = write_per_report(per_path, &pred, pi, n, per);
done:
    free(pi);
    free(ri);
    free(p);
    free(r);
    free(nr);
    free(ref_used);
    free(per);
    mrg_report_set_free(&pred);
    mrg_report_set_free(&ref);
    return rc;
}
