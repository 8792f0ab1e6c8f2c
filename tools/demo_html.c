/* The demo's HTML page (see demo_html.h). Plain HTML with inline CSS and
 * inline SVG, no script and no external resource. The views are inlined as
 * data: URIs: the demo's 64-px phantom PNGs are about 4 KB each, so a study
 * takes about 15 KB and a few hundred make a page of a few megabytes that
 * loads as one file, and the page keeps working wherever it is moved or copied, alone
 * or with its folder (a data/ folder beside it may be deleted). Studies
 * below the fold are not laid out until scrolled to (content-visibility). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_curves.h"
#include "demo_html.h"
#include "html_out.h"
#include "mrg/atomic_file.h"
#include "report_marks.h"

static const char STYLE[] =
    "body{font:15px/1.45 system-ui,sans-serif;color:#222;margin:1.5em auto;max-width:1250px;padding:0 1em}\n"
    "h2{margin-top:1.6em;border-bottom:1px solid #ccc}\n"
    "table.scores{border-collapse:collapse}\n"
    "table.scores td,table.scores th{padding:.15em .9em;text-align:right}\n"
    "table.scores th[scope=row]{text-align:left;font-weight:normal}\n"
    "table.scores tr.group th{text-align:left;padding-top:.7em}\n"
    "table.scores thead th{border-bottom:1px solid #999;vertical-align:bottom}\n"
    "table.scores td:nth-child(2){font-weight:bold}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:1em}\n"
    ".chart{margin:0}.chart svg{width:100%;height:auto}\n"
    ".ct{font-size:13px;font-weight:bold}.ca{font-size:10px;fill:#555}\n"
    ".cf{fill:#fafafa;stroke:#ccc}.cl{fill:none;stroke:#1f5fa8;stroke-width:1.5}.cd{fill:#1f5fa8}\n"
    ".cm{stroke:#aaa;stroke-dasharray:3 3}\n"
    "mark.agree,li.agree{background:#d4efd9;color:#0b4a1c}\n"
    "mark.disagree,li.disagree{background:#f8d3cf;color:#7a140b;text-decoration:underline wavy #c0392b}\n"
    "mark{padding:0 .1em;border-radius:.2em}\n"
    ".study{display:grid;grid-template-columns:272px 1fr 1fr;gap:1.2em;border-top:1px solid #ddd;"
    "padding:.7em 0;content-visibility:auto;contain-intrinsic-size:auto 190px}\n"
    ".study h3{grid-column:1/-1;margin:0;font-size:15px}.study h3 span{font-weight:normal;color:#666}\n"
    ".views img{width:128px;height:128px;image-rendering:pixelated;background:#000;margin-right:8px}\n"
    ".study h4{margin:0 0 .2em;font-size:12px;text-transform:uppercase;color:#666;letter-spacing:.05em}\n"
    ".study p{margin:0}details{font-size:13px;color:#555;margin-top:.4em}\n"
    "ul.findings{list-style:none;padding:0;margin:.4em 0 0;display:flex;flex-wrap:wrap;gap:.3em}\n"
    "ul.findings li{font-size:12px;padding:0 .55em;border-radius:.8em}\n"
    "#only-disagree:checked~.studies .study.agree{display:none}\n"
    ".note{color:#555;font-size:13px}\n";

static void put_num(FILE *f, double v) {
    if (isnan(v)) fputs("<td>&ndash;</td>", f);
    else fprintf(f, "<td>%.3f</td>", v);
}

static void metric_row(FILE *f, const demo_page *p, const char *name, int metric) {
    fputs("<tr><th scope=\"row\">", f);
    html_escape(f, name);
    fputs("</th>", f);
    for (int s = 0; s < p->n_systems; s++) {
        double v[MRG_N_METRICS];
        mrg_scores_vector(p->systems[s].scores, v);
        put_num(f, v[metric]);
    }
    fputs("</tr>\n", f);
}

static void scores_table(FILE *f, const demo_page *p) {
    fprintf(f, "<h2>Scores on the %d held-out test studies</h2>\n<table class=\"scores\"><thead><tr><th></th>", p->n);
    for (int s = 0; s < p->n_systems; s++) {
        fputs("<th title=\"", f);
        html_escape(f, p->systems[s].what);
        fputs("\">", f);
        html_escape(f, p->systems[s].name);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    static const char *const bleu[4] = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"};
    for (int k = 0; k < 4; k++) metric_row(f, p, bleu[k], MRG_METRIC_BLEU_1 + k);
    metric_row(f, p, "METEOR", MRG_METRIC_METEOR);
    metric_row(f, p, "ROUGE-L", MRG_METRIC_ROUGE_L);
    metric_row(f, p, "CIDEr", MRG_METRIC_CIDER);
    fprintf(f, "<tr class=\"group\"><th colspan=\"%d\">finding F1 (the labeler on generated vs reference)</th></tr>\n",
            p->n_systems + 1);
    for (int k = 0; k < MRG_N_FINDINGS; k++)
        metric_row(f, p, finding_title((mrg_finding)k), MRG_METRIC_FINDING + 3 * k + 2);
    metric_row(f, p, "macro F1", MRG_METRIC_MACRO + 2);
    fputs("</tbody></table>\n<ul class=\"note\">\n", f);
    for (int s = 0; s < p->n_systems; s++) {
        fputs("<li><b>", f);
        html_escape(f, p->systems[s].name);
        fputs("</b>: ", f);
        html_escape(f, p->systems[s].what);
        fputs("</li>\n", f);
    }
    if (p->baseline_report) {
        fputs("<li>the constant report: <em>", f);
        char *shown = mrg_report_display(p->baseline_report);
        html_escape(f, shown ? shown : p->baseline_report);
        free(shown);
        fputs("</em></li>\n", f);
    }
    const mrg_scores *m = p->n_systems ? p->systems[0].scores : NULL;
    if (m && m->meteor_note[0]) {
        fputs("<li>METEOR: ", f);
        html_escape(f, m->meteor_note);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static mrg_status study_block(FILE *f, const demo_study *s) {
    mrg_finding_label g[MRG_N_FINDINGS], r[MRG_N_FINDINGS];
    mrg_status st = mrg_label_report(s->generated ? s->generated : "", g);
    if (!st) st = mrg_label_report(s->reference ? s->reference : "", r);
    if (st) return st;
    int disagree = 0;
    for (int k = 0; k < MRG_N_FINDINGS; k++) disagree += !finding_agrees(g, r, k);
    fprintf(f, "<section class=\"study %s\" id=\"study-", disagree ? "disagree" : "agree");
    html_escape(f, s->id);
    fputs("\"><h3>", f);
    html_escape(f, s->id);
    if (disagree) fprintf(f, " <span>%d finding%s disagree%s</span>", disagree, disagree > 1 ? "s" : "", disagree > 1 ? "" : "s");
    else fputs(" <span>every finding agrees</span>", f);
    fputs("</h3><div class=\"views\">", f);
    for (int k = 0; k < s->n_images; k++) {
        fputs("<img src=\"", f);
        if ((st = html_data_uri(f, s->images[k], DEMO_HTML_MAX_IMAGE_BYTES))) return st;
        fprintf(f, "\" alt=\"view %d\" width=\"128\" height=\"128\">", k + 1);
    }
    fputs("</div>\n<div class=\"gen\"><h4>generated</h4><p>", f);
    if ((st = report_marks_write(f, s->generated, g, r))) return st;
    fputs("</p>", f);
    report_findings_write(f, g, r);
    if (s->blank) {
        fputs("<details><summary>from blank views</summary>", f);
        char *shown = mrg_report_display(s->blank);
        html_escape(f, shown ? shown : s->blank);
        free(shown);
        fputs("</details>", f);
    }
    fputs("</div>\n<div class=\"ref\"><h4>reference</h4><p>", f);
    if ((st = report_marks_write(f, s->reference, r, g))) return st;
    fputs("</p>", f);
    report_findings_write(f, r, g);
    fputs("</div></section>\n", f);
    return MRG_OK;
}

mrg_status demo_write_html(const char *path, const demo_page *p) {
    mrg_atomic_file af;
    mrg_status st = mrg_atomic_begin(&af, path, true);
    if (st) return st;
    FILE *f = af.f;
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
               "<title>mrg demo: generated reports</title>\n<style>\n%s</style></head><body>\n"
               "<h1>mrg demo</h1>\n<p>Synthetic two-view chest radiograph phantoms: the reports the "
               "<code>tiny</code> model generated for held-out studies, next to the reference reports.</p>\n",
            STYLE);
    if (p->settings) {
        fputs("<p class=\"note\">", f);
        html_escape(f, p->settings);
        fputs("</p>\n", f);
    }
    scores_table(f, p);
    fputs("<h2>Training</h2>\n", f);
    demo_curves_write(f, p->log_path);
    int agree = 0;
    for (int i = 0; i < p->n; i++) {
        mrg_finding_label g[MRG_N_FINDINGS], r[MRG_N_FINDINGS];
        if (mrg_label_report(p->studies[i].generated ? p->studies[i].generated : "", g) ||
            mrg_label_report(p->studies[i].reference ? p->studies[i].reference : "", r))
            continue;
        int k = 0;
        while (k < MRG_N_FINDINGS && finding_agrees(g, r, k)) k++;
        agree += k == MRG_N_FINDINGS;
    }
    fprintf(f, "<h2>Test studies</h2>\n<p>%d studies; in %d of them the labeler reads the same findings "
               "in the generated and the reference report. Sentences in which the labeler read a finding are "
               "marked <mark class=\"agree\">where both reports agree on it</mark> and "
               "<mark class=\"disagree\">where they do not</mark> (agreement as the finding F1 counts it: "
               "positive in both or in neither); under each report, the findings it states "
               "(+ present, &minus; absent). Hover a mark for the labels.</p>\n"
               "<input type=\"checkbox\" id=\"only-disagree\"> <label for=\"only-disagree\">show only "
               "studies with a disagreement</label>\n<div class=\"studies\">\n",
            p->n, agree);
    for (int i = 0; i < p->n && st == MRG_OK; i++) st = study_block(f, &p->studies[i]);
    fputs("</div>\n</body></html>\n", f);
    if (st) {
        mrg_atomic_abort(&af);
        return st;
    }
    return mrg_atomic_commit(&af);
}
