/* plot.c — hand-written SVG of the learning curves: three panels over the epochs (losses,
 * validation accuracy, learning rate) with axes, ticks, grid, legend and the best epoch. */
#include "plot.h"
#include "plot_svg.h"

#include <math.h>
#include <stdio.h>

#define WIDTH 760
#define HEAD 64         /* title and subtitle */
#define PANEL_TITLE 24  /* above each plot area */
#define PLOT_H 150      /* a plot area */
#define PANEL_BOTTOM 46 /* x ticks, the axis name and space before the next panel */
#define PANEL_H (PANEL_TITLE + PLOT_H + PANEL_BOTTOM)
#define LEFT 78
#define RIGHT 24

/* A polyline with a dot per epoch; field is the offset of the value in fm_epoch_point. */
static void draw_series(FILE *f, const fm_panel *p, const fm_epoch_point *pts, size_t n,
                        size_t field, const char *color)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&pts[i] + field);
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", fm_svg_px(p, (double)(i + 1)), fm_svg_py(p, v));
    }
    fprintf(f, "\"/>\n");
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&pts[i] + field);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                fm_svg_px(p, (double)(i + 1)), fm_svg_py(p, v), color);
    }
}

static void draw_best(FILE *f, const fm_panel *p, size_t best_epoch)
{
    if (!best_epoch)
        return;
    double x = fm_svg_px(p, (double)best_epoch);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"best\"/>\n", x, p->y0,
            x, p->y0 + p->h);
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

typedef struct curves {
    const char *title, *subtitle;
    const fm_epoch_point *pts;
    size_t n;
} curves;

static void write_svg(FILE *f, const void *data)
{
    const curves *c = data;
    const fm_epoch_point *pts = c->pts;
    size_t n = c->n;
    fm_svg_begin(f, WIDTH, HEAD + 3 * PANEL_H - PANEL_BOTTOM + 40);
    fm_svg_head(f, WIDTH, LEFT, RIGHT, c->title, c->subtitle);

    size_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (pts[i].best)
            best = i + 1;
    fm_panel p[3];
    for (int i = 0; i < 3; i++)
        p[i] = (fm_panel){.x0 = LEFT,
                          .y0 = HEAD + PANEL_TITLE + i * PANEL_H,
                          .w = WIDTH - LEFT - RIGHT,
                          .h = PLOT_H,
                          .x = fm_svg_epoch_axis(n)};

    double lo, hi, lo2, hi2;
    range_of(pts, n, offsetof(fm_epoch_point, train_loss), &lo, &hi);
    range_of(pts, n, offsetof(fm_epoch_point, valid_loss), &lo2, &hi2);
    p[0].y = fm_svg_linear_axis(fmin(lo, lo2), fmax(hi, hi2), 4, 0);
    fm_svg_axes(f, &p[0], "Loss (softmax cross-entropy)", "loss");
    draw_best(f, &p[0], best);
    draw_series(f, &p[0], pts, n, offsetof(fm_epoch_point, train_loss), "#1f77b4");
    draw_series(f, &p[0], pts, n, offsetof(fm_epoch_point, valid_loss), "#ff7f0e");
    double lx = p[0].x0 + p[0].w - 150, ly = p[0].y0 + 16;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"142\" height=\"%d\" fill=\"white\" "
            "fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n",
            lx - 8, ly - 11, best ? 62 : 44);
    fm_svg_legend_entry(f, lx, ly, "#1f77b4", NULL, "train");
    fm_svg_legend_entry(f, lx, ly + 18, "#ff7f0e", NULL, "validation");
    if (best)
        fm_svg_legend_entry(f, lx, ly + 36, "#888", "4 3", "best epoch");

    range_of(pts, n, offsetof(fm_epoch_point, valid_accuracy), &lo, &hi);
    p[1].y = fm_svg_linear_axis(lo, fmin(hi, 1.0), 4, 0);
    fm_svg_axes(f, &p[1], "Validation accuracy", "accuracy");
    draw_best(f, &p[1], best);
    draw_series(f, &p[1], pts, n, offsetof(fm_epoch_point, valid_accuracy), "#2ca02c");

    range_of(pts, n, offsetof(fm_epoch_point, lr), &lo, &hi);
    if (lo > 0.0 && hi / lo >= 10.0) { /* decaying schedules read best on a log scale */
        p[2].y = (fm_axis){pow(10.0, floor(log10(lo))), pow(10.0, ceil(log10(hi))), 1.0, 1};
    } else {
        p[2].y = fm_svg_linear_axis(lo, hi, 4, 1);
    }
    fm_svg_axes(f, &p[2],
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
    curves c = {title, subtitle, points, n};
    return fm_svg_write_file(path, write_svg, &c, message, message_size);
}
