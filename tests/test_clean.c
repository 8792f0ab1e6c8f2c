/* The R2Gen IU cleaning rule against Python's output: the committed
 * fixture, and (when ../shared and python3 are there) every report of the
 * IU X-Ray annotation, cleaned by tools/ref/metrics_ref.py at test time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrg/text.h"
#include "test_metrics_util.h"

/* Cleans every report of raw and compares with clean (same ids). */
static int compare_files(const char *raw, const char *clean) {
    mrg_report_set a, b;
    if (mrg_report_set_read(raw, &a) != MRG_OK) {
        CHECK(0);
        return 0;
    }
    CHECK_OK(mrg_report_set_read(clean, &b));
    CHECK(a.n == b.n);
    int bad = 0;
    for (int i = 0; i < a.n && i < b.n; i++) {
        char *c = mrg_clean_report_iu(a.texts[i][0]);
        CHECK(c != NULL);
        if (c && strcmp(c, b.texts[i][0])) {
            if (bad++ < 5)
                fprintf(stderr, "  %s: got \"%s\"\n  want \"%s\"\n", a.ids[i], c, b.texts[i][0]);
        }
        free(c);
    }
    CHECK(bad == 0);
    int n = a.n;
    mrg_report_set_free(&a);
    mrg_report_set_free(&b);
    return n;
}

int main(void) {
    /* hand-picked cases, including the regex range quirk */
    static const char *const cases[][2] = {
        {"The heart is normal in size. The lungs are clear.", "the heart is normal in size . the lungs are clear ."},
        {"1. No acute disease. 2. Stable T-spine XXXX.", "no acute disease . stable t-spine xxxx ."},
        {"a:b;c<d=e>f?g@h[i]j{k}l", "abcdefghijkl ."},
        {"3 mm #1 $2 |x| ~y `z", "3 mm #1 $2 |x| ~y `z ."},
        {"", " ."},
        {". . .", " .  .  ."},
    };
    for (int i = 0; i < 6; i++) {
        char *c = mrg_clean_report_iu(cases[i][0]);
        CHECK(c && !strcmp(c, cases[i][1]));
        if (c && strcmp(c, cases[i][1])) fprintf(stderr, "  got \"%s\" want \"%s\"\n", c, cases[i][1]);
        free(c);
    }
    CHECK(mrg_clean_report_iu(NULL) == NULL);

    /* the display form people read */
    static const char *const shown[][2] = {
        {"the heart is normal in size . no pleural effusion .", "The heart is normal in size. No pleural effusion."},
        {"no acute disease . stable t-spine xxxx .", "No acute disease. Stable t-spine xxxx."},
        {"  mild cardiomegaly , small left effusion ?  no  pneumothorax", "Mild cardiomegaly, small left effusion? No pneumothorax"},
        {"3 mm nodule . 1.5 cm opacity .", "3 mm nodule. 1.5 cm opacity."},
        {" .", ""},
        {"", ""},
        {"Already. Fine.", "Already. Fine."},
    };
    for (int i = 0; i < 7; i++) {
        char *d = mrg_report_display(shown[i][0]);
        CHECK(d && !strcmp(d, shown[i][1]));
        if (d && strcmp(d, shown[i][1])) fprintf(stderr, "  display \"%s\" want \"%s\"\n", d, shown[i][1]);
        free(d);
    }
    CHECK(mrg_report_display(NULL) == NULL);
    char raw[4096], clean[4096];
    snprintf(raw, sizeof raw, "%s", test_golden_path("metrics/clean.raw.jsonl"));
    snprintf(clean, sizeof clean, "%s", test_golden_path("metrics/clean.expected.jsonl"));
    int n = compare_files(raw, clean);
    printf("fixture: %d reports equal Python's cleaning\n", n);

    const char *shared = test_shared_dir();
    const char *py = getenv("MRG_PYTHON") ? getenv("MRG_PYTHON") : "python3";
    char cmd[16384], tmp[] = "/tmp/mrg_test_clean_XXXXXX";
    snprintf(cmd, sizeof cmd, "%s -c 1 >/dev/null 2>&1", py);
    if (!shared || system(cmd) != 0) {
        printf("skipping the IU X-Ray check: %s\n", shared ? "no python3" : "../shared absent");
    } else if (mkdtemp(tmp)) {
        snprintf(raw, sizeof raw, "%s/raw.jsonl", tmp);
        snprintf(clean, sizeof clean, "%s/clean.jsonl", tmp);
        snprintf(cmd, sizeof cmd, "%s %s clean %s/data/iu_xray/annotation.json %s %s", py,
                 ref_script(), shared, raw, clean);
        CHECK(system(cmd) == 0);
        n = compare_files(raw, clean);
        printf("IU X-Ray: %d reports equal Python's cleaning\n", n);
        CHECK(n > 2900);
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return test_finish("clean");
}
