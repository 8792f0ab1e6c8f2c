/* Reports with the findings the labeler read marked (see report_marks.h).
 * The labeler works on whole sentences, so a sentence is the unit marked:
 * each sentence of the display form is labelled on its own, and the
 * findings it mentions decide its colour by the whole reports' labels. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "html_out.h"
#include "report_marks.h"

const char *finding_title(mrg_finding f) {
    static const char *const t[MRG_N_FINDINGS] = {
        "cardiomegaly",       "left pleural effusion", "right pleural effusion",
        "left pneumothorax",  "right pneumothorax",    "lobar opacity",
        "nodule",
    };
    return f >= 0 && f < MRG_N_FINDINGS ? t[f] : "?";
}

bool finding_agrees(const mrg_finding_label *a, const mrg_finding_label *b, int f) {
    return (a[f] == MRG_LABEL_POSITIVE) == (b[f] == MRG_LABEL_POSITIVE);
}

/* The end (one past) of the sentence starting at s, as the labeler cuts
 * sentences: at '.', ';', '?', '!' except a '.' between digits. */
static const char *sentence_end(const char *s) {
    for (const char *p = s; *p; p++) {
        bool decimal = *p == '.' && p > s && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[1]);
        if ((*p == '.' && !decimal) || *p == ';' || *p == '?' || *p == '!') return p + 1;
    }
    return s + strlen(s);
}

static const char *label_word(mrg_finding_label l) {
    return l == MRG_LABEL_POSITIVE ? "positive" : l == MRG_LABEL_NEGATIVE ? "negative" : "not mentioned";
}

mrg_status report_marks_write(FILE *f, const char *report, const mrg_finding_label *own,
                              const mrg_finding_label *other) {
    char *shown = mrg_report_display(report ? report : "");
    if (!shown) return MRG_ERR_OOM; /* its only failure here; the message is set */
    size_t len = strlen(shown);
    char *one = malloc(len + 1);
    if (!one) {
        free(shown);
        return mrg_error(MRG_ERR_OOM, "out of memory");
    }
    mrg_status st = MRG_OK;
    if (!shown[0]) fputs("<i>(no words)</i>", f); /* e.g. only punctuation */
    for (const char *s = shown; *s && st == MRG_OK;) {
        while (*s == ' ') fputc(*s++, f);
        if (!*s) break;
        const char *e = sentence_end(s);
        memcpy(one, s, (size_t)(e - s));
        one[e - s] = 0;
        mrg_finding_label l[MRG_N_FINDINGS];
        st = mrg_label_report(one, l);
        bool mentions = false, agree = true;
        for (int k = 0; k < MRG_N_FINDINGS && st == MRG_OK; k++)
            if (l[k] != MRG_LABEL_ABSENT) {
                mentions = true;
                agree = agree && finding_agrees(own, other, k);
            }
        if (mentions) {
            fprintf(f, "<mark class=\"%s\" title=\"", agree ? "agree" : "disagree");
            bool first = true;
            for (int k = 0; k < MRG_N_FINDINGS; k++)
                if (l[k] != MRG_LABEL_ABSENT) {
                    fprintf(f, "%s%s: %s here, %s in the other report", first ? "" : "; ",
                            finding_title((mrg_finding)k), label_word(own[k]), label_word(other[k]));
                    first = false;
                }
            fputs("\">", f);
        }
        html_escape_n(f, s, (size_t)(e - s));
        if (mentions) fputs("</mark>", f);
        s = e;
    }
    free(one);
    free(shown);
    return st;
}

void report_findings_write(FILE *f, const mrg_finding_label *own, const mrg_finding_label *other) {
    fputs("<ul class=\"findings\">", f);
    for (int k = 0; k < MRG_N_FINDINGS; k++) {
        if (own[k] == MRG_LABEL_ABSENT && other[k] != MRG_LABEL_POSITIVE) continue;
        /* "+ nodule", "&minus; nodule" (said absent), "nodule not mentioned" */
        fprintf(f, "<li class=\"%s\" title=\"%s\">%s%s%s</li>", finding_agrees(own, other, k) ? "agree" : "disagree",
                label_word(own[k]), own[k] == MRG_LABEL_POSITIVE ? "+ " : own[k] == MRG_LABEL_NEGATIVE ? "&minus; " : "",
                finding_title((mrg_finding)k), own[k] == MRG_LABEL_ABSENT ? " not mentioned" : "");
    }
    fputs("</ul>", f);
}
