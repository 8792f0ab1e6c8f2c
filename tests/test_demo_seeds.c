/* The demo's evidence that the model reads the image, kept from regressing
 * cheaply (issue 17): `mrg demo` in a small configuration (DEMO_ARGS: fewer
 * studies, a shorter schedule; the same stages and code paths as the full
 * demo) on two fixed phantom seeds must reach a stated macro finding F1 on
 * its held-out test studies, and beat the same model given blank views by a
 * wide margin, so that it fails when the image stops mattering (a constant
 * or text-only report scores near 0). The thresholds sit below what was
 * observed (README.md, the demo: observed values and margin).
 *
 * A few minutes in all, so it is skipped in
 * the sanitizer run (MRG_TEST_QUICK) and carries the ctest label `demo`
 * (`ctest -LE demo` leaves it out). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "testutil.h"

#define DEMO_ARGS "--studies 400 --lm-steps 240 --vit-epochs 12 --epochs 4"
/* Observed (CPU backend, deterministic per seed): seed 1 macro F1 0.308,
 * blank image 0.089; seed 2 0.534, blank 0.037; the constant report 0 on
 * both. 40 test studies make these coarse, hence the margins. With the
 * squared-error ViT warm-up (the demo's since session 15) and the earlier
 * 120 LM updates, seed 1 scored 0.123: as in the full demo, that warm-up
 * wants the longer LM pretraining (240 here, as 800 there). (The demo
 * keeps the generator epoch with the best val finding F1; on 40 val
 * studies that choice is noisy, and with 3 epochs seed 1 kept its weakest
 * on test, 0.142; with 4 the epoch it keeps also does well on test.) */
/* macro finding F1 of the model on the test studies, at least */
#define MIN_MACRO_F1 0.20
/* and at least this much above the blank-image model's */
#define MIN_GAP_TO_BLANK 0.10

static double macro_f1(const cJSON *system) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(system, "findings");
    const cJSON *m = f ? cJSON_GetObjectItemCaseSensitive(f, "macro") : NULL;
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, "f1") : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void demo_seed(const char *bin, const char *root, int seed) {
    char out[8192];
    int rc = test_run_cmdf(out, sizeof out, "%s demo --out %s/demo-%d --seed %d " DEMO_ARGS " --device cpu --json 2>/dev/null",
                           bin, root, seed, seed);
    CHECK(rc == 0);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "seed %d: rc %d, output: %.400s\n", seed, rc, out);
        return;
    }
    double model = macro_f1(cJSON_GetObjectItemCaseSensitive(j, "model"));
    double blank = macro_f1(cJSON_GetObjectItemCaseSensitive(j, "blank_image"));
    double constant = macro_f1(cJSON_GetObjectItemCaseSensitive(j, "baseline"));
    printf("seed %d: macro finding F1 %.3f (blank image %.3f, constant report %.3f); need >= %.2f and %.2f above "
           "blank\n",
           seed, model, blank, constant, MIN_MACRO_F1, MIN_GAP_TO_BLANK);
    CHECK(blank >= 0 && constant >= 0);
    CHECK(model >= MIN_MACRO_F1);
    CHECK(model - blank >= MIN_GAP_TO_BLANK);
    cJSON_Delete(j);
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin || getenv("MRG_TEST_QUICK")) {
        printf("skipped: %s\n", bin ? "MRG_TEST_QUICK (the sanitizer run)" : "MRG_BIN is not set");
        return 77;
    }
    char root[256];
    snprintf(root, sizeof root, "/tmp/mrg_test_demo_seeds_%ld", (long)getpid());
    if (mrg_mkdirs(root)) {
        fprintf(stderr, "cannot create %s: %s\n", root, mrg_last_error());
        return 1;
    }
    demo_seed(bin, root, 1);
    demo_seed(bin, root, 2);
    if (mrg_test_failures == 0) mrg_rm_tree(root);
    return test_finish("demo_seeds");
}
