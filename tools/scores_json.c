/* Score sets as JSON (the keys of `mrg eval --json`) and as a table, shared
 * by mrg eval, mrg train and mrg demo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "scores_json.h"

const char *scores_label_name(mrg_finding_label l) {
    return l == MRG_LABEL_POSITIVE ? "positive" : l == MRG_LABEL_NEGATIVE ? "negative" : "absent";
}

static cJSON *num_or_null(double v) { return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v); }

static cJSON *findings_json(const mrg_finding_scores *f) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < MRG_N_FINDINGS; k++) {
        cJSON *e = cJSON_AddObjectToObject(o, mrg_finding_name((mrg_finding)k));
        cJSON_AddNumberToObject(e, "precision", f->precision[k]);
        cJSON_AddNumberToObject(e, "recall", f->recall[k]);
        cJSON_AddNumberToObject(e, "f1", f->f1[k]);
        cJSON_AddNumberToObject(e, "tp", f->tp[k]);
        cJSON_AddNumberToObject(e, "fp", f->fp[k]);
        cJSON_AddNumberToObject(e, "fn", f->fn[k]);
    }
    cJSON *m = cJSON_AddObjectToObject(o, "macro");
    cJSON_AddNumberToObject(m, "precision", f->macro_precision);
    cJSON_AddNumberToObject(m, "recall", f->macro_recall);
    cJSON_AddNumberToObject(m, "f1", f->macro_f1);
    return o;
}

void scores_add_json(cJSON *o, const double bleu[4], double meteor, double rouge, double cider) {
    static const char *const names[4] = {"BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4"};
    for (int k = 0; k < 4; k++) cJSON_AddNumberToObject(o, names[k], bleu[k]);
    cJSON_AddItemToObject(o, "METEOR", num_or_null(meteor));
    cJSON_AddNumberToObject(o, "ROUGE_L", rouge);
    cJSON_AddNumberToObject(o, "CIDEr", cider);
}

cJSON *scores_to_json(const mrg_scores *s, int n) {
    cJSON *o = cJSON_CreateObject();
    scores_add_json(o, s->bleu, s->meteor, s->rouge_l, s->cider);
    if (s->has_findings) cJSON_AddItemToObject(o, "findings", findings_json(&s->findings));
    cJSON_AddNumberToObject(o, "n", n);
    if (!isnan(s->meteor)) {
        cJSON *mods = cJSON_AddArrayToObject(o, "meteor_modules");
        static const char *const mn[4] = {"exact", "stem", "synonym", "paraphrase"};
        for (int k = 0; k < 4; k++)
            if (s->meteor_modules & (1u << k)) cJSON_AddItemToArray(mods, cJSON_CreateString(mn[k]));
        if (s->meteor_note[0]) cJSON_AddStringToObject(o, "meteor_note", s->meteor_note);
    }
    return o;
}

int json_print(cJSON *o) {
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return 1;
    printf("%s\n", txt);
    free(txt);
    return 0;
}

int scores_print_json(const mrg_scores *s, int n) { return json_print(scores_to_json(s, n)); }

void scores_print_table(const mrg_scores *s, int n) {
    printf("%d reports\n", n);
    printf("  BLEU_1   %.4f\n  BLEU_2   %.4f\n  BLEU_3   %.4f\n  BLEU_4   %.4f\n", s->bleu[0],
           s->bleu[1], s->bleu[2], s->bleu[3]);
    if (isnan(s->meteor))
        printf("  METEOR   -\n");
    else
        printf("  METEOR   %.4f\n", s->meteor);
    printf("  ROUGE_L  %.4f\n  CIDEr    %.4f\n", s->rouge_l, s->cider);
    if (!s->has_findings) return;
    const mrg_finding_scores *f = &s->findings;
    printf("\n  %-24s %9s %9s %9s %5s %5s %5s\n", "finding", "precision", "recall", "f1", "tp",
           "fp", "fn");
    for (int k = 0; k < MRG_N_FINDINGS; k++)
        printf("  %-24s %9.4f %9.4f %9.4f %5d %5d %5d\n", mrg_finding_name((mrg_finding)k),
               f->precision[k], f->recall[k], f->f1[k], f->tp[k], f->fp[k], f->fn[k]);
    printf("  %-24s %9.4f %9.4f %9.4f\n", "macro", f->macro_precision, f->macro_recall,
           f->macro_f1);
}

