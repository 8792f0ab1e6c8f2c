/* BLEU-1..4, ROUGE-L and CIDEr of all 590 IU X-Ray test reports scored
 * against perturbed, truncated, sentence-swapped versions of themselves,
 * other reports, two references and the raw text, compared with
 * pycocoevalcap run at test time (needs ../shared and pycocoevalcap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_metrics_util.h"

int main(void) {
    const char *shared = test_shared_dir();
    const char *py = python_with_pycocoevalcap();
    if (!shared || !py) {
        printf("skipped: %s\n", !shared ? "../shared absent" : "python3 without pycocoevalcap (pip install pycocoevalcap)");
        return 77;
    }
    char tmp[] = "/tmp/mrg_test_metrics_iu_XXXXXX", cmd[16384];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(cmd, sizeof cmd, "%s %s iu-cases %s/data/iu_xray/annotation.json %s", py, ref_script(),
             shared, tmp);
    CHECK(system(cmd) == 0);
    static const char *const sets[] = {"self", "perturbed", "truncated", "swapped", "other", "multi", "raw"};
    double worst = 0;
    for (int k = 0; k < 7; k++) {
        devs d;
        score_set(tmp, sets[k], false, NULL, 1e-4, &d);
        printf("%-10s %5d values, max |C - pycocoevalcap| %.2e\n", sets[k], d.compared, d.bleu_rouge_cider);
        CHECK(d.compared >= 590 * 6);
        if (d.bleu_rouge_cider > worst) worst = d.bleu_rouge_cider;
    }
    printf("worst deviation over all cases: %.2e (tolerance 1e-4)\n", worst);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return test_finish("metrics_iu");
}
