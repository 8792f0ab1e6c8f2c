/* BLEU / ROUGE-L / CIDEr (and METEOR when its data is installed) against
 * the committed pycocoevalcap numbers in tests/golden/metrics, plus the
 * input checks of mrg_eval_scores, the JSON-lines reader and `mrg eval`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_metrics_util.h"

static void test_golden(void) {
    const char *dir = test_golden_path("metrics");
    mrg_meteor *m = mrg_meteor_open(NULL);
    CHECK(m != NULL);
    unsigned all = MRG_METEOR_EXACT | MRG_METEOR_STEM | MRG_METEOR_SYNONYM | MRG_METEOR_PARAPHRASE;
    bool meteor = m && mrg_meteor_modules(m) == all;
    if (!meteor)
        printf("METEOR not compared with the jar's numbers: %s\n", m ? mrg_meteor_note(m) : "");
    static const char *const sets[] = {"hand", "phantom", "phantom_multi"};
    for (int k = 0; k < 3; k++) {
        devs d;
        score_set(dir, sets[k], meteor, m, 1e-4, &d);
        printf("%-14s %4d values, max |C - pycocoevalcap| %.2e", sets[k], d.compared, d.bleu_rouge_cider);
        if (meteor) printf("; METEOR corpus %.2e, per report %.2e", d.meteor_corpus, d.meteor);
        printf("\n");
        CHECK(d.compared > 20);
        if (meteor) {
            CHECK(d.meteor_compared > 10);
            CHECK(d.meteor_corpus <= 1e-4);
            CHECK(d.meteor <= 1e-4);
        }
    }
    mrg_meteor_free(m);
}

/* Exact values worked out by hand. */
static void test_known_values(void) {
    const char *p[] = {"a b c d", "x"};
    const char *r0[] = {"a b c d"}, *r1[] = {"y"};
    const char *const *refs[] = {r0, r1};
    int nr[] = {1, 1};
    double b[4], per[2][4], rl, rper[2], c, cper[2];
    CHECK_OK(mrg_bleu(p, refs, nr, 2, b, per));
    /* corpus: 4 of 5 unigrams, 3/3 bigrams, 2/2, 1/1 -> BLEU_1 = 0.8 */
    CHECK(fabs(b[0] - 0.8) < 1e-9);
    CHECK(fabs(b[1] - sqrt(0.8 * 1.0)) < 1e-9);
    CHECK(fabs(per[0][3] - 1.0) < 1e-9);
    CHECK(per[1][0] < 1e-6);
    CHECK_OK(mrg_rouge_l(p, refs, nr, 2, &rl, rper));
    CHECK(fabs(rper[0] - 1.0) < 1e-12 && rper[1] == 0.0 && fabs(rl - 0.5) < 1e-12);
    CHECK_OK(mrg_cider(p, refs, nr, 2, &c, cper));
    CHECK(fabs(cper[0] - 10.0) < 1e-9 && cper[1] == 0.0);
    /* invalid input: errors, never crashes */
    CHECK(mrg_bleu(p, refs, nr, 0, b, NULL) == MRG_ERR_INVALID_ARG);
    int bad_nr[] = {1, 0};
    CHECK(mrg_rouge_l(p, refs, bad_nr, 2, &rl, NULL) == MRG_ERR_INVALID_ARG);
    const char *pn[] = {"a", NULL};
    CHECK(mrg_cider(pn, refs, nr, 2, &c, NULL) == MRG_ERR_INVALID_ARG);
    mrg_scores s;
    CHECK(mrg_eval_scores(NULL, refs, nr, 2, NULL, &s, NULL) == MRG_ERR_INVALID_ARG);
}

static void test_reader(const char *tmp) {
    char path[4096];
    mrg_report_set s;
    snprintf(path, sizeof path, "%s/ok.jsonl", tmp);
    test_write_file(path, "{\"id\":\"a\",\"report\":\"x y\"}\n\n{\"id\":\"b\",\"reports\":[\"p\",\"q\"]}\n{\"id\":7,\"report\":\"\"}");
    CHECK_OK(mrg_report_set_read(path, &s));
    CHECK(s.n == 3 && s.n_texts[1] == 2 && !strcmp(s.texts[1][1], "q") && !strcmp(s.ids[2], "7"));
    CHECK(mrg_report_set_find(&s, "b") == 1 && mrg_report_set_find(&s, "zz") == -1);
    mrg_report_set_free(&s);
    static const char *const bad[] = {
        "{\"id\":\"a\",\"report\":\"x\"}\n{\"id\":\"a\",\"report\":\"y\"}\n", /* duplicate */
        "{\"id\":\"a\",\"report\":\"x\"\n",                                 /* broken JSON */
        "{\"report\":\"x\"}\n",                                            /* no id */
        "{\"id\":\"a\"}\n",                                                /* no report */
        "{\"id\":\"a\",\"reports\":[]}\n",                                 /* empty reports */
        "{\"id\":\"a\",\"reports\":[\"x\",3]}\n",                          /* non-string */
        "[1,2]\n",                                                         /* not an object */
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        test_write_file(path, bad[i]);
        mrg_status st = mrg_report_set_read(path, &s);
        CHECK(st == MRG_ERR_FORMAT);
        CHECK(strstr(mrg_last_error(), "ok.jsonl:") != NULL);
    }
    snprintf(path, sizeof path, "%s/does-not-exist.jsonl", tmp);
    CHECK(mrg_report_set_read(path, &s) == MRG_ERR_IO);
}

/* `mrg eval` exit codes and outputs (when the binary is known). */
static void test_cli(const char *tmp) {
    const char *bin = getenv("MRG_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("MRG_BIN not set: `mrg eval` itself not tested\n");
        return;
    }
    char pred[512], ref[512], bad[512], cmd[8192], out[512], per[512];
    snprintf(pred, sizeof pred, "%s/p.jsonl", tmp);
    snprintf(ref, sizeof ref, "%s/r.jsonl", tmp);
    snprintf(bad, sizeof bad, "%s/bad.jsonl", tmp);
    snprintf(out, sizeof out, "%s/out.json", tmp);
    snprintf(per, sizeof per, "%s/per.jsonl", tmp);
    test_write_file(pred, "{\"id\":\"1\",\"report\":\"The heart is enlarged. No pneumothorax.\"}\n"
                     "{\"id\":\"2\",\"report\":\"\"}\n{\"id\":\"9\",\"report\":\"orphan\"}\n");
    test_write_file(ref, "{\"id\":\"1\",\"report\":\"The heart is enlarged. Small left effusion.\"}\n"
                    "{\"id\":\"2\",\"reports\":[\"Normal chest.\",\"No acute disease.\"]}\n"
                    "{\"id\":\"3\",\"report\":\"unmatched\"}\n");
    test_write_file(bad, "{\"id\":\"1\",\"report\":\"x\"}\nnot json\n");
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --clean --json --no-meteor --per-report %s > %s 2>/dev/null",
             bin, pred, ref, per, out);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(out, "r");
    char buf[8192] = "";
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    static const char *const keys[] = {"\"BLEU_1\"", "\"BLEU_4\"", "\"METEOR\"", "\"ROUGE_L\"",
                                       "\"CIDEr\"", "\"findings\"", "\"cardiomegaly\"", "\"macro\""};
    for (int k = 0; k < 8; k++) CHECK(strstr(buf, keys[k]) != NULL);
    f = fopen(per, "r");
    int lines = 0;
    if (f) {
        while (fgets(buf, sizeof buf, f)) lines++;
        fclose(f);
    }
    CHECK(lines == 2);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --no-meteor >/dev/null 2>&1", bin, bad, ref);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --no-meteor --strict >/dev/null 2>&1", bin, pred, ref);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    snprintf(cmd, sizeof cmd, "%s eval --pred %s >/dev/null 2>&1", bin, pred);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s eval --help >/dev/null 2>&1", bin);
    CHECK(system(cmd) == 0);
}

int main(void) {
    char tmp[] = "/tmp/mrg_test_metrics_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    test_known_values();
    test_golden();
    test_reader(tmp);
    test_cli(tmp);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return test_finish("metrics");
}
