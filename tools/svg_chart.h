/* A line chart as inline SVG: one series of (x, y) points with its axes'
 * ranges labelled and, optionally, vertical marks (e.g. where each epoch
 * ends). Nothing but SVG elements: no script, no external style. */
#ifndef MRG_TOOLS_SVG_CHART_H
#define MRG_TOOLS_SVG_CHART_H

#include <stdbool.h>
#include <stdio.h>

/* Longer series are drawn as this many means of consecutive points. */
#define SVG_CHART_MAX_POINTS 500

typedef struct svg_chart {
    const char *title;   /* above the plot */
    const char *x_label; /* under the x axis */
    const double *x, *y; /* n points, x increasing; non-finite points are left out */
    int n;
    const double *marks; /* n_marks x positions drawn as thin vertical lines */
    int n_marks;
    const char *mark_label; /* mark k is titled "<mark_label> k+1" (NULL: untitled) */
    bool y_from_zero;       /* the y axis starts at 0 (scores), else at the lowest y */
} svg_chart;

/* Writes <figure><svg>...</svg></figure>. The polyline carries the number
 * of points it draws in data-points; with no finite point the figure says
 * "no data". */
void svg_chart_write(FILE *f, const svg_chart *c);

#endif
