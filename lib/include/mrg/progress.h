/* Progress output of the training loops (lib/train/progress.c): a bar on a
 * terminal, JSON lines for logs and pipes. */
#ifndef MRG_PROGRESS_H
#define MRG_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mrg/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_progress mrg_progress;

typedef struct mrg_progress_opts {
    const char *log_path; /* JSONL file appended to; NULL: none */
    bool bar;             /* a progress bar on stderr (usually isatty(2)) */
    bool jsonl_stdout;    /* JSONL lines on stdout too */
    int64_t total_steps;  /* for the bar and the ETA */
    int64_t first_step;   /* the step a resumed run starts from */
    int log_every;        /* JSONL every this many steps (and the last); >= 1 */
} mrg_progress_opts;

typedef struct mrg_step_stats {
    int64_t step;       /* updates done, after this one */
    int epoch;          /* 0-based index; shown and logged counted from 1 */
    float loss, lm, con; /* means over the accumulated micro-batches */
    float lr;
    float grad_norm;    /* before clipping */
    int samples;        /* studies in this update */
} mrg_step_stats;

mrg_progress *mrg_progress_new(const mrg_progress_opts *opts);
/* A training update: redraws the bar and writes a JSONL line
 * {"type":"train","step",..,"epoch",..,"loss",..,"lr",..,"samples_per_s",..,
 * "eta_s",..} (losses printed with 9 significant digits, so they read back
 * exactly; "epoch" counted from 1). The bar is cut to the terminal's width
 * (mrg_terminal_width). A log or stdout write that fails is reported once
 * on stderr, with its reason, and the run goes on (mrg_progress_close). */
void mrg_progress_step(mrg_progress *p, const mrg_step_stats *s);
/* Progress of a phase between updates ("validating", done of total), drawn
 * in place of the bar (nothing without a bar). */
void mrg_progress_phase(mrg_progress *p, const char *what, int done, int total);
/* Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80. */
int mrg_terminal_width(int fd);
/* Any other record (a JSON object text without newline): to the log and
 * stdout JSONL; on a bar, a line above the bar with a short `text`. */
void mrg_progress_record(mrg_progress *p, const char *json, const char *text);
/* Writes ,"<finding>":F1 for each of the seven findings (snake-case names)
 * into buf (cap bytes, NUL-terminated), for eval records. Returns the
 * length written. */
int mrg_findings_json(char *buf, size_t cap, const mrg_finding_scores *s);
/* Ends the bar line, closes the log and frees p: MRG_ERR_IO ("cannot write
 * LOG: reason") when a log record could not be written. */
mrg_status mrg_progress_close(mrg_progress *p);
/* The same without a status (cleanup after another error). */
void mrg_progress_free(mrg_progress *p);

#ifdef __cplusplus
}
#endif
#endif
