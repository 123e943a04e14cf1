/* test_trajectories.c — ctest sample_trajectories: the trajectories sample's quick mode on the
 * default device writes every picture, well-formed, and Adam and momentum end near Rosenbrock's
 * minimum; the losses' gradients agree with finite differences. */
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
 * paths (class "path", drawn over contours) and curves (class "curve", per-step plots). */
static void check_svg(const char *dir, traj_picture picture, size_t paths, size_t curves)
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
    if (picture <= TRAJ_PICTURE_SADDLE) /* every method named in the legend */
        for (int m = 0; m < TRAJ_METHOD_COUNT; m++)
            if (!strstr(text, traj_method_name((traj_method)m)))
                fail_msg("%s: no legend entry for %s", path, traj_method_name((traj_method)m));
    free(text);
}

static void quick_mode(void **state)
{
    (void)state;
    char message[1024] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(NULL, &ctx, message, sizeof message);
    if (st != OPTCL_SUCCESS && tu_allow_no_device()) {
        print_message("[  SKIP    ] no OpenCL device: %s\n", message);
        skip();
    }
    TU_OK(st, message);
    print_message("device: %s\n", optcl_context_device_name(ctx));
    char *dir = tu_make_tempdir();
    assert_non_null(dir);

    traj_summary summary;
    st = traj_write_pictures(ctx, dir, 1, &summary, message, sizeof message);
    TU_OK(st, message);
    /* a loss picture: one path and one f − f* curve per optimizer; the lr picture: one path
     * per lr; the schedule picture: per schedule one lr curve and one distance curve */
    for (int p = 0; p <= TRAJ_PICTURE_SADDLE; p++)
        check_svg(dir, (traj_picture)p, TRAJ_METHOD_COUNT, TRAJ_METHOD_COUNT);
    check_svg(dir, TRAJ_PICTURE_LR, TRAJ_LR_RUNS, 0);
    check_svg(dir, TRAJ_PICTURE_SCHEDULES, 0, 2 * TRAJ_SCHEDULE_RUNS);

    traj_point goal = traj_loss_minimum(TRAJ_ROSENBROCK);
    const traj_method near[2] = {TRAJ_ADAM, TRAJ_MOMENTUM};
    for (int i = 0; i < 2; i++) {
        traj_point e = summary.end[TRAJ_ROSENBROCK][near[i]];
        double d = hypot(e.x - goal.x, e.y - goal.y);
        print_message("%s on Rosenbrock after %d steps: (%.6f, %.6f), %.2e from (1, 1)\n",
                      traj_method_name(near[i]), summary.steps[TRAJ_ROSENBROCK], e.x, e.y, d);
        if (!(d <= ROSENBROCK_TOLERANCE))
            fail_msg("%s ends %.3g from Rosenbrock's minimum (tolerance %g)",
                     traj_method_name(near[i]), d, ROSENBROCK_TOLERANCE);
    }
    tu_remove_tree(dir);
    free(dir);
    TU_OK(optcl_context_destroy(ctx), "optcl_context_destroy");
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
        cmocka_unit_test(errors),
        cmocka_unit_test(quick_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
