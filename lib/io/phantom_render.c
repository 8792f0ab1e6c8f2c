/* Phantom rendering: an attenuation value per pixel from analytic shapes
 * (body, lungs, heart, diaphragm, spine, ribs, clavicles, vessels), the
 * findings added on top, then contrast, noise and clamping.
 *
 * Coordinates are normalised: u across (0 left .. 1 right), v down (0 top ..
 * 1 bottom). In the frontal view a lung is described by d, its distance
 * from the midline toward its own side, so one code path draws both lungs;
 * side 0 is the patient's left (image right), side 1 the patient's right.
 * The anatomy comes from the case seed only, so a case with other findings
 * is the same patient with the same noise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/phantom.h"
#include "phantom_internal.h"

#define PI_F 3.14159265f

typedef struct lung_geom {
    float dcen;           /* distance from the midline of the apex */
    float rx_med, rx_lat; /* half-widths medial / lateral of dcen */
    float apex, cp;       /* apex height, costophrenic angle height */
    float dome;           /* top of the hemidiaphragm */
} lung_geom;

typedef struct anatomy {
    float cx, lat_w, body_hw, neck_hw;
    lung_geom lung[2];
    float ctr_normal, ctr_large, heart_cy, heart_ry, heart_shift;
    float spine_hw, vert_sp, vert_phase;
    float rib_y0, rib_sp, rib_th, rib_curve;
    int n_ribs;
    float clav_y;
    float mark_k, mark_phase[2];
    float bubble, bubble_dx, bubble_r;
    float contrast, bright, noise;
    /* lateral view */
    float ant, post, lat_apex, lat_dome[2], lat_cp, spine_u;
} anatomy;

static void anatomy_draw(uint64_t seed, anatomy *a) {
    ph_rng r = ph_stream(seed, PH_STREAM_ANATOMY);
    a->cx = 0.5f + ph_range(&r, -0.02f, 0.02f);
    float tw = ph_range(&r, 0.34f, 0.40f);
    a->lat_w = 0.95f * tw;
    a->body_hw = tw + ph_range(&r, 0.04f, 0.07f);
    a->neck_hw = ph_range(&r, 0.08f, 0.11f);
    float apex = ph_range(&r, 0.10f, 0.15f);
    float dome_r = ph_range(&r, 0.64f, 0.70f);
    float dome_l = dome_r + ph_range(&r, 0.01f, 0.04f); /* the right dome sits higher */
    float depth = ph_range(&r, 0.06f, 0.09f);
    for (int s = 0; s < 2; s++) {
        lung_geom *g = &a->lung[s];
        float med = 0.055f + ph_range(&r, 0.0f, 0.015f);
        float w = a->lat_w - med;
        g->dcen = med + ph_range(&r, 0.35f, 0.45f) * w;
        g->rx_med = g->dcen - med;
        g->rx_lat = a->lat_w - g->dcen;
        g->apex = apex + ph_range(&r, -0.01f, 0.01f);
        g->dome = s == 0 ? dome_l : dome_r;
        g->cp = g->dome + depth;
    }
    a->ctr_normal = ph_range(&r, 0.38f, 0.47f);
    a->ctr_large = ph_range(&r, 0.64f, 0.76f);
    a->heart_ry = ph_range(&r, 0.13f, 0.16f);
    a->heart_cy = 0.5f * (dome_l + dome_r) - ph_range(&r, 0.07f, 0.10f);
    a->heart_shift = ph_range(&r, 0.18f, 0.32f);
    a->spine_hw = ph_range(&r, 0.03f, 0.04f);
    a->vert_sp = ph_range(&r, 0.045f, 0.055f);
    a->vert_phase = ph_unif(&r);
    a->n_ribs = 9 + ph_int(&r, 2);
    a->rib_y0 = apex - ph_range(&r, 0.0f, 0.03f);
    a->rib_sp = (depth + dome_r - apex) / ((float)a->n_ribs - ph_range(&r, 0.5f, 1.5f));
    a->rib_th = ph_range(&r, 0.28f, 0.38f) * a->rib_sp;
    a->rib_curve = ph_range(&r, 0.16f, 0.24f);
    a->clav_y = apex + ph_range(&r, 0.01f, 0.04f);
    a->mark_k = (float)(9 + ph_int(&r, 5));
    a->mark_phase[0] = ph_range(&r, 0.0f, 2 * PI_F);
    a->mark_phase[1] = ph_range(&r, 0.0f, 2 * PI_F);
    a->bubble = ph_unif(&r) < 0.6f ? 1.0f : 0.0f;
    a->bubble_dx = ph_range(&r, 0.35f, 0.6f) * tw;
    a->bubble_r = ph_range(&r, 0.025f, 0.045f);
    a->contrast = ph_range(&r, 0.95f, 1.1f);
    a->bright = ph_range(&r, 0.02f, 0.08f);
    a->noise = ph_range(&r, 0.008f, 0.02f);
    float ap = ph_range(&r, 0.58f, 0.68f);
    a->ant = 0.5f - 0.5f * ap + ph_range(&r, -0.02f, 0.02f);
    a->post = a->ant + ap;
    a->lat_apex = apex + ph_range(&r, -0.01f, 0.01f);
    a->lat_dome[0] = dome_l;
    a->lat_dome[1] = dome_r;
    a->lat_cp = dome_l + depth + ph_range(&r, 0.03f, 0.06f);
    a->spine_u = a->post - ph_range(&r, 0.1f, 0.13f);
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static float smooth(float e0, float e1, float x) {
    float t = clampf((x - e0) / (e1 - e0), 0.0f, 1.0f);
    return t * t * (3.0f - 2.0f * t);
}
/* Soft inside-mask of "x < edge" with an edge width of eps. */
static float below(float x, float edge, float eps) { return smooth(edge + eps, edge - eps, x); }
/* 1 inside a disc of radius rad, soft over eps */
static float disc(float du, float dv, float rad, float eps) {
    return below(sqrtf(du * du + dv * dv), rad, eps);
}

/* Lung shape in (d, v): the upper half of an ellipse wider laterally than
 * medially, cut by the dome of the diaphragm. scale < 1 shrinks it toward
 * the hilum at its base (a collapsed lung). Returns a soft mask. */
static float lung_shape(const lung_geom *g, float d, float v, float scale, float eps,
                        bool diaphragm) {
    float anchor = g->dcen - 0.3f * g->rx_med;
    float dc = anchor + (g->dcen - anchor) * scale;
    float rx = (d < dc ? g->rx_med : g->rx_lat) * scale;
    float ry = (g->cp - g->apex) * scale;
    float x = (d - dc) / rx, y = (v - g->cp) / ry;
    if (v > g->cp) y = 0.0f;
    float rad = sqrtf(x * x + y * y); /* 1 on the lung's outline */
    float m = below(rad * fminf(rx, ry), fminf(rx, ry), eps);
    if (diaphragm) {
        float t = (d - g->dcen) / (d < g->dcen ? g->rx_med : g->rx_lat);
        float dia = g->dome + (g->cp - g->dome) * t * t;
        m *= below(v, dia, eps);
    }
    return m;
}

/* Relative height in the lung: 0 at the apex, 1 at the costophrenic angle. */
static float lung_t(const lung_geom *g, float v) { return (v - g->apex) / (g->cp - g->apex); }

/* Sizes are generous on purpose: the demo trains a ViT from scratch on a few
 * hundred 64-pixel studies for minutes, so a finding must stay plain at that
 * resolution (a small effusion still covers several pixel rows). */
static const float fluid_height[3] = {0.13f, 0.20f, 0.29f};
static const float ptx_gap[3] = {0.32f, 0.42f, 0.52f};
/* added attenuation of a nodule and of a lobar opacity: at 64 px a nodule
 * must stand out from the ribs and vessels it overlaps */
#define NODULE_DENSITY 0.55f
#define OPACITY_DENSITY 0.5f

/* Which lobe mask (0..1) at (d, t) of side s in the frontal view. */
static float lobe_mask_frontal(int lobe, int s, const lung_geom *g, float d, float t) {
    const float e = 0.04f;
    switch (lobe) {
    case MRG_LOBE_RIGHT_UPPER:
        return s == 1 ? below(t, 0.42f, e) : 0.0f;
    case MRG_LOBE_RIGHT_MIDDLE:
        return s == 1 ? smooth(0.42f - e, 0.42f + e, t) * below(t, 0.95f, e) *
                            below(d, g->dcen + 0.2f * g->rx_lat, 0.04f)
                      : 0.0f;
    case MRG_LOBE_RIGHT_LOWER:
        return s == 1 ? smooth(0.55f, 0.65f, t) : 0.0f;
    case MRG_LOBE_LEFT_UPPER:
        return s == 0 ? below(t, 0.55f, e) : 0.0f;
    case MRG_LOBE_LEFT_LOWER:
        return s == 0 ? smooth(0.55f, 0.65f, t) : 0.0f;
    default:
        return 0.0f;
    }
}

static int lobe_side(int lobe) { return lobe <= MRG_LOBE_RIGHT_LOWER ? 1 : 0; }

/* Nodule centre: side s, (d, t) in the frontal view. */
static void nodule_frontal(const mrg_phantom_case *c, const lung_geom *g, float *d, float *t) {
    static const float zone_t[3][2] = {{0.2f, 0.4f}, {0.42f, 0.62f}, {0.64f, 0.8f}};
    const float *zt = zone_t[c->nodule_zone];
    *t = zt[0] + (zt[1] - zt[0]) * c->nodule_pos[1];
    /* left mid/lower nodules stay lateral, clear of the heart */
    float lo = (c->nodule_side == 0 && c->nodule_zone > 0) ? 0.25f : -0.35f;
    float o = lo + c->nodule_pos[0] * (0.55f - lo); /* in lung half-widths from dcen */
    *d = g->dcen + o * (o < 0 ? g->rx_med : g->rx_lat);
}

static float nodule_radius(const mrg_phantom_case *c) {
    return 0.05f + 0.003f * (float)c->nodule_mm;
}

/* ---- frontal view ------------------------------------------------------ */

static float frontal_att(const anatomy *a, const mrg_phantom_case *c, float u, float v, float eps) {
    const bool *f = c->finding;
    float x = u - a->cx, ax = fabsf(x);
    /* body outline, narrowing to the neck above the shoulders */
    float hw = a->neck_hw + (a->body_hw - a->neck_hw) * smooth(0.02f, 0.16f, v);
    float A = 0.55f * below(ax, hw, 2 * eps);
    if (A == 0.0f) return 0.0f; /* air outside the body: nothing else reaches here */
    /* heart: an ellipse shifted to the patient's left (image right) */
    float ctr = f[MRG_FINDING_CARDIOMEGALY] ? a->ctr_large : a->ctr_normal;
    float hrx = ctr * a->lat_w;
    float hx = (x - a->heart_shift * hrx) / hrx, hy = (v - a->heart_cy) / a->heart_ry;
    float heart = below(sqrtf(hx * hx + hy * hy), 1.0f, eps / fminf(hrx, a->heart_ry));
    /* aortic knob, upper left mediastinum */
    float knob = disc(x - 0.06f, v - (a->heart_cy - a->heart_ry - 0.08f), 0.035f, eps);
    /* the heart is soft tissue like the mediastinum: it shows by displacing
     * the lung; a touch denser so its outline stays visible below the dome */
    A += 0.04f * fmaxf(heart, knob);

    int s = x > 0 ? 0 : 1;
    const lung_geom *g = &a->lung[s];
    float d = ax, t = lung_t(g, v);
    float lung = lung_shape(g, d, v, 1.0f, eps, true) * (1.0f - heart);
    /* vessels: rays from the hilum, fading to the periphery */
    float marks = 0.0f;
    if (lung > 0.0f) {
        float hd = d - (g->dcen - 0.6f * g->rx_med), hv = v - (a->heart_cy - 0.12f);
        float hr = sqrtf(hd * hd + hv * hv);
        float ang = atan2f(hv, hd);
        float ray = 0.5f + 0.5f * cosf(a->mark_k * ang + a->mark_phase[s] + 25.0f * hr);
        ray *= ray;
        ray *= ray;
        marks = 0.14f * ray * expf(-hr / 0.35f); /* reach the periphery: a pneumothorax shows by their absence */
    }

    float air = lung, extra = 0.0f;
    int sidx = s; /* effusion_size / pneumothorax_size index: 0 left, 1 right */
    /* the pleural findings and the opacity only act inside the lung */
    bool in_lung = lung > 0.0f;
    if (in_lung && f[MRG_FINDING_PNEUMOTHORAX_LEFT + s]) {
        float gap = ptx_gap[c->pneumothorax_size[sidx]];
        float inner = lung_shape(g, d, v, 1.0f - gap, eps, false);
        float rim = lung_shape(g, d, v, 1.0f - gap + 3.0f * eps / (g->cp - g->apex), eps, false);
        float space = lung * (1.0f - inner);
        marks *= 1.0f - space;
        extra -= 0.20f * space; /* air without lung tissue: darker, no vessels */
        extra += 0.36f * lung * (rim - inner); /* the visceral pleural line */
    }
    if (in_lung && f[MRG_FINDING_EFFUSION_LEFT + s]) {
        /* fluid rises along the lateral wall (meniscus) and hides the dome */
        float h = fluid_height[c->effusion_size[sidx]];
        float lat = clampf((d - g->dcen) / g->rx_lat, 0.0f, 1.0f);
        float top = g->cp - h - 0.06f * lat * lat;
        float space = lung_shape(g, d, fminf(v, g->cp - 0.001f), 1.0f, eps, false);
        float fluid = space * smooth(top - 0.015f, top + 0.025f, v) * below(v, g->cp + 0.02f, eps);
        extra += 0.12f * fluid * air; /* fluid replaces the air, denser than soft tissue */
        air *= 1.0f - fluid;
        marks *= 1.0f - fluid;
    }
    if (in_lung && f[MRG_FINDING_LOBAR_OPACITY] && lobe_side(c->opacity_lobe) == s) {
        float lobe = lobe_mask_frontal(c->opacity_lobe, s, g, d, t) * lung;
        float patchy = 0.75f + 0.25f * sinf(40.0f * d + 3.0f * a->mark_phase[s]) *
                                   sinf(37.0f * v + a->mark_phase[1 - s]);
        extra += OPACITY_DENSITY * lobe * patchy;
        marks *= 1.0f - lobe;
    }
    if (f[MRG_FINDING_NODULE] && c->nodule_side == s) {
        float nd, nt;
        nodule_frontal(c, g, &nd, &nt);
        float nv = g->apex + nt * (g->cp - g->apex);
        extra += NODULE_DENSITY * disc(d - nd, v - nv, nodule_radius(c), eps);
    }
    A += -0.40f * air + marks * air + extra;

    /* spine with disc spaces */
    float spine = below(ax, a->spine_hw, eps) * smooth(0.0f, 0.05f, v);
    float vt = v / a->vert_sp + a->vert_phase;
    float disc_space = below(vt - floorf(vt), 0.2f, 0.05f);
    A += spine * (0.16f - 0.07f * disc_space);
    /* posterior ribs: equally spaced curved bands on each side */
    float dn = d / a->lat_w;
    float rt = (v - a->rib_y0 + 0.05f * dn - a->rib_curve * dn * dn) / a->rib_sp;
    if (rt >= 0.0f && rt < (float)a->n_ribs && dn > 0.07f) {
        float fr = rt - floorf(rt), th = a->rib_th / a->rib_sp;
        float band = below(fabsf(fr - th * 0.5f), th * 0.5f, eps / a->rib_sp);
        A += 0.07f * band * below(dn, 1.04f, 0.03f);
    }
    /* clavicles */
    float cy = a->clav_y + 0.04f - 0.06f * dn;
    A += 0.14f * below(fabsf(v - cy), 0.011f, eps) * below(dn, 0.9f, 0.03f) *
         smooth(0.03f, 0.06f, d);
    /* gastric bubble under the left hemidiaphragm */
    if (a->bubble > 0.0f && s == 0) {
        float by = a->lung[0].dome + 0.035f + a->bubble_r;
        A -= 0.22f * disc(d - a->bubble_dx, v - by, a->bubble_r, eps);
    }
    return A;
}

/* ---- lateral view ------------------------------------------------------ */

static float lateral_att(const anatomy *a, const mrg_phantom_case *c, float u, float v, float eps) {
    const bool *f = c->finding;
    float mid = 0.5f * (a->ant + a->post), half = 0.5f * (a->post - a->ant);
    float top_taper = 1.0f - 0.25f * (1.0f - smooth(0.02f, 0.2f, v));
    float A = 0.60f * below(fabsf(u - mid), half * top_taper, 2 * eps);
    if (A == 0.0f) return 0.0f; /* outside the body */

    float ctr = f[MRG_FINDING_CARDIOMEGALY] ? a->ctr_large : a->ctr_normal;
    /* heart: anterior and low; a large heart reaches back over the spine */
    float hrx = 0.31f * ctr, hry = a->heart_ry * (0.8f + 0.5f * ctr);
    float hcx = a->ant + 0.03f + hrx, hcy = a->lat_dome[1] - 0.05f;
    float hx = (u - hcx) / hrx, hy = (v - hcy) / hry;
    float heart = below(sqrtf(hx * hx + hy * hy), 1.0f, eps / fminf(hrx, hry));
    A += 0.04f * heart;

    /* the two lungs overlap: each adds half of the air */
    float lu0 = a->ant + 0.03f, lu1 = a->spine_u + 0.02f;
    float lcen = lu0 + 0.55f * (lu1 - lu0);
    lung_geom g = {lcen, lcen - lu0, lu1 - lcen, a->lat_apex, a->lat_cp, 0.0f};
    float air = 0.0f, extra = 0.0f, marks = 0.0f;
    float t = lung_t(&g, v);
    float lobe_pos = (u - lu0) / (lu1 - lu0); /* 0 anterior .. 1 posterior */
    /* oblique fissure: from high posterior to low anterior */
    float fissure = 0.25f + 0.75f * (1.0f - lobe_pos) * 0.9f;
    for (int s = 0; s < 2; s++) {
        g.dome = a->lat_dome[s];
        float lung = 0.5f * lung_shape(&g, u, v, 1.0f, eps, true) * (1.0f - heart);
        float side_air = lung, side_extra = 0.0f;
        if (f[MRG_FINDING_PNEUMOTHORAX_LEFT + s]) {
            /* the collapsed lung drops away from the apex */
            float gap = ptx_gap[c->pneumothorax_size[s]];
            float inner = lung_shape(&g, u, v, 1.0f - 0.7f * gap, eps, false);
            side_extra -= 0.24f * lung * (1.0f - inner);
        }
        if (f[MRG_FINDING_EFFUSION_LEFT + s]) {
            /* fluid fills the posterior costophrenic sulcus first */
            float h = fluid_height[c->effusion_size[s]] * 1.2f;
            float post = clampf(lobe_pos, 0.0f, 1.0f);
            float top = a->lat_cp - h - 0.08f * post * post;
            float space = lung_shape(&g, u, fminf(v, g.cp - 0.001f), 1.0f, eps, false);
            float fluid =
                space * smooth(top - 0.015f, top + 0.025f, v) * below(v, a->lat_cp + 0.02f, eps);
            side_extra += 0.24f * fluid * side_air;
            side_air *= 1.0f - fluid;
        }
        if (f[MRG_FINDING_LOBAR_OPACITY] && lobe_side(c->opacity_lobe) == s) {
            float lower = smooth(fissure - 0.05f, fissure + 0.05f, t);
            float m;
            switch (c->opacity_lobe) {
            case MRG_LOBE_RIGHT_UPPER:
                m = (1.0f - lower) * below(t, 0.45f, 0.04f);
                break;
            case MRG_LOBE_RIGHT_MIDDLE:
                m = (1.0f - lower) * smooth(0.41f, 0.49f, t);
                break;
            case MRG_LOBE_LEFT_UPPER:
                m = 1.0f - lower;
                break;
            default:
                m = lower;
                break;
            }
            side_extra += 0.36f * m * lung; /* fills most of that lung's air */
        }
        air += side_air;
        extra += side_extra;
        marks += lung;
    }
    /* vessels around the hilum */
    if (marks > 0.0f) {
        float hd = u - (lcen + 0.02f), hv = v - (a->heart_cy - 0.14f);
        float hr = sqrtf(hd * hd + hv * hv);
        float ray = 0.5f + 0.5f * cosf(a->mark_k * atan2f(hv, hd) + a->mark_phase[0] + 25.0f * hr);
        ray *= ray;
        marks *= 0.10f * ray * expf(-hr / 0.25f);
    }
    A += -0.40f * air + marks + extra;
    if (f[MRG_FINDING_NODULE]) {
        float nd, nt;
        nodule_frontal(c, &a->lung[c->nodule_side], &nd, &nt);
        float nu = lu0 + (0.15f + 0.7f * c->nodule_pos[2]) * (lu1 - lu0);
        float nv = g.apex + nt * (g.cp - g.apex);
        A += NODULE_DENSITY * disc(u - nu, v - nv, nodule_radius(c), eps);
    }
    /* spine: vertebral bodies behind the lungs, with a gentle kyphosis */
    float su = a->spine_u + 0.025f * sinf(PI_F * v);
    float body = below(fabsf(u - su - 0.035f), 0.035f, eps) * smooth(0.0f, 0.05f, v);
    float vt = v / a->vert_sp + a->vert_phase;
    A += body * (0.20f - 0.09f * below(vt - floorf(vt), 0.2f, 0.05f));
    /* sternum */
    A += 0.10f * below(fabsf(u - a->ant - 0.012f), 0.01f, eps) * smooth(0.18f, 0.22f, v) *
         below(v, 0.62f, 0.02f);
    /* ribs: faint oblique bands */
    float rt = (v - 0.5f * (u - a->ant)) / a->rib_sp;
    float fr = rt - floorf(rt);
    A += 0.04f * below(fabsf(fr - 0.2f), 0.2f, 0.1f) * below(fabsf(u - mid), half * 0.95f, eps) *
         smooth(0.1f, 0.2f, v) * below(v, a->lat_cp, 0.03f);
    return A;
}

/* ---- pixels ------------------------------------------------------------ */

static mrg_status render_view(const anatomy *a, const mrg_phantom_case *c, int size, int view,
                              mrg_image *out) {
    mrg_status st = mrg_image_alloc(out, 1, size, size);
    if (st != MRG_OK) return st;
    /* noise from its own stream, the same whatever the findings */
    ph_rng nr = ph_stream(c->seed, PH_STREAM_NOISE + 16u * (uint64_t)view);
    float eps = 0.75f / (float)size;
    for (int y = 0; y < size; y++) {
        float v = ((float)y + 0.5f) / (float)size;
        for (int x = 0; x < size; x++) {
            float u = ((float)x + 0.5f) / (float)size;
            float A = view == 0 ? frontal_att(a, c, u, v, eps) : lateral_att(a, c, u, v, eps);
            float n = ph_unif(&nr) + ph_unif(&nr) + ph_unif(&nr) - 1.5f; /* var 1/4 */
            float val = a->bright + a->contrast * A + 2.0f * a->noise * n;
            out->data[(size_t)y * (size_t)size + (size_t)x] = clampf(val, 0.0f, 1.0f);
        }
    }
    return MRG_OK;
}

mrg_status mrg_phantom_render(const mrg_phantom_case *c, int size, mrg_image *frontal,
                              mrg_image *lateral) {
    if (!c) return mrg_error(MRG_ERR_INVALID_ARG, "phantom_render: NULL case");
    if (size < MRG_PHANTOM_MIN_SIZE || size > MRG_PHANTOM_MAX_SIZE)
        return mrg_error(MRG_ERR_INVALID_ARG, "phantom size %d is outside %d..%d", size,
                         MRG_PHANTOM_MIN_SIZE, MRG_PHANTOM_MAX_SIZE);
    anatomy a;
    anatomy_draw(c->seed, &a);
    if (frontal) {
        memset(frontal, 0, sizeof *frontal);
        mrg_status st = render_view(&a, c, size, 0, frontal);
        if (st != MRG_OK) return st;
    }
    if (lateral) {
        memset(lateral, 0, sizeof *lateral);
        mrg_status st = render_view(&a, c, size, 1, lateral);
        if (st != MRG_OK) {
            if (frontal) mrg_image_free(frontal);
            return st;
        }
    }
    return MRG_OK;
}

float ph_case_ctr(const mrg_phantom_case *c) {
    anatomy a;
    anatomy_draw(c->seed, &a);
    return c->finding[MRG_FINDING_CARDIOMEGALY] ? a.ctr_large : a.ctr_normal;
}
