/* METEOR 1.5's English normalizer ("-norm": Moses-style tokenization that
 * keeps punctuation, then lowercasing), re-implemented step by step on code
 * points so that each regex pass of the original scans exactly as Java's
 * replaceAll does (left to right, non-overlapping, fixed 3-char patterns). */
#include <stdlib.h>
#include <string.h>

#include "metrics/meteor_internal.h"

typedef struct cps {
    uint32_t *c;
    int n, cap;
} cps;

#define MULTIDOT 0xE000u /* private-use stand-in for '.' inside a run of dots */

static int push(cps *s, uint32_t c) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        uint32_t *nc = realloc(s->c, (size_t)cap * sizeof *nc);
        if (!nc) return -1;
        s->c = nc;
        s->cap = cap;
    }
    s->c[s->n++] = c;
    return 0;
}

static int push_str(cps *s, const char *a) {
    for (; *a; a++)
        if (push(s, (unsigned char)*a)) return -1;
    return 0;
}

/* UTF-8 -> code points (invalid bytes map to themselves as Latin-1). */
static int decode(const char *u, cps *out) {
    const unsigned char *p = (const unsigned char *)u;
    while (*p) {
        uint32_t c = *p;
        int k = 0;
        if (c >= 0xF0 && c < 0xF8) { c &= 7; k = 3; }
        else if (c >= 0xE0) { c &= 15; k = 2; }
        else if (c >= 0xC0) { c &= 31; k = 1; }
        int ok = 1;
        /* stop at the first non-continuation byte: it may be the final NUL */
        for (int i = 1; ok && i <= k; i++)
            if ((p[i] & 0xC0) != 0x80) ok = 0;
        if (k && ok) {
            for (int i = 1; i <= k; i++) c = (c << 6) | (p[i] & 0x3F);
            p += k + 1;
        } else {
            c = *p++;
        }
        if (push(out, c)) return -1;
    }
    return 0;
}

static int encode(const cps *s, char **out) {
    char *b = malloc((size_t)s->n * 4 + 1), *o = b;
    if (!b) return -1;
    for (int i = 0; i < s->n; i++) {
        uint32_t c = s->c[i] == MULTIDOT ? '.' : s->c[i];
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = 0;
    *out = b;
    return 0;
}

/* The normalizer's letter classes: A-Za-z, Latin-1/Extended-A letters
 * (Š Ž š ž Ÿ À-Ö Ø-ö ø-ž) and the Cyrillic ranges it lists. */
static int is_alpha(uint32_t c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return 1;
    if (c == 0x160 || c == 0x17D || c == 0x161 || c == 0x17E || c == 0x178) return 1;
    if ((c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x17E)) return 1;
    if ((c >= 0x400 && c <= 0x4FF) || (c >= 0x500 && c <= 0x527) || (c >= 0xA640 && c <= 0xA66E) ||
        (c >= 0xA67E && c <= 0xA697) || (c >= 0x1D00 && c <= 0x1D7F))
        return 1;
    return 0;
}
static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int is_alnum(uint32_t c) { return is_digit(c) || is_alpha(c); }
static int is_jspace(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); } /* Java \s */

/* One replaceAll pass of a 3-char pattern X lit Y: each match becomes
 * X mid Y (mid replaces the literal). */
typedef int (*cls)(uint32_t);
static int pass3(cps *s, cls x, uint32_t lit, cls y, const char *mid) {
    cps o = {0};
    int i = 0;
    while (i < s->n) {
        if (i + 2 < s->n && s->c[i + 1] == lit && x(s->c[i]) && y(s->c[i + 2])) {
            if (push(&o, s->c[i]) || push_str(&o, mid) || push(&o, s->c[i + 2]))
                goto oom;
            i += 3;
        } else {
            if (push(&o, s->c[i])) goto oom;
            i++;
        }
    }
    free(s->c);
    *s = o;
    return 0;
oom:
    free(o.c);
    return -1;
}

static int not_digit(uint32_t c) { return !is_digit(c); }
static int not_alpha(uint32_t c) { return !is_alpha(c); }
static int not_alpha_digit(uint32_t c) { return !is_alpha(c) && !is_digit(c); }
static int alnum_or_dot(uint32_t c) { return is_alnum(c) || c == '.'; }
static int is_s(uint32_t c) { return c == 's'; }

/* Replaces every non-overlapping occurrence of the sequence a (na) by b. */
static int replace(cps *s, const uint32_t *a, int na, const char *b) {
    cps o = {0};
    for (int i = 0; i < s->n;) {
        if (i + na <= s->n && !memcmp(s->c + i, a, (size_t)na * sizeof *a)) {
            if (push_str(&o, b)) goto oom;
            i += na;
        } else {
            if (push(&o, s->c[i++])) goto oom;
        }
    }
    free(s->c);
    *s = o;
    return 0;
oom:
    free(o.c);
    return -1;
}

static int is_tok_delim(uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

static int nbp_type(const uint32_t *w, int n) { /* 0 none, 1 any, 2 numeric only */
    for (int i = 0; mv_nonbreaking_en[i].prefix; i++) {
        const char *p = mv_nonbreaking_en[i].prefix;
        int k = (int)strlen(p);
        if (k != n) continue;
        int eq = 1;
        for (int j = 0; j < n && eq; j++) eq = w[j] == (unsigned char)p[j];
        if (eq) return mv_nonbreaking_en[i].numeric_only ? 2 : 1;
    }
    return 0;
}

static int is_white(uint32_t c) {
    return c == ' ' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static uint32_t lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

char *mv_meteor_normalize(const char *line) {
    cps a = {0}, b = {0};
    char *out = NULL;
    if (push(&a, ' ') || decode(line, &a) || push(&a, ' ')) goto oom;
    /* 1. separate every character that is not alnum, \s, . ' ` , - ‘ ’ */
    for (int i = 0; i < a.n; i++) {
        uint32_t c = a.c[i];
        int keep = is_alnum(c) || is_jspace(c) || c == '.' || c == '\'' || c == '`' || c == ',' ||
                   c == '-' || c == 0x2018 || c == 0x2019;
        if (keep ? push(&b, c) : (push(&b, ' ') || push(&b, c) || push(&b, ' '))) goto oom;
    }
    free(a.c);
    a = b;
    b = (cps){0};
    /* 2. a run of two or more dots becomes its own token (escaped until the end) */
    for (int i = 0; i < a.n;) {
        if (a.c[i] == '.' && i + 1 < a.n && a.c[i + 1] == '.') {
            if (push(&b, ' ')) goto oom;
            while (i < a.n && a.c[i] == '.')
                if (push(&b, MULTIDOT)) goto oom;
                else i++;
            if (push(&b, ' ')) goto oom;
        } else if (push(&b, a.c[i++])) {
            goto oom;
        }
    }
    free(a.c);
    a = b;
    b = (cps){0};
    /* 3. commas, except between digits */
    if (pass3(&a, not_digit, ',', not_digit, " , ") || pass3(&a, is_digit, ',', not_digit, " , ") ||
        pass3(&a, not_digit, ',', is_digit, " , "))
        goto oom;
    /* 4. quotes: ` ‘ ’ -> ', then “ ” '' -> " */
    for (int i = 0; i < a.n; i++)
        if (a.c[i] == '`' || a.c[i] == 0x2018 || a.c[i] == 0x2019) a.c[i] = '\'';
    for (int i = 0; i < a.n;) {
        if (a.c[i] == 0x201C || a.c[i] == 0x201D) {
            if (push_str(&b, " \" ")) goto oom;
            i++;
        } else if (a.c[i] == '\'' && i + 1 < a.n && a.c[i + 1] == '\'') {
            if (push_str(&b, " \" ")) goto oom;
            i += 2;
        } else if (push(&b, a.c[i++])) {
            goto oom;
        }
    }
    free(a.c);
    a = b;
    b = (cps){0};
    /* 5. dashes: – -> -, -- -> -; then a-b -> "a b" between alnum (or dot-alnum) */
    static const uint32_t endash[1] = {0x2013}, dd[2] = {'-', '-'};
    if (replace(&a, endash, 1, "-") || replace(&a, dd, 2, "-")) goto oom;
    if (pass3(&a, alnum_or_dot, '-', is_alnum, " ")) goto oom;
    /* 6. English apostrophes */
    if (pass3(&a, not_alpha, '\'', not_alpha, " ' ") || pass3(&a, not_alpha_digit, '\'', is_alpha, " ' ") ||
        pass3(&a, is_alpha, '\'', not_alpha, " ' ") || pass3(&a, is_alpha, '\'', is_alpha, " '") ||
        pass3(&a, is_digit, '\'', is_s, " '"))
        goto oom;
    /* 7. split into words, split a final dot off unless nonbreaking */
    {
        int nw = 0, capw = 0;
        int *ws = NULL, *we = NULL;
        for (int i = 0; i < a.n;) {
            while (i < a.n && is_tok_delim(a.c[i])) i++;
            if (i >= a.n) break;
            int s0 = i;
            while (i < a.n && !is_tok_delim(a.c[i])) i++;
            if (nw == capw) {
                capw = capw ? capw * 2 : 32;
                int *ns = realloc(ws, (size_t)capw * sizeof *ns);
                if (ns) ws = ns;
                int *ne = realloc(we, (size_t)capw * sizeof *ne);
                if (ne) we = ne;
                if (!ns || !ne) {
                    free(ws);
                    free(we);
                    goto oom;
                }
            }
            ws[nw] = s0;
            we[nw++] = i;
        }
        int bad = 0;
        for (int k = 0; k < nw && !bad; k++) {
            const uint32_t *w = a.c + ws[k];
            int n = we[k] - ws[k];
            if (n > 1 && w[n - 1] == '.') {
                int has_dot = 0, has_alpha = 0;
                for (int j = 0; j < n - 1; j++) {
                    has_dot |= w[j] == '.';
                    has_alpha |= is_alpha(w[j]);
                }
                int type = nbp_type(w, n - 1);
                int next_lower = k + 1 < nw && a.c[ws[k + 1]] >= 'a' && a.c[ws[k + 1]] <= 'z';
                int next_digit = k + 1 < nw && is_digit(a.c[ws[k + 1]]);
                if (has_dot && has_alpha) { /* U.S. -> US */
                    for (int j = 0; j < n; j++)
                        if (w[j] != '.') bad |= push(&b, w[j]);
                } else if (type == 1 || next_lower || (type == 2 && next_digit)) {
                    for (int j = 0; j < n; j++) bad |= push(&b, w[j]);
                } else {
                    for (int j = 0; j < n - 1; j++) bad |= push(&b, w[j]);
                    bad |= push_str(&b, " .");
                }
            } else {
                for (int j = 0; j < n; j++) bad |= push(&b, w[j]);
            }
            bad |= push(&b, ' ');
        }
        free(ws);
        free(we);
        if (bad) goto oom;
        free(a.c);
        a = b;
        b = (cps){0};
    }
    /* 8. collapse spaces, trim, lowercase */
    for (int i = 0; i < a.n;) {
        if (is_white(a.c[i])) {
            while (i < a.n && is_white(a.c[i])) i++;
            if (push(&b, ' ')) goto oom;
        } else if (push(&b, lower(a.c[i++]))) {
            goto oom;
        }
    }
    int s0 = 0, e0 = b.n;
    while (s0 < e0 && b.c[s0] <= ' ') s0++;
    while (e0 > s0 && b.c[e0 - 1] <= ' ') e0--;
    if (e0 > s0) memmove(b.c, b.c + s0, (size_t)(e0 - s0) * sizeof *b.c);
    b.n = e0 - s0;
    if (encode(&b, &out)) goto oom;
    free(a.c);
    free(b.c);
    return out;
oom:
    free(a.c);
    free(b.c);
    return NULL;
}
