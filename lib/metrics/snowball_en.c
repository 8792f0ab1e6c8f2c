/* The Snowball English ("Porter2") stemmer, as METEOR 1.5's stem module
 * uses it, written from the published algorithm description
 * (snowballstem.org/algorithms/english/stemmer.html, the version with the
 * gener/commun/arsen R1 exceptions). Works on bytes; non-ASCII bytes count
 * as consonants. */
#include <stdbool.h>
#include <string.h>

#include "metrics/meteor_internal.h"

typedef struct st {
    char w[MV_STEM_MAX];
    int n, p1, p2;
} st;

static bool is_v(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'; }

static bool ends(const st *s, const char *suf) {
    int k = (int)strlen(suf);
    return k <= s->n && memcmp(s->w + s->n - k, suf, (size_t)k) == 0;
}

/* Replaces the last k characters with rep. */
static void set_to(st *s, int k, const char *rep) {
    int r = (int)strlen(rep);
    if (s->n - k + r >= MV_STEM_MAX) return; /* cannot happen for real words */
    memcpy(s->w + s->n - k, rep, (size_t)r);
    s->n = s->n - k + r;
}

/* Longest suffix of the word among list (NULL-terminated); index or -1. */
static int longest(const st *s, const char *const *list) {
    int best = -1, blen = -1;
    for (int i = 0; list[i]; i++) {
        int k = (int)strlen(list[i]);
        if (k > blen && ends(s, list[i])) {
            best = i;
            blen = k;
        }
    }
    return best;
}

/* Short syllable ending at position c (exclusive): non-vowel (not w, x, Y),
 * vowel, non-vowel; or vowel, non-vowel at the start of the word. */
static bool shortv(const st *s, int c) {
    if (c >= 3 && !is_v(s->w[c - 1]) && s->w[c - 1] != 'w' && s->w[c - 1] != 'x' &&
        s->w[c - 1] != 'Y' && is_v(s->w[c - 2]) && !is_v(s->w[c - 3]))
        return true;
    return c == 2 && !is_v(s->w[1]) && is_v(s->w[0]);
}

/* Vowel somewhere in w[0..end). */
static bool has_vowel(const st *s, int end) {
    for (int i = 0; i < end; i++)
        if (is_v(s->w[i])) return true;
    return false;
}

static void mark_regions(st *s) {
    s->p1 = s->p2 = s->n;
    int i = 0;
    if (s->n >= 5 && (!memcmp(s->w, "gener", 5) || !memcmp(s->w, "arsen", 5))) {
        i = 5;
    } else if (s->n >= 6 && !memcmp(s->w, "commun", 6)) {
        i = 6;
    } else {
        while (i < s->n && !is_v(s->w[i])) i++;
        if (i >= s->n) return;
        i++;
        while (i < s->n && is_v(s->w[i])) i++;
        if (i >= s->n) return;
        i++;
    }
    s->p1 = i;
    while (i < s->n && !is_v(s->w[i])) i++;
    if (i >= s->n) return;
    i++;
    while (i < s->n && is_v(s->w[i])) i++;
    if (i >= s->n) return;
    s->p2 = i + 1;
}

static void step_1a(st *s) {
    static const char *const apos[] = {"'", "'s", "'s'", NULL};
    int a = longest(s, apos);
    if (a >= 0) s->n -= (int)strlen(apos[a]);
    static const char *const l[] = {"sses", "ied", "ies", "s", "us", "ss", NULL};
    switch (longest(s, l)) {
    case 0: set_to(s, 4, "ss"); break;
    case 1:
    case 2: set_to(s, 3, s->n - 3 >= 2 ? "i" : "ie"); break;
    case 3: /* delete if a vowel occurs before the letter preceding the s */
        if (s->n >= 2 && has_vowel(s, s->n - 2)) s->n--;
        break;
    default: break;
    }
}

static bool exception2(const st *s) {
    static const char *const l[] = {"inning", "outing", "canning", "herring",
                                    "earring", "proceed", "exceed", "succeed", NULL};
    for (int i = 0; l[i]; i++)
        if ((int)strlen(l[i]) == s->n && !memcmp(s->w, l[i], (size_t)s->n)) return true;
    return false;
}

static void step_1b(st *s) {
    static const char *const l[] = {"eed", "eedly", "ed", "edly", "ing", "ingly", NULL};
    int k = longest(s, l);
    if (k < 0) return;
    int len = (int)strlen(l[k]);
    if (k <= 1) {
        if (s->n - len >= s->p1) set_to(s, len, "ee");
        return;
    }
    if (!has_vowel(s, s->n - len)) return;
    s->n -= len;
    if (ends(s, "at") || ends(s, "bl") || ends(s, "iz")) {
        set_to(s, 0, "e");
    } else if (s->n >= 2 && s->w[s->n - 1] == s->w[s->n - 2] && strchr("bdfgmnprt", s->w[s->n - 1])) {
        s->n--;
    } else if (s->n == s->p1 && shortv(s, s->n)) {
        set_to(s, 0, "e");
    }
}

static void step_1c(st *s) {
    if (s->n >= 3 && (s->w[s->n - 1] == 'y' || s->w[s->n - 1] == 'Y') && !is_v(s->w[s->n - 2]))
        s->w[s->n - 1] = 'i';
}

static void step_2(st *s) {
    static const char *const l[] = {
        "tional", "enci",    "anci",  "abli",    "entli",   "izer",  "ization", "ational",
        "ation",  "ator",    "alism", "aliti",   "alli",    "fulness", "ousli", "ousness",
        "iveness", "iviti",  "biliti", "bli",    "ogi",     "fulli", "lessli",  "li",
        NULL};
    static const char *const rep[] = {
        "tion", "ence", "ance", "able", "ent", "ize", "ize", "ate", "ate", "ate", "al", "al",
        "al",   "ful",  "ous",  "ous",  "ive", "ive", "ble", "ble", "og",  "ful", "less", ""};
    int k = longest(s, l);
    if (k < 0) return;
    int len = (int)strlen(l[k]);
    if (s->n - len < s->p1) return;
    if (!strcmp(l[k], "ogi")) {
        if (s->n - len >= 1 && s->w[s->n - len - 1] == 'l') set_to(s, len, "og");
    } else if (!strcmp(l[k], "li")) {
        if (s->n - len >= 1 && strchr("cdeghkmnrt", s->w[s->n - len - 1]) && s->w[s->n - len - 1])
            s->n -= len;
    } else {
        set_to(s, len, rep[k]);
    }
}

static void step_3(st *s) {
    static const char *const l[] = {"tional", "ational", "alize", "icate", "iciti",
                                    "ical",   "ful",     "ness",  "ative", NULL};
    static const char *const rep[] = {"tion", "ate", "al", "ic", "ic", "ic", "", "", ""};
    int k = longest(s, l);
    if (k < 0) return;
    int len = (int)strlen(l[k]);
    if (s->n - len < s->p1) return;
    if (!strcmp(l[k], "ative")) {
        if (s->n - len >= s->p2) s->n -= len;
    } else {
        set_to(s, len, rep[k]);
    }
}

static void step_4(st *s) {
    static const char *const l[] = {"al",   "ance", "ence", "er",  "ic",  "able", "ible",
                                    "ant",  "ement", "ment", "ent", "ism", "ate",  "iti",
                                    "ous",  "ive",  "ize",  "ion", NULL};
    int k = longest(s, l);
    if (k < 0) return;
    int len = (int)strlen(l[k]);
    if (s->n - len < s->p2) return;
    if (!strcmp(l[k], "ion")) {
        if (s->n - len >= 1 && (s->w[s->n - len - 1] == 's' || s->w[s->n - len - 1] == 't'))
            s->n -= len;
    } else {
        s->n -= len;
    }
}

static void step_5(st *s) {
    if (s->n < 1) return;
    int c = s->n - 1;
    if (s->w[c] == 'e') {
        if (c >= s->p2 || (c >= s->p1 && !shortv(s, c))) s->n--;
    } else if (s->w[c] == 'l') {
        if (c >= s->p2 && c >= 1 && s->w[c - 1] == 'l') s->n--;
    }
}

static bool exception1(const char *word, char *out) {
    static const char *const from[] = {"skis", "skies", "dying", "lying", "tying", "idly",
                                       "gently", "ugly", "early", "only", "singly", "sky",
                                       "news", "howe", "atlas", "cosmos", "bias", "andes", NULL};
    static const char *const to[] = {"ski", "sky", "die", "lie", "tie", "idl", "gentl", "ugli",
                                     "earli", "onli", "singl", "sky", "news", "howe", "atlas",
                                     "cosmos", "bias", "andes"};
    for (int i = 0; from[i]; i++)
        if (!strcmp(word, from[i])) {
            strcpy(out, to[i]);
            return true;
        }
    return false;
}

void mv_stem_en(const char *word, char *out) {
    size_t len = strlen(word);
    if (len >= MV_STEM_MAX - 2) { /* not a word: leave it */
        memcpy(out, word, MV_STEM_MAX - 1);
        out[MV_STEM_MAX - 1] = 0;
        return;
    }
    if (exception1(word, out)) return;
    if (len < 3) {
        memcpy(out, word, len + 1);
        return;
    }
    st s;
    memcpy(s.w, word, len);
    s.n = (int)len;
    /* prelude: drop a leading apostrophe; y at the start or after a vowel -> Y */
    if (s.w[0] == '\'') {
        memmove(s.w, s.w + 1, (size_t)--s.n);
    }
    bool y_found = false;
    if (s.n > 0 && s.w[0] == 'y') {
        s.w[0] = 'Y';
        y_found = true;
    }
    for (int i = 1; i < s.n; i++)
        if (s.w[i] == 'y' && is_v(s.w[i - 1])) {
            s.w[i] = 'Y';
            y_found = true;
        }
    mark_regions(&s);
    step_1a(&s);
    if (!exception2(&s)) {
        step_1b(&s);
        step_1c(&s);
        step_2(&s);
        step_3(&s);
        step_4(&s);
        step_5(&s);
    }
    if (y_found)
        for (int i = 0; i < s.n; i++)
            if (s.w[i] == 'Y') s.w[i] = 'y';
    memcpy(out, s.w, (size_t)s.n);
    out[s.n] = 0;
}
