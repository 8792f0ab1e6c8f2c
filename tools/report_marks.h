/* A report as the demo page shows it: its display form with each sentence
 * in which the finding labeler read a finding marked, green where the
 * other report (generated vs reference) agrees on those findings and red
 * where it does not, and a list of the findings read. Agreement is what
 * the finding F1 counts: a finding positive in both reports or in
 * neither. */
#ifndef MRG_TOOLS_REPORT_MARKS_H
#define MRG_TOOLS_REPORT_MARKS_H

#include <stdbool.h>
#include <stdio.h>

#include "mrg/text.h"

/* "cardiomegaly", "left pleural effusion", ... (for people) */
const char *finding_title(mrg_finding f);
/* Whether a and b agree on finding f (positive in both or in neither). */
bool finding_agrees(const mrg_finding_label *a, const mrg_finding_label *b, int f);

/* Writes the display form of report (mrg_report_display), escaped, each
 * sentence that mentions a finding in <mark class="agree|disagree">.
 * own: the labels of report; other: those of the report it is compared
 * with (both from mrg_label_report of the whole reports). */
mrg_status report_marks_write(FILE *f, const char *report, const mrg_finding_label *own,
                              const mrg_finding_label *other);
/* <ul class="findings"> with the findings this report mentions and those
 * the other report calls positive, each agree/disagree. */
void report_findings_write(FILE *f, const mrg_finding_label *own, const mrg_finding_label *other);

#endif
