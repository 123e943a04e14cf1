/* plot_compare.c — the --compare picture: two panels over the epochs (validation loss and
 * validation accuracy), one clipped line per optimizer, and the legend to their right. */
#include "plot_compare.h"
#include "plot_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define WIDTH 980
#define HEAD 64         /* title and subtitle */
#define PANEL_TITLE 24  /* above each plot area */
#define PLOT_W 560      /* a plot area */
#define PLOT_H 210      /* a plot area */
#define PANEL_BOTTOM 46 /* x ticks, the axis name and space before the next panel */
#define PANEL_H (PANEL_TITLE + PLOT_H + PANEL_BOTTOM)
#define LEFT 78
#define LEGEND_X (LEFT + PLOT_W + 40)
#define LEGEND_W (WIDTH - LEGEND_X - 16)
#define ENTRY_H 23  /* a legend entry's line and name, before the hyperparameters */
#define DETAIL_H 14 /* a line of the hyperparameters */
#define DETAIL_CHARS ((LEGEND_W - 28) / 7) /* on a line of them (11 px text, wide glyphs) */
/* An axis leaves out values more than this many times as far from perfect (loss 0, accuracy
 * 1) as the median run's best: typical runs' first epochs stay in view, a diverged run not. */
#define OFF_SCALE 3.0

/* matplotlib's ten and black: eleven that tell apart; more runs take them again, dashed. */
static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf", "#111111"};
#define COLOURS (sizeof colours / sizeof colours[0])

typedef struct picture {
    const char *title, *subtitle;
    const fm_compare_series *series;
    size_t count;
} picture;

static const char *colour_of(size_t i)
{
    return colours[i % COLOURS];
}

static const char *dash_of(size_t i)
{
    return (i / COLOURS) % 2 ? "6 3" : NULL;
}

static double value(const fm_epoch_point *p, int accuracy)
{
    return accuracy ? p->valid_accuracy : p->valid_loss;
}

/* How far from perfect: the loss, or 1 − accuracy. Lower is better in both panels. */
static double distance(const fm_epoch_point *p, int accuracy)
{
    return accuracy ? 1.0 - p->valid_accuracy : p->valid_loss;
}

/* A run's best distance over its epochs; NaN when it has no finite value. */
static double run_best(const fm_compare_series *s, int accuracy)
{
    double best = NAN;
    for (size_t i = 0; i < s->n; i++) {
        double d = distance(&s->points[i], accuracy);
        if (isfinite(d) && !(d >= best))
            best = d;
    }
    return best;
}

/* The lower median of the runs' finite bests (no allocation: a few dozen runs at most). */
static double median_best(const picture *pic, int accuracy)
{
    size_t finite = 0;
    for (size_t i = 0; i < pic->count; i++)
        finite += isfinite(run_best(&pic->series[i], accuracy)) != 0;
    size_t k = finite ? (finite - 1) / 2 : 0;
    for (size_t i = 0; i < pic->count; i++) {
        double v = run_best(&pic->series[i], accuracy);
        size_t less = 0, at_most = 0;
        for (size_t j = 0; j < pic->count && isfinite(v); j++) {
            double w = run_best(&pic->series[j], accuracy);
            less += isfinite(w) && w < v;
            at_most += isfinite(w) && w <= v;
        }
        if (isfinite(v) && less <= k && k < at_most)
            return v;
    }
    return NAN;
}

static fm_axis value_axis(const picture *pic, int accuracy)
{
    double cap = OFF_SCALE * median_best(pic, accuracy);
    if (!(cap > 0.0))
        cap = INFINITY;
    double lo = INFINITY, hi = -INFINITY; /* in distance */
    for (size_t i = 0; i < pic->count; i++) {
        for (size_t e = 0; e < pic->series[i].n; e++) {
            double d = distance(&pic->series[i].points[e], accuracy);
            if (isfinite(d) && d <= cap) {
                lo = fmin(lo, d);
                hi = fmax(hi, d);
            }
        }
    }
    if (!isfinite(lo))
        lo = hi = accuracy ? 0.9 : 0.5; /* nothing to show yet: some axis */
    if (accuracy)
        return fm_svg_linear_axis(1.0 - hi, fmin(1.0 - lo, 1.0), 5, 0);
    return fm_svg_linear_axis(lo, hi, 5, 0);
}

/* Far-away values are pinned a little outside the frame, so the file keeps short numbers;
 * the clip hides the difference. */
static double pinned_y(const fm_panel *p, double v)
{
    return fmin(fmax(fm_svg_py(p, v), p->y0 - 50.0), p->y0 + p->h + 50.0);
}

/* One run in one panel: polylines through its finite values (a NaN epoch breaks the line)
 * and a dot per epoch. */
static void draw_run(FILE *f, const fm_panel *p, const fm_compare_series *s, int accuracy,
                     const char *colour, const char *dash)
{
    int open = 0;
    for (size_t e = 0; e < s->n; e++) {
        double v = value(&s->points[e], accuracy);
        if (!isfinite(v)) {
            if (open)
                fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        if (!open) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"", colour);
            if (dash)
                fprintf(f, " stroke-dasharray=\"%s\"", dash);
            fprintf(f, " points=\"");
        }
        fprintf(f, "%s%.1f,%.1f", open ? " " : "", fm_svg_px(p, (double)(e + 1)), pinned_y(p, v));
        open = 1;
    }
    if (open)
        fputs("\"/>\n", f);
    for (size_t e = 0; e < s->n; e++) {
        double v = value(&s->points[e], accuracy);
        if (isfinite(v))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n",
                    fm_svg_px(p, (double)(e + 1)), pinned_y(p, v), colour);
    }
}

static void draw_panel(FILE *f, const picture *pic, const fm_panel *p, int accuracy)
{
    fm_svg_axes(f, p, accuracy ? "Validation accuracy" : "Validation loss (softmax cross-entropy)",
                accuracy ? "accuracy" : "loss");
    /* Lines leave the frame rather than cross the axes' labels. */
    fprintf(f,
            "<clipPath id=\"panel%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#panel%d)\">\n",
            accuracy, p->x0 - 3, p->y0 - 3, p->w + 6, p->h + 6, accuracy);
    for (size_t i = 0; i < pic->count; i++)
        draw_run(f, p, &pic->series[i], accuracy, colour_of(i), dash_of(i));
    fprintf(f, "</g>\n");
}

/* What the legend says of a run whose last epoch is out of view in a panel, or "". */
static const char *off_chart_note(const fm_compare_series *s, const fm_panel *p)
{
    static const char *const notes[4] = {"", " (loss ends off the chart)",
                                         " (accuracy ends off the chart)",
                                         " (ends off both charts)"};
    if (!s->n)
        return "";
    int out = 0;
    for (int accuracy = 0; accuracy < 2; accuracy++) {
        double v = value(&s->points[s->n - 1], accuracy);
        if (!isfinite(v) || v < p[accuracy].y.lo || v > p[accuracy].y.hi)
            out |= 1 << accuracy;
    }
    return notes[out];
}

/* The hyperparameters under a legend entry from (x, y), wrapped at spaces into lines of at
 * most DETAIL_CHARS (a longer word is cut); f NULL only counts. Returns the lines. */
static int draw_detail(FILE *f, double x, double y, const char *detail)
{
    int lines = 0;
    for (const char *p = detail; *p;) {
        size_t len = strlen(p), cut = len;
        if (len > DETAIL_CHARS) { /* at the last space that fits, else at the width */
            for (cut = DETAIL_CHARS; cut > 0 && p[cut] != ' '; cut--)
                ;
            if (!cut)
                cut = DETAIL_CHARS;
        }
        if (f) {
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)cut, p);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">", x,
                    y + lines * DETAIL_H);
            fm_svg_put_escaped(f, line);
            fprintf(f, "</text>\n");
        }
        lines++;
        p += cut + strspn(p + cut, " ");
    }
    return lines;
}

/* The legend's height in pixels. */
static int legend_height(const picture *pic)
{
    int h = 24 + 10; /* the title, and the closing note */
    for (size_t i = 0; i < pic->count; i++)
        h += ENTRY_H + DETAIL_H * draw_detail(NULL, 0, 0, pic->series[i].detail);
    return h;
}

static void draw_legend(FILE *f, const picture *pic, const fm_panel *p, double x, double y)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">Optimizer, best valid accuracy</text>\n",
            x, y);
    double ey = y + 24;
    for (size_t i = 0; i < pic->count; i++) {
        const fm_compare_series *s = &pic->series[i];
        double best = 1.0 - run_best(s, 1);
        fm_svg_legend_entry(f, x, ey, colour_of(i), dash_of(i), NULL);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\"><tspan font-weight=\"bold\">",
                x + 28, ey + 4);
        fm_svg_put_escaped(f, s->name);
        fprintf(f, "</tspan> ");
        if (!s->n)
            fprintf(f, "not run yet");
        else if (isfinite(best))
            fprintf(f, "%.4f", best);
        else
            fprintf(f, "no finite value");
        fprintf(f, "%s</text>\n", off_chart_note(s, p));
        ey += ENTRY_H + DETAIL_H * draw_detail(f, x + 28, ey + 19, s->detail);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">", x, ey + 4);
    fprintf(f, "Other hyperparameters: optcl's defaults (PyTorch's, optax's)</text>\n");
}

static void write_svg(FILE *f, const void *data)
{
    const picture *pic = data;
    size_t epochs = 0;
    for (size_t i = 0; i < pic->count; i++)
        epochs = pic->series[i].n > epochs ? pic->series[i].n : epochs;
    int panels_end = HEAD + 2 * PANEL_H - PANEL_BOTTOM + 40;
    int legend_end = HEAD + PANEL_TITLE + legend_height(pic) + 10;
    fm_svg_begin(f, WIDTH, panels_end > legend_end ? panels_end : legend_end);
    fm_svg_head(f, WIDTH, LEFT, 16, pic->title, pic->subtitle);
    fm_panel p[2];
    for (int accuracy = 0; accuracy < 2; accuracy++) {
        p[accuracy] = (fm_panel){.x0 = LEFT,
                                 .y0 = HEAD + PANEL_TITLE + accuracy * PANEL_H,
                                 .w = PLOT_W,
                                 .h = PLOT_H,
                                 .x = fm_svg_epoch_axis(epochs),
                                 .y = value_axis(pic, accuracy)};
        draw_panel(f, pic, &p[accuracy], accuracy);
    }
    draw_legend(f, pic, p, LEGEND_X, HEAD + PANEL_TITLE - 10);
    fprintf(f, "</svg>\n");
}

int fm_plot_compare_write(const char *path, const char *title, const char *subtitle,
                          const fm_compare_series *series, size_t count, char *message,
                          size_t message_size)
{
    picture pic = {title, subtitle, series, count};
    return fm_svg_write_file(path, write_svg, &pic, message, message_size);
}
