/* The finding labeler on typical IU-style phrasings, and the per-finding
 * precision / recall / F1. */
#include <stdio.h>
#include <string.h>

#include "mrg/text.h"
#include "testutil.h"

enum { A = MRG_LABEL_ABSENT, N = MRG_LABEL_NEGATIVE, P = MRG_LABEL_POSITIVE };

typedef struct lcase {
    const char *text;
    int want[MRG_N_FINDINGS]; /* cardiomegaly, eff L, eff R, ptx L, ptx R, lobar, nodule */
} lcase;

static const lcase cases[] = {
    {"No pleural effusion.", {A, N, N, A, A, A, A}},
    {"Without evidence of pneumothorax.", {A, A, A, N, N, A, A}},
    {"No focal consolidation, effusion or pneumothorax.", {A, N, N, N, N, N, A}},
    {"Heart size is normal.", {N, A, A, A, A, A, A}},
    {"The heart is enlarged.", {P, A, A, A, A, A, A}},
    {"Bilateral effusions.", {A, P, P, A, A, A, A}},
    {"Small left-sided effusion.", {A, P, A, A, A, A, A}},
    {"There is a right pleural effusion.", {A, A, P, A, A, A, A}},
    {"Effusion on the right.", {A, A, P, A, A, A, A}},
    {"Left apical pneumothorax. No right pneumothorax.", {A, A, A, P, N, A, A}},
    {"Mild cardiomegaly. Lungs are clear.", {P, A, A, A, A, N, A}},
    {"No cardiomegaly.", {N, A, A, A, A, A, A}},
    {"The heart is not enlarged.", {N, A, A, A, A, A, A}},
    {"Normal heart size and mediastinal contours.", {N, A, A, A, A, A, A}},
    {"The cardiomediastinal silhouette is within normal limits.", {N, A, A, A, A, A, A}},
    {"Enlarged cardiac silhouette.", {P, A, A, A, A, A, A}},
    {"Right lower lobe consolidation.", {A, A, A, A, A, P, A}},
    {"There is airspace disease in the left lower lobe.", {A, A, A, A, A, P, A}},
    {"No focal airspace disease.", {A, A, A, A, A, N, A}},
    {"There is a 5 mm nodule in the right upper lobe.", {A, A, A, A, A, A, P}},
    {"No suspicious pulmonary nodules.", {A, A, A, A, A, A, N}},
    {"The heart is normal in size and there is a large left effusion.", {N, P, A, A, A, A, A}},
    {"No pneumothorax, but there is a small right pleural effusion.", {A, A, P, N, N, A, A}},
    {"No change in the left pleural effusion.", {A, P, A, A, A, A, A}},
    {"Small bilateral pleural effusions and a left pneumothorax.", {A, P, P, P, A, A, A}},
    {"Left pleural effusion has resolved.", {A, N, A, A, A, A, A}},
    {"the heart is enlarged . there is a small left pleural effusion .", {P, P, A, A, A, A, A}},
    {"Lungs are clear bilaterally without focal consolidation, pleural effusion, or pneumothorax. "
     "Heart size is upper limits of normal.",
     {N, N, N, N, N, N, A}},
    {"", {A, A, A, A, A, A, A}},
};

int main(void) {
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        mrg_finding_label got[MRG_N_FINDINGS];
        CHECK_OK(mrg_label_report(cases[i].text, got));
        for (int f = 0; f < MRG_N_FINDINGS; f++) {
            if ((int)got[f] != cases[i].want[f])
                fprintf(stderr, "  \"%s\": %s got %d want %d\n", cases[i].text,
                        mrg_finding_name((mrg_finding)f), got[f], cases[i].want[f]);
            CHECK((int)got[f] == cases[i].want[f]);
        }
    }
    CHECK(!strcmp(mrg_finding_name(MRG_FINDING_EFFUSION_LEFT), "pleural_effusion_left"));
    CHECK(mrg_finding_name(MRG_N_FINDINGS) == NULL);
    CHECK(mrg_label_report(NULL, NULL) == MRG_ERR_INVALID_ARG);

    /* P/R/F1: cardiomegaly tp 1, fp 1, fn 1 -> 0.5 / 0.5 / 0.5 */
    const char *preds[] = {"The heart is enlarged.", "Cardiomegaly.", "Normal heart size.",
                           "Left pleural effusion."};
    const char *refs[] = {"Cardiomegaly.", "Normal heart.", "The heart is enlarged.",
                          "Small left effusion."};
    mrg_finding_scores s;
    CHECK_OK(mrg_finding_scores_compute(preds, refs, 4, &s));
    CHECK(s.tp[0] == 1 && s.fp[0] == 1 && s.fn[0] == 1);
    CHECK(s.precision[0] == 0.5 && s.recall[0] == 0.5 && s.f1[0] == 0.5);
    CHECK(s.tp[1] == 1 && s.f1[1] == 1.0);
    CHECK(s.f1[2] == 0.0 && s.precision[2] == 0.0 && s.recall[2] == 0.0);
    CHECK(s.macro_f1 > (0.5 + 1.0) / 7 - 1e-12 && s.macro_f1 < (0.5 + 1.0) / 7 + 1e-12);
    printf("%d phrasings labeled as expected\n", n);
    return test_finish("labeler");
}
