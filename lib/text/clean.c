/* R2Gen's IU X-Ray report cleaning (clean_report_iu_xray), reproduced byte
 * for byte for ASCII text. The rule is described in ../shared/REFERENCE.md
 * ("Report cleaning"); tools/ref/metrics_ref.py holds the Python version the
 * tests compare against. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/text.h"

/* Python's str.isspace() for ASCII: \t \n \v \f \r, \x1c-\x1f and space. */
static bool py_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* The regex class [.,?;*!%^&_+():-\[\]{}]; ":-\[" is the range 0x3A-0x5B
 * (: ; < = > ? @ A-Z [), so hyphens and digits survive. */
static bool sent_deleted(unsigned char c) {
    if (c >= 0x3A && c <= 0x5B) return true;
    return c && strchr(".,?;*!%^&_+()]{}", c) != NULL;
}

/* Python's s.replace(from, to): non-overlapping, left to right. In place
 * into a new buffer; frees s. to is never longer than from here, so the
 * result fits in strlen(s)+1. */
static char *replace_all(char *s, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) {
        free(s);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + nf <= n && memcmp(s + i, from, nf) == 0) {
            memcpy(out + o, to, nt);
            o += nt;
            i += nf;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = 0;
    free(s);
    return out;
}

/* Python's strip() on [b, e): adjusts both ends. */
static void strip(const char **b, const char **e) {
    while (*b < *e && py_space((unsigned char)**b)) (*b)++;
    while (*e > *b && py_space((unsigned char)(*e)[-1])) (*e)--;
}

/* Appends the cleaned sentence [b, e) to out at *o. */
static void clean_sentence(const char *b, const char *e, char *out, size_t *o) {
    /* delete " / \ ' first, then strip (so "  'x' " strips to "x"). */
    size_t start = *o;
    char *tmp = out + start; /* build in place, then strip and filter */
    size_t n = 0;
    for (const char *p = b; p < e; p++)
        if (*p != '"' && *p != '/' && *p != '\\' && *p != '\'') tmp[n++] = *p;
    const char *sb = tmp, *se = tmp + n;
    strip(&sb, &se);
    size_t k = start;
    for (const char *p = sb; p < se; p++) {
        char c = ascii_lower(*p);
        if (!sent_deleted((unsigned char)c)) out[k++] = c; /* k <= p - out: safe in place */
    }
    *o = k;
}

char *mrg_clean_report_iu(const char *report) {
    if (!report) {
        mrg_error(MRG_ERR_INVALID_ARG, "clean: report is NULL");
        return NULL;
    }
    size_t len = strlen(report);
    char *t = malloc(len + 1);
    if (t) memcpy(t, report, len + 1);
    static const char *const steps[][2] = {
        {"..", "."},    {"..", "."},    {"..", "."},    {"1. ", ""},
        {". 2. ", ". "}, {". 3. ", ". "}, {". 4. ", ". "}, {". 5. ", ". "},
        {" 2. ", ". "}, {" 3. ", ". "}, {" 4. ", ". "}, {" 5. ", ". "},
    };
    for (size_t i = 0; t && i < sizeof steps / sizeof steps[0]; i++)
        t = replace_all(t, steps[i][0], steps[i][1]);
    if (!t) {
        mrg_error(MRG_ERR_OOM, "clean: out of memory");
        return NULL;
    }
    const char *b = t, *e = t + strlen(t);
    strip(&b, &e);
    /* Each sentence shrinks or keeps its length; a separator ". " (2 bytes)
     * becomes " . " (3 bytes), plus the final " .": 2n + 3 bounds it. */
    size_t n = (size_t)(e - b);
    char *out = malloc(2 * n + 4);
    if (!out) {
        free(t);
        mrg_error(MRG_ERR_OOM, "clean: out of memory");
        return NULL;
    }
    size_t o = 0;
    const char *s = b;
    for (;;) {
        const char *dot = NULL;
        for (const char *p = s; p + 1 < e; p++)
            if (p[0] == '.' && p[1] == ' ') {
                dot = p;
                break;
            }
        const char *se = dot ? dot : e;
        clean_sentence(s, se, out, &o);
        if (!dot) break;
        memcpy(out + o, " . ", 3);
        o += 3;
        s = dot + 2;
    }
    memcpy(out + o, " .", 3);
    free(t);
    return out;
}
