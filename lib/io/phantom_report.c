/* Phantom reports: IU X-Ray style text from varied sentence templates.
 *
 * Every finding is stated, as present or as absent, so the labeler of
 * mrg/text.h recovers exactly the generator's labels, and a normal study
 * reads like any other ("The heart is normal in size. ... No pleural effusion
 * or pneumothorax."): the text alone never tells which findings the image
 * shows. Phrasings are drawn from the case seed; one finding per sentence
 * except the usual combined negatives ("no pleural effusion or
 * pneumothorax"). Side words always sit right before the finding word or in
 * "on the left" right after it, where the labeler looks for them. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/phantom.h"
#include "phantom_internal.h"

typedef struct sbuf {
    char s[2048];
    size_t n;
} sbuf;

/* Appends one sentence, capitalised, separated by a space. */
static void say(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sbuf *b, const char *fmt, ...) {
    if (b->n + 2 >= sizeof b->s) return;
    if (b->n) b->s[b->n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    b->s[b->n] = (char)toupper((unsigned char)b->s[b->n]);
    b->n += (size_t)k < sizeof b->s - b->n ? (size_t)k : sizeof b->s - b->n - 1;
}

/* Index of a phrasing among n: the first (the usual IU wording) half of the
 * time, else any. Real IU reports repeat a few wordings often. */
static int pick(ph_rng *r, int n) { return ph_unif(r) < 0.5f ? 0 : ph_int(r, n); }
#define PICK(r, arr) (arr)[pick((r), (int)(sizeof(arr) / sizeof((arr)[0])))]

static const char *const side_word[2] = {"left", "right"}; /* index 0 = patient's left */
static const char *const size_word[3] = {"small", "moderate", "large"};
static const char *const lobe_name[MRG_N_LOBES] = {"right upper lobe", "right middle lobe",
                                                   "right lower lobe", "left upper lobe",
                                                   "left lower lobe"};
static const char *const zone_word[3] = {"upper", "mid", "lower"};

/* ---- heart and mediastinum ---------------------------------------------- */

static void heart(sbuf *b, ph_rng *r, const mrg_phantom_case *c) {
    bool covers_mediastinum = false;
    if (c->finding[MRG_FINDING_CARDIOMEGALY]) {
        bool mild = ph_case_ctr(c) < 0.6f;
        static const char *const any[] = {
            "the heart is enlarged.",       "cardiomegaly.",
            "there is cardiomegaly.",       "the cardiac silhouette is enlarged.",
            "enlarged cardiac silhouette.", "heart size is enlarged.",
            "cardiomegaly is present.",     "the heart size is enlarged.",
        };
        static const char *const mild_s[] = {"the heart is mildly enlarged.", "mild cardiomegaly.",
                                             "there is mild cardiomegaly."};
        static const char *const marked_s[] = {"the heart is markedly enlarged.",
                                               "moderate cardiomegaly.",
                                               "there is moderate cardiomegaly."};
        if (ph_unif(r) < 0.5f)
            say(b, "%s", PICK(r, any));
        else
            say(b, "%s", mild ? PICK(r, mild_s) : PICK(r, marked_s));
    } else {
        static const char *const neg[] = {
            "the heart is normal in size.",
            "heart size is normal.",
            "normal heart size.",
            "the heart size is within normal limits.",
            "the cardiac silhouette is normal in size.",
            "no cardiomegaly.",
            "the heart is not enlarged.",
        };
        static const char *const neg_both[] = {
            "the cardiomediastinal silhouette is within normal limits.",
            "the cardiomediastinal silhouette is normal.",
            "the heart and mediastinum are normal.",
            "normal cardiomediastinal silhouette.",
        };
        if (ph_unif(r) < 0.3f) {
            say(b, "%s", PICK(r, neg_both));
            covers_mediastinum = true;
        } else {
            say(b, "%s", PICK(r, neg));
        }
    }
    static const char *const med[] = {
        "the mediastinum is unremarkable.",
        "mediastinal contours are normal.",
        "the mediastinal contours are within normal limits.",
        "normal mediastinal contours.",
        "the mediastinum is within normal limits.",
    };
    if (!covers_mediastinum && ph_unif(r) < 0.35f) say(b, "%s", PICK(r, med));
}

/* ---- lung parenchyma ---------------------------------------------------- */

static void opacity(sbuf *b, ph_rng *r, const mrg_phantom_case *c) {
    if (c->finding[MRG_FINDING_LOBAR_OPACITY]) {
        static const char *const pos[] = {
            "there is focal airspace opacity in the %s.",
            "%s consolidation.",
            "consolidation in the %s.",
            "there is airspace disease in the %s, concerning for pneumonia.",
            "focal opacity in the %s.",
            "patchy opacity in the %s, consistent with pneumonia.",
            "there is a %s infiltrate.",
            "%s airspace consolidation is present.",
        };
        say(b, PICK(r, pos), lobe_name[c->opacity_lobe]);
        return;
    }
    /* "the lungs are clear" only when nothing else is in the lungs */
    bool clear_ok = !c->finding[MRG_FINDING_NODULE] && !c->finding[MRG_FINDING_PNEUMOTHORAX_LEFT] &&
                    !c->finding[MRG_FINDING_PNEUMOTHORAX_RIGHT];
    static const char *const clear[] = {
        "the lungs are clear.",
        "lungs are clear.",
        "the lungs are clear bilaterally.",
        "the lungs are clear without focal airspace disease.",
    };
    static const char *const neg[] = {
        "no focal consolidation.",
        "no focal airspace disease.",
        "there is no focal airspace opacity.",
        "no focal airspace consolidation.",
        "no evidence of focal consolidation.",
        "there is no evidence of pneumonia.",
    };
    if (clear_ok && ph_unif(r) < 0.6f)
        say(b, "%s", PICK(r, clear));
    else
        say(b, "%s", PICK(r, neg));
}

static void nodule(sbuf *b, ph_rng *r, const mrg_phantom_case *c) {
    if (c->finding[MRG_FINDING_NODULE]) {
        /* millimetres only: the R2Gen cleaning rule deletes the '.' of
         * "1.2 cm"; "an 8 mm", "an 11 mm" */
        char size[32];
        snprintf(size, sizeof size, "%d mm", c->nodule_mm);
        const char *art = (c->nodule_mm == 8 || c->nodule_mm == 11) ? "an" : "a";
        const char *side = side_word[c->nodule_side], *zone = zone_word[c->nodule_zone];
        switch (pick(r, 5)) {
        case 0:
            say(b, "there is %s %s nodule in the %s %s lung.", art, size, side, zone);
            break;
        case 1:
            say(b, "%s %s nodular density is noted in the %s %s lung.", art, size, side, zone);
            break;
        case 2:
            say(b, "%s nodule projecting over the %s %s lung.",
                c->nodule_mm <= 9 ? "small rounded" : "rounded", side, zone);
            break;
        case 3:
            say(b, "%s %s pulmonary nodule in the %s %s lung zone.", art, size, side, zone);
            break;
        default:
            say(b, "there is a %s %s lung nodule measuring %s.", side, zone, size);
            break;
        }
        return;
    }
    static const char *const neg[] = {
        "no pulmonary nodules.",          "no suspicious pulmonary nodules or masses.",
        "no nodules or masses are seen.", "there are no pulmonary nodules.",
        "no discrete nodules.",           "no suspicious pulmonary nodule.",
    };
    say(b, "%s", PICK(r, neg));
}

/* ---- pleura ------------------------------------------------------------- */

/* One side positive: a phrase for "<size> <side> <what>" (what is
 * "pleural effusion" or "pneumothorax"). */
static void pleura_pos(sbuf *b, ph_rng *r, const char *what, int side, int size, bool ptx) {
    const char *sz = size_word[size], *sd = side_word[side];
    int k = pick(r, 5);
    if (k == 0)
        say(b, "there is a %s %s %s.", sz, sd, what);
    else if (k == 1)
        say(b, "%s %s %s.", sz, sd, what);
    else if (k == 2)
        say(b, "%s %s-sided %s.", sz, sd, what);
    else if (k == 3)
        say(b, "there is a %s %s on the %s.", sz, what, sd);
    else if (ptx)
        say(b, "%s %s %s with a visible pleural line.", sz, sd, what);
    else
        say(b, "%s %s %s with blunting of the costophrenic angle.", sz, sd, what);
}

static void pleura_neg_side(sbuf *b, ph_rng *r, const char *what, const char *short_what,
                            int side) {
    const char *sd = side_word[side];
    int k = pick(r, 3);
    if (k == 0)
        say(b, "no %s %s.", sd, what);
    else if (k == 1)
        say(b, "no %s %s.", sd, short_what);
    else
        say(b, "no %s on the %s.", short_what, sd);
}

/* Both sides positive. what_pl: "pleural effusions" / "pneumothoraces". */
static void pleura_both(sbuf *b, ph_rng *r, const char *what_pl, const int size[2]) {
    if (size[0] == size[1]) {
        int k = pick(r, 3);
        if (k == 0)
            say(b, "%s bilateral %s.", size_word[size[0]], what_pl);
        else if (k == 1)
            say(b, "there are %s bilateral %s.", size_word[size[0]], what_pl);
        else
            say(b, "bilateral %s %s.", size_word[size[0]], what_pl);
    } else if (ph_unif(r) < 0.5f) {
        say(b, "%s left and %s right %s.", size_word[size[0]], size_word[size[1]], what_pl);
    } else {
        say(b, "there are bilateral %s, %s on the left and %s on the right.", what_pl,
            size_word[size[0]], size_word[size[1]]);
    }
}

/* The negative of both sides of one finding. */
static void effusion_neg(sbuf *b, ph_rng *r) {
    static const char *const s[] = {
        "no pleural effusion.", "no pleural effusions.", "there is no pleural effusion.",
        "the costophrenic angles are sharp without pleural effusion.", "no effusion."};
    say(b, "%s", PICK(r, s));
}
static void ptx_neg(sbuf *b, ph_rng *r) {
    static const char *const s[] = {"no pneumothorax.", "there is no pneumothorax.",
                                    "no evidence of pneumothorax.", "no pneumothoraces."};
    say(b, "%s", PICK(r, s));
}

static void pleura(sbuf *b, ph_rng *r, const mrg_phantom_case *c) {
    const bool *f = c->finding;
    bool eff[2] = {f[MRG_FINDING_EFFUSION_LEFT], f[MRG_FINDING_EFFUSION_RIGHT]};
    bool ptx[2] = {f[MRG_FINDING_PNEUMOTHORAX_LEFT], f[MRG_FINDING_PNEUMOTHORAX_RIGHT]};
    int n_eff = eff[0] + eff[1], n_ptx = ptx[0] + ptx[1];
    if (!n_eff && !n_ptx) {
        static const char *const s[] = {
            "no pleural effusion or pneumothorax.",
            "there is no pleural effusion or pneumothorax.",
            "no pneumothorax or pleural effusion.",
            "no pleural effusions or pneumothoraces.",
            "there is no evidence of pleural effusion or pneumothorax.",
            "no pneumothorax or pleural effusion is seen.",
        };
        say(b, "%s", PICK(r, s));
        return;
    }
    /* effusions */
    bool ptx_said = false;
    /* After a one-sided finding, IU reports seldom negate the other side
     * ("small left pleural effusion. no pneumothorax."); here it is done a
     * quarter of the time. */
    if (n_eff == 2) {
        pleura_both(b, r, "pleural effusions", c->effusion_size);
    } else if (n_eff == 1) {
        int s = eff[0] ? 0 : 1;
        pleura_pos(b, r, "pleural effusion", s, c->effusion_size[s], false);
        float u = ph_unif(r);
        if (!n_ptx && u < 0.1f) {
            /* "no right pleural effusion or pneumothorax": the unsided
             * pneumothorax is negated for both sides */
            say(b, "no %s pleural effusion or pneumothorax.", side_word[1 - s]);
            ptx_said = true;
        } else if (u < 0.25f) {
            pleura_neg_side(b, r, "pleural effusion", "effusion", 1 - s);
        }
    } else if (ph_unif(r) < 0.25f && n_ptx == 1) {
        int s = ptx[0] ? 0 : 1;
        pleura_pos(b, r, "pneumothorax", s, c->pneumothorax_size[s], true);
        say(b, "no %s pneumothorax or pleural effusion.", side_word[1 - s]);
        return;
    } else {
        effusion_neg(b, r);
    }
    if (ptx_said) return;
    if (n_ptx == 2) {
        pleura_both(b, r, "pneumothoraces", c->pneumothorax_size);
    } else if (n_ptx == 1) {
        int s = ptx[0] ? 0 : 1;
        pleura_pos(b, r, "pneumothorax", s, c->pneumothorax_size[s], true);
        if (ph_unif(r) < 0.25f) pleura_neg_side(b, r, "pneumothorax", "pneumothorax", 1 - s);
    } else {
        ptx_neg(b, r);
    }
}

static void bones(sbuf *b, ph_rng *r) {
    static const char *const s[] = {
        "no acute bony abnormality.",
        "the osseous structures are intact.",
        "no acute osseous abnormality.",
        "visualized osseous structures are unremarkable.",
        "mild degenerative changes of the thoracic spine.",
        "the bones are unremarkable.",
    };
    if (ph_unif(r) < 0.35f) say(b, "%s", PICK(r, s));
}

char *mrg_phantom_report(const mrg_phantom_case *c) {
    if (!c) {
        mrg_error(MRG_ERR_INVALID_ARG, "phantom_report: NULL case");
        return NULL;
    }
    ph_rng r = ph_stream(c->seed, PH_STREAM_TEXT);
    sbuf b = {.n = 0};
    b.s[0] = 0;
    heart(&b, &r, c);
    bool pleura_first = ph_unif(&r) < 0.15f, nodule_first = ph_unif(&r) < 0.15f;
    if (pleura_first) pleura(&b, &r, c);
    if (nodule_first) nodule(&b, &r, c);
    opacity(&b, &r, c);
    if (!nodule_first) nodule(&b, &r, c);
    if (!pleura_first) pleura(&b, &r, c);
    bones(&b, &r);
    char *out = malloc(b.n + 1);
    if (!out) {
        mrg_error(MRG_ERR_OOM, "phantom_report: out of memory");
        return NULL;
    }
    memcpy(out, b.s, b.n);
    out[b.n] = 0;
    return out;
}

void mrg_phantom_labels(const mrg_phantom_case *c, mrg_finding_label out[MRG_N_FINDINGS]) {
    for (int f = 0; f < MRG_N_FINDINGS; f++)
        out[f] = c->finding[f] ? MRG_LABEL_POSITIVE : MRG_LABEL_NEGATIVE;
}

bool mrg_phantom_label_may_be_unsaid(const mrg_phantom_case *c, mrg_finding f) {
    int base;
    if (f == MRG_FINDING_EFFUSION_LEFT || f == MRG_FINDING_EFFUSION_RIGHT)
        base = MRG_FINDING_EFFUSION_LEFT;
    else if (f == MRG_FINDING_PNEUMOTHORAX_LEFT || f == MRG_FINDING_PNEUMOTHORAX_RIGHT)
        base = MRG_FINDING_PNEUMOTHORAX_LEFT;
    else
        return false;
    int other = base + (f == (mrg_finding)base ? 1 : 0);
    return !c->finding[f] && c->finding[other];
}
