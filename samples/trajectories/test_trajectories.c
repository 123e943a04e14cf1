/* test_trajectories.c — ctest sample_trajectories: the trajectories sample's quick mode on the
 * default device writes every picture, well-formed, each set's methods (and only they) in its
 * legends; the methods end where the pictures' lr choices say (pictures.c); the rules those
 * choices rest on hold step by step; the losses' gradients agree with finite differences. */
#include "testutil.h"
#include "trajectories.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How close Adam and momentum must end to (1, 1) after the quick mode's 2000 Rosenbrock
 * steps. Measured distances: momentum 2.6e-4, Adam 3.1e-6 (reference backend and PoCL alike);
 * 1e-2 leaves a wide margin for other devices' float rounding without letting a run that
 * stalls in the valley (GD ends 0.5 away) pass. */
#define ROSENBROCK_TOLERANCE 1e-2

/* Where the newer methods end in quick mode (2000 Rosenbrock, 100 ravine, 150 saddle steps),
 * with the distances measured on PoCL and the reference backend alike (bit for bit the same):
 * - Adamax and Lion come within NEAR_ROSENBROCK of (1, 1): measured 0.046 and 0.057. Lion
 *   swings through the minimum along the valley once there (step 1842), so its distance
 *   depends on where in the swing the run stops: 0.057 is the swing's largest at lr 2e-3
 *   (0.14 at 3e-3). GD and Adagrad stall 0.8 away.
 * - Adagrad comes within NEAR_RAVINE of the ravine's minimum: measured 0.079; RAdam (its
 *   warm-up) and Adadelta (its slow start) end 2.4 and 3.7 away.
 * - Adagrad, Adamax and NAdam leave the saddle at once and come within NEAR_SADDLE of (0, 2):
 *   measured at most 1e-3; Lion, RAdam and Adadelta are still 0.4 or more away.
 * - ASGD ends within SAME_AS_GD of GD on every loss: measured at most 5e-5 (its decay,
 *   λ = 1e-4); on Rosenbrock, where GD stops halfway along the valley, the method ending
 *   closest to GD is EMA momentum, 2e-3 away.
 * - Adadelta ends more than SLOW_START from the ravine's minimum: measured 3.7 (the start is
 *   4.0 away). */
#define NEAR_ROSENBROCK 0.2
#define NEAR_RAVINE 0.3
#define NEAR_SADDLE 0.05
#define SAME_AS_GD 1e-3
#define SLOW_START 2.0

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static size_t occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Starts with <svg, ends with </svg>, tags balanced, and the expected number of polylines:
 * paths (class "path", drawn over contours) and curves (class "curve", per-step plots). Of a
 * loss picture of set, the legend names the set's methods and no others. */
static void check_svg(const char *dir, traj_picture picture, int set, size_t paths, size_t curves)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, traj_picture_file(picture));
    char *text = slurp(path);
    if (!text)
        fail_msg("%s was not written", path);
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (strncmp(text, "<svg", 4) != 0 || len < 6 || strcmp(text + len - 6, "</svg>") != 0)
        fail_msg("%s does not start with <svg and end with </svg>", path);
    assert_int_equal(occurrences(text, "<svg"), 1);
    assert_int_equal(occurrences(text, "<g"), occurrences(text, "</g>"));
    assert_int_equal(occurrences(text, "<text"), occurrences(text, "</text>"));
    size_t got_paths = occurrences(text, "<polyline class=\"path\"");
    size_t got_curves = occurrences(text, "<polyline class=\"curve\"");
    if (got_paths != paths || got_curves != curves ||
        occurrences(text, "<polyline") != paths + curves)
        fail_msg("%s: %zu path and %zu curve polylines (%zu in all), expected %zu and %zu", path,
                 got_paths, got_curves, occurrences(text, "<polyline"), paths, curves);
    for (int m = 0; set >= 0 && m < TRAJ_METHOD_COUNT; m++) {
        char entry[96]; /* a legend label is "<name>, lr <lr>" ("GD, lr" is in "ASGD, lr") */
        snprintf(entry, sizeof entry, ">%s, lr ", traj_method_name((traj_method)m));
        int member = traj_method_in_set((traj_method)m, (traj_set)set);
        if (member != (strstr(text, entry) != NULL))
            fail_msg("%s: %s %s a legend entry", path, traj_method_name((traj_method)m),
                     member ? "has no" : "has");
    }
    free(text);
}

/* A context on the default device; skips the test where there is none and that is allowed. */
static optcl_context *default_context(void)
{
    char message[1024] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(NULL, &ctx, message, sizeof message);
    if (st != OPTCL_SUCCESS && tu_allow_no_device()) {
        print_message("[  SKIP    ] no OpenCL device: %s\n", message);
        skip();
    }
    TU_OK(st, message);
    print_message("device: %s\n", optcl_context_device_name(ctx));
    return ctx;
}

/* Checks that method ended on loss within limit of goal (beyond: farther than limit). */
static void check_end(const traj_summary *summary, traj_method method, traj_loss loss,
                      traj_point goal, const char *what, double limit, int beyond)
{
    traj_point e = summary->end[loss][method];
    double d = hypot(e.x - goal.x, e.y - goal.y);
    print_message("%s on %s after %d steps: (%.6f, %.6f), %.2e from %s\n",
                  traj_method_name(method), traj_loss_name(loss), summary->steps[loss], e.x, e.y,
                  d, what);
    if (beyond ? !(d > limit) : !(d <= limit))
        fail_msg("%s ends %.3g from %s on %s (expected %s %g)", traj_method_name(method), d, what,
                 traj_loss_name(loss), beyond ? "more than" : "at most", limit);
}

static void quick_mode(void **state)
{
    (void)state;
    optcl_context *ctx = default_context();
    char *dir = tu_make_tempdir();
    assert_non_null(dir);

    char message[1024] = "";
    traj_summary summary;
    optcl_status st = traj_write_pictures(ctx, dir, 1, &summary, message, sizeof message);
    TU_OK(st, message);
    /* a loss picture: one path and one f − f* curve per method of its set; the lr picture: one
     * path per lr; the schedule picture: per schedule one lr curve and one distance curve */
    for (int s = 0; s < TRAJ_SET_COUNT; s++) {
        size_t members = 0;
        for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
            members += (size_t)traj_method_in_set((traj_method)m, (traj_set)s);
        for (int l = 0; l < TRAJ_LOSS_COUNT; l++)
            check_svg(dir, traj_loss_picture((traj_set)s, (traj_loss)l), s, members, members);
    }
    check_svg(dir, TRAJ_PICTURE_LR, -1, TRAJ_LR_RUNS, 0);
    check_svg(dir, TRAJ_PICTURE_SCHEDULES, -1, 0, 2 * TRAJ_SCHEDULE_RUNS);

    static const struct {
        traj_method method;
        traj_loss loss;
        double limit;
    } near[] = {
        {TRAJ_ADAM, TRAJ_ROSENBROCK, ROSENBROCK_TOLERANCE},
        {TRAJ_MOMENTUM, TRAJ_ROSENBROCK, ROSENBROCK_TOLERANCE},
        {TRAJ_ADAMAX, TRAJ_ROSENBROCK, NEAR_ROSENBROCK},
        {TRAJ_LION, TRAJ_ROSENBROCK, NEAR_ROSENBROCK},
        {TRAJ_ADAGRAD, TRAJ_RAVINE, NEAR_RAVINE},
        {TRAJ_ADAGRAD, TRAJ_SADDLE, NEAR_SADDLE},
        {TRAJ_ADAMAX, TRAJ_SADDLE, NEAR_SADDLE},
        {TRAJ_NADAM, TRAJ_SADDLE, NEAR_SADDLE},
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++)
        check_end(&summary, near[i].method, near[i].loss, traj_loss_minimum(near[i].loss),
                  "the minimum", near[i].limit, 0);
    for (int l = 0; l < TRAJ_LOSS_COUNT; l++)
        check_end(&summary, TRAJ_ASGD, (traj_loss)l, summary.end[l][TRAJ_GD], "GD's end",
                  SAME_AS_GD, 0);
    check_end(&summary, TRAJ_ADADELTA, TRAJ_RAVINE, traj_loss_minimum(TRAJ_RAVINE), "the minimum",
              SLOW_START, 1);
    tu_remove_tree(dir);
    free(dir);
    TU_OK(optcl_context_destroy(ctx), "optcl_context_destroy");
}

/* Float32 rounding of the coordinates (|x| ≤ 4: an ulp is 4.8e-7) in one step's difference. */
#define STEP_TOLERANCE 1e-5

/* steps steps of method on the ravine from its start, with the lr its pictures use. */
static traj_path ravine_path(optcl_context *ctx, traj_method method, int steps, double *lr)
{
    char message[1024] = "";
    optcl_optimizer_config cfg = traj_method_config(method, TRAJ_RAVINE);
    traj_path path;
    TU_OK(traj_run(ctx, &cfg, TRAJ_RAVINE, traj_loss_start(TRAJ_RAVINE), steps, 1e3, &path,
                   message, sizeof message),
          message);
    *lr = cfg.lr;
    return path;
}

/* What pictures.c's lr choices rest on, step by step on the device: Lion moves each coordinate
 * by exactly lr or not at all; Adagrad's first step is lr per coordinate; RAdam's first step is
 * SGD's, −lr·g. */
static void rules(void **state)
{
    (void)state;
    optcl_context *ctx = default_context();
    double lr;
    traj_path path = ravine_path(ctx, TRAJ_LION, 100, &lr);
    assert_int_equal(path.count, 101);
    for (size_t t = 1; t < path.count; t++) {
        double d[2] = {path.points[t].x - path.points[t - 1].x,
                       path.points[t].y - path.points[t - 1].y};
        for (int k = 0; k < 2; k++)
            if (!(fabs(d[k]) <= STEP_TOLERANCE || fabs(fabs(d[k]) - lr) <= STEP_TOLERANCE))
                fail_msg("Lion's step %zu moves coordinate %d by %.9g, not 0 or lr %g", t, k,
                         d[k], lr);
    }
    traj_path_free(&path);

    path = ravine_path(ctx, TRAJ_ADAGRAD, 1, &lr);
    double dx = path.points[1].x - path.points[0].x, dy = path.points[1].y - path.points[0].y;
    print_message("Adagrad's first step: (%.9g, %.9g), lr %g\n", dx, dy, lr);
    if (!(fabs(fabs(dx) - lr) <= STEP_TOLERANCE && fabs(fabs(dy) - lr) <= STEP_TOLERANCE))
        fail_msg("Adagrad's first step (%.9g, %.9g) is not lr %g per coordinate", dx, dy, lr);
    traj_path_free(&path);

    path = ravine_path(ctx, TRAJ_RADAM, 1, &lr);
    double g[2];
    traj_loss_value(TRAJ_RAVINE, path.points[0].x, path.points[0].y, g);
    dx = path.points[1].x - path.points[0].x, dy = path.points[1].y - path.points[0].y;
    print_message("RAdam's first step: (%.9g, %.9g), −lr·g (%.9g, %.9g)\n", dx, dy, -lr * g[0],
                  -lr * g[1]);
    if (!(fabs(dx + lr * g[0]) <= STEP_TOLERANCE * (1 + fabs(lr * g[0])) &&
          fabs(dy + lr * g[1]) <= STEP_TOLERANCE * (1 + fabs(lr * g[1]))))
        fail_msg("RAdam's first step (%.9g, %.9g) is not SGD's (%.9g, %.9g)", dx, dy, -lr * g[0],
                 -lr * g[1]);
    traj_path_free(&path);
    TU_OK(optcl_context_destroy(ctx), "optcl_context_destroy");
}

/* Every method has a name, a set and a valid configuration on every loss; each set has Adam. */
static void method_table(void **state)
{
    (void)state;
    for (int m = 0; m < TRAJ_METHOD_COUNT; m++) {
        const char *name = traj_method_name((traj_method)m);
        int sets = 0;
        for (int s = 0; s < TRAJ_SET_COUNT; s++)
            sets += traj_method_in_set((traj_method)m, (traj_set)s);
        if (!name || !strcmp(name, "unknown") || sets == 0)
            fail_msg("method %d: name %s, in %d sets", m, name ? name : "(null)", sets);
        for (int l = 0; l < TRAJ_LOSS_COUNT; l++)
            if (!(traj_method_config((traj_method)m, (traj_loss)l).lr > 0.0))
                fail_msg("%s has no lr on %s", name, traj_loss_name((traj_loss)l));
    }
    for (int s = 0; s < TRAJ_SET_COUNT; s++)
        assert_true(traj_method_in_set(TRAJ_ADAM, (traj_set)s));
    assert_false(traj_method_in_set(TRAJ_LION, TRAJ_SET_CLASSIC));
    assert_int_equal(traj_loss_picture(TRAJ_SET_MORE, TRAJ_SADDLE), TRAJ_PICTURE_SADDLE_MORE);
    assert_string_equal(traj_picture_file(TRAJ_PICTURE_ROSENBROCK_MORE), "rosenbrock_more.svg");
}

/* Failures come back as statuses with messages naming the call or the file. */
static void errors(void **state)
{
    (void)state;
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE; /* the messages do not depend on the device */
    char message[1024] = "";
    optcl_context *ctx = NULL;
    TU_OK(optcl_context_create(&cc, &ctx, message, sizeof message), message);

    optcl_optimizer_config cfg = traj_method_config(TRAJ_ADAM, TRAJ_ROSENBROCK);
    cfg.lr = -1.0;
    traj_path path;
    optcl_status st = traj_run(ctx, &cfg, TRAJ_ROSENBROCK, traj_loss_start(TRAJ_ROSENBROCK), 10,
                               1e3, &path, message, sizeof message);
    assert_int_equal(st, OPTCL_ERROR_INVALID_ARGUMENT);
    assert_null(path.points);
    print_message("expected failure: %s\n", message);
    if (!strstr(message, "optcl_optimizer_create") || !strstr(message, "lr"))
        fail_msg("message does not name the call and the field: %s", message);

    st =
        traj_write_pictures(ctx, "/nonexistent-trajectories-dir", 1, NULL, message, sizeof message);
    assert_int_equal(st, OPTCL_ERROR_IO);
    if (!strstr(message, "/nonexistent-trajectories-dir/ravine.svg"))
        fail_msg("message does not name the file: %s", message);
    print_message("expected failure: %s\n", message);
    TU_OK(optcl_context_destroy(ctx), "optcl_context_destroy");
}

/* The host gradients the paths are driven by, against central differences. */
static void gradients(void **state)
{
    (void)state;
    const traj_point at[] = {{-1.5, 2.0}, {0.3, -0.7}, {1.1, 1.2}, {-2.0, 0.01}};
    for (int l = 0; l < TRAJ_LOSS_COUNT; l++)
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            double g[2], h = 1e-6, x = at[k].x, y = at[k].y;
            traj_loss_value((traj_loss)l, x, y, g);
            double fx = (traj_loss_value((traj_loss)l, x + h, y, NULL) -
                         traj_loss_value((traj_loss)l, x - h, y, NULL)) /
                        (2 * h);
            double fy = (traj_loss_value((traj_loss)l, x, y + h, NULL) -
                         traj_loss_value((traj_loss)l, x, y - h, NULL)) /
                        (2 * h);
            if (fabs(fx - g[0]) > 1e-5 * (1 + fabs(fx)) || fabs(fy - g[1]) > 1e-5 * (1 + fabs(fy)))
                fail_msg("%s at (%g, %g): gradient (%g, %g), differences (%g, %g)",
                         traj_loss_name((traj_loss)l), x, y, g[0], g[1], fx, fy);
        }
    /* and each loss's minimum is a stationary point */
    for (int l = 0; l < TRAJ_LOSS_COUNT; l++) {
        double g[2];
        traj_point m = traj_loss_minimum((traj_loss)l);
        traj_loss_value((traj_loss)l, m.x, m.y, g);
        assert_true(fabs(g[0]) < 1e-12 && fabs(g[1]) < 1e-12);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients),
        cmocka_unit_test(method_table),
        cmocka_unit_test(errors),
        cmocka_unit_test(rules),
        cmocka_unit_test(quick_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
