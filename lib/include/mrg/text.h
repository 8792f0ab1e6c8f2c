/* Report text: the R2Gen IU X-Ray cleaning rule and the finding labeler.
 *
 * The tokenizer has its own header (mrg/tokenizer.h). */
#ifndef MRG_TEXT_H
#define MRG_TEXT_H

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* R2Gen's clean_report_iu_xray (see ../shared/REFERENCE.md "Report cleaning"):
 * ".." -> "." three times, "1. " deleted, ". k. " and " k. " -> ". " (k=2..5),
 * strip, lowercase, split on ". "; per sentence delete " / \ ' , strip,
 * lowercase and delete the regex class [.,?;*!%^&_+():-\[\]{}] (":-\[" is
 * the range 0x3A-0x5B); join with " . " and append " .".
 * Byte-exact with Python for ASCII text; other bytes pass through unchanged
 * (Python would also lowercase/strip non-ASCII letters and spaces).
 * Returns a new string (free() it) or NULL with mrg_error set. */
char *mrg_clean_report_iu(const char *report);

/* The form of a (cleaned or generated) report shown to people: each
 * sentence starts with a capital, punctuation words join the word before
 * them ("no pleural effusion ." -> "No pleural effusion."), runs of white
 * space become one space. Files that the metrics score (preds.jsonl's
 * "report") keep the cleaned form. Returns a new string (free() it) or
 * NULL with mrg_error set. */
char *mrg_report_display(const char *report);

/* ---- finding labeler ---------------------------------------------------- */

/* The fixed findings, in this order (the phantom generator draws these). */
typedef enum mrg_finding {
    MRG_FINDING_CARDIOMEGALY = 0,
    MRG_FINDING_EFFUSION_LEFT,
    MRG_FINDING_EFFUSION_RIGHT,
    MRG_FINDING_PNEUMOTHORAX_LEFT,
    MRG_FINDING_PNEUMOTHORAX_RIGHT,
    MRG_FINDING_LOBAR_OPACITY, /* consolidation / airspace disease / lobar opacity */
    MRG_FINDING_NODULE,
    MRG_N_FINDINGS
} mrg_finding;

typedef enum mrg_finding_label {
    MRG_LABEL_ABSENT = 0,   /* not mentioned */
    MRG_LABEL_NEGATIVE = 1, /* mentioned as not present ("no pneumothorax") */
    MRG_LABEL_POSITIVE = 2, /* mentioned as present */
} mrg_finding_label;

/* Snake-case names: "cardiomegaly", "pleural_effusion_left", ...;
 * NULL for an out-of-range value. */
const char *mrg_finding_name(mrg_finding f);

/* Labels every finding of one report (any case, cleaned or raw). A positive
 * mention anywhere wins over a negative one for the same finding. */
mrg_status mrg_label_report(const char *report, mrg_finding_label out[MRG_N_FINDINGS]);

/* Precision / recall / F1 with "positive" as the positive class, counted
 * over a corpus of (prediction, reference) labels. A finding with no
 * predicted positives has precision 0, with no reference positives recall 0
 * (F1 0 when P+R = 0). Macro values are plain means over the 7 findings. */
typedef struct mrg_finding_scores {
    int tp[MRG_N_FINDINGS], fp[MRG_N_FINDINGS], fn[MRG_N_FINDINGS];
    double precision[MRG_N_FINDINGS], recall[MRG_N_FINDINGS], f1[MRG_N_FINDINGS];
    double macro_precision, macro_recall, macro_f1;
} mrg_finding_scores;

/* Labels preds[i] and refs[i] (i < n) and fills out. */
mrg_status mrg_finding_scores_compute(const char *const *preds, const char *const *refs, int n,
                                      mrg_finding_scores *out);
/* The same from labels already computed: pred[i*MRG_N_FINDINGS + f]. */
void mrg_finding_scores_from_labels(const mrg_finding_label *pred, const mrg_finding_label *ref,
                                    int n, mrg_finding_scores *out);

#ifdef __cplusplus
}
#endif
#endif
