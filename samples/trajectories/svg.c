/* svg.c — the trajectories sample's SVG writer: axes and ticks, marching-squares contours,
 * clipped polylines, markers and legends, written as plain text. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

int svg_open(svg_doc *doc, const char *path, int width, int height)
{
    doc->clips = 0;
    doc->f = fopen(path, "w");
    if (!doc->f)
        return -1;
    fprintf(doc->f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    return 0;
}

int svg_close(svg_doc *doc)
{
    if (!doc->f)
        return 0;
    fprintf(doc->f, "</svg>\n");
    int err = ferror(doc->f) ? (errno ? errno : EIO) : 0;
    if (fclose(doc->f) != 0 && !err)
        err = errno ? errno : EIO;
    doc->f = NULL;
    errno = err;
    return err ? -1 : 0;
}

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

void svg_text(svg_doc *doc, double x, double y, double size, const char *anchor, int bold,
              const char *text)
{
    fprintf(doc->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\"%s " FONT ">",
            x, y, size, anchor, bold ? " font-weight=\"bold\"" : "");
    put_escaped(doc->f, text);
    fputs("</text>\n", doc->f);
}

/* Data to pixels. Values the axis cannot show land far outside the panel (and are clipped). */
static double px(const svg_panel *p, double x)
{
    double v = p->left + (x - p->xmin) / (p->xmax - p->xmin) * p->width;
    return isfinite(v) ? v : p->left - 10.0 * p->width;
}

static double py(const svg_panel *p, double y)
{
    double lo = p->ymin, hi = p->ymax;
    if (p->log_y) {
        if (!(y > 0.0))
            return p->top + 2.0 * p->height; /* zero on a log axis: below the panel */
        y = log10(y), lo = log10(lo), hi = log10(hi);
    }
    double v = p->top + p->height - (y - lo) / (hi - lo) * p->height;
    return isfinite(v) ? v : p->top + 2.0 * p->height;
}

/* A "nice" tick spacing (1, 2 or 5 × 10^k) giving about target ticks over range. */
static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * mag;
}

static void tick_label(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0.0;
    snprintf(buf, size, "%g", v);
}

void svg_frame(svg_doc *doc, svg_panel *p, const char *title, const char *xlabel,
               const char *ylabel)
{
    FILE *f = doc->f;
    char label[64];
    double bottom = p->top + p->height, right = p->left + p->width;
    p->clip = ++doc->clips;
    fprintf(f,
            "<clipPath id=\"clip%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\"/></clipPath>\n",
            p->clip, p->left, p->top, p->width, p->height);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfc\"/>\n",
            p->left, p->top, p->width, p->height);
    /* x ticks */
    double step = nice_step(p->xmax - p->xmin, 8);
    fprintf(f, "<g stroke=\"#e4e4e4\" stroke-width=\"0.8\">\n");
    for (double v = ceil(p->xmin / step - 1e-9) * step; v <= p->xmax + step * 1e-9; v += step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(p, v), p->top,
                px(p, v), bottom);
    fprintf(f, "</g>\n");
    for (double v = ceil(p->xmin / step - 1e-9) * step; v <= p->xmax + step * 1e-9; v += step) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                px(p, v), bottom, px(p, v), bottom + 5);
        tick_label(label, sizeof label, v, step);
        svg_text(doc, px(p, v), bottom + 18, 12, "middle", 0, label);
    }
    /* y ticks: nice steps, or decades on a log axis (every k-th decade when there are many) */
    fprintf(f, "<g stroke=\"#e4e4e4\" stroke-width=\"0.8\">\n");
    if (p->log_y) {
        int d0 = (int)ceil(log10(p->ymin) - 1e-9), d1 = (int)floor(log10(p->ymax) + 1e-9);
        int every = (d1 - d0) > 10 ? (d1 - d0 + 9) / 10 : 1;
        for (int d = d0; d <= d1; d++)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->left,
                    py(p, pow(10.0, d)), right, py(p, pow(10.0, d)));
        fprintf(f, "</g>\n");
        for (int d = d0; d <= d1; d++) {
            double y = py(p, pow(10.0, d));
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                    p->left - 5, y, p->left, y);
            if ((d - d0) % every)
                continue;
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" " FONT
                    ">10<tspan dy=\"-6\" font-size=\"9\">%d</tspan></text>\n",
                    p->left - 8, y + 4, d);
        }
    } else {
        step = nice_step(p->ymax - p->ymin, 6);
        for (double v = ceil(p->ymin / step - 1e-9) * step; v <= p->ymax + step * 1e-9; v += step)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->left,
                    py(p, v), right, py(p, v));
        fprintf(f, "</g>\n");
        for (double v = ceil(p->ymin / step - 1e-9) * step; v <= p->ymax + step * 1e-9; v += step) {
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                    p->left - 5, py(p, v), p->left, py(p, v));
            tick_label(label, sizeof label, v, step);
            svg_text(doc, p->left - 8, py(p, v) + 4, 12, "end", 0, label);
        }
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            p->left, p->top, p->width, p->height);
    if (title)
        svg_text(doc, p->left + p->width / 2, p->top - 12, 16, "middle", 1, title);
    if (xlabel)
        svg_text(doc, p->left + p->width / 2, bottom + 40, 14, "middle", 0, xlabel);
    if (ylabel) {
        fprintf(f, "<g transform=\"translate(%.1f %.1f) rotate(-90)\">\n", p->left - 48,
                p->top + p->height / 2);
        svg_text(doc, 0, 0, 14, "middle", 0, ylabel);
        fprintf(f, "</g>\n");
    }
}

void svg_clip_begin(svg_doc *doc, const svg_panel *panel)
{
    fprintf(doc->f, "<g clip-path=\"url(#clip%d)\">\n", panel->clip);
}

void svg_clip_end(svg_doc *doc)
{
    fprintf(doc->f, "</g>\n");
}

/* Where the level crosses the edge from a (value va) to b (value vb), in pixels. */
static void crossing(double ax, double ay, double va, double bx, double by, double vb, double level,
                     double out[2])
{
    double s = (level - va) / (vb - va);
    out[0] = ax + s * (bx - ax);
    out[1] = ay + s * (by - ay);
}

static void segment(FILE *f, const double a[2], const double b[2])
{
    fprintf(f, "M%.1f %.1fL%.1f %.1f", a[0], a[1], b[0], b[1]);
}

/* One level over the grid g ((nx+1) × (ny+1) values of f − fmin, row j at y index j). Corner
 * order per cell: 0 bottom-left, 1 bottom-right, 2 top-right, 3 top-left; edge e joins corners
 * e and e+1. A cell with four crossings (a saddle cell) is resolved by its centre value. */
static void level_path(FILE *f, const svg_panel *p, const double *g, int nx, int ny, double level)
{
    double cw = p->width / nx, ch = p->height / ny;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            double v[4] = {g[j * (nx + 1) + i], g[j * (nx + 1) + i + 1],
                           g[(j + 1) * (nx + 1) + i + 1], g[(j + 1) * (nx + 1) + i]};
            double cx[4] = {p->left + i * cw, p->left + (i + 1) * cw, p->left + (i + 1) * cw,
                            p->left + i * cw};
            double bottom = p->top + p->height;
            double cy[4] = {bottom - j * ch, bottom - j * ch, bottom - (j + 1) * ch,
                            bottom - (j + 1) * ch};
            double pt[4][2];
            int cut[4], n = 0;
            for (int e = 0; e < 4; e++) {
                int a = e, b = (e + 1) % 4;
                cut[e] = (v[a] >= level) != (v[b] >= level);
                if (cut[e]) {
                    crossing(cx[a], cy[a], v[a], cx[b], cy[b], v[b], level, pt[e]);
                    n++;
                }
            }
            if (n == 2) {
                int ends[2] = {0, 0}, m = 0; /* n == 2: exactly two edges are cut */
                for (int e = 0; e < 4 && m < 2; e++)
                    if (cut[e])
                        ends[m++] = e;
                segment(f, pt[ends[0]], pt[ends[1]]);
            } else if (n == 4) {
                double centre = 0.25 * (v[0] + v[1] + v[2] + v[3]);
                if ((v[0] >= level) != (centre >= level)) { /* corners 0 and 2 cut off */
                    segment(f, pt[3], pt[0]);
                    segment(f, pt[1], pt[2]);
                } else { /* corners 1 and 3 cut off */
                    segment(f, pt[0], pt[1]);
                    segment(f, pt[2], pt[3]);
                }
            }
        }
}

int svg_contours(svg_doc *doc, const svg_panel *p, traj_loss loss, double fmin, double lo,
                 double hi, int levels, double extra, int nx, int ny)
{
    double *g = malloc((size_t)(nx + 1) * (size_t)(ny + 1) * sizeof *g);
    if (!g)
        return -1;
    for (int j = 0; j <= ny; j++)
        for (int i = 0; i <= nx; i++) {
            double x = p->xmin + (p->xmax - p->xmin) * i / nx;
            double y = p->ymin + (p->ymax - p->ymin) * j / ny;
            g[j * (nx + 1) + i] = traj_loss_value(loss, x, y, NULL) - fmin;
        }
    fprintf(doc->f, "<g fill=\"none\" stroke-width=\"0.9\">\n");
    for (int k = 0; k < levels; k++) {
        double s = levels > 1 ? (double)k / (levels - 1) : 0.0;
        double level = lo * pow(hi / lo, s);
        /* dark blue-grey for low levels, fading to light grey for high ones */
        int r = (int)(60 + 110 * s), gr = (int)(90 + 95 * s), b = (int)(140 + 65 * s);
        fprintf(doc->f, "<path stroke=\"#%02x%02x%02x\" d=\"", r, gr, b);
        level_path(doc->f, p, g, nx, ny, level);
        fprintf(doc->f, "\"/>\n");
    }
    if (isfinite(extra)) {
        fprintf(doc->f, "<path stroke=\"#444\" stroke-width=\"1.3\" d=\"");
        level_path(doc->f, p, g, nx, ny, extra);
        fprintf(doc->f, "\"/>\n");
    }
    fprintf(doc->f, "</g>\n");
    free(g);
    return 0;
}

void svg_polyline(svg_doc *doc, const svg_panel *p, const char *cls, const traj_point *points,
                  size_t count, const char *colour, double width, const char *dash)
{
    FILE *f = doc->f;
    fprintf(f, "<polyline");
    if (cls)
        fprintf(f, " class=\"%s\"", cls);
    fprintf(f,
            " fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
            "stroke-linejoin=\"round\" stroke-linecap=\"round\" stroke-opacity=\"0.9\"",
            colour, width);
    if (dash)
        fprintf(f, " stroke-dasharray=\"%s\"", dash);
    fprintf(f, " points=\"");
    /* Points within a quarter pixel of the last one written add nothing to the picture (long
     * runs end in thousands of them); the last point is always written. */
    double lx = 0.0, ly = 0.0;
    for (size_t i = 0; i < count; i++) {
        double x = px(p, points[i].x), y = py(p, points[i].y);
        if (i && i + 1 < count && fabs(x - lx) < 0.25 && fabs(y - ly) < 0.25)
            continue;
        fprintf(f, "%s%.2f,%.2f", i ? " " : "", x, y);
        lx = x, ly = y;
    }
    fprintf(f, "\"/>\n");
}

void svg_marker(svg_doc *doc, const svg_panel *p, traj_point at, const char *kind,
                const char *colour)
{
    double x = px(p, at.x), y = py(p, at.y);
    if (!strcmp(kind, "start"))
        fprintf(doc->f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"white\" stroke=\"%s\" "
                "stroke-width=\"2.5\"/>\n",
                x, y, colour);
    else if (!strcmp(kind, "end"))
        fprintf(doc->f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"white\" "
                "stroke-width=\"1\"/>\n",
                x, y, colour);
    else { /* a five-pointed star */
        fprintf(doc->f, "<polygon fill=\"%s\" stroke=\"white\" stroke-width=\"1\" points=\"",
                colour);
        for (int k = 0; k < 10; k++) {
            double r = k % 2 ? 4.0 : 10.0, a = -PI / 2 + k * PI / 5;
            fprintf(doc->f, "%s%.1f,%.1f", k ? " " : "", x + r * cos(a), y + r * sin(a));
        }
        fprintf(doc->f, "\"/>\n");
    }
}

void svg_legend(svg_doc *doc, double x, double y, const char *const *labels,
                const char *const *colours, const char *const *dashes, size_t count)
{
    const double row = 22.0;
    fprintf(doc->f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
            "stroke=\"#999\" rx=\"4\"/>\n",
            x, y, 250.0, row * (double)count + 12.0);
    for (size_t i = 0; i < count; i++) {
        double yy = y + 6.0 + row * ((double)i + 0.5);
        fprintf(doc->f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"",
                x + 10, yy, x + 40, yy, colours[i]);
        if (dashes && dashes[i])
            fprintf(doc->f, " stroke-dasharray=\"%s\"", dashes[i]);
        fprintf(doc->f, "/>\n");
        svg_text(doc, x + 48, yy + 4.5, 13, "start", 0, labels[i]);
    }
}
