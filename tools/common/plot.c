/* plot.c — loss-curve plots: Heckbert nice-number ticks (log axes: ends and
 * labels at 1, 2, 5 times powers of ten), light grid, curves clipped to the plot
 * area, a legend in the emptiest corner, title and axis labels. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { TICK = 5, PAD = 10 };
static const tk_rgb WHITE = {255, 255, 255}, INK = {40, 40, 40}, GRID = {228, 228, 228},
                    MINOR = {242, 242, 242}, TEXT = {20, 20, 20};

tk_rgb tk_plot_color(int i)
{
    static const tk_rgb pal[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                   {188, 189, 34}, {23, 190, 207}};
    return pal[(i % 10 + 10) % 10];
}

static tk_plot_opts defaults(const tk_plot_opts *o)
{
    tk_plot_opts d = o ? *o : (tk_plot_opts){0};
    if (d.width <= 0 || d.height <= 0)
        d.width = 900, d.height = 560;
    d.line_width = d.line_width > 0 ? d.line_width : 2;
    d.font_scale = d.font_scale > 0 ? d.font_scale : 1;
    return d;
}

/* Heckbert's nice number: 1, 2, 5 or 10 times a power of ten near v. */
static double nice(double v, int round_it)
{
    double e = pow(10, floor(log10(v))), f = v / e;
    if (round_it)
        f = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        f = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return f * e;
}

/* Expand [*lo, *hi] to multiples of a nice step giving about n ticks; returns the step. */
static double nice_range(double *lo, double *hi, int n)
{
    if (!(*hi > *lo)) { /* one value: open a window around it */
        double d = *lo != 0 ? fabs(*lo) * 0.5 : 1;
        *lo -= d, *hi += d;
    }
    double step = nice(nice(*hi - *lo, 0) / (n - 1), 1);
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

/* Tick label: k / M suffixes for large steps, decimals from the step. */
static void tick_label(char *buf, size_t n, double v, double step, int log_y)
{
    if (log_y || v == 0) {
        snprintf(buf, n, "%g", v);
        return;
    }
    const char *suf = "";
    if (step >= 1e6)
        v /= 1e6, step /= 1e6, suf = "M";
    else if (step >= 1e3)
        v /= 1e3, step /= 1e3, suf = "k";
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f%s", dec, fabs(v) < step * 1e-6 ? 0.0 : v, suf);
}

static int usable(const tk_plot_axes *ax, double x, double y)
{
    return isfinite(x) && isfinite(y) && (!ax->log_y || y > 0);
}

/* Log axis ends: the nearest 1, 2 or 5 times a power of ten below / above v (log10 units). */
static double log_floor(double v)
{
    double k = floor(v + 1e-9), r = k;
    for (int m = 2; m <= 5; m += 3)
        if (k + log10(m) <= v + 1e-9)
            r = k + log10(m);
    return r;
}

static double log_ceil(double v)
{
    double k = ceil(v - 1e-9);
    for (int m = 2; m <= 5; m += 3)
        if (k - 1 + log10(m) >= v - 1e-9)
            return k - 1 + log10(m);
    return k;
}

/* Ticks in [lo, hi] (axis units): linear multiples of step; on a log axis mantissas
 * 1..9 (span up to a decade), 1, 2, 5 (up to 2.5 decades) or 1 (every other decade
 * past 8) times powers of ten. Fills up to cap values and returns the count. */
static int ticks(double lo, double hi, double step, int log_y, double *t, int cap)
{
    int n = 0;
    if (!log_y) {
        for (long i = lround(lo / step); (double)i * step <= hi + step * 1e-9 && n < cap; i++)
            t[n++] = (double)i * step;
        return n;
    }
    static const int all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, few[] = {1, 2, 5};
    double span = hi - lo;
    const int *m = span <= 1 + 1e-9 ? all : few;
    int nm = span <= 1 + 1e-9 ? 9 : span <= 2.5 ? 3 : 1, dk = span > 8 ? 2 : 1;
    for (double k = floor(lo + 1e-9); k <= hi + 1e-9; k += dk)
        for (int i = 0; i < nm && n < cap; i++)
            if (k + log10(m[i]) >= lo - 1e-9 && k + log10(m[i]) <= hi + 1e-9)
                t[n++] = k + log10(m[i]);
    return n;
}

void tk_plot_axes_fit(const tk_plot_opts *opts, const tk_series *s, int ns, tk_plot_axes *ax)
{
    tk_plot_opts o = defaults(opts);
    memset(ax, 0, sizeof *ax);
    ax->log_y = o.log_y;
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++)
            if (usable(ax, s[i].x[j], s[i].y[j])) {
                double y = o.log_y ? log10(s[i].y[j]) : s[i].y[j];
                xl = fmin(xl, s[i].x[j]), xh = fmax(xh, s[i].x[j]);
                yl = fmin(yl, y), yh = fmax(yh, y);
            }
    if (!(xl <= xh))
        xl = 0, xh = 1, yl = 0, yh = 1;
    int fs = o.font_scale, ch = TK_GLYPH_H * fs;
    ax->x0 = xl, ax->x1 = xh;
    ax->xstep = nice_range(&ax->x0, &ax->x1, o.width / 120 > 3 ? o.width / 120 : 3);
    ax->y0 = yl, ax->y1 = yh;
    if (o.log_y) {
        ax->y0 = log_floor(yl), ax->y1 = log_ceil(yh);
        if (!(ax->y1 > ax->y0 + 1e-9))
            ax->y0 -= 1, ax->y1 += 1;
        ax->ystep = 1;
    } else {
        ax->ystep = nice_range(&ax->y0, &ax->y1, o.height / 70 > 3 ? o.height / 70 : 3);
    }
    /* left margin: the widest y tick label */
    double t[64];
    int nt = ticks(ax->y0, ax->y1, ax->ystep, ax->log_y, t, 64), lw = 0;
    for (int i = 0; i < nt; i++) {
        char b[32];
        tick_label(b, sizeof b, ax->log_y ? pow(10, t[i]) : t[i], ax->ystep, ax->log_y);
        int w = tk_text_width(b, fs);
        lw = w > lw ? w : lw;
    }
    char b[32];
    tick_label(b, sizeof b, ax->x1, ax->xstep, 0);
    ax->left = PAD + lw + TICK + 4;
    ax->right = o.width - 1 - (PAD + tk_text_width(b, fs) / 2);
    ax->top = PAD + (o.title ? 2 * ch + PAD : 0) + (o.ylabel ? ch + 6 : 0) + ch / 2;
    ax->bottom = o.height - 1 - (PAD + TICK + 4 + ch + (o.xlabel ? ch + 8 : 0));
}

int tk_plot_map(const tk_plot_axes *ax, double x, double y, int *px, int *py)
{
    if (!usable(ax, x, y))
        return 0;
    double Y = ax->log_y ? log10(y) : y;
    double fx = (x - ax->x0) / (ax->x1 - ax->x0), fy = (Y - ax->y0) / (ax->y1 - ax->y0);
    if (!(fabs(fx) < 1e6 && fabs(fy) < 1e6)) /* far outside: keep int arithmetic sane */
        return 0;
    *px = ax->left + (int)lround(fx * (ax->right - ax->left));
    *py = ax->bottom - (int)lround(fy * (ax->bottom - ax->top));
    return 1;
}

static void draw_axes(tk_canvas *c, const tk_plot_axes *ax, int fs)
{
    double t[64];
    char b[32];
    if (ax->log_y) /* minor grid: 2..9 times each decade */
        for (double d = floor(ax->y0); d < ax->y1; d += 1)
            for (int m = 2; m <= 9; m++)
                if (d + log10(m) > ax->y0 && d + log10(m) < ax->y1) {
                    int y = ax->bottom - (int)lround((d + log10(m) - ax->y0) / (ax->y1 - ax->y0) * (ax->bottom - ax->top));
                    tk_line(c, ax->left, y, ax->right, y, 1, MINOR);
                }
    int nt = ticks(ax->y0, ax->y1, ax->ystep, ax->log_y, t, 64);
    for (int i = 0; i < nt; i++) {
        int y = ax->bottom - (int)lround((t[i] - ax->y0) / (ax->y1 - ax->y0) * (ax->bottom - ax->top));
        tk_line(c, ax->left, y, ax->right, y, 1, GRID);
        tk_line(c, ax->left - TICK, y, ax->left, y, 1, INK);
        tick_label(b, sizeof b, ax->log_y ? pow(10, t[i]) : t[i], ax->ystep, ax->log_y);
        tk_text(c, ax->left - TICK - 4 - tk_text_width(b, fs), y - (7 * fs) / 2, b, fs, TEXT);
    }
    nt = ticks(ax->x0, ax->x1, ax->xstep, 0, t, 64);
    for (int i = 0; i < nt; i++) {
        int x = ax->left + (int)lround((t[i] - ax->x0) / (ax->x1 - ax->x0) * (ax->right - ax->left));
        tk_line(c, x, ax->top, x, ax->bottom, 1, GRID);
        tk_line(c, x, ax->bottom, x, ax->bottom + TICK, 1, INK);
        tick_label(b, sizeof b, t[i], ax->xstep, 0);
        tk_text(c, x - tk_text_width(b, fs) / 2, ax->bottom + TICK + 4, b, fs, TEXT);
    }
    tk_rect(c, ax->left, ax->top, ax->right - ax->left + 1, ax->bottom - ax->top + 1, 1, INK);
}

static void draw_curve(tk_canvas *c, const tk_plot_axes *ax, const tk_series *s, int lw, tk_rgb col)
{
    int have = 0, px = 0, py = 0;
    for (int j = 0; j < s->n; j++) {
        int x, y;
        if (!tk_plot_map(ax, s->x[j], s->y[j], &x, &y)) {
            have = 0;
            continue;
        }
        if (!have || x != px || y != py)
            tk_line(c, have ? px : x, have ? py : y, x, y, lw, col);
        have = 1, px = x, py = y;
    }
}

/* Legend box in whichever plot-area corner covers the fewest data points. */
static void draw_legend(tk_canvas *c, const tk_plot_axes *ax, const tk_series *s, int ns, int fs, int lw)
{
    int rows = 0, tw = 0, ch = TK_GLYPH_H * fs, rh = ch + 6, sw = 24;
    for (int i = 0; i < ns; i++)
        if (s[i].name && *s[i].name) {
            int w = tk_text_width(s[i].name, fs);
            tw = w > tw ? w : tw;
            rows++;
        }
    if (!rows)
        return;
    int bw = 8 + sw + 6 + tw + 8, bh = 6 + rows * rh, m = 8, best = -1, bx = 0, by = 0;
    for (int corner = 0; corner < 4; corner++) {
        int x = corner & 1 ? ax->left + m : ax->right - m - bw;
        int y = corner & 2 ? ax->bottom - m - bh : ax->top + m, hits = 0;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < s[i].n; j++) {
                int px, py;
                if (tk_plot_map(ax, s[i].x[j], s[i].y[j], &px, &py) && px >= x - lw && px < x + bw + lw &&
                    py >= y - lw && py < y + bh + lw)
                    hits++;
            }
        if (best < 0 || hits < best)
            best = hits, bx = x, by = y;
    }
    tk_rect_fill(c, bx, by, bw, bh, WHITE);
    tk_rect(c, bx, by, bw, bh, 1, TK_RGB(170, 170, 170));
    int y = by + 6;
    for (int i = 0; i < ns; i++) {
        if (!s[i].name || !*s[i].name)
            continue;
        tk_rgb col = s[i].color ? *s[i].color : tk_plot_color(i);
        int mid = y + (7 * fs) / 2;
        tk_line(c, bx + 8, mid, bx + 8 + sw, mid, lw + 1, col);
        tk_text(c, bx + 8 + sw + 6, y, s[i].name, fs, TEXT);
        y += rh;
    }
}

tk_canvas *tk_plot_render(const tk_plot_opts *opts, const tk_series *s, int ns, tk_plot_axes *ax_out)
{
    tk_plot_opts o = defaults(opts);
    tk_plot_axes ax;
    tk_plot_axes_fit(&o, s, ns, &ax);
    tk_canvas *c = tk_canvas_new(o.width, o.height, WHITE);
    if (!c)
        return NULL;
    int fs = o.font_scale, ch = TK_GLYPH_H * fs;
    draw_axes(c, &ax, fs);
    tk_canvas_clip(c, ax.left, ax.top, ax.right - ax.left + 1, ax.bottom - ax.top + 1);
    for (int i = 0; i < ns; i++)
        draw_curve(c, &ax, &s[i], o.line_width, s[i].color ? *s[i].color : tk_plot_color(i));
    tk_canvas_unclip(c);
    draw_legend(c, &ax, s, ns, fs, o.line_width);
    if (o.title)
        tk_text(c, (o.width - tk_text_width(o.title, 2 * fs)) / 2, PAD, o.title, 2 * fs, TEXT);
    if (o.ylabel)
        tk_text(c, PAD, ax.top - ch / 2 - ch - 2, o.ylabel, fs, TEXT);
    if (o.xlabel)
        tk_text(c, (ax.left + ax.right - tk_text_width(o.xlabel, fs)) / 2, ax.bottom + TICK + 4 + ch + 8, o.xlabel, fs, TEXT);
    if (ax_out)
        *ax_out = ax;
    return c;
}
