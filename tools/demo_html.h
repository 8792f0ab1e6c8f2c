/* The demo's result page: each test study's images, generated report and
 * reference side by side. */
#ifndef MRG_TOOLS_DEMO_HTML_H
#define MRG_TOOLS_DEMO_HTML_H

#include "mrg/metrics.h"

typedef struct demo_study {
    const char *id;
    const char *const *images; /* paths relative to the page */
    int n_images;
    const char *generated;
    const char *reference;
} demo_study;

/* Writes path (atomically); model/baseline scores go in a summary table.
 * Reports are shown in their display form (mrg_report_display). */
int demo_write_html(const char *path, const demo_study *studies, int n,
                    const mrg_scores *model, const mrg_scores *baseline,
                    const char *baseline_report);

#endif
