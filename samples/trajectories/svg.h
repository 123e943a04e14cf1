/* svg.h — a small SVG writer for the trajectories sample (hand-written text, no dependency):
 * panels with axes, ticks and a clip rectangle, contour lines by marching squares, polylines,
 * markers and legends. */
#ifndef TRAJ_SVG_H
#define TRAJ_SVG_H

#include "trajectories.h"

#include <stdio.h>

typedef struct svg_doc {
    FILE *f;
    int clips; /* clipPath ids handed out so far */
} svg_doc;

/* A plot area and the data range it shows. With log_y the y range is drawn in log10 and must
 * be positive. */
typedef struct svg_panel {
    double left, top, width, height; /* pixels */
    double xmin, xmax, ymin, ymax;
    int log_y;
    int clip; /* the panel's clipPath id, set by svg_frame */
} svg_panel;

/* Creates path and writes the header; 0, or -1 with errno set. */
int svg_open(svg_doc *doc, const char *path, int width, int height);
/* Writes the closing tag and closes the file; 0, or -1 with errno set (any earlier write that
 * failed is reported here). Always closes. */
int svg_close(svg_doc *doc);

/* Text at (x, y) in pixels; anchor "start", "middle" or "end"; bold 0/1. Escapes &, <, >. */
void svg_text(svg_doc *doc, double x, double y, double size, const char *anchor, int bold,
              const char *text);
/* The panel's background, grid, ticks with labels, frame, title and axis labels, and its
 * clipPath (panel->clip). */
void svg_frame(svg_doc *doc, svg_panel *panel, const char *title, const char *xlabel,
               const char *ylabel);
/* Everything between begin and end is clipped to the panel's plot area. */
void svg_clip_begin(svg_doc *doc, const svg_panel *panel);
void svg_clip_end(svg_doc *doc);

/* Contour lines of f − fmin at levels log-spaced from lo to hi (levels of them), by marching
 * squares over an nx × ny grid of cells spanning the panel; one <path> per level, coloured
 * from dark (low) to light (high), and a darker one at f − fmin = extra unless it is NaN
 * (a saddle's level). Returns 0, or -1 when out of memory. */
int svg_contours(svg_doc *doc, const svg_panel *panel, traj_loss loss, double fmin, double lo,
                 double hi, int levels, double extra, int nx, int ny);

/* One <polyline> through the points (data coordinates), of class cls (NULL: none), leaving out
 * points within a quarter pixel of the previous one; dash may be NULL (solid). Points a log
 * axis cannot show (≤ 0) land below the panel (clip it). */
void svg_polyline(svg_doc *doc, const svg_panel *panel, const char *cls, const traj_point *points,
                  size_t count, const char *colour, double width, const char *dash);
/* Markers: "start" (open circle), "end" (filled circle), "star" (the minimum). */
void svg_marker(svg_doc *doc, const svg_panel *panel, traj_point at, const char *kind,
                const char *colour);
/* A legend box with its top-left corner at (x, y): a line sample and a label per entry. */
void svg_legend(svg_doc *doc, double x, double y, const char *const *labels,
                const char *const *colours, const char *const *dashes, size_t count);

#endif
