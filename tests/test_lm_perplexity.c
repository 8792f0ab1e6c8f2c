/* Perplexity: `mrg lm --perplexity` against the float64 PyTorch reference
 * (tools/ref/perplexity_ref.py -> tests/golden/lm_perplexity) on every
 * device, with and without a prompt; its rules (empty lines skipped and
 * counted, a line longer than the model refused, bad option combinations);
 * and `mrg pretrain-lm`'s validation perplexity after each epoch (stdout and
 * pretrain_log.jsonl), which for a context-free LM must equal `mrg lm --perplexity`
 * on the same cleaned validation reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clitest.h"
#include "mrg/dataset.h"
#include "testutil.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool rel_close(const char *what, double got, double want, double tol) {
    double err = fabs(got - want) / fabs(want);
    if (!(err <= tol)) fprintf(stderr, "  %s: %.10g, want %.10g (rel %.2g > %.2g)\n", what, got, want, err, tol);
    return err <= tol;
}

/* `mrg lm --perplexity` of the golden lines on dev, with prompt (NULL:
 * none), against the golden case. */
static void check_golden(const char *dev, const char *golden, const cJSON *c) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "prompt");
    char prompt[128] = "";
    if (cJSON_IsString(p)) snprintf(prompt, sizeof prompt, "--prompt '%s'", p->valuestring);
    int rc = cli_sh("%s lm --model %s/model/lm --tokenizer %s/model/lm/tokenizer.model --perplexity "
                    "%s/lm_perplexity/lines.txt --json --device %s %s > ppl.json",
                    cli_bin, golden, golden, golden, dev, prompt);
    CHECK(rc == 0);
    CHECK(cli_has("skipped 1 empty line"));
    char *text = test_read_file(cli_at("ppl.json"), NULL);
    cJSON *got = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(got != NULL);
    if (!got) return;
    fprintf(stderr, "  %s%s: perplexity %.6f\n", dev, prompt[0] ? " with a prompt" : "", num(got, "perplexity"));
    /* f32 logits against float64: the NLL sums agree to ~1e-6 relative */
    CHECK(rel_close("perplexity", num(got, "perplexity"), num(c, "perplexity"), 1e-4));
    CHECK(rel_close("nll_per_token", num(got, "nll_per_token"), num(c, "nll_per_token"), 1e-5));
    CHECK(num(got, "tokens") == num(c, "tokens"));
    CHECK(num(got, "lines") == num(c, "lines"));
    CHECK(num(got, "empty_lines") == num(c, "empty_lines"));
    cJSON_Delete(got);
}

static void check_rules(const char *golden) {
    const char *lm = "lm --model %s/model/lm --tokenizer %s/model/lm/tokenizer.model --device cpu";
    char base[512];
    snprintf(base, sizeof base, lm, golden, golden);
    /* the model holds 256 positions: 255 line tokens after BOS fit, more do not */
    char *line = malloc(4096);
    CHECK(line != NULL);
    if (!line) return;
    line[0] = 0;
    for (int i = 0; i < 300; i++) strcat(line, "heart ");
    strcat(line, "\n");
    cli_write("long.txt", line);
    free(line);
    CHECK(cli_sh("%s %s --perplexity long.txt", cli_bin, base) == 2);
    CHECK(cli_has("long.txt line 1 has"));
    CHECK(cli_has("not cut"));
    cli_write("empty.txt", "\n\n");
    CHECK(cli_sh("%s %s --perplexity empty.txt", cli_bin, base) == 2);
    CHECK(cli_has("no non-empty line"));
    CHECK(cli_sh("%s %s --perplexity no-such-file.txt", cli_bin, base) == 2);
    CHECK(cli_has("cannot open no-such-file.txt"));
    CHECK(cli_sh("%s lm --model %s/model/lm --perplexity empty.txt", cli_bin, golden) == 2);
    CHECK(cli_has("--perplexity needs --tokenizer"));
    CHECK(cli_sh("%s %s --perplexity empty.txt --greedy", cli_bin, base) == 2);
    CHECK(cli_sh("%s %s --prompt hi --json", cli_bin, base) == 2);
    CHECK(cli_has("--json applies to --perplexity only"));
    /* standard input, text output */
    CHECK(cli_sh("printf 'the heart is normal .\\n' | %s %s --perplexity -", cli_bin, base) == 0);
    CHECK(cli_has("perplexity ") && cli_has("tokens in 1 lines, EOS counted"));
}

/* The cleaned val reports of ph, one per line, into val.txt. */
static bool write_val_reports(void) {
    mrg_dataset_opts o = mrg_dataset_defaults();
    o.load_images = false;
    o.shuffle = false;
    o.prefetch = 0;
    o.batch_size = 1;
    mrg_dataset *ds = mrg_dataset_open(cli_at("ph"), MRG_SPLIT_VAL, &o);
    if (!ds) return false;
    FILE *f = fopen(cli_at("val.txt"), "w");
    for (int i = 0; f && i < mrg_dataset_size(ds); i++) fprintf(f, "%s\n", mrg_dataset_report(ds, i));
    bool ok = f && fclose(f) == 0;
    mrg_dataset_free(ds);
    return ok;
}

/* The last "val" record of a JSONL text: its perplexity; *count gets the
 * number of such records. */
static double last_val(const char *text, int *count) {
    double ppl = NAN;
    *count = 0;
    for (const char *s = text; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *l = strndup(s, len);
        cJSON *o = l ? cJSON_Parse(l) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "val")) {
            ppl = num(o, "val_perplexity");
            CHECK(num(o, "val_tokens") > 0 && num(o, "epoch") == *count + 1);
            (*count)++;
        }
        cJSON_Delete(o);
        free(l);
        s = e ? e + 1 : NULL;
    }
    return ppl;
}

static void check_pretrain_validation(void) {
    CHECK(cli_sh("%s phantoms --out ph --n 20 --size 32 > /dev/null", cli_bin) == 0);
    /* no context, no slot, nothing truncated: the sequences are exactly
     * what `mrg lm --perplexity` scores */
    cli_write("plain.json", "{\"prompt_before\": \"\", \"prompt_after\": \"\", \"max_report_tokens\": 256}");
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --config plain.json --no-slot-hints --out lm "
                 "--epochs 2 --batch 4 --vocab 300 --device cpu > run.jsonl",
                 cli_bin) == 0);
    char *run = test_read_file(cli_at("run.jsonl"), NULL), *log = test_read_file(cli_at("lm/pretrain_log.jsonl"), NULL);
    CHECK(run && log);
    int n_run = 0, n_log = 0;
    double ppl = last_val(run, &n_run), ppl_log = last_val(log, &n_log);
    CHECK(n_run == 2 && n_log == 2); /* one per epoch */
    CHECK(ppl == ppl_log && isfinite(ppl) && ppl > 1);
    free(run);
    free(log);
    CHECK(write_val_reports());
    CHECK(cli_sh("%s lm --model lm --tokenizer lm/tokenizer.model --perplexity val.txt --json --device cpu "
                 "> val.json",
                 cli_bin) == 0);
    char *text = test_read_file(cli_at("val.json"), NULL);
    cJSON *got = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(got != NULL);
    /* batched f32 cross-entropy against per-line double sums */
    if (got) fprintf(stderr, "  pretrain-lm validation %.6f, mrg lm --perplexity %.6f\n", ppl, num(got, "perplexity"));
    if (got) CHECK(rel_close("pretrain-lm validation vs mrg lm --perplexity", ppl, num(got, "perplexity"), 1e-4));
    cJSON_Delete(got);
}

int main(void) {
    if (!cli_setup("test_lm_perplexity")) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return 77;
    }
    const char *golden = getenv("MRG_TEST_DATA");
    CHECK(golden != NULL);
    if (!golden) return test_finish("lm_perplexity");
    char path[600];
    snprintf(path, sizeof path, "%s/lm_perplexity/expected.json", golden);
    char *text = test_read_file(path, NULL);
    cJSON *exp = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(exp != NULL);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(exp, "cases");
    CHECK(cJSON_GetArraySize(cases) == 2);
    char devs[8][32];
    int nd = test_devices(devs, 8);
    for (int d = 0; d < nd; d++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cases) check_golden(devs[d], golden, c);
    }
    cJSON_Delete(exp);
    check_rules(golden);
    check_pretrain_validation();
    return test_finish("lm_perplexity");
}
