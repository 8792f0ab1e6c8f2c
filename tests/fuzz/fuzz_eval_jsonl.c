/* Fuzzes the JSON-lines reader of `mrg eval` (mrg_report_set_read) and the
 * scorers after it: report i of the file is scored against the references
 * of report i+1 (so "reports" lists give several references), raw and with
 * the IU cleaning, BLEU, ROUGE-L, CIDEr, METEOR (exact + stem; no synonym or
 * paraphrase data, so runs do not depend on what is installed) and the
 * finding labeler. Scores must be finite and inside their ranges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "mrg/metrics.h"

static mrg_meteor *meteor;

static void free_meteor(void) { mrg_meteor_free(meteor); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    mrg_meteor_opts mo = {.no_synonyms = true, .no_paraphrases = true};
    meteor = mrg_meteor_open(&mo);
    if (!meteor) {
        fprintf(stderr, "fuzz: %s\n", mrg_last_error());
        abort();
    }
    atexit(free_meteor);
    return 0;
}

static void in_range(double v, double lo, double hi, const char *what) {
    if (v >= lo && v <= hi) return;
    fprintf(stderr, "fuzz: %s = %g outside [%g, %g]\n", what, v, lo, hi);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("reports.jsonl", data, size);
    mrg_report_set s;
    mrg_clear_error();
    mrg_status st = mrg_report_set_read(path, &s);
    fuzz_expect_message(st, "mrg_report_set_read");
    if (st != MRG_OK) return 0;
    int n = s.n;
    for (int i = 0; i < n; i++)
        if (mrg_report_set_find(&s, s.ids[i]) != i || s.n_texts[i] < 1) abort();
    if (n > 0) {
        const char **preds = malloc(sizeof *preds * (size_t)n);
        const char *const **refs = malloc(sizeof *refs * (size_t)n);
        int *nr = malloc(sizeof *nr * (size_t)n);
        mrg_report_scores *per = malloc(sizeof *per * (size_t)n);
        if (!preds || !refs || !nr || !per) abort();
        for (int i = 0; i < n; i++) {
            preds[i] = s.texts[i][0];
            refs[i] = (const char *const *)s.texts[(i + 1) % n];
            nr[i] = s.n_texts[(i + 1) % n];
        }
        for (int clean = 0; clean < 2; clean++) {
            mrg_eval_opts o = {.clean = clean, .meteor = meteor};
            mrg_scores sc;
            mrg_clear_error();
            st = mrg_eval_scores(preds, refs, nr, n, &o, &sc, per);
            fuzz_expect_message(st, "mrg_eval_scores");
            if (st != MRG_OK) continue;
            for (int k = 0; k < 4; k++) in_range(sc.bleu[k], 0, 1, "BLEU");
            in_range(sc.meteor, 0, 1, "METEOR");
            in_range(sc.rouge_l, 0, 1, "ROUGE-L");
            in_range(sc.cider, 0, INFINITY, "CIDEr");
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 4; k++) in_range(per[i].bleu[k], 0, 1, "per-report BLEU");
                in_range(per[i].meteor, 0, 1, "per-report METEOR");
                in_range(per[i].rouge_l, 0, 1, "per-report ROUGE-L");
                in_range(per[i].cider, 0, INFINITY, "per-report CIDEr");
            }
        }
        free(preds);
        free(refs);
        free(nr);
        free(per);
    }
    mrg_report_set_free(&s);
    return 0;
}
