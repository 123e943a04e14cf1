/* pictures.c — the lecture's pictures: every optimizer on each loss, the ravine with learning
 * rates from too small to too large, and four learning-rate schedules compared. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[TRAJ_METHOD_COUNT] = {
    "GD",      "momentum", "EMA momentum",     "Nesterov", "Rprop (PyTorch)", "Rprop (classic)",
    "RMSprop", "Adam",     "Lookahead (Adam)",
};

static const char *const method_colours[TRAJ_METHOD_COUNT] = {
    "#1f5fd0", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#111111", "#17becf",
};

static const char *const method_dashes[TRAJ_METHOD_COUNT] = {
    NULL, NULL, "7 3", NULL, NULL, "7 3", NULL, NULL, "7 3",
}; /* dashed: a variant that can run on top of the method before it */

/* Learning rates per loss and method (for Rprop: the initial step size), chosen by scanning
 * 5e-4 … 0.1 and looking at the pictures:
 * - Ravine (curvatures 1 and 25). GD 0.07: above 1/25 it zig-zags across the valley (factor
 *   1 − 25·0.07 = −0.75 per step), below 2/25 where it diverges. EMA momentum averages the
 *   gradients, so GD's lr keeps GD's step scale and the zig-zag becomes a smooth swing.
 *   Heavy ball and Nesterov step 1/(1 − 0.9) = 10× as far: at 0.07 Nesterov diverges (its limit
 *   is lr·25 < 2(1 + β)/(1 + 2β) ≈ 1.36); at 0.02 heavy ball overshoots the minimum along the
 *   valley and swings back, and Nesterov's look-ahead damps the same swing.
 * - Rosenbrock. The curvature across the valley is about 1900 at the start: the SGD family
 *   needs lr ≈ 1e-3 (Nesterov diverges at 1.5e-3, heavy ball at 5e-3), and GD then crawls
 *   along the flat floor. Adam 0.05 is the fastest to come within 0.01 of (1, 1) (step 1200;
 *   0.1 gets there sooner but bounces); RMSprop 5e-3 ends closest; Rprop ends the same for
 *   every initial step, so it keeps PyTorch's default 0.01.
 * - Saddle. GD 0.05 waits at the saddle while y grows by 1.1 per step from 0.01, then
 *   escapes; the sign-like steps of Rprop, RMSprop and Adam leave at once.
 * - Rprop, RMSprop and Adam move about lr per coordinate whatever the gradient's size, so
 *   their lr is a distance: a small fraction of the picture. */
static const double method_lr[TRAJ_LOSS_COUNT][TRAJ_METHOD_COUNT] = {
    /*            GD     mom    EMA    Nest   Rprop  Rcls   RMSp   Adam   LA */
    [TRAJ_RAVINE] = {0.07, 0.02, 0.07, 0.02, 0.1, 0.1, 0.05, 0.1, 0.1},
    [TRAJ_ROSENBROCK] = {1e-3, 1e-3, 1e-3, 1e-3, 0.01, 0.01, 5e-3, 0.05, 0.05},
    [TRAJ_SADDLE] = {0.05, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.05, 0.05},
};

/* Steps per loss, full and quick. Quick still lets Adam and momentum reach Rosenbrock's
 * minimum (the test checks that). */
static const int loss_steps[TRAJ_LOSS_COUNT][2] = {
    [TRAJ_RAVINE] = {200, 100},
    [TRAJ_ROSENBROCK] = {4000, 2000},
    [TRAJ_SADDLE] = {300, 150},
};

/* What each loss picture shows: the view, and the contour levels of f − f* (log-spaced). */
typedef struct loss_view {
    double xmin, xmax, ymin, ymax;
    double fmin, level_lo, level_hi;
    int levels;
    double extra_level; /* a darker contour (the saddle's level), NaN: none */
    const char *title;
} loss_view;

static const loss_view views[TRAJ_LOSS_COUNT] = {
    [TRAJ_RAVINE] = {-5, 2, -3.5, 2.4, 0.0, 0.01, 100, 16, NAN,
                     "Ravine f = ½(u² + 25v²), valley at 30°"},
    [TRAJ_ROSENBROCK] = {-2, 2, -1, 3, 0.0, 0.05, 3000, 16, NAN,
                         "Rosenbrock f = (1 − x)² + 100(y − x²)²"},
    [TRAJ_SADDLE] = {-3, 3, -1.8, 3.2, -2.0, 0.05, 40, 16, 2.0, "Saddle f = x² − y² + y⁴/8"},
};

static const char *const picture_files[TRAJ_PICTURE_COUNT] = {
    "ravine.svg", "rosenbrock.svg", "saddle.svg", "ravine_lr.svg", "schedules.svg",
};

const char *traj_method_name(traj_method method)
{
    return (unsigned)method < TRAJ_METHOD_COUNT ? method_names[method] : "unknown";
}

const char *traj_picture_file(traj_picture picture)
{
    return (unsigned)picture < TRAJ_PICTURE_COUNT ? picture_files[picture] : "unknown";
}

optcl_optimizer_config traj_method_config(traj_method method, traj_loss loss)
{
    optcl_algorithm algo = method <= TRAJ_NESTEROV        ? OPTCL_SGD
                           : method <= TRAJ_RPROP_CLASSIC ? OPTCL_RPROP
                           : method == TRAJ_RMSPROP       ? OPTCL_RMSPROP
                                                          : OPTCL_ADAM;
    optcl_optimizer_config cfg = optcl_optimizer_config_default(algo);
    if ((unsigned)method < TRAJ_METHOD_COUNT && (unsigned)loss < TRAJ_LOSS_COUNT)
        cfg.lr = method_lr[loss][method];
    if (method == TRAJ_MOMENTUM || method == TRAJ_EMA || method == TRAJ_NESTEROV)
        cfg.sgd.momentum = 0.9;
    cfg.sgd.ema = method == TRAJ_EMA;
    cfg.sgd.nesterov = method == TRAJ_NESTEROV;
    if (method == TRAJ_RPROP_CLASSIC)
        cfg.rprop.variant = OPTCL_RPROP_CLASSIC;
    if (method == TRAJ_LOOKAHEAD) {
        cfg.lookahead.k = 5;
        cfg.lookahead.alpha = 0.5;
    }
    return cfg;
}

/* "where: what" into message; returns st. */
static optcl_status fail(optcl_status st, char *message, size_t size, const char *fmt,
                         const char *a, const char *b)
{
    if (message && size)
        snprintf(message, size, fmt, a, b);
    return st;
}

static optcl_status open_picture(svg_doc *doc, const char *dir, traj_picture which, int width,
                                 int height, char *path, size_t path_size, char *message,
                                 size_t message_size)
{
    snprintf(path, path_size, "%s/%s", dir, picture_files[which]);
    if (svg_open(doc, path, width, height) != 0)
        return fail(OPTCL_ERROR_IO, message, message_size, "cannot create %s: %s", path,
                    strerror(errno));
    return OPTCL_SUCCESS;
}

static optcl_status close_picture(svg_doc *doc, const char *path, char *message,
                                  size_t message_size)
{
    if (svg_close(doc) != 0)
        return fail(OPTCL_ERROR_IO, message, message_size, "cannot write %s: %s", path,
                    strerror(errno));
    return OPTCL_SUCCESS;
}

/* Prefixes message with what was running ("Adam on rosenbrock: …"). */
static void prefix_message(char *message, size_t size, const char *what)
{
    if (!message || !size)
        return;
    char *copy = strdup(message);
    if (copy) {
        snprintf(message, size, "%s: %s", what, copy);
        free(copy);
    }
}

/* f − f* per step for every path, on a log axis from the decade below the lowest value reached
 * (not below 1e-10) to the decade above 10 times the start's. Returns 0, or -1 when out of
 * memory. */
static int loss_curves(svg_doc *doc, traj_loss loss, double fmin, const traj_path *paths, int steps)
{
    double lo = INFINITY, hi = 10.0 * (traj_loss_value(loss, traj_loss_start(loss).x,
                                                       traj_loss_start(loss).y, NULL) -
                                       fmin);
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
        for (size_t t = 0; t < paths[m].count; t++) {
            double f = traj_loss_value(loss, paths[m].points[t].x, paths[m].points[t].y, NULL);
            if (f - fmin > 0.0 && f - fmin < lo)
                lo = f - fmin;
        }
    svg_panel panel = {
        .left = 800, .top = 50, .width = 340, .height = 540, .xmin = 0, .xmax = steps, .log_y = 1};
    panel.ymax = hi > 0.0 ? pow(10.0, ceil(log10(hi))) : 1.0;
    panel.ymin = fmax(1e-10, pow(10.0, floor(log10(lo))));
    if (!(panel.ymin < panel.ymax))
        panel.ymin = panel.ymax * 1e-10;
    svg_frame(doc, &panel, "f − f* per step", "step", "f − f*");
    traj_point *curve = malloc(((size_t)steps + 1) * sizeof *curve);
    if (!curve)
        return -1;
    svg_clip_begin(doc, &panel);
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++) {
        for (size_t t = 0; t < paths[m].count; t++)
            curve[t] = (traj_point){
                (double)t,
                traj_loss_value(loss, paths[m].points[t].x, paths[m].points[t].y, NULL) - fmin};
        svg_polyline(doc, &panel, "curve", curve, paths[m].count, method_colours[m], 1.6,
                     method_dashes[m]);
    }
    svg_clip_end(doc);
    free(curve);
    return 0;
}

/* Every method on one loss: contours, paths, markers, legend, and f − f* per step. */
/* The left panel of a loss's picture: frame, clip and contour lines; the caller draws paths
 * and calls svg_clip_end. Returns the panel through *panel. */
static optcl_status contour_panel(svg_doc *doc, traj_loss loss, const char *title,
                                  svg_panel *panel, char *message, size_t message_size)
{
    const loss_view *v = &views[loss];
    *panel = (svg_panel){.left = 70,
                         .top = 50,
                         .width = 640,
                         .height = 540,
                         .xmin = v->xmin,
                         .xmax = v->xmax,
                         .ymin = v->ymin,
                         .ymax = v->ymax};
    svg_frame(doc, panel, title, "x", "y");
    svg_clip_begin(doc, panel);
    if (svg_contours(doc, panel, loss, v->fmin, v->level_lo, v->level_hi, v->levels,
                     v->extra_level, 160, 135) != 0)
        return fail(OPTCL_ERROR_OUT_OF_HOST_MEMORY, message, message_size, "%s%s", "contours",
                    ": out of memory");
    return OPTCL_SUCCESS;
}

static optcl_status loss_picture(optcl_context *ctx, const char *dir, traj_loss loss, int quick,
                                 traj_summary *summary, char *message, size_t message_size)
{
    const loss_view *v = &views[loss];
    int steps = loss_steps[loss][quick ? 1 : 0];
    double bound = 50.0 * (v->xmax - v->xmin + v->ymax - v->ymin);
    traj_path paths[TRAJ_METHOD_COUNT] = {{0}};
    optcl_status st = OPTCL_SUCCESS;
    for (int m = 0; m < TRAJ_METHOD_COUNT && st == OPTCL_SUCCESS; m++) {
        optcl_optimizer_config cfg = traj_method_config((traj_method)m, loss);
        st = traj_run(ctx, &cfg, loss, traj_loss_start(loss), steps, bound, &paths[m], message,
                      message_size);
        if (st != OPTCL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "%s on %s", method_names[m], traj_loss_name(loss));
            prefix_message(message, message_size, what);
        } else if (summary) {
            summary->end[loss][m] = paths[m].points[paths[m].count - 1];
            summary->steps[loss] = steps;
        }
    }

    char path[4096];
    svg_doc doc = {0};
    if (st == OPTCL_SUCCESS)
        st = open_picture(&doc, dir, (traj_picture)loss, 1420, 660, path, sizeof path, message,
                          message_size);
    if (st == OPTCL_SUCCESS) {
        svg_panel panel;
        st = contour_panel(&doc, loss, v->title, &panel, message, message_size);
        /* Earlier paths a little wider, so that paths on top of each other (all of them
         * follow Rosenbrock's valley floor) show as nested bands; Adam's stands out. */
        for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
            svg_polyline(&doc, &panel, "path", paths[m].points, paths[m].count, method_colours[m],
                         m == TRAJ_ADAM ? 2.4 : 2.6 - 0.12 * m, method_dashes[m]);
        for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
            svg_marker(&doc, &panel, paths[m].points[paths[m].count - 1], "end", method_colours[m]);
        svg_marker(&doc, &panel, traj_loss_minimum(loss), "star", "#e8b000");
        svg_marker(&doc, &panel, traj_loss_start(loss), "start", "#111");
        svg_clip_end(&doc);

        char labels[TRAJ_METHOD_COUNT][64];
        const char *label_ptrs[TRAJ_METHOD_COUNT];
        for (int m = 0; m < TRAJ_METHOD_COUNT; m++) {
            snprintf(labels[m], sizeof labels[m], "%s, lr %g%s", method_names[m],
                     method_lr[loss][m], paths[m].diverged ? " (diverged)" : "");
            label_ptrs[m] = labels[m];
        }
        if (loss_curves(&doc, loss, v->fmin, paths, steps) != 0 && st == OPTCL_SUCCESS)
            st = fail(OPTCL_ERROR_OUT_OF_HOST_MEMORY, message, message_size, "%s%s",
                      "loss curves: out of memory", "");
        const double lx = 1160;
        svg_legend(&doc, lx, 50, label_ptrs, method_colours, method_dashes, TRAJ_METHOD_COUNT);
        char note[96];
        snprintf(note, sizeof note, "%d steps from (%g, %g)", steps, traj_loss_start(loss).x,
                 traj_loss_start(loss).y);
        double y = 50 + 22.0 * TRAJ_METHOD_COUNT + 36;
        svg_text(&doc, lx, y, 13, "start", 0, note);
        svg_text(&doc, lx, y + 20, 13, "start", 0, "○ start   ● end   ★ minimum");
        svg_text(&doc, lx, y + 40, 13, "start", 0, "contours: log-spaced levels of f − f*");
        svg_text(&doc, lx, y + 60, 13, "start", 0, "momentum 0.9; Lookahead k 5, α 0.5");
        optcl_status cst = close_picture(&doc, path, message, message_size);
        if (st == OPTCL_SUCCESS)
            st = cst;
    }
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
        traj_path_free(&paths[m]);
    return st;
}

/* GD on the ravine with learning rates from too small to too large. */
static const double lr_values[TRAJ_LR_RUNS] = {0.004, 0.03, 0.075, 0.09};
static const char *const lr_notes[TRAJ_LR_RUNS] = {"too small: crawls", "about right",
                                                   "large: jumps across", "too large: diverges"};
static const char *const lr_colours[TRAJ_LR_RUNS] = {"#2ca02c", "#1f5fd0", "#ff7f0e", "#d62728"};

static optcl_status lr_picture(optcl_context *ctx, const char *dir, int quick, char *message,
                               size_t message_size)
{
    int steps = quick ? 50 : 100;
    traj_path paths[TRAJ_LR_RUNS] = {{0}};
    optcl_status st = OPTCL_SUCCESS;
    for (int r = 0; r < TRAJ_LR_RUNS && st == OPTCL_SUCCESS; r++) {
        optcl_optimizer_config cfg = traj_method_config(TRAJ_GD, TRAJ_RAVINE);
        cfg.lr = lr_values[r];
        /* a tight bound: a diverging path is stopped soon after it leaves the picture */
        st = traj_run(ctx, &cfg, TRAJ_RAVINE, traj_loss_start(TRAJ_RAVINE), steps, 8.0, &paths[r],
                      message, message_size);
        if (st != OPTCL_SUCCESS)
            prefix_message(message, message_size, "GD on the ravine (lr picture)");
    }
    char path[4096];
    svg_doc doc = {0};
    if (st == OPTCL_SUCCESS)
        st = open_picture(&doc, dir, TRAJ_PICTURE_LR, 1000, 660, path, sizeof path, message,
                          message_size);
    if (st == OPTCL_SUCCESS) {
        svg_panel panel;
        st = contour_panel(&doc, TRAJ_RAVINE,
                           "GD on the ravine: learning rate too small … too large", &panel,
                           message, message_size);
        for (int r = 0; r < TRAJ_LR_RUNS; r++) {
            svg_polyline(&doc, &panel, "path", paths[r].points, paths[r].count, lr_colours[r], 1.8,
                         NULL);
            svg_marker(&doc, &panel, paths[r].points[paths[r].count - 1], "end", lr_colours[r]);
        }
        svg_marker(&doc, &panel, traj_loss_minimum(TRAJ_RAVINE), "star", "#e8b000");
        svg_marker(&doc, &panel, traj_loss_start(TRAJ_RAVINE), "start", "#111");
        svg_clip_end(&doc);
        char labels[TRAJ_LR_RUNS][64];
        const char *label_ptrs[TRAJ_LR_RUNS];
        for (int r = 0; r < TRAJ_LR_RUNS; r++) {
            snprintf(labels[r], sizeof labels[r], "lr %g: %s", lr_values[r], lr_notes[r]);
            label_ptrs[r] = labels[r];
        }
        svg_legend(&doc, 730, 50, label_ptrs, lr_colours, NULL, TRAJ_LR_RUNS);
        char note[64];
        snprintf(note, sizeof note, "%d steps; curvatures 1 and 25:", steps);
        double y = 50 + 22.0 * TRAJ_LR_RUNS + 36;
        svg_text(&doc, 730, y, 13, "start", 0, note);
        svg_text(&doc, 730, y + 20, 13, "start", 0, "zig-zag above lr 1/25 = 0.04,");
        svg_text(&doc, 730, y + 40, 13, "start", 0, "diverges above 2/25 = 0.08");
        optcl_status cst = close_picture(&doc, path, message, message_size);
        if (st == OPTCL_SUCCESS)
            st = cst;
    }
    for (int r = 0; r < TRAJ_LR_RUNS; r++)
        traj_path_free(&paths[r]);
    return st;
}

/* GD on the ravine under a0/t, a0/t², a0/2^t and a constant lr. */
static optcl_status schedule_picture(optcl_context *ctx, const char *dir, int quick, char *message,
                                     size_t message_size)
{
    static const char *const labels[TRAJ_SCHEDULE_RUNS] = {
        "a0 (constant)", "a0/t (inverse_time, power 1)", "a0/t² (inverse_time, power 2)",
        "a0/2^t (exponential, γ 0.5)"};
    static const char *const colours[TRAJ_SCHEDULE_RUNS] = {"#1f5fd0", "#2ca02c", "#ff7f0e",
                                                            "#d62728"};
    static const char *const dashes[TRAJ_SCHEDULE_RUNS] = {NULL, NULL, NULL, "8 4"}; /* on t² */
    const double a0 = 0.075;
    int steps = quick ? 100 : 300;
    traj_path paths[TRAJ_SCHEDULE_RUNS] = {{0}};
    optcl_status st = OPTCL_SUCCESS;
    for (int r = 0; r < TRAJ_SCHEDULE_RUNS && st == OPTCL_SUCCESS; r++) {
        optcl_optimizer_config cfg = traj_method_config(TRAJ_GD, TRAJ_RAVINE);
        cfg.lr = a0;
        cfg.schedule = optcl_schedule_default(r == 0  ? OPTCL_SCHEDULE_CONSTANT
                                              : r < 3 ? OPTCL_SCHEDULE_INVERSE_TIME
                                                      : OPTCL_SCHEDULE_EXPONENTIAL);
        cfg.schedule.power = r == 2 ? 2.0 : 1.0;
        cfg.schedule.gamma = 0.5;
        st = traj_run(ctx, &cfg, TRAJ_RAVINE, traj_loss_start(TRAJ_RAVINE), steps, 1e3, &paths[r],
                      message, message_size);
        if (st != OPTCL_SUCCESS)
            prefix_message(message, message_size, labels[r]);
    }
    char path[4096];
    svg_doc doc = {0};
    if (st == OPTCL_SUCCESS)
        st = open_picture(&doc, dir, TRAJ_PICTURE_SCHEDULES, 1300, 540, path, sizeof path, message,
                          message_size);
    if (st == OPTCL_SUCCESS) {
        svg_panel lr_panel = {.left = 80,
                              .top = 50,
                              .width = 420,
                              .height = 400,
                              .xmin = 0,
                              .xmax = steps,
                              .ymin = 1e-8,
                              .ymax = 1,
                              .log_y = 1};
        svg_panel d_panel = lr_panel;
        d_panel.left = 590;
        d_panel.ymin = 1e-6;
        d_panel.ymax = 10;
        svg_frame(&doc, &lr_panel, "learning rate per step", "step t", "lr");
        svg_frame(&doc, &d_panel, "GD on the ravine: distance to the optimum", "step t",
                  "‖w − w*‖");
        traj_point *curve = malloc(((size_t)steps + 1) * sizeof *curve);
        if (!curve)
            st = fail(OPTCL_ERROR_OUT_OF_HOST_MEMORY, message, message_size, "%s%s",
                      "schedule picture: out of memory", "");
        for (int r = 0; r < TRAJ_SCHEDULE_RUNS && curve; r++) {
            size_t n = paths[r].count;
            for (size_t t = 0; t + 1 < n; t++)
                curve[t] = (traj_point){(double)t, paths[r].lr[t]};
            svg_clip_begin(&doc, &lr_panel);
            svg_polyline(&doc, &lr_panel, "curve", curve, n - 1, colours[r], 2.0, dashes[r]);
            svg_clip_end(&doc);
            for (size_t t = 0; t < n; t++)
                curve[t] =
                    (traj_point){(double)t, hypot(paths[r].points[t].x, paths[r].points[t].y)};
            svg_clip_begin(&doc, &d_panel);
            svg_polyline(&doc, &d_panel, "curve", curve, n, colours[r], 2.0, dashes[r]);
            svg_clip_end(&doc);
        }
        free(curve);
        svg_legend(&doc, 1030, 50, labels, colours, dashes, TRAJ_SCHEDULE_RUNS);
        char note[64];
        snprintf(note, sizeof note, "a0 = %g (GD's zig-zag lr), t from 1", a0);
        static const char *const notes[] = {
            "constant: linear convergence",       "a0/t², a0/2^t: Σ lr is finite,",
            "  GD stops short of the optimum",    "a0/t: Σ lr = ∞, but along the valley",
            "  (curvature 1) the distance falls", "  only like t^(−a0)",
        };
        double y = 50 + 22.0 * TRAJ_SCHEDULE_RUNS + 36;
        svg_text(&doc, 1030, y, 13, "start", 0, note);
        for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) /* "  ": indented */
            svg_text(&doc, notes[i][0] == ' ' ? 1044 : 1030, y + 20.0 * (double)(i + 1), 13,
                     "start", 0, notes[i] + (notes[i][0] == ' ' ? 2 : 0));
        optcl_status cst = close_picture(&doc, path, message, message_size);
        if (st == OPTCL_SUCCESS)
            st = cst;
    }
    for (int r = 0; r < TRAJ_SCHEDULE_RUNS; r++)
        traj_path_free(&paths[r]);
    return st;
}

optcl_status traj_write_pictures(optcl_context *ctx, const char *dir, int quick,
                                 traj_summary *summary, char *message, size_t message_size)
{
    if (!ctx || !dir)
        return fail(OPTCL_ERROR_NULL_POINTER, message, message_size, "%s%s",
                    "traj_write_pictures: ctx or dir is NULL", "");
    if (summary)
        memset(summary, 0, sizeof *summary);
    optcl_status st = OPTCL_SUCCESS;
    for (int l = 0; l < TRAJ_LOSS_COUNT && st == OPTCL_SUCCESS; l++)
        st = loss_picture(ctx, dir, (traj_loss)l, quick, summary, message, message_size);
    if (st == OPTCL_SUCCESS)
        st = lr_picture(ctx, dir, quick, message, message_size);
    if (st == OPTCL_SUCCESS)
        st = schedule_picture(ctx, dir, quick, message, message_size);
    return st;
}
