/* Rule-based finding labeler for IU-style chest X-ray reports.
 *
 * The report is lowercased and cut into sentences ('.', ';', '?', '!'),
 * sentences into comma segments, segments into word tokens (letters and
 * digits; "left-sided" gives "left" "sided"). Each finding keyword found in
 * a sentence is a mention; a mention is negated when a negation cue ("no",
 * "not", "without", "negative for", "free of", "absence of", "nor",
 * "neither") precedes it in the same sentence with no scope breaker ("but",
 * "however", "although", "which", "there", ...) in between, or when "not",
 * "resolved", "absent", ... follows it in its segment. "no change" /
 * "no interval change" are not negations. Laterality comes from "left",
 * "right", "bilateral", "both" just before the mention (stopping at another
 * finding) or, failing that, just after it ("effusion on the left"). The
 * heart is judged per segment: a heart word (heart, cardiac, cardiomediastinal)
 * with an enlargement word is positive unless negated, with "normal" /
 * "unremarkable" it is negative. A positive mention wins over a negative one.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/text.h"

#define TOK_MAX 32

typedef struct tok {
    char w[TOK_MAX];
    int seg; /* index of its comma segment within the sentence */
} tok;

static const char *const finding_names[MRG_N_FINDINGS] = {
    "cardiomegaly",       "pleural_effusion_left", "pleural_effusion_right",
    "pneumothorax_left",  "pneumothorax_right",    "lobar_opacity",
    "nodule",
};

const char *mrg_finding_name(mrg_finding f) {
    return (f >= 0 && f < MRG_N_FINDINGS) ? finding_names[f] : NULL;
}

static bool is(const tok *t, const char *w) { return strcmp(t->w, w) == 0; }
static bool any(const tok *t, const char *const *ws) {
    for (; *ws; ws++)
        if (is(t, *ws)) return true;
    return false;
}

enum kind { K_NONE, K_EFFUSION, K_PTX, K_CARDIOMEGALY, K_LOBAR, K_NODULE };

static const char *const w_effusion[] = {"effusion", "effusions", NULL};
static const char *const w_ptx[] = {"pneumothorax", "pneumothoraces", "pneumothoraxes", NULL};
static const char *const w_lobar[] = {"consolidation", "consolidations", "consolidative",
                                      "infiltrate",    "infiltrates",    "pneumonia",
                                      "airspace",      NULL};
static const char *const w_opacity[] = {"opacity", "opacities", "opacification", NULL};
static const char *const w_lobe_ctx[] = {"lobe", "lobes", "lobar", "focal", "lingula",
                                         "lingular", NULL};
static const char *const w_nodule[] = {"nodule", "nodules", "nodular", NULL};
static const char *const w_heart[] = {"heart", "cardiac", "cardiomediastinal",
                                      "cardiothoracic", NULL};
static const char *const w_enlarged[] = {"enlarged", "enlargement", "enlarging", "large",
                                         "increased", "prominent", "cardiomegaly", NULL};
static const char *const w_normal[] = {"normal", "unremarkable", NULL};
static const char *const w_breaker[] = {"but", "however", "although", "though", "except",
                                        "whereas", "which", "there", "otherwise", NULL};
static const char *const w_post_neg[] = {"not", "resolved", "absent", "negative", "excluded",
                                         "removed", NULL};

/* Kind of the mention starting at token i of a sentence (n tokens). */
static enum kind kind_at(const tok *t, int n, int i) {
    if (any(&t[i], w_effusion)) return K_EFFUSION;
    if (any(&t[i], w_ptx)) return K_PTX;
    if (is(&t[i], "cardiomegaly")) return K_CARDIOMEGALY;
    if (any(&t[i], w_nodule)) return K_NODULE;
    if (any(&t[i], w_lobar)) return K_LOBAR;
    if (is(&t[i], "air") && i + 1 < n && is(&t[i + 1], "space")) return K_LOBAR;
    if (any(&t[i], w_opacity)) {
        /* "opacity" counts only with lobar context in its segment. */
        for (int j = 0; j < n; j++)
            if (t[j].seg == t[i].seg && (any(&t[j], w_lobe_ctx) || is(&t[j], "airspace")))
                return K_LOBAR;
    }
    return K_NONE;
}

/* A negation cue at token j (not a pseudo-negation like "no change"). */
static bool neg_cue(const tok *t, int n, int j) {
    const tok *nx = j + 1 < n ? &t[j + 1] : NULL;
    if (is(&t[j], "no") || is(&t[j], "not")) {
        if (nx && (is(nx, "change") || is(nx, "changed") || is(nx, "interval") ||
                   is(nx, "significant") || is(nx, "significantly")))
            return false;
        return true;
    }
    if (is(&t[j], "without") || is(&t[j], "nor") || is(&t[j], "neither") ||
        is(&t[j], "absence") || is(&t[j], "resolution"))
        return true;
    if ((is(&t[j], "negative") && nx && is(nx, "for")) || (is(&t[j], "free") && nx && is(nx, "of")))
        return true;
    return false;
}

static bool negated(const tok *t, int n, int i) {
    for (int j = i - 1; j >= 0; j--) {
        if (any(&t[j], w_breaker)) break;
        if (neg_cue(t, n, j)) return true;
    }
    for (int j = i + 1; j < n && j <= i + 6 && t[j].seg == t[i].seg; j++) {
        if (kind_at(t, n, j) != K_NONE) break;
        if (any(&t[j], w_post_neg)) {
            if (is(&t[j], "not") && j + 1 < n &&
                (is(&t[j + 1], "changed") || is(&t[j + 1], "significantly")))
                continue;
            return true;
        }
    }
    return false;
}

/* Side words before (then after) mention i: bit 1 left, bit 2 right. */
static int side_of(const tok *t, int n, int i) {
    int side = 0;
    for (int j = i - 1; j >= 0 && j >= i - 6; j--) {
        if (kind_at(t, n, j) != K_NONE || any(&t[j], w_breaker)) break;
        if (is(&t[j], "left")) side |= 1;
        if (is(&t[j], "right")) side |= 2;
        if (is(&t[j], "bilateral") || is(&t[j], "bilaterally") || is(&t[j], "both")) side |= 3;
    }
    if (side) return side;
    for (int j = i + 1; j < n && j <= i + 5 && t[j].seg == t[i].seg; j++) {
        if (kind_at(t, n, j) != K_NONE) break;
        if (is(&t[j], "left")) side |= 1;
        if (is(&t[j], "right")) side |= 2;
        if (is(&t[j], "bilateral") || is(&t[j], "bilaterally") || is(&t[j], "both")) side |= 3;
    }
    return side;
}

static void set_label(mrg_finding_label *out, int f, mrg_finding_label l) {
    if (l > out[f]) out[f] = l; /* positive > negative > absent */
}

static void sided(mrg_finding_label *out, int f_left, int side, mrg_finding_label l) {
    if (side & 1) set_label(out, f_left, l);
    if (side & 2) set_label(out, f_left + 1, l);
}

/* The heart: an enlargement or normal word near a heart word in its comma
 * segment (6 tokens after it or 4 before it, not across a breaker or another
 * finding): "the heart is enlarged", "normal heart size". */
static void heart_words(const tok *t, int n, int h, mrg_finding_label *out) {
    int enl = -1, normal = -1;
    for (int dir = 1; dir >= -1; dir -= 2) {
        for (int j = h + dir; j >= 0 && j < n && t[j].seg == t[h].seg &&
                              (dir > 0 ? j <= h + 6 : j >= h - 4);
             j += dir) {
            if (any(&t[j], w_breaker)) break;
            enum kind k = kind_at(t, n, j);
            if (k != K_NONE && k != K_CARDIOMEGALY) break;
            if (enl < 0 && any(&t[j], w_enlarged)) enl = j;
            if (normal < 0 && any(&t[j], w_normal)) normal = j;
        }
    }
    if (enl >= 0) {
        bool neg = negated(t, n, enl) || negated(t, n, h);
        int a = h < enl ? h : enl, b = h < enl ? enl : h;
        for (int j = a + 1; j < b && !neg; j++)
            if (is(&t[j], "not") || is(&t[j], "no")) neg = true;
        set_label(out, MRG_FINDING_CARDIOMEGALY, neg ? MRG_LABEL_NEGATIVE : MRG_LABEL_POSITIVE);
    } else if (normal >= 0) {
        set_label(out, MRG_FINDING_CARDIOMEGALY, MRG_LABEL_NEGATIVE);
    }
}

static void label_sentence(const tok *t, int n, mrg_finding_label *out) {
    for (int i = 0; i < n; i++)
        if (any(&t[i], w_heart)) heart_words(t, n, i, out);
    bool lungs = false;
    for (int i = 0; i < n; i++) {
        if (is(&t[i], "lungs") || is(&t[i], "lung")) lungs = true;
        /* "the lungs are clear" says there is no consolidation */
        if (lungs && is(&t[i], "clear") && !negated(t, n, i))
            set_label(out, MRG_FINDING_LOBAR_OPACITY, MRG_LABEL_NEGATIVE);
        enum kind k = kind_at(t, n, i);
        if (k == K_NONE) continue;
        mrg_finding_label l = negated(t, n, i) ? MRG_LABEL_NEGATIVE : MRG_LABEL_POSITIVE;
        switch (k) {
        case K_CARDIOMEGALY: set_label(out, MRG_FINDING_CARDIOMEGALY, l); break;
        case K_LOBAR: set_label(out, MRG_FINDING_LOBAR_OPACITY, l); break;
        case K_NODULE: set_label(out, MRG_FINDING_NODULE, l); break;
        case K_EFFUSION:
        case K_PTX: {
            int f = k == K_EFFUSION ? MRG_FINDING_EFFUSION_LEFT : MRG_FINDING_PNEUMOTHORAX_LEFT;
            int side = side_of(t, n, i);
            /* An unsided negation covers both sides; an unsided positive
             * counts for both only in the plural ("pleural effusions"). */
            if (!side) {
                size_t len = strlen(t[i].w);
                bool plural = k == K_EFFUSION ? t[i].w[len - 1] == 's' : !is(&t[i], "pneumothorax");
                if (l == MRG_LABEL_NEGATIVE || plural) side = 3;
            }
            sided(out, f, side, l);
            break;
        }
        default: break;
        }
    }
}

mrg_status mrg_label_report(const char *report, mrg_finding_label out[MRG_N_FINDINGS]) {
    if (!report || !out) return mrg_error(MRG_ERR_INVALID_ARG, "label_report: NULL argument");
    for (int f = 0; f < MRG_N_FINDINGS; f++) out[f] = MRG_LABEL_ABSENT;
    int cap = 64, n = 0, seg = 0;
    tok *t = malloc((size_t)cap * sizeof *t);
    if (!t) return mrg_error(MRG_ERR_OOM, "label_report: out of memory");
    for (const char *p = report;; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c)) {
            if (n == cap) {
                tok *nt = realloc(t, (size_t)(cap *= 2) * sizeof *t);
                if (!nt) {
                    free(t);
                    return mrg_error(MRG_ERR_OOM, "label_report: out of memory");
                }
                t = nt;
            }
            int k = 0;
            for (; isalnum((unsigned char)*p); p++)
                if (k < TOK_MAX - 1) t[n].w[k++] = (char)tolower((unsigned char)*p);
            t[n].w[k] = 0;
            t[n].seg = seg;
            n++;
            p--;
            continue;
        }
        /* '.' inside a number ("1.5 cm") does not end a sentence */
        bool decimal = c == '.' && p > report && isdigit((unsigned char)p[-1]) &&
                       isdigit((unsigned char)p[1]);
        bool end = c == 0 || c == ';' || c == '?' || c == '!' || (c == '.' && !decimal);
        if (end) {
            label_sentence(t, n, out);
            n = 0;
            seg = 0;
            if (c == 0) break;
        } else if (c == ',' || c == ':') {
            seg++;
        }
    }
    free(t);
    return MRG_OK;
}

void mrg_finding_scores_from_labels(const mrg_finding_label *pred, const mrg_finding_label *ref,
                                    int n, mrg_finding_scores *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++)
        for (int f = 0; f < MRG_N_FINDINGS; f++) {
            bool p = pred[i * MRG_N_FINDINGS + f] == MRG_LABEL_POSITIVE;
            bool r = ref[i * MRG_N_FINDINGS + f] == MRG_LABEL_POSITIVE;
            out->tp[f] += p && r;
            out->fp[f] += p && !r;
            out->fn[f] += !p && r;
        }
    for (int f = 0; f < MRG_N_FINDINGS; f++) {
        double tp = out->tp[f];
        double p = out->tp[f] + out->fp[f] ? tp / (out->tp[f] + out->fp[f]) : 0.0;
        double r = out->tp[f] + out->fn[f] ? tp / (out->tp[f] + out->fn[f]) : 0.0;
        out->precision[f] = p;
        out->recall[f] = r;
        out->f1[f] = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        out->macro_precision += p / MRG_N_FINDINGS;
        out->macro_recall += r / MRG_N_FINDINGS;
        out->macro_f1 += out->f1[f] / MRG_N_FINDINGS;
    }
}

mrg_status mrg_finding_scores_compute(const char *const *preds, const char *const *refs, int n,
                                      mrg_finding_scores *out) {
    if ((!preds || !refs) && n > 0) return mrg_error(MRG_ERR_INVALID_ARG, "finding scores: NULL");
    if (n < 0 || !out) return mrg_error(MRG_ERR_INVALID_ARG, "finding scores: bad arguments");
    size_t sz = (size_t)(n ? n : 1) * MRG_N_FINDINGS * sizeof(mrg_finding_label);
    mrg_finding_label *lp = malloc(sz), *lr = malloc(sz);
    if (!lp || !lr) {
        free(lp);
        free(lr);
        return mrg_error(MRG_ERR_OOM, "finding scores: out of memory");
    }
    mrg_status st = MRG_OK;
    for (int i = 0; i < n && st == MRG_OK; i++) {
        st = mrg_label_report(preds[i], lp + (size_t)i * MRG_N_FINDINGS);
        if (st == MRG_OK) st = mrg_label_report(refs[i], lr + (size_t)i * MRG_N_FINDINGS);
    }
    if (st == MRG_OK) mrg_finding_scores_from_labels(lp, lr, n, out);
    free(lp);
    free(lr);
    return st;
}
