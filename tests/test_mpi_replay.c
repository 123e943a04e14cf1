/* test_mpi_replay.c — `mpirun -np K optcl replay ... --distributed` (issue 8): with K = 2 and
 * 3 ranks every optimizer reproduces the single-process trajectory — bit for bit on the
 * reference backend, within the conformance tolerance on OpenCL — including a schedule,
 * ReduceLROnPlateau fed from --metrics, Lookahead, the gradient guard (NaN/Inf rows skipped;
 * clipping within the tolerance), LAMB, LARS, Adafactor and Muon over tensors= layouts, and a
 * run stopped with --save-state and resumed with --load-state (a tensors= layout resumed with
 * it or, without it, from the manifest's list; another layout refused by name); a bad input
 * prints one line and fails on every rank. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 1001 /* odd: the shards of 3 ranks are 336, 336 and 329 */
#define T 12
#define ERR 16384

static char g_p0[1024], g_grads[1024], g_metrics[1024], g_ga[1024], g_gb[1024], g_nan[1024];

static int setup(void **state)
{
    if (tu_group_dir_setup(state) != 0)
        return -1;
    static float p0[N], g[T * N], m[T];
    uint64_t seed = 42;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(g, T * N, &seed, -1.0f, 1.0f);
    for (int t = 0; t < T; t++)
        m[t] = t < 4 ? 1.0f - 0.1f * (float)t : 0.7f; /* improves, then stalls */
    char msg[512];
    size_t s1[1] = {N}, s2[2] = {T, N}, sa[2] = {5, N}, sb[2] = {T - 5, N}, sm[1] = {T};
    tu_path_in(g_p0, sizeof g_p0, "p0.npy");
    tu_path_in(g_grads, sizeof g_grads, "grads.npy");
    tu_path_in(g_metrics, sizeof g_metrics, "metrics.npy");
    tu_path_in(g_ga, sizeof g_ga, "g_a.npy");
    tu_path_in(g_gb, sizeof g_gb, "g_b.npy");
    tu_path_in(g_nan, sizeof g_nan, "g_nan.npy");
    static float gn[T * N];
    memcpy(gn, g, sizeof gn);
    gn[3 * N + 7] = NAN;          /* step 4: in rank 0's shard */
    gn[8 * N + N - 2] = INFINITY; /* step 9: in the last rank's */
    return optcl_npy_write(g_p0, p0, s1, 1, msg, sizeof msg) ||
                   optcl_npy_write(g_nan, gn, s2, 2, msg, sizeof msg) ||
                   optcl_npy_write(g_grads, g, s2, 2, msg, sizeof msg) ||
                   optcl_npy_write(g_metrics, m, sm, 1, msg, sizeof msg) ||
                   optcl_npy_write(g_ga, g, sa, 2, msg, sizeof msg) ||
                   optcl_npy_write(g_gb, g + 5 * N, sb, 2, msg, sizeof msg)
               ? -1
               : 0;
}

/* Runs `optcl replay` (np 0: alone; else under mpirun -np np with --distributed) with the
 * NULL-terminated extra arguments; returns the exit status, stderr in err. */
static int replay(int np, const char *backend, const char *out, char *err, const char **extra)
{
    const char *argv[64];
    int n = 0;
    char npbuf[16];
    if (np > 0) {
        argv[n++] = OPTCL_MPIEXEC;
        const char *flags = OPTCL_MPIEXEC_FLAGS; /* space-separated, may be empty */
        static char copy[256];
        snprintf(copy, sizeof copy, "%s", flags);
        for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " "))
            argv[n++] = tok;
        argv[n++] = "-q"; /* no banner when a rank fails: stderr is the command's own */
        argv[n++] = "-n";
        snprintf(npbuf, sizeof npbuf, "%d", np);
        argv[n++] = npbuf;
    }
    argv[n++] = tu_cli_path();
    argv[n++] = "replay";
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = "--backend";
    argv[n++] = backend;
    argv[n++] = "--out";
    argv[n++] = out;
    if (np > 0)
        argv[n++] = "--distributed";
    argv[n] = NULL;
    return tu_run((char *const *)argv, err, ERR);
}

/* replay(np, "reference", out, …) that must succeed; what names it when it does not. */
static void replay_ok(int np, const char *out, const char *what, const char **extra)
{
    char err[ERR];
    if (replay(np, "reference", out, err, extra) != 0)
        fail_msg("%s: %s", what, err);
}

static optcl_array load(const char *path)
{
    optcl_array a = {0};
    char msg[512];
    if (optcl_npy_read(path, &a, msg, sizeof msg) != OPTCL_SUCCESS)
        fail_msg("%s", msg);
    return a;
}

/* The single-process trajectory and the distributed ones with 2 and 3 ranks. */
static void same_trajectory(const char *backend, const char **args, int exact)
{
    char single[1024], dist[1024], err[ERR], line[512];
    tu_path_in(single, sizeof single, "single.npy");
    int rc = replay(0, backend, single, err, args);
    tu_join_args(line, sizeof line, args);
    if (rc != 0)
        fail_msg("optcl replay %s: exit %d: %s", line, rc, err);
    optcl_array want = load(single);
    for (int np = 2; np <= 3; np++) {
        tu_path_in(dist, sizeof dist, "dist.npy");
        rc = replay(np, backend, dist, err, args);
        if (rc != 0) {
            optcl_array_free(&want);
            fail_msg("mpirun -np %d optcl replay %s --distributed: exit %d: %s", np, line, rc, err);
        }
        optcl_array got = load(dist);
        assert_int_equal(got.count, want.count);
        double worst = 0.0;
        size_t bad = tu_first_mismatch(got.data, want.data, got.count, exact ? 0.0 : 1e-5,
                                       exact ? 0.0 : 1e-4, &worst);
        if (bad != (size_t)-1)
            fail_msg("%s, np %d, %s: element %zu (step %zu): %.9g vs %.9g", backend, np, line, bad,
                     bad / N + 1, (double)got.data[bad], (double)want.data[bad]);
        if (exact)
            assert_memory_equal(got.data, want.data, got.count * sizeof(float));
        optcl_array_free(&got);
    }
    optcl_array_free(&want);
}

#define ARGS(...)                                                                                  \
    (const char *[])                                                                               \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }

static void test_every_optimizer_reference(void **state)
{
    (void)state;
    same_trajectory("reference",
                    ARGS("sgd", "--params", g_p0, "--grads", g_grads, "lr=0.05", "momentum=0.9",
                         "nesterov=1", "weight_decay=0.01"),
                    1);
    same_trajectory("reference",
                    ARGS("adam", "--params", g_p0, "--grads", g_grads, "lr=0.01", "amsgrad=1"), 1);
    same_trajectory("reference",
                    ARGS("adamw", "--params", g_p0, "--grads", g_grads, "lr=0.01",
                         "schedule=cosine", "t_max=12", "warmup_steps=3"),
                    1);
    same_trajectory("reference",
                    ARGS("rmsprop", "--params", g_p0, "--grads", g_grads, "centered=1",
                         "momentum=0.5", "lookahead_k=4"),
                    1);
    same_trajectory("reference",
                    ARGS("rprop", "--params", g_p0, "--grads", g_grads, "variant=classic"), 1);
    /* bfloat16 and float16 sets: shards of the set's type */
    same_trajectory("reference",
                    ARGS("adam", "--params", g_p0, "--grads", g_grads, "lr=0.01",
                         "param_dtype=bf16", "master_weights=1"),
                    1);
    same_trajectory("reference",
                    ARGS("sgd", "--params", g_p0, "--grads", g_grads, "lr=0.05", "momentum=0.9",
                         "param_dtype=f16", "state_dtype=f32"),
                    1);
    same_trajectory("reference",
                    ARGS("sgd", "--params", g_p0, "--grads", g_grads, "--metrics", g_metrics,
                         "lr=0.1", "momentum=0.9", "schedule=plateau", "patience=1", "factor=0.5"),
                    1);
    /* Dynamic loss scaling: every rank feeds G[t] times the scale the step uses, as one
     * process does; in float16 the scaled gradients overflow, the steps skip and back off,
     * and the scale grows again every 3 steps. */
    same_trajectory("reference",
                    ARGS("adam", "--params", g_p0, "--grads", g_grads, "lr=0.01",
                         "loss_scale=dynamic"),
                    1);
    same_trajectory("reference",
                    ARGS("sgd", "--params", g_p0, "--grads", g_grads, "lr=0.05", "momentum=0.9",
                         "param_dtype=f16", "loss_scale=dynamic", "growth_interval=3"),
                    1);
    /* The gradient guard: the same steps skipped as by the single-process guard; clipping by a
     * norm summed in double where one process sums in float, so the last bits may differ. */
    same_trajectory("reference",
                    ARGS("adam", "--params", g_p0, "--grads", g_nan, "lr=0.01", "nonfinite=skip"),
                    1);
    same_trajectory("reference",
                    ARGS("sgd", "--params", g_p0, "--grads", g_nan, "lr=0.05", "momentum=0.9",
                         "clip_norm=5", "nonfinite=skip"),
                    0);
    /* Rules that look at whole tensors, over replay's tensors= and shape= layouts: every
     * tensor whole in one shard. */
    same_trajectory("reference",
                    ARGS("lamb", "--params", g_p0, "--grads", g_grads, "tensors=500,13x7,410",
                         "weight_decay=0.01"),
                    1);
    same_trajectory("reference",
                    ARGS("lars", "--params", g_p0, "--grads", g_grads, "shape=7,143", "nesterov=1"),
                    1);
    same_trajectory(
        "reference",
        ARGS("adafactor", "--params", g_p0, "--grads", g_grads, "tensors=7x11,11x13,781"), 1);
    same_trajectory("reference",
                    ARGS("muon", "--params", g_p0, "--grads", g_grads, "tensors=7x13,10x91"), 1);
}

static void test_opencl(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        return;
    same_trajectory(
        "opencl",
        ARGS("adam", "--params", g_p0, "--grads", g_grads, "lr=0.01", "weight_decay=0.01"), 0);
    same_trajectory("opencl", ARGS("rprop", "--params", g_p0, "--grads", g_grads), 0);
}

/* `optcl inspect path` succeeds and prints both texts. */
static void inspected(const char *path, const char *text, const char *more)
{
    char err[ERR], *printed = NULL;
    const char *args[] = {path, NULL};
    if (tu_cli_capture("inspect", args, &printed, err, ERR) != 0)
        fail_msg("optcl inspect %s: %s", path, err);
    if (!strstr(printed, text) || !strstr(printed, more))
        fail_msg("optcl inspect %s printed:\n%s", path, printed);
    free(printed);
}

/* Rewrites the manifest at path as its first version wrote it: no tensor list. */
static void first_version(const char *path)
{
    char text[8192] = "", line[512];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "tensor", 6) != 0)
            strncat(text, line, sizeof text - strlen(text) - 1);
    fclose(f);
    char *version = strstr(text, "checkpoint 2\n");
    assert_non_null(version);
    version[strlen("checkpoint ")] = '1';
    f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* 5 steps with 2 ranks and a checkpoint, the other 7 resumed with 2 ranks, and again with 3
 * (the shards cut anew): the rows equal the single-process run's. */
static void test_save_and_resume(void **state)
{
    (void)state;
    char single[1024], a[1024], b[1024], ck[1024], err[ERR];
    tu_path_in(single, sizeof single, "single.npy");
    tu_path_in(a, sizeof a, "a.npy");
    tu_path_in(b, sizeof b, "b.npy");
    tu_path_in(ck, sizeof ck, "ck");
    assert_int_equal(
        replay(0, "reference", single, err,
               ARGS("adam", "--params", g_p0, "--grads", g_grads, "amsgrad=1", "lookahead_k=3")),
        0);
    replay_ok(2, a, "save",
              ARGS("adam", "--params", g_p0, "--grads", g_ga, "--save-state", ck, "amsgrad=1",
                   "lookahead_k=3"));
    replay_ok(2, b, "resume", ARGS("adam", "--load-state", ck, "--grads", g_gb));
    optcl_array want = load(single), got = load(b);
    assert_int_equal(got.count, (T - 5) * N);
    assert_memory_equal(got.data, want.data + 5 * N, got.count * sizeof(float));
    optcl_array_free(&got);
    replay_ok(3, b, "resuming 2 ranks' checkpoint with 3",
              ARGS("adam", "--load-state", ck, "--grads", g_gb));
    got = load(b);
    assert_int_equal(got.count, (T - 5) * N);
    assert_memory_equal(got.data, want.data + 5 * N, got.count * sizeof(float));
    optcl_array_free(&got);
    optcl_array_free(&want);
    /* A run saved with tensors= resumes with them, or without them from the manifest's list
     * (the same rows); with another layout of the same size the load names the tensor. */
    char lamb[1024], listed[1024];
    tu_path_in(lamb, sizeof lamb, "lamb_ck");
    tu_path_in(listed, sizeof listed, "listed.npy");
    replay_ok(2, a, "lamb save",
              ARGS("lamb", "--params", g_p0, "--grads", g_ga, "--save-state", lamb,
                   "tensors=500,13x7,410"));
    replay_ok(2, b, "lamb resume",
              ARGS("lamb", "--load-state", lamb, "--grads", g_gb, "tensors=500,13x7,410"));
    inspected(lamb, "a sharded optcl checkpoint of 2 rank(s)\noptimizer: lamb lr=0.001 ",
              "\nprogress: 5 step(s), 0 skipped; next lr 0.001\n3 tensor(s), 1001 elements:\n"
              "  param.0  500 ");
    replay_ok(3, listed,
              "lamb resumed without tensors=", ARGS("lamb", "--load-state", lamb, "--grads", g_gb));
    want = load(b);
    got = load(listed);
    assert_int_equal(got.count, want.count);
    assert_memory_equal(got.data, want.data, got.count * sizeof(float));
    optcl_array_free(&got);
    optcl_array_free(&want);
    int rc = replay(2, "reference", b, err,
                    ARGS("lamb", "--load-state", lamb, "--grads", g_gb, "tensors=500,7x13,410"));
    assert_int_equal(rc, 1);
    if (!strstr(err, "of shape 13x7 in group 0 in the checkpoint but") ||
        !strstr(err, "of shape 7x13"))
        fail_msg("resumed with another layout: %s", err);
    /* The group's trust_ratio_mask=0 is in rank 0's file: inspect prints it, and resuming
     * with another value is refused naming both. */
    char masked[1024];
    tu_path_in(masked, sizeof masked, "masked_ck");
    replay_ok(2, a, "lars save",
              ARGS("lars", "--params", g_p0, "--grads", g_ga, "--save-state", masked,
                   "trust_ratio_mask=0"));
    inspected(masked, "a sharded optcl checkpoint of 2 rank(s)\n",
              "\ntraining: trust_ratio_mask=0\n");
    rc = replay(2, "reference", b, err,
                ARGS("lars", "--load-state", masked, "--grads", g_gb, "trust_ratio_mask=1"));
    assert_int_equal(rc, 1);
    if (!strstr(err, "trust_ratio_mask=1 differs from the configuration saved in") ||
        !strstr(err, "(trust_ratio_mask=0)"))
        fail_msg("resumed with another trust_ratio_mask: %s", err);
    /* A manifest of the first version (no tensor list): the layout must be given again. */
    first_version(lamb);
    inspected(lamb, "a sharded optcl checkpoint of 2 rank(s)\n",
              "\nprogress: 5 step(s), 0 skipped; next lr 0.001\n1001 elements; the manifest does "
              "not list the tensors (its first version)\n");
    rc = replay(2, "reference", b, err, ARGS("lamb", "--load-state", lamb, "--grads", g_gb));
    assert_int_equal(rc, 1);
    if (!strstr(err, "does not list its tensors resumes with the saved run's tensors="))
        fail_msg("a first-version manifest resumed without its layout: %s", err);
    replay_ok(2, listed, "a first-version manifest resumed with its layout",
              ARGS("lamb", "--load-state", lamb, "--grads", g_gb, "tensors=500,13x7,410"));
}

/* Exit 1 and exactly one line on stderr, from the command, saying want. */
static void one_line(int rc, const char *err, const char *want)
{
    size_t lines = 0;
    for (const char *c = err; *c; c++)
        lines += *c == '\n';
    if (rc != 1 || lines != 1 || strncmp(err, "optcl replay: ", 14) != 0 || !strstr(err, want))
        fail_msg("expected exit 1 and one line saying '%s', got %d:\n%s", want, rc, err);
}

/* OUT that cannot be written fails the run before the checkpoint moves on (a rerun would
 * step twice), and OUT and the checkpoint cannot be one file. */
static void test_checkpoint_after_out(void **state)
{
    (void)state;
    char out[1024], nowhere[1024], ck[1024], err[ERR];
    tu_path_in(out, sizeof out, "kept.npy");
    tu_path_in(nowhere, sizeof nowhere, "no/such/folder/out.npy");
    tu_path_in(ck, sizeof ck, "kept_ck");
    replay_ok(2, out, "save", ARGS("adam", "--params", g_p0, "--grads", g_ga, "--save-state", ck));
    size_t before_len = 0, after_len = 0;
    unsigned char *before = tu_read_file(ck, &before_len);
    int rc = replay(2, "reference", nowhere, err,
                    ARGS("adam", "--load-state", ck, "--grads", g_gb, "--save-state", ck));
    assert_int_equal(rc, 1);
    unsigned char *after = tu_read_file(ck, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len); /* the manifest names the same generation */
    free(after);
    free(before);
    if (!strstr(err, "--out ") || !strstr(err, "cannot create temporary file"))
        fail_msg("OUT in a missing folder: %s", err);
    rc = replay(2, "reference", ck, err,
                ARGS("adam", "--load-state", ck, "--grads", g_gb, "--save-state", ck));
    assert_int_equal(rc, 1);
    if (!strstr(err, "name the same file"))
        fail_msg("OUT = --save-state: %s", err);

    /* OUT written on rank 0, which fails right after (OPTCL_REPLAY_FAIL, the command's seam for
     * tests): the other ranks have stepped and reach the gate before the checkpoint's save,
     * and skip it with rank 0 */
    char fresh[1024];
    tu_path_in(fresh, sizeof fresh, "fresh.npy");
    before = tu_read_file(ck, &before_len);
    setenv("OPTCL_REPLAY_FAIL", "write:--out", 1);
    rc = replay(2, "reference", fresh, err,
                ARGS("adam", "--load-state", ck, "--grads", g_gb, "--save-state", ck));
    unsetenv("OPTCL_REPLAY_FAIL");
    one_line(rc, err, "write failed on purpose");
    after = tu_read_file(ck, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(after);
    assert_int_equal(access(fresh, F_OK), -1);
    /* OUT's rename fails after the sharded checkpoint was saved (it has no temporary name to
     * wait under): every rank exits 1, rank 0 says why, and the checkpoint has moved on */
    setenv("OPTCL_REPLAY_FAIL", "rename:--out", 1);
    rc = replay(2, "reference", fresh, err,
                ARGS("adam", "--load-state", ck, "--grads", g_gb, "--save-state", ck));
    unsetenv("OPTCL_REPLAY_FAIL");
    one_line(rc, err, "rename failed on purpose");
    after = tu_read_file(ck, &after_len);
    assert_false(after_len == before_len && !memcmp(after, before, before_len));
    free(after);
    free(before);
    assert_int_equal(access(fresh, F_OK), -1);
    char names[1024];
    tu_list_folder(tu_group_dir(), names, sizeof names);
    if (strstr(names, ".tmp."))
        fail_msg("a temporary file was left: %s", names);
}

/* A bad input: exit 1 and exactly one line (from one rank) on stderr, no OUT. */
static void test_bad_input(void **state)
{
    (void)state;
    char out[1024], err[ERR];
    tu_path_in(out, sizeof out, "never.npy");
    const char *cases[][8] = {
        {"adam", "--params", g_p0, "--grads", g_grads, "beta1=1.5", NULL},
        {"adam", "--params", g_p0, "--grads", g_grads, "foo=1", NULL},
        {"adam", "--params", g_p0, "--grads", g_p0, NULL},
        {"adam", "--load-state", out, "--grads", g_grads, NULL},
        {"adam", "--params", g_p0, "--grads", g_grads, "tensors=1000,2", NULL},
        {"muon", "--params", g_p0, "--grads", g_grads, "tensors=1000,1", NULL}, /* vectors */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = replay(2, "reference", out, err, cases[i]);
        assert_int_equal(rc, 1);
        size_t lines = 0;
        for (const char *c = err; *c; c++)
            lines += *c == '\n';
        if (lines != 1 || strncmp(err, "optcl replay: ", 14) != 0)
            fail_msg("case %zu: expected one line, got:\n%s", i, err);
        FILE *f = fopen(out, "rb");
        if (f)
            fclose(f);
        assert_null(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_optimizer_reference),
        cmocka_unit_test(test_opencl),
        cmocka_unit_test(test_save_and_resume),
        cmocka_unit_test(test_checkpoint_after_out),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, tu_group_dir_teardown);
}
