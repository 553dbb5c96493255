/* plot.h — line plots of named (x, y) series (loss curves): nice-number
 * ticks, grid, legend, title, optional log-y, drawn onto a new tk_canvas. */
#ifndef SIMVTP_TOOLKIT_PLOT_H
#define SIMVTP_TOOLKIT_PLOT_H

#include "image.h"

typedef struct {
    const char *name;     /* legend text; NULL or "" leaves the series out of the legend */
    const double *x, *y;  /* n points, in order; a non-finite point (or y <= 0 with log_y) breaks the curve */
    int n;
    const tk_rgb *color;  /* NULL: tk_plot_color(index) */
} tk_series;

typedef struct {
    int width, height;                  /* canvas size; 0 means 900 x 560 */
    const char *title, *xlabel, *ylabel; /* each may be NULL */
    int log_y;                          /* log10 y axis */
    int line_width;                     /* curve thickness; 0 means 2 */
    int font_scale;                     /* tick and legend text scale; 0 means 1 (title twice that) */
} tk_plot_opts;

/* Axis mapping: the plot area spans pixels left..right and top..bottom
 * (inclusive); x runs x0..x1 and y (log10 y when log_y) y0..y1, bottom to top.
 * xstep, ystep: tick spacing (ystep is 1 on a log axis, whose ticks are 1, 2, 5
 * or 1..9 times powers of ten depending on its span). */
typedef struct {
    int left, top, right, bottom;
    double x0, x1, y0, y1, xstep, ystep;
    int log_y;
} tk_plot_axes;

/* The default series colours (10, then repeating). */
tk_rgb tk_plot_color(int i);
/* Fit axes (nice tick-aligned ranges, margins) to the series as tk_plot_render would. */
void tk_plot_axes_fit(const tk_plot_opts *o, const tk_series *s, int ns, tk_plot_axes *ax);
/* Pixel of data point (x, y): px = left + round((x - x0) / (x1 - x0) * (right - left)),
 * py = bottom - round((Y - y0) / (y1 - y0) * (bottom - top)) with Y = y or log10(y).
 * Returns 1, or 0 (pixels untouched) when the point is not finite or y <= 0 on a log axis. */
int tk_plot_map(const tk_plot_axes *ax, double x, double y, int *px, int *py);
/* Draw the plot (opts may be NULL); the axes used go to *ax if non-NULL. NULL on OOM. */
tk_canvas *tk_plot_render(const tk_plot_opts *o, const tk_series *s, int ns, tk_plot_axes *ax);

#endif
