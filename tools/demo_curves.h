/* The demo page's training curves: the loss of every logged update and the
 * validation BLEU-4, CIDEr and finding F1 after each epoch, as inline SVG
 * charts drawn from the run's log.jsonl. */
#ifndef MRG_TOOLS_DEMO_CURVES_H
#define MRG_TOOLS_DEMO_CURVES_H

#include <stdio.h>

/* Writes <div class="charts"> with the four charts, or a paragraph saying
 * why there are none (log_path NULL or unreadable). */
void demo_curves_write(FILE *f, const char *log_path);

#endif
