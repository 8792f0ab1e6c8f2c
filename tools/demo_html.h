/* The demo's result page, DIR/index.html: the scores of the model and its
 * baselines, the training curves, and each test study's views with the
 * generated and the reference report side by side, the findings the
 * labeler read in each marked. One self-contained file: the images are
 * inlined, nothing is loaded from elsewhere, so it opens anywhere the file
 * is moved or copied. */
#ifndef MRG_TOOLS_DEMO_HTML_H
#define MRG_TOOLS_DEMO_HTML_H

#include "mrg/metrics.h"

typedef struct demo_study {
    const char *id;
    const char *const *images; /* the views' image files, inlined into the page */
    int n_images;
    const char *generated;
    const char *reference;
    const char *blank; /* the report the model writes from blank views, or NULL */
} demo_study;

/* A column of the scores table. */
typedef struct demo_system {
    const char *name; /* "model", ... */
    const char *what; /* a short explanation shown in the column's title */
    const mrg_scores *scores;
} demo_system;

typedef struct demo_page {
    const demo_study *studies;
    int n;
    const demo_system *systems; /* the scores table's columns, in order */
    int n_systems;
    const char *baseline_report; /* the constant report, or NULL */
    const char *log_path;        /* the run's log.jsonl: the curves (NULL: none) */
    const char *settings;        /* a line on how the demo ran, or NULL */
} demo_page;

/* An image larger than this is refused rather than inlined. */
#define DEMO_HTML_MAX_IMAGE_BYTES (4L << 20)

/* Writes the page to path atomically. Reports are shown in their display
 * form (mrg_report_display). An unreadable log gives a page without
 * curves (and a line saying why); an unreadable image is an error. */
mrg_status demo_write_html(const char *path, const demo_page *p);

#endif
