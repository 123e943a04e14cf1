/* pictures.c — the lecture's pictures: every optimizer on each loss (the classic methods in
 * one picture, Adam and the newer ones in another), the ravine with learning rates from too
 * small to too large, and four learning-rate schedules compared. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options of the table's rows beyond torch's defaults. */
static void heavy_ball(optcl_optimizer_config *cfg)
{
    cfg->sgd.momentum = 0.9;
}

static void ema_momentum(optcl_optimizer_config *cfg)
{
    cfg->sgd.momentum = 0.9;
    cfg->sgd.ema = 1;
}

static void nesterov(optcl_optimizer_config *cfg)
{
    cfg->sgd.momentum = 0.9;
    cfg->sgd.nesterov = 1;
}

static void rprop_classic(optcl_optimizer_config *cfg)
{
    cfg->rprop.variant = OPTCL_RPROP_CLASSIC;
}

static void lookahead(optcl_optimizer_config *cfg)
{
    cfg->lookahead.k = 5;
    cfg->lookahead.alpha = 0.5;
}

#define CLASSIC (1u << TRAJ_SET_CLASSIC)
#define MORE (1u << TRAJ_SET_MORE)

/* A method: how to configure it, how to draw it, and where. */
typedef struct method_row {
    const char *name; /* the legend's */
    optcl_algorithm algorithm;
    void (*options)(optcl_optimizer_config *cfg); /* NULL: torch's defaults */
    double lr[TRAJ_LOSS_COUNT];                   /* ravine, Rosenbrock, saddle: see below */
    const char *colour;
    const char *dash; /* dashed: a variant of a method of its set (EMA momentum, classic Rprop,
                         Lookahead; Adamax, NAdam, RAdam), whose path may run on top of it */
    unsigned sets;    /* the sets (pictures) that draw it: CLASSIC, MORE */
} method_row;

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
 *   their lr is a distance: a small fraction of the picture.
 * The newer methods (torch's defaults otherwise), scanned 5e-4 … 5 on a log grid (four steps a
 * decade) and looked at; Adam keeps its lr from above and is their reference line:
 * - Lion steps exactly lr per coordinate (the sign of an interpolated momentum), so lr is a
 *   distance and lr·steps must cover the way: ravine and saddle 0.02 (200 · 0.02 = 4, the
 *   ravine start's distance along x; a larger lr overshoots along the valley, as its momentum,
 *   β2 0.99, remembers the way down for ~100 steps); Rosenbrock 2e-3: within 0.01 of (1, 1)
 *   at step 1842, then swinging through it along the valley, up to 0.057 (30 lr) away; at
 *   3e-3 the swing reaches 0.14.
 * - Adagrad's first step is lr per coordinate (g/√g²), and later ones shrink as 1/√(Σ g²), so
 *   it takes a larger lr than Adam: ravine 1 (ends 2e-3 away; 2 zig-zags across the valley
 *   first), saddle 0.5 (within 0.01 of the minimum at step 47), Rosenbrock 0.2 (0.5 and more
 *   throw the first step up the wall). There the steep first steps fill the sum, and it stalls
 *   on the valley floor near GD's end whatever the lr (0.1 … 1 all end 0.17 … 0.4 short).
 * - Adadelta's step is lr·√(acc_delta + ε)/√(square_avg + ε)·g: it starts at √(10ε) ≈ 3e-3
 *   per coordinate and grows quickly only while |g| rises above its running RMS. lr 1 (torch's
 *   default: the paper's rule) on the ravine and the saddle shows that slow start (an lr only
 *   scales it: 10 still ends 0.5 from the ravine's minimum). On Rosenbrock the steep walls make
 *   the steps grow until, at lr 1, it rattles across the valley floor near (0.7, 0.4); 0.1
 *   ends 0.16 from (1, 1).
 * - Adamax divides by the largest |g| seen (which decays only as 0.999^t), not by an RMS: as
 *   the gradient shrinks, so do its steps, as GD's do, and it takes more than Adam's lr:
 *   ravine 0.5 (ends 8e-3 away; 0.2 stops 0.5 short), Rosenbrock and saddle 0.1, twice Adam's
 *   as in torch's defaults (2e-3 against 1e-3).
 * - NAdam: Adam's lr on the ravine and the saddle, where it follows Adam. On Rosenbrock at
 *   Adam's 0.05 it is thrown off the valley floor every few hundred steps; 0.01 stays on it
 *   and ends 5e-3 from (1, 1).
 * - RAdam's first five steps (ρ_t ≤ 5) are momentum SGD, p −= lr·m̂, as large as the gradient;
 *   after them it takes Adam's step times r_t (0.03 at step 6, 0.2 at 100, 0.65 at 1000), a
 *   built-in warm-up. So lr must keep those SGD steps in the picture: ravine 0.05 (below GD's
 *   limit 2/25; Adam's 0.1 throws it off the picture), Rosenbrock 2e-3 (5e-3 and more throw it
 *   across the picture; it then crawls, ending on the valley floor near (0.3, 0.1)), saddle
 *   Adam's 0.05.
 * - ASGD is plain SGD here: its average (a separate state, from step t0 = 1e6) never changes
 *   the path, η = lr/(1 + λ·lr·t)^α hardly decays in these few steps, and the decay λ = 1e-4
 *   moves the minimum a little (the saddle's by λ·2/4 = 5e-5: y = 2, curvature 4). So it
 *   takes GD's lr and draws GD's path.
 * - Schedule-Free AdamW: the path is y, where the gradient is taken (traj_run reads the
 *   parameters in train mode); y keeps swinging around the average x it drifts with, so its
 *   lr is twice Adam's where that makes x settle sooner: the ravine 0.2 (0.1 ends 0.7 away, 0.2
 *   0.4), the saddle 0.1 (ends 1e-3 from (0, 2)); Rosenbrock Adam's 0.05 (ends 0.03 from
 *   (1, 1); 0.1 bounces along the valley).
 * A new method is one row here (and its name in trajectories.h's traj_method), its lr per
 * loss scanned as above and justified here. */
static const method_row methods[] = {
    [TRAJ_GD] = {"GD", OPTCL_SGD, NULL, {0.07, 1e-3, 0.05}, "#1f5fd0", NULL, CLASSIC},
    [TRAJ_MOMENTUM] = {"momentum", OPTCL_SGD, heavy_ball, {0.02, 1e-3, 0.05}, "#ff7f0e", NULL,
                       CLASSIC},
    [TRAJ_EMA] = {"EMA momentum", OPTCL_SGD, ema_momentum, {0.07, 1e-3, 0.05}, "#2ca02c", "7 3",
                  CLASSIC},
    [TRAJ_NESTEROV] = {"Nesterov", OPTCL_SGD, nesterov, {0.02, 1e-3, 0.05}, "#d62728", NULL,
                       CLASSIC},
    [TRAJ_RPROP] = {"Rprop (PyTorch)", OPTCL_RPROP, NULL, {0.1, 0.01, 0.01}, "#9467bd", NULL,
                    CLASSIC},
    [TRAJ_RPROP_CLASSIC] = {"Rprop (classic)", OPTCL_RPROP, rprop_classic, {0.1, 0.01, 0.01},
                            "#8c564b", "7 3", CLASSIC},
    [TRAJ_RMSPROP] = {"RMSprop", OPTCL_RMSPROP, NULL, {0.05, 5e-3, 0.01}, "#e377c2", NULL,
                      CLASSIC},
    [TRAJ_ADAM] = {"Adam", OPTCL_ADAM, NULL, {0.1, 0.05, 0.05}, "#111111", NULL, CLASSIC | MORE},
    [TRAJ_LOOKAHEAD] = {"Lookahead (Adam)", OPTCL_ADAM, lookahead, {0.1, 0.05, 0.05}, "#17becf",
                        "7 3", CLASSIC},
    [TRAJ_LION] = {"Lion", OPTCL_LION, NULL, {0.02, 2e-3, 0.02}, "#d62728", NULL, MORE},
    [TRAJ_ADAGRAD] = {"Adagrad", OPTCL_ADAGRAD, NULL, {1, 0.2, 0.5}, "#2ca02c", NULL, MORE},
    [TRAJ_ADADELTA] = {"Adadelta", OPTCL_ADADELTA, NULL, {1, 0.1, 1}, "#9467bd", NULL, MORE},
    [TRAJ_ADAMAX] = {"Adamax", OPTCL_ADAMAX, NULL, {0.5, 0.1, 0.1}, "#ff7f0e", "7 3", MORE},
    [TRAJ_NADAM] = {"NAdam", OPTCL_NADAM, NULL, {0.1, 0.01, 0.05}, "#1f5fd0", "7 3", MORE},
    [TRAJ_RADAM] = {"RAdam", OPTCL_RADAM, NULL, {0.05, 2e-3, 0.05}, "#17becf", "7 3", MORE},
    [TRAJ_ASGD] = {"ASGD", OPTCL_ASGD, NULL, {0.07, 1e-3, 0.05}, "#8c564b", NULL, MORE},
    [TRAJ_ADAMW_SF] = {"Schedule-Free AdamW", OPTCL_ADAMW_SCHEDULEFREE, NULL, {0.2, 0.05, 0.1},
                       "#bcbd22", NULL, MORE},
};

/* A row per traj_method (the test checks that each has a name and a set). */
_Static_assert(sizeof methods / sizeof methods[0] == TRAJ_METHOD_COUNT,
               "a row in methods[] for every traj_method");

/* The line every set is compared with, drawn wider: Adam. */
#define REFERENCE TRAJ_ADAM

/* What each set's pictures say under the legend about the options (the lr is in the legend). */
static const char *const set_notes[TRAJ_SET_COUNT] = {
    [TRAJ_SET_CLASSIC] = "momentum 0.9; Lookahead k 5, α 0.5",
    [TRAJ_SET_MORE] = "otherwise torch's defaults",
};

/* Steps per loss, full and quick. Quick still lets Adam and momentum reach Rosenbrock's
 * minimum, and Adamax and Lion come near it (the test checks that). */
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
    [TRAJ_PICTURE_RAVINE] = "ravine.svg",
    [TRAJ_PICTURE_ROSENBROCK] = "rosenbrock.svg",
    [TRAJ_PICTURE_SADDLE] = "saddle.svg",
    [TRAJ_PICTURE_RAVINE_MORE] = "ravine_more.svg",
    [TRAJ_PICTURE_ROSENBROCK_MORE] = "rosenbrock_more.svg",
    [TRAJ_PICTURE_SADDLE_MORE] = "saddle_more.svg",
    [TRAJ_PICTURE_LR] = "ravine_lr.svg",
    [TRAJ_PICTURE_SCHEDULES] = "schedules.svg",
};

/* The loss pictures come first, a set's three together (trajectories.h). */
_Static_assert(TRAJ_PICTURE_LR == TRAJ_SET_COUNT * TRAJ_LOSS_COUNT,
               "a loss picture per set and loss, before the lr picture");

const char *traj_method_name(traj_method method)
{
    return (unsigned)method < TRAJ_METHOD_COUNT ? methods[method].name : "unknown";
}

int traj_method_in_set(traj_method method, traj_set set)
{
    return (unsigned)method < TRAJ_METHOD_COUNT && (unsigned)set < TRAJ_SET_COUNT &&
           (methods[method].sets & (1u << set)) != 0;
}

const char *traj_picture_file(traj_picture picture)
{
    return (unsigned)picture < TRAJ_PICTURE_COUNT ? picture_files[picture] : "unknown";
}

traj_picture traj_loss_picture(traj_set set, traj_loss loss)
{
    return (traj_picture)(TRAJ_PICTURE_RAVINE + (int)set * TRAJ_LOSS_COUNT + (int)loss);
}

optcl_optimizer_config traj_method_config(traj_method method, traj_loss loss)
{
    if ((unsigned)method >= TRAJ_METHOD_COUNT)
        return optcl_optimizer_config_default(OPTCL_SGD);
    const method_row *row = &methods[method];
    optcl_optimizer_config cfg = optcl_optimizer_config_default(row->algorithm);
    if ((unsigned)loss < TRAJ_LOSS_COUNT)
        cfg.lr = row->lr[loss];
    if (row->options)
        row->options(&cfg);
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

/* The methods a set draws, in the table's order (the legend's); returns how many. */
static int set_members(traj_set set, int members[TRAJ_METHOD_COUNT])
{
    int n = 0;
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
        if (traj_method_in_set((traj_method)m, set))
            members[n++] = m;
    return n;
}

/* f − f* per step for the members' paths, on a log axis from the decade below the lowest value
 * reached (not below 1e-10) to the decade above 10 times the start's. Returns 0, or -1 when out
 * of memory. */
static int loss_curves(svg_doc *doc, traj_loss loss, double fmin, const traj_path *paths,
                       const int *members, int count, int steps)
{
    double lo = INFINITY, hi = 10.0 * (traj_loss_value(loss, traj_loss_start(loss).x,
                                                       traj_loss_start(loss).y, NULL) -
                                       fmin);
    for (int i = 0; i < count; i++) {
        const traj_path *p = &paths[members[i]];
        for (size_t t = 0; t < p->count; t++) {
            double f = traj_loss_value(loss, p->points[t].x, p->points[t].y, NULL);
            if (f - fmin > 0.0 && f - fmin < lo)
                lo = f - fmin;
        }
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
    for (int i = 0; i < count; i++) {
        const traj_path *p = &paths[members[i]];
        const method_row *row = &methods[members[i]];
        for (size_t t = 0; t < p->count; t++)
            curve[t] = (traj_point){
                (double)t, traj_loss_value(loss, p->points[t].x, p->points[t].y, NULL) - fmin};
        svg_polyline(doc, &panel, "curve", curve, p->count, row->colour, 1.6, row->dash);
    }
    svg_clip_end(doc);
    free(curve);
    return 0;
}

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

/* Runs every method on loss from its start (paths[m]: method m's path) and records where each
 * ended in summary (may be NULL). */
static optcl_status run_methods(optcl_context *ctx, traj_loss loss, int steps, double bound,
                                traj_path paths[TRAJ_METHOD_COUNT], traj_summary *summary,
                                char *message, size_t message_size)
{
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++) {
        optcl_optimizer_config cfg = traj_method_config((traj_method)m, loss);
        optcl_status st = traj_run(ctx, &cfg, loss, traj_loss_start(loss), steps, bound, &paths[m],
                                   message, message_size);
        if (st != OPTCL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "%s on %s", methods[m].name, traj_loss_name(loss));
            prefix_message(message, message_size, what);
            return st;
        }
        if (summary) {
            summary->end[loss][m] = paths[m].points[paths[m].count - 1];
            summary->steps[loss] = steps;
        }
    }
    return OPTCL_SUCCESS;
}

/* The left panel of a set's loss picture: contours, the members' paths (earlier ones a little
 * wider, so that paths on top of each other, as all of them on Rosenbrock's valley floor, show
 * as nested bands; the reference line stands out), end markers, the minimum and the start. */
static optcl_status path_panel(svg_doc *doc, traj_loss loss, const int *members, int count,
                               const traj_path *paths, char *message, size_t message_size)
{
    svg_panel panel;
    optcl_status st = contour_panel(doc, loss, views[loss].title, &panel, message, message_size);
    for (int i = 0; i < count; i++) {
        const method_row *row = &methods[members[i]];
        const traj_path *p = &paths[members[i]];
        svg_polyline(doc, &panel, "path", p->points, p->count, row->colour,
                     members[i] == REFERENCE ? 2.4 : 2.6 - 0.12 * i, row->dash);
    }
    for (int i = 0; i < count; i++) {
        const traj_path *p = &paths[members[i]];
        svg_marker(doc, &panel, p->points[p->count - 1], "end", methods[members[i]].colour);
    }
    svg_marker(doc, &panel, traj_loss_minimum(loss), "star", "#e8b000");
    svg_marker(doc, &panel, traj_loss_start(loss), "start", "#111");
    svg_clip_end(doc);
    return st;
}

/* The legend of a set's loss picture (name and lr per member) and the notes under it. */
static void legend(svg_doc *doc, traj_set set, traj_loss loss, const int *members, int count,
                   const traj_path *paths, int steps)
{
    char labels[TRAJ_METHOD_COUNT][64];
    const char *label_ptrs[TRAJ_METHOD_COUNT], *colours[TRAJ_METHOD_COUNT],
        *dashes[TRAJ_METHOD_COUNT];
    for (int i = 0; i < count; i++) {
        const method_row *row = &methods[members[i]];
        snprintf(labels[i], sizeof labels[i], "%s, lr %g%s", row->name, row->lr[loss],
                 paths[members[i]].diverged ? " (diverged)" : "");
        label_ptrs[i] = labels[i];
        colours[i] = row->colour;
        dashes[i] = row->dash;
    }
    const double lx = 1160;
    svg_legend(doc, lx, 50, label_ptrs, colours, dashes, (size_t)count);
    char note[96];
    snprintf(note, sizeof note, "%d steps from (%g, %g)", steps, traj_loss_start(loss).x,
             traj_loss_start(loss).y);
    double y = 50 + 22.0 * count + 36;
    svg_text(doc, lx, y, 13, "start", 0, note);
    svg_text(doc, lx, y + 20, 13, "start", 0, "○ start   ● end   ★ minimum");
    svg_text(doc, lx, y + 40, 13, "start", 0, "contours: log-spaced levels of f − f*");
    svg_text(doc, lx, y + 60, 13, "start", 0, set_notes[set]);
}

/* One set's picture of one loss, from the paths run_methods computed: the paths over the
 * contours, f − f* per step, the legend. */
static optcl_status set_picture(const char *dir, traj_set set, traj_loss loss,
                                const traj_path paths[TRAJ_METHOD_COUNT], int steps,
                                char *message, size_t message_size)
{
    int members[TRAJ_METHOD_COUNT];
    int count = set_members(set, members);
    char path[4096];
    svg_doc doc = {0};
    optcl_status st = open_picture(&doc, dir, traj_loss_picture(set, loss), 1420, 660, path,
                                   sizeof path, message, message_size);
    if (st != OPTCL_SUCCESS)
        return st;
    st = path_panel(&doc, loss, members, count, paths, message, message_size);
    if (loss_curves(&doc, loss, views[loss].fmin, paths, members, count, steps) != 0 &&
        st == OPTCL_SUCCESS)
        st = fail(OPTCL_ERROR_OUT_OF_HOST_MEMORY, message, message_size, "%s%s",
                  "loss curves: out of memory", "");
    legend(&doc, set, loss, members, count, paths, steps);
    optcl_status cst = close_picture(&doc, path, message, message_size);
    return st == OPTCL_SUCCESS ? cst : st;
}

/* Every method on one loss, computed once and drawn in each set's picture. */
static optcl_status loss_pictures(optcl_context *ctx, const char *dir, traj_loss loss, int quick,
                                  traj_summary *summary, char *message, size_t message_size)
{
    const loss_view *v = &views[loss];
    int steps = loss_steps[loss][quick ? 1 : 0];
    double bound = 50.0 * (v->xmax - v->xmin + v->ymax - v->ymin);
    traj_path paths[TRAJ_METHOD_COUNT] = {{0}};
    optcl_status st = run_methods(ctx, loss, steps, bound, paths, summary, message, message_size);
    for (int s = 0; s < TRAJ_SET_COUNT && st == OPTCL_SUCCESS; s++)
        st = set_picture(dir, (traj_set)s, loss, paths, steps, message, message_size);
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
        st = loss_pictures(ctx, dir, (traj_loss)l, quick, summary, message, message_size);
    if (st == OPTCL_SUCCESS)
        st = lr_picture(ctx, dir, quick, message, message_size);
    if (st == OPTCL_SUCCESS)
        st = schedule_picture(ctx, dir, quick, message, message_size);
    return st;
}
