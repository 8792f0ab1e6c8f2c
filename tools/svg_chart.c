/* Inline SVG line charts (see svg_chart.h). */
#include <math.h>
#include <stdlib.h>

#include "html_out.h"
#include "svg_chart.h"

/* The plot area inside a W x H view box. */
enum { W = 320, H = 200, L = 46, R = 12, T = 26, B = 34 };

static void range(const double *v, int n, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo) *lo = v[i];
            if (v[i] > *hi) *hi = v[i];
        }
    if (*lo > *hi) *lo = *hi = 0;
    if (*hi - *lo < 1e-12) { /* a flat series: a band around it */
        double pad = fabs(*lo) > 1e-12 ? fabs(*lo) * 0.05 : 1;
        *lo -= pad;
        *hi += pad;
    }
}

/* %g with few digits: axis labels. */
static void put_num(FILE *f, double v) { fprintf(f, "%.3g", v); }

void svg_chart_write(FILE *f, const svg_chart *c) {
    /* group consecutive points so that at most SVG_CHART_MAX_POINTS remain */
    int group = c->n > SVG_CHART_MAX_POINTS ? (c->n + SVG_CHART_MAX_POINTS - 1) / SVG_CHART_MAX_POINTS : 1;
    int m = 0;
    double *px = malloc(sizeof *px * (size_t)(c->n + 1)), *py = malloc(sizeof *py * (size_t)(c->n + 1));
    for (int i = 0; px && py && i < c->n; i += group) {
        double sx = 0, sy = 0;
        int k = 0;
        for (int j = i; j < c->n && j < i + group; j++)
            if (isfinite(c->x[j]) && isfinite(c->y[j])) {
                sx += c->x[j];
                sy += c->y[j];
                k++;
            }
        if (k) {
            px[m] = sx / k;
            py[m] = sy / k;
            m++;
        }
    }
    fputs("<figure class=\"chart\"><svg viewBox=\"0 0 320 200\" role=\"img\" aria-label=\"", f);
    html_escape(f, c->title);
    fputs("\">\n<text x=\"160\" y=\"16\" text-anchor=\"middle\" "
          "class=\"ct\">",
          f);
    html_escape(f, c->title);
    fputs("</text>\n", f);
    if (m == 0) {
        fputs("<text x=\"160\" y=\"110\" text-anchor=\"middle\">no data</text></svg></figure>\n", f);
        free(px);
        free(py);
        return;
    }
    double x0, x1, y0, y1;
    range(px, m, &x0, &x1);
    range(py, m, &y0, &y1);
    if (c->y_from_zero) {
        /* scores: from 0 (or below) to the highest value; 0 to 1 when all are 0 */
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < m; i++) {
            lo = fmin(lo, py[i]);
            hi = fmax(hi, py[i]);
        }
        y0 = fmin(lo, 0);
        y1 = hi - y0 > 1e-12 ? hi : y0 + 1;
    }
    const double pw = W - L - R, ph = H - T - B;
#define SX(v) (L + ((v) - x0) / (x1 - x0) * pw)
#define SY(v) (T + (1 - ((v) - y0) / (y1 - y0)) * ph)
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" class=\"cf\"/>\n", L, T, pw, ph);
    for (int k = 0; k < c->n_marks; k++) {
        if (!(c->marks[k] >= x0 && c->marks[k] <= x1)) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%g\" class=\"cm\">", SX(c->marks[k]), T,
                SX(c->marks[k]), T + ph);
        if (c->mark_label) {
            fputs("<title>", f);
            html_escape(f, c->mark_label);
            fprintf(f, " %d</title>", k + 1);
        }
        fputs("</line>\n", f);
    }
    /* axis labels: the ranges at the corners */
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"ca\">", L - 4, T + 4);
    put_num(f, y1);
    fprintf(f, "</text><text x=\"%d\" y=\"%g\" text-anchor=\"end\" class=\"ca\">", L - 4, T + ph);
    put_num(f, y0);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%g\" class=\"ca\">", L, T + ph + 13);
    put_num(f, x0);
    fprintf(f, "</text><text x=\"%g\" y=\"%g\" text-anchor=\"end\" class=\"ca\">", (double)(W - R), T + ph + 13);
    put_num(f, x1);
    fprintf(f, "</text><text x=\"%g\" y=\"%d\" text-anchor=\"middle\" class=\"ca\">", L + pw / 2, H - 4);
    html_escape(f, c->x_label);
    fprintf(f, "</text>\n<polyline class=\"cl\" data-points=\"%d\" points=\"", m);
    for (int i = 0; i < m; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", SX(px[i]), SY(py[i]));
    fputs("\"/>\n", f);
    /* dots (with their values on hover) where there are few enough to see */
    if (m <= 60)
        for (int i = 0; i < m; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" class=\"cd\"><title>%g: %.4g</title></circle>\n",
                    SX(px[i]), SY(py[i]), px[i], py[i]);
#undef SX
#undef SY
    fputs("</svg></figure>\n", f);
    free(px);
    free(py);
}
