/* plot_svg.h — what the sample's two pictures share (plot.c: one run's curves, plot_compare.c:
 * several optimizers): the document head and style, linear and log axes over epochs, panels
 * with grid, ticks and names, legend lines, escaped text, and the atomic write. */
#ifndef FM_PLOT_SVG_H
#define FM_PLOT_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct fm_axis {
    double lo, hi, step;
    int log; /* base-10 log scale */
} fm_axis;

typedef struct fm_panel {
    double x0, y0, w, h; /* plot area in pixels */
    fm_axis x, y;
} fm_panel;

/* A linear axis over [lo, hi] widened to whole steps of 1, 2 or 5 times a power of ten (about
 * target of them); a flat range gets some room; from_zero keeps a positive range from 0. */
fm_axis fm_svg_linear_axis(double lo, double hi, int target, int from_zero);
/* Whole epochs 1 … n (n = 1: 0 … 2, so that the one point sits in the middle). */
fm_axis fm_svg_epoch_axis(size_t n);

/* Data to pixels. */
double fm_svg_px(const fm_panel *p, double x);
double fm_svg_py(const fm_panel *p, double y);

/* <svg> with the style classes the pictures use and a white background. */
void fm_svg_begin(FILE *f, int width, int height);
/* The title in bold at the top (squeezed to fit between left and width − right when long) and
 * the subtitle under it; both escaped. */
void fm_svg_head(FILE *f, int width, int left, int right, const char *title, const char *subtitle);
/* Frame, grid, ticks and labels of one panel, its title above and "epoch" under it. */
void fm_svg_axes(FILE *f, const fm_panel *p, const char *title, const char *y_name);
/* A legend line sample (22 px) at (x, y) and its text (NULL: none); dash NULL: solid. */
void fm_svg_legend_entry(FILE *f, double x, double y, const char *color, const char *dash,
                         const char *text);
/* Text with &, < and > escaped. */
void fm_svg_put_escaped(FILE *f, const char *s);

/* Writes path through path.tmp and a rename, so a reader never sees half a file; write fills
 * the file from data. Returns 0, or 1 with message naming the path. */
int fm_svg_write_file(const char *path, void (*write)(FILE *f, const void *data), const void *data,
                      char *message, size_t message_size);

#endif
