/* The display form of a report (mrg_report_display, mrg/text.h): what the
 * model writes and the metrics score is the cleaned form, lowercase with
 * punctuation as separate words ("no pleural effusion . heart size is
 * normal ."); people read "No pleural effusion. Heart size is normal." */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/text.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A word that is punctuation only, attached to the word before it. */
static bool is_punct_word(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(".,;:?!", w[i])) return false;
    return n > 0;
}

char *mrg_report_display(const char *report) {
    if (!report) {
        mrg_error(MRG_ERR_INVALID_ARG, "report display: report is NULL");
        return NULL;
    }
    size_t len = strlen(report);
    char *out = malloc(len + 1); /* never longer: spaces are only removed */
    if (!out) {
        mrg_error(MRG_ERR_OOM, "report display: out of memory");
        return NULL;
    }
    size_t o = 0;
    bool sentence_start = true;
    for (const char *p = report; *p;) {
        while (is_space(*p)) p++;
        if (!*p) break;
        const char *w = p;
        while (*p && !is_space(*p)) p++;
        size_t n = (size_t)(p - w);
        bool punct = is_punct_word(w, n);
        if (o > 0 && !punct) out[o++] = ' ';
        if (punct && o == 0) continue; /* a stray mark before any word */
        memcpy(out + o, w, n);
        if (!punct && sentence_start && out[o] >= 'a' && out[o] <= 'z')
            out[o] = (char)(out[o] - 'a' + 'A');
        o += n;
        char last = w[n - 1];
        sentence_start = last == '.' || last == '?' || last == '!';
    }
    out[o] = '\0';
    return out;
}
