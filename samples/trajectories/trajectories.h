/* trajectories.h — the trajectories sample as a small library: three 2-D losses, every optcl
 * optimizer's path on them (the step runs through optcl), and the lecture's SVG pictures.
 * The program (main.c) and its test (test_trajectories.c) both link it. */
#ifndef TRAJECTORIES_H
#define TRAJECTORIES_H

#include "optcl.h"

#include <stddef.h>

typedef enum traj_loss {
    TRAJ_RAVINE = 0,     /* 0.5·(u² + 25·v²), (u, v) the point rotated by 30°: condition 25 */
    TRAJ_ROSENBROCK = 1, /* (1 − x)² + 100·(y − x²)², minimum (1, 1) */
    TRAJ_SADDLE = 2,     /* x² − y² + y⁴/8: a saddle at (0, 0), minima (0, ±2) */
    TRAJ_LOSS_COUNT
} traj_loss;

/* The methods, one row each in pictures.c's method table (algorithm, options, legend name,
 * colour, dash, lr per loss, and the picture sets that draw it). Adding one is a name here
 * and a row there. */
typedef enum traj_method {
    TRAJ_GD = 0,        /* sgd */
    TRAJ_MOMENTUM,      /* sgd momentum 0.9 (heavy ball) */
    TRAJ_EMA,           /* sgd ema 1 momentum 0.9 */
    TRAJ_NESTEROV,      /* sgd momentum 0.9 nesterov 1 */
    TRAJ_RPROP,         /* rprop, PyTorch's rule */
    TRAJ_RPROP_CLASSIC, /* rprop variant classic (the lecture's rule) */
    TRAJ_RMSPROP,       /* rmsprop */
    TRAJ_ADAM,          /* adam: in both sets, the newer methods' reference line */
    TRAJ_LOOKAHEAD,     /* Lookahead (k 5, alpha 0.5) around adam */
    TRAJ_LION,          /* lion */
    TRAJ_ADAGRAD,       /* adagrad */
    TRAJ_ADADELTA,      /* adadelta */
    TRAJ_ADAMAX,        /* adamax */
    TRAJ_NADAM,         /* nadam */
    TRAJ_RADAM,         /* radam */
    TRAJ_ASGD,          /* asgd */
    TRAJ_ADAMW_SF,      /* adamw_schedulefree: its y, where the gradient is taken */
    TRAJ_METHOD_COUNT
} traj_method;

/* The sets of methods drawn together: one picture per set and loss, so that no picture has
 * more lines than can be told apart. */
typedef enum traj_set {
    TRAJ_SET_CLASSIC = 0, /* the lecture's: GD, the momenta, Rprop, RMSprop, Adam, Lookahead */
    TRAJ_SET_MORE,        /* Adam and the newer methods: Lion, Adagrad, Adadelta, Adamax, … */
    TRAJ_SET_COUNT
} traj_set;

/* The pictures, written as <dir>/<traj_picture_file(i)>. Set s's picture of loss l is
 * traj_loss_picture(s, l) = s · TRAJ_LOSS_COUNT + l. */
typedef enum traj_picture {
    TRAJ_PICTURE_RAVINE = 0,      /* the classic methods on the ravine */
    TRAJ_PICTURE_ROSENBROCK,      /* the classic methods on Rosenbrock */
    TRAJ_PICTURE_SADDLE,          /* the classic methods on the saddle */
    TRAJ_PICTURE_RAVINE_MORE,     /* Adam and the newer methods on the ravine */
    TRAJ_PICTURE_ROSENBROCK_MORE, /* … on Rosenbrock */
    TRAJ_PICTURE_SADDLE_MORE,     /* … on the saddle */
    TRAJ_PICTURE_LR,              /* GD on the ravine, lr too small … too large */
    TRAJ_PICTURE_SCHEDULES,       /* GD on the ravine under four schedules: lr and distance */
    TRAJ_PICTURE_COUNT
} traj_picture;

#define TRAJ_LR_RUNS 4       /* paths in the lr picture */
#define TRAJ_SCHEDULE_RUNS 4 /* schedules in the schedule picture (one polyline per panel) */

typedef struct traj_point {
    double x, y;
} traj_point;

/* f at (x, y); grad (may be NULL) receives ∂f/∂x, ∂f/∂y. Double precision, on the host. */
double traj_loss_value(traj_loss loss, double x, double y, double grad[2]);
const char *traj_loss_name(traj_loss loss); /* "ravine", "rosenbrock", "saddle" */
traj_point traj_loss_start(traj_loss loss);
/* The minimum the paths should find (the saddle's: the one at y > 0) and the lowest value. */
traj_point traj_loss_minimum(traj_loss loss);

const char *traj_method_name(traj_method method); /* the legend's name: "GD", "Adam", … */
/* Whether set draws method (Adam: both sets). */
int traj_method_in_set(traj_method method, traj_set set);
/* The optimizer configuration of method on loss: its algorithm and options, and the lr chosen
 * for that loss (see pictures.c for why). */
optcl_optimizer_config traj_method_config(traj_method method, traj_loss loss);
const char *traj_picture_file(traj_picture picture);          /* "ravine.svg", … */
traj_picture traj_loss_picture(traj_set set, traj_loss loss); /* set's picture of loss */

/* A recorded path: points[0] is the start, points[t + 1] the parameters after step t; lr[t]
 * the lr step t used. count ≤ steps + 1: a run stops early when it leaves bound (diverged). */
typedef struct traj_path {
    traj_point *points;
    double *lr;
    size_t count;
    int diverged;
} traj_path;

/* Runs steps steps of the optimizer cfg from start on loss — a fresh parameter set of one
 * tensor of two elements on ctx, a fresh optimizer — and records the path (allocated here;
 * free it with traj_path_free; left empty on failure). The gradient is computed on the host, in
 * double precision, from the parameters read back after every step, and written into optcl's
 * gradient buffer. A point with |x| or |y| beyond bound ends the run (path->diverged = 1). On
 * failure message says which call failed and why. */
optcl_status traj_run(optcl_context *ctx, const optcl_optimizer_config *cfg, traj_loss loss,
                      traj_point start, int steps, double bound, traj_path *path, char *message,
                      size_t message_size);
void traj_path_free(traj_path *path);

/* What a run of all pictures found: where each method ended on each loss. */
typedef struct traj_summary {
    traj_point end[TRAJ_LOSS_COUNT][TRAJ_METHOD_COUNT];
    int steps[TRAJ_LOSS_COUNT]; /* the steps each method ran on each loss */
} traj_summary;

/* Computes every path on ctx and writes every picture into dir (which must exist); quick runs
 * fewer steps and writes the same files. summary (may be NULL) receives the end points. On
 * failure message names the call or file and the problem. Blocks. */
optcl_status traj_write_pictures(optcl_context *ctx, const char *dir, int quick,
                                 traj_summary *summary, char *message, size_t message_size);

#endif
