/* The training curves of the demo page (see demo_curves.h). */
#include <string.h>

#include "demo_curves.h"
#include "html_out.h"
#include "run_log.h"
#include "svg_chart.h"

void demo_curves_write(FILE *f, const char *log_path) {
    run_log l;
    if (!log_path || run_log_read(log_path, &l) != MRG_OK) {
        fputs("<p>No training curves: ", f);
        html_escape(f, log_path ? mrg_last_error() : "no training log was given");
        fputs(".</p>\n", f);
        return;
    }
    fputs("<div class=\"charts\">\n", f);
    /* the loss by update, a dashed line where each epoch's validation ran */
    svg_chart loss = {"training loss", "update (dashed: end of an epoch)",
                      l.train_step, l.train_loss, l.n_train, l.eval_step, l.n_eval, "end of epoch", false};
    svg_chart_write(f, &loss);
    svg_chart bleu = {"validation BLEU-4", "epoch", l.eval_epoch, l.eval_bleu4, l.n_eval, NULL, 0, NULL, true};
    svg_chart_write(f, &bleu);
    svg_chart cider = {"validation CIDEr", "epoch", l.eval_epoch, l.eval_cider, l.n_eval, NULL, 0, NULL, true};
    svg_chart_write(f, &cider);
    svg_chart f1 = {"validation finding F1 (macro)", "epoch", l.eval_epoch, l.eval_f1, l.n_eval, NULL, 0, NULL, true};
    svg_chart_write(f, &f1);
    fputs("</div>\n", f);
    run_log_free(&l);
}
