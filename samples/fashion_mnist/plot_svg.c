/* plot_svg.c — the pictures' shared SVG parts: style, axes, panels, legend lines, escaping and
 * the write through a temporary file. */
#include "plot_svg.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* 1, 2 or 5 times a power of ten, about range/target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

fm_axis fm_svg_linear_axis(double lo, double hi, int target, int from_zero)
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
    fm_axis a = {.step = nice_step(hi - lo, target)};
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

fm_axis fm_svg_epoch_axis(size_t n)
{
    if (n <= 1)
        return (fm_axis){0.0, 2.0, 1.0, 0};
    fm_axis x = fm_svg_linear_axis(1.0, (double)n, 10, 0);
    x.step = fmax(1.0, round(x.step));
    x.lo = 1.0;
    x.hi = (double)n;
    return x;
}

static double map(const fm_axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

double fm_svg_px(const fm_panel *p, double x)
{
    return p->x0 + map(&p->x, x) * p->w;
}

double fm_svg_py(const fm_panel *p, double y)
{
    return p->y0 + p->h - map(&p->y, y) * p->h;
}

static void label(char *out, size_t size, double v, double step)
{
    int decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, size, "%.*f", decimals, fabs(v) < step * 1e-6 ? 0.0 : v);
}

void fm_svg_begin(FILE *f, int width, int height)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            width, height, width, height);
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
}

void fm_svg_put_escaped(FILE *f, const char *s)
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

void fm_svg_head(FILE *f, int width, int left, int right, const char *title, const char *subtitle)
{
    /* A long title (many KEY=VALUE options) is squeezed to the width rather than cut off. */
    double room = width - left - right;
    if ((double)strlen(title) * 8.6 > room)
        fprintf(f,
                "<text x=\"%d\" y=\"26\" class=\"head\" textLength=\"%.0f\" "
                "lengthAdjust=\"spacingAndGlyphs\">",
                left, room);
    else
        fprintf(f, "<text x=\"%d\" y=\"26\" class=\"head\">", left);
    fm_svg_put_escaped(f, title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"46\" class=\"sub\">", left);
    fm_svg_put_escaped(f, subtitle);
    fprintf(f, "</text>\n");
}

static void grid_line(FILE *f, const fm_panel *p, double y, const char *text)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", p->x0, y,
            p->x0 + p->w, y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ytick\">%s</text>\n", p->x0 - 6, y + 4, text);
}

void fm_svg_axes(FILE *f, const fm_panel *p, const char *title, const char *y_name)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", p->x0, p->y0 - 10, title);
    char text[64];
    if (p->y.log) { /* 1 and 2 and 5 times each power of ten in range */
        for (double e = ceil(log10(p->y.lo) - 1e-9); e <= log10(p->y.hi) + 1e-9; e += 1.0) {
            for (int mult = 1; mult <= 5; mult += (mult == 1 ? 1 : 3)) {
                double v = mult * pow(10.0, e);
                if (v < p->y.lo * (1 - 1e-9) || v > p->y.hi * (1 + 1e-9))
                    continue;
                snprintf(text, sizeof text, "%ge%+d", (double)mult, (int)e);
                grid_line(f, p, fm_svg_py(p, v), text);
            }
        }
    } else {
        for (double v = p->y.lo; v <= p->y.hi + p->y.step * 1e-6; v += p->y.step) {
            label(text, sizeof text, v, p->y.step);
            grid_line(f, p, fm_svg_py(p, v), text);
        }
    }
    for (double v = p->x.lo; v <= p->x.hi + 1e-9; v += p->x.step) {
        double x = fm_svg_px(p, v);
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

void fm_svg_legend_entry(FILE *f, double x, double y, const char *color, const char *dash,
                         const char *text)
{
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"",
            x, y, x + 22, y, color);
    if (dash)
        fprintf(f, " stroke-dasharray=\"%s\"", dash);
    fprintf(f, "/>\n");
    if (!text)
        return;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">", x + 28, y + 4);
    fm_svg_put_escaped(f, text);
    fprintf(f, "</text>\n");
}

int fm_svg_write_file(const char *path, void (*write)(FILE *f, const void *data), const void *data,
                      char *message, size_t message_size)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(message, message_size, "%s: cannot write: %s", tmp, strerror(errno));
        return 1;
    }
    write(f, data);
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
