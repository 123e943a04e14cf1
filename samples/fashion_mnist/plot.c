/* plot.c — hand-written SVG of the learning curves: three panels over the epochs (losses,
 * validation accuracy, learning rate) with axes, ticks, grid, legend and the best epoch. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define WIDTH 760
#define HEAD 64         /* title and subtitle */
#define PANEL_TITLE 24  /* above each plot area */
#define PLOT_H 150      /* a plot area */
#define PANEL_BOTTOM 46 /* x ticks, the axis name and space before the next panel */
#define PANEL_H (PANEL_TITLE + PLOT_H + PANEL_BOTTOM)
#define LEFT 78
#define RIGHT 24

typedef struct axis {
    double lo, hi, step;
    int log; /* base-10 log scale */
} axis;

typedef struct panel {
    double x0, y0, w, h; /* plot area in pixels */
    axis x, y;
} panel;

/* 1, 2 or 5 times a power of ten, about range/target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

/* A linear axis over [lo, hi] widened to whole steps; a flat range gets some room. */
static axis linear_axis(double lo, double hi, int target, int from_zero)
{
    if (from_zero && lo > 0.0)
        lo = 0.0;
    if (!(hi > lo)) {
        double pad = lo != 0.0 ? fabs(lo) * 0.25 : 1.0;
        lo -= pad;
        hi += pad;
        if (from_zero && lo < 0.0 && hi > 0.0)
            lo = 0.0;
    }
    /* A little room, so that no curve runs along the frame (a zero floor stays put). */
    double room = (hi - lo) * 0.04;
    if (!(from_zero && lo == 0.0))
        lo -= room;
    hi += room;
    axis a = {.step = nice_step(hi - lo, target)};
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

static double map(const axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

static double px(const panel *p, double x)
{
    return p->x0 + map(&p->x, x) * p->w;
}

static double py(const panel *p, double y)
{
    return p->y0 + p->h - map(&p->y, y) * p->h;
}

static void label(char *out, size_t size, double v, double step)
{
    int decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, size, "%.*f", decimals, fabs(v) < step * 1e-6 ? 0.0 : v);
}

/* Frame, grid, ticks and labels of one panel. */
static void draw_axes(FILE *f, const panel *p, const char *title, const char *y_name)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", p->x0, p->y0 - 10, title);
    char text[64];
    if (p->y.log) {
        for (double e = ceil(log10(p->y.lo) - 1e-9); e <= log10(p->y.hi) + 1e-9; e += 1.0) {
            for (int mult = 1; mult <= 5; mult += (mult == 1 ? 1 : 3)) {
                double v = mult * pow(10.0, e);
                if (v < p->y.lo * (1 - 1e-9) || v > p->y.hi * (1 + 1e-9))
                    continue;
                double y = py(p, v);
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                        p->x0, y, p->x0 + p->w, y);
                snprintf(text, sizeof text, "%ge%+d", (double)mult, (int)e);
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ytick\">%s</text>\n", p->x0 - 6,
                        y + 4, text);
            }
        }
    } else {
        for (double v = p->y.lo; v <= p->y.hi + p->y.step * 1e-6; v += p->y.step) {
            double y = py(p, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                    p->x0, y, p->x0 + p->w, y);
            label(text, sizeof text, v, p->y.step);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ytick\">%s</text>\n", p->x0 - 6, y + 4,
                    text);
        }
    }
    for (double v = p->x.lo; v <= p->x.hi + 1e-9; v += p->x.step) {
        double x = px(p, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x,
                p->y0 + p->h, x, p->y0 + p->h + 5);
        label(text, sizeof text, v, p->x.step);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xtick\">%s</text>\n", x, p->y0 + p->h + 18,
                text);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
            p->x0, p->y0, p->w, p->h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xname\">epoch</text>\n", p->x0 + p->w,
            p->y0 + p->h + 32);
    fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" class=\"yname\">%s</text>\n",
            p->x0 - 58, p->y0 + p->h / 2, y_name);
}

/* A polyline with a dot per epoch; field is the offset of the value in fm_epoch_point. */
static void draw_series(FILE *f, const panel *p, const fm_epoch_point *pts, size_t n, size_t field,
                        const char *color)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&pts[i] + field);
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(p, (double)(i + 1)), py(p, v));
    }
    fprintf(f, "\"/>\n");
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&pts[i] + field);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                px(p, (double)(i + 1)), py(p, v), color);
    }
}

static void draw_best(FILE *f, const panel *p, size_t best_epoch)
{
    if (!best_epoch)
        return;
    double x = px(p, (double)best_epoch);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"best\"/>\n", x, p->y0,
            x, p->y0 + p->h);
}

static void legend_entry(FILE *f, double x, double y, const char *color, const char *text,
                         int dashed)
{
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"%s/>\n",
            x, y, x + 22, y, color, dashed ? " stroke-dasharray=\"4 3\"" : "");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n", x + 28, y + 4, text);
}

static void range_of(const fm_epoch_point *pts, size_t n, size_t field, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&pts[i] + field);
        if (isfinite(v)) {
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    }
    if (!isfinite(*lo))
        *lo = *hi = 0.0;
}

/* The title is the only text that comes from outside. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

static void write_svg(FILE *f, const char *title, const char *subtitle, const fm_epoch_point *pts,
                      size_t n)
{
    int height = HEAD + 3 * PANEL_H - PANEL_BOTTOM + 40;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            WIDTH, height, WIDTH, height);
    fprintf(f, "<style>\n"
               " .title{font-size:13px;font-weight:bold;fill:#222}\n"
               " .head{font-size:15px;font-weight:bold;fill:#111}\n"
               " .sub{font-size:12px;fill:#444}\n"
               " .ytick{font-size:11px;text-anchor:end;fill:#444}\n"
               " .xtick{font-size:11px;text-anchor:middle;fill:#444}\n"
               " .xname{font-size:11px;text-anchor:end;fill:#444}\n"
               " .yname{font-size:12px;text-anchor:middle;fill:#333}\n"
               " .legend{font-size:12px;fill:#222}\n"
               " .grid{stroke:#e4e4e4;stroke-width:1}\n"
               " .axis{stroke:#555;stroke-width:1}\n"
               " .frame{fill:none;stroke:#555;stroke-width:1}\n"
               " .best{stroke:#888;stroke-width:1.2;stroke-dasharray:5 4}\n"
               "</style>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    /* A long title (many KEY=VALUE options) is squeezed to the width rather than cut off. */
    double room = WIDTH - LEFT - RIGHT;
    if ((double)strlen(title) * 8.6 > room)
        fprintf(f,
                "<text x=\"%d\" y=\"26\" class=\"head\" textLength=\"%.0f\" "
                "lengthAdjust=\"spacingAndGlyphs\">",
                LEFT, room);
    else
        fprintf(f, "<text x=\"%d\" y=\"26\" class=\"head\">", LEFT);
    put_escaped(f, title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"46\" class=\"sub\">", LEFT);
    put_escaped(f, subtitle);
    fprintf(f, "</text>\n");

    size_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (pts[i].best)
            best = i + 1;
    axis x = n > 1 ? linear_axis(1.0, (double)n, 10, 0) : (axis){0.0, 2.0, 1.0, 0};
    if (n > 1) { /* whole epochs, starting at 1 */
        x.step = fmax(1.0, round(x.step));
        x.lo = 1.0;
        x.hi = (double)n;
    }
    panel p[3];
    for (int i = 0; i < 3; i++)
        p[i] = (panel){.x0 = LEFT,
                       .y0 = HEAD + PANEL_TITLE + i * PANEL_H,
                       .w = WIDTH - LEFT - RIGHT,
                       .h = PLOT_H,
                       .x = x};

    double lo, hi, lo2, hi2;
    range_of(pts, n, offsetof(fm_epoch_point, train_loss), &lo, &hi);
    range_of(pts, n, offsetof(fm_epoch_point, valid_loss), &lo2, &hi2);
    p[0].y = linear_axis(fmin(lo, lo2), fmax(hi, hi2), 4, 0);
    draw_axes(f, &p[0], "Loss (softmax cross-entropy)", "loss");
    draw_best(f, &p[0], best);
    draw_series(f, &p[0], pts, n, offsetof(fm_epoch_point, train_loss), "#1f77b4");
    draw_series(f, &p[0], pts, n, offsetof(fm_epoch_point, valid_loss), "#ff7f0e");
    double lx = p[0].x0 + p[0].w - 150, ly = p[0].y0 + 16;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"142\" height=\"%d\" fill=\"white\" "
            "fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n",
            lx - 8, ly - 11, best ? 62 : 44);
    legend_entry(f, lx, ly, "#1f77b4", "train", 0);
    legend_entry(f, lx, ly + 18, "#ff7f0e", "validation", 0);
    if (best)
        legend_entry(f, lx, ly + 36, "#888", "best epoch", 1);

    range_of(pts, n, offsetof(fm_epoch_point, valid_accuracy), &lo, &hi);
    p[1].y = linear_axis(lo, fmin(hi, 1.0), 4, 0);
    draw_axes(f, &p[1], "Validation accuracy", "accuracy");
    draw_best(f, &p[1], best);
    draw_series(f, &p[1], pts, n, offsetof(fm_epoch_point, valid_accuracy), "#2ca02c");

    range_of(pts, n, offsetof(fm_epoch_point, lr), &lo, &hi);
    if (lo > 0.0 && hi / lo >= 10.0) { /* decaying schedules read best on a log scale */
        p[2].y = (axis){pow(10.0, floor(log10(lo))), pow(10.0, ceil(log10(hi))), 1.0, 1};
    } else {
        p[2].y = linear_axis(lo, hi, 4, 1);
    }
    draw_axes(f, &p[2],
              p[2].y.log ? "Learning rate (log scale, at the end of each epoch)"
                         : "Learning rate (at the end of each epoch)",
              "lr");
    draw_best(f, &p[2], best);
    draw_series(f, &p[2], pts, n, offsetof(fm_epoch_point, lr), "#9467bd");
    fprintf(f, "</svg>\n");
}

int fm_plot_write(const char *path, const char *title, const char *subtitle,
                  const fm_epoch_point *points, size_t n, char *message, size_t message_size)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(message, message_size, "%s: cannot write: %s", tmp, strerror(errno));
        return 1;
    }
    write_svg(f, title, subtitle, points, n);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(message, message_size, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(message, message_size, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}
