/* test_inspect.c — `optcl inspect PATH` (tu_cli_path()) on a checkpoint `optcl replay
 * --save-state` wrote: the optimizer as replay's keys, the non-default training procedure, the
 * progress (steps taken, the next lr) and the tensors with their shapes and groups; a missing
 * file, a file that is not a checkpoint and a wrong call are refused (exit 1 with one line
 * naming the file, or 2 with the usage). A sharded checkpoint's manifest is inspected in
 * test_mpi_replay, or, in a build without MPI, refused here with a message that says why. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR 8192

static void has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("expected '%s' in:\n%s", want, text);
}

/* Resumes ck with every KEY=VALUE that inspect printed on its "optimizer:" and "training:"
 * lines given back (then NULL-terminated extra arguments): they must agree with the checkpoint,
 * numbers included (printed so that they read back as the same double). */
static void resume_with_printed_keys(const char *printed, const char *optimizer, const char *ck,
                                     const char *const *extra)
{
    char words[4096], err[ERR], *out = NULL;
    const char *args[41]; /* tu_cli_capture's 40 arguments and the NULL */
    size_t n = 0;
    args[n++] = optimizer;
    args[n++] = "--load-state";
    args[n++] = ck;
    for (size_t i = 0; extra[i]; i++)
        args[n++] = extra[i];
    const char *line = strstr(printed, "\noptimizer: ");
    assert_non_null(line);
    snprintf(words, sizeof words, "%s", line + 1);
    char *end = strstr(words, "\nprogress:"); /* optimizer: and training: only */
    assert_non_null(end);
    *end = '\0';
    for (char *w = strtok(words, " \n"); w; w = strtok(NULL, " \n")) {
        if (!strchr(w, '='))
            continue;
        if (n == sizeof args / sizeof args[0] - 1) /* a key left out would test nothing */
            fail_msg("inspect printed more keys than one command here takes:\n%s", printed);
        args[n++] = w;
    }
    args[n] = NULL;
    if (tu_cli_capture("replay", args, &out, err, ERR) != 0)
        fail_msg("resuming with the keys inspect printed:\n%s\nreplay: %s", printed, err);
    free(out);
}

static void test_a_checkpoint(void **state)
{
    (void)state;
    char p0[1024], grads[1024], rows[1024], ck[1024], msg[512], err[ERR];
    tu_path_in(p0, sizeof p0, "p0.npy");
    tu_path_in(grads, sizeof grads, "grads.npy");
    tu_path_in(rows, sizeof rows, "rows.npy");
    tu_path_in(ck, sizeof ck, "ck.safetensors");
    static float p[37], g[3 * 37];
    uint64_t seed = 5;
    tu_fill_random(p, 37, &seed, -1.0f, 1.0f);
    tu_fill_random(g, 3 * 37, &seed, -1.0f, 1.0f);
    size_t s1[1] = {37}, s2[2] = {3, 37};
    assert_int_equal(optcl_npy_write(p0, p, s1, 1, msg, sizeof msg), OPTCL_SUCCESS);
    assert_int_equal(optcl_npy_write(grads, g, s2, 2, msg, sizeof msg), OPTCL_SUCCESS);
    char *out = NULL;
    // clang-format off
    const char *save[] = {"adamw", "--params", p0, "--grads", grads, "--out", rows,
                          "--save-state", ck, "--backend", "reference", "tensors=4x5,12,5",
                          "lr=0.01", "amsgrad=1", "schedule=cosine", "t_max=7", "lookahead_k=3",
                          "clip_norm=5", NULL};
    // clang-format on
    if (tu_cli_capture("replay", save, &out, err, ERR) != 0)
        fail_msg("replay: %s", err);
    free(out);
    const char *inspect[] = {ck, NULL};
    assert_int_equal(tu_cli_capture("inspect", inspect, &out, err, ERR), 0);
    has(out, ": an optcl checkpoint\n");
    has(out, "optimizer: adamw lr=0.01 weight_decay=0.01 beta1=0.9 beta2=0.999 eps=1e-08 "
             "amsgrad=1");
    has(out, "training: schedule=cosine t_max=7 lookahead_k=3 clip_norm=5\n");
    /* three steps taken of a cosine over 7: the next lr is 0.01·(1 + cos(3π/7))/2 */
    char progress[128];
    snprintf(progress, sizeof progress, "\nprogress: 3 step(s), 0 skipped; next lr %.9g\n3 tensor",
             0.01 * (1.0 + cos(3.0 * acos(-1.0) / 7.0)) / 2.0);
    has(out, progress);
    has(out, "3 tensor(s), 37 elements:\n");
    has(out, "  param.0  4x5 ");
    has(out, "  param.2  5 ");
    const char *again[] = {"--grads", grads, "--out", rows, "--backend", "reference", NULL};
    resume_with_printed_keys(out, "adamw", ck, again);
    free(out);

    /* Adafactor's default eps1 is float32's epsilon, 2^-23: 1.1920929e-07 is another double */
    const char *factored[] = {"adafactor", "--params", p0, "--grads", grads, "--out", rows,
                              "--save-state", ck, "--backend", "reference", "tensors=4x5,12,5",
                              "lr=0.1", "eps2=0.0003", NULL};
    if (tu_cli_capture("replay", factored, &out, err, ERR) != 0)
        fail_msg("replay: %s", err);
    free(out);
    assert_int_equal(tu_cli_capture("inspect", inspect, &out, err, ERR), 0);
    resume_with_printed_keys(out, "adafactor", ck, again);
    has(out, " eps1=1.1920928955078125e-07 eps2=0.0003 ");
    free(out);

    /* The group's trust_ratio_mask=0 (not in the configuration) is printed, and resuming with
     * another value is refused naming both */
    const char *masked[] = {"lamb",
                            "--params",
                            p0,
                            "--grads",
                            grads,
                            "--out",
                            rows,
                            "--save-state",
                            ck,
                            "--backend",
                            "reference",
                            "tensors=4x5,17",
                            "trust_ratio_mask=0",
                            NULL};
    if (tu_cli_capture("replay", masked, &out, err, ERR) != 0)
        fail_msg("replay: %s", err);
    free(out);
    assert_int_equal(tu_cli_capture("inspect", inspect, &out, err, ERR), 0);
    has(out, "\ntraining: trust_ratio_mask=0\n");
    resume_with_printed_keys(out, "lamb", ck, again);
    free(out);
    const char *unmasked[] = {
        "lamb",      "--load-state",       ck,  "--grads", grads, "--out", rows, "--backend",
        "reference", "trust_ratio_mask=1", NULL};
    assert_int_equal(tu_cli_capture("replay", unmasked, &out, err, ERR), 1);
    free(out);
    has(err, "trust_ratio_mask=1 differs from the configuration saved in ");
    has(err, " (trust_ratio_mask=0)\n");

    /* Every key of the procedure that is not the default, as replay takes it again: the
     * parameters' type, the plateau's, warmup's, rounding's and loss scaling's keys. */
    char metrics[1024];
    tu_path_in(metrics, sizeof metrics, "metrics.npy");
    static const float m[3] = {1.0f, 2.0f, 3.0f};
    size_t s3[1] = {3};
    assert_int_equal(optcl_npy_write(metrics, m, s3, 1, msg, sizeof msg), OPTCL_SUCCESS);
    // clang-format off
    const char *save2[] = {"rmsprop", "--params", p0, "--grads", grads, "--out", rows,
                           "--metrics", metrics, "--save-state", ck, "--backend", "reference",
                           "lr=0.1", "param_dtype=bf16", "schedule=plateau", "patience=0",
                           "factor=0.5", "warmup_steps=5", "rounding=stochastic", "seed=9",
                           "loss_scale=dynamic", "growth_interval=7", NULL};
    // clang-format on
    if (tu_cli_capture("replay", save2, &out, err, ERR) != 0)
        fail_msg("replay: %s", err);
    free(out);
    assert_int_equal(tu_cli_capture("inspect", inspect, &out, err, ERR), 0);
    has(out, "training: param_dtype=bf16 schedule=plateau warmup_steps=5 factor=0.5 patience=0 "
             "rounding=stochastic seed=9 loss_scale=dynamic growth_interval=7\n");
    const char *with_metrics[] = {"--grads", grads, "--out", rows, "--metrics", metrics,
                                  "--backend", "reference", NULL};
    resume_with_printed_keys(out, "rmsprop", ck, with_metrics);
    free(out);
}

/* A checkpoint the library saved with keys set that its procedure does not use (a warmup start
 * factor without warmup steps, a gamma with the constant schedule, a Lookahead alpha without
 * Lookahead): the library takes it, and replay resumes it with every key inspect prints — so
 * inspect leaves those out, as replay would refuse them. */
static void test_unused_keys(void **state)
{
    (void)state;
    char ck[1024], grads[1024], rows[1024], err[ERR];
    tu_path_in(ck, sizeof ck, "unused.safetensors");
    tu_path_in(grads, sizeof grads, "grads7.npy");
    tu_path_in(rows, sizeof rows, "rows7.npy");
    optcl_optimizer_config config = optcl_optimizer_config_default(OPTCL_SGD);
    config.schedule.warmup_start_factor = 0.5;
    config.schedule.gamma = 0.5;
    config.lookahead.alpha = 0.8;
    optcl_tensor_spec spec = {.name = "param", .ndim = 1, .shape = {7}};
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &config);
    TU_OK(optcl_checkpoint_save(r.opt, ck), optcl_optimizer_message(r.opt));
    tu_rig_close(&r);
    static const float g[2 * 7] = {1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1};
    size_t shape[2] = {2, 7};
    char msg[512];
    assert_int_equal(optcl_npy_write(grads, g, shape, 2, msg, sizeof msg), OPTCL_SUCCESS);
    char *out = NULL;
    const char *inspect[] = {ck, NULL};
    if (tu_cli_capture("inspect", inspect, &out, err, ERR) != 0)
        fail_msg("inspect: %s", err);
    if (strstr(out, "warmup_start_factor") || strstr(out, "gamma") || strstr(out, "lookahead"))
        fail_msg("inspect printed keys the procedure does not use:\n%s", out);
    const char *again[] = {"--grads", grads, "--out", rows, "--backend", "reference", NULL};
    resume_with_printed_keys(out, "sgd", ck, again);
    free(out);
}

/* The group's trust-ratio switch is read from the header's __metadata__ by key: a tensor named
 * as that key is a tensor, and its group is still in the trust ratio. */
static void test_tensor_named_as_the_switch(void **state)
{
    (void)state;
    char ck[1024], err[ERR];
    tu_path_in(ck, sizeof ck, "named.safetensors");
    optcl_optimizer_config config = optcl_optimizer_config_default(OPTCL_LAMB);
    optcl_tensor_spec specs[2] = {
        {.name = "optcl.group.0.exclude_from_trust_ratio", .ndim = 1, .shape = {3}},
        {.name = "w", .ndim = 1, .shape = {4}}};
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, specs, 2, NULL, &config);
    TU_OK(optcl_checkpoint_save(r.opt, ck), optcl_optimizer_message(r.opt));
    tu_rig_close(&r);
    char *out = NULL;
    const char *inspect[] = {ck, NULL};
    if (tu_cli_capture("inspect", inspect, &out, err, ERR) != 0)
        fail_msg("inspect: %s", err);
    if (strstr(out, "trust_ratio_mask"))
        fail_msg("a tensor's name taken for the group's switch:\n%s", out);
    has(out, "  optcl.group.0.exclude_from_trust_ratio  3 ");
    free(out);
}

static void test_refusals(void **state)
{
    (void)state;
    char missing[1024], other[1024], err[ERR];
    char *out = NULL;
    tu_path_in(missing, sizeof missing, "missing.safetensors");
    const char *absent[] = {missing, NULL};
    assert_int_equal(tu_cli_capture("inspect", absent, &out, err, ERR), 1);
    assert_string_equal(out, "");
    free(out);
    has(err, "optcl inspect: ");
    has(err, missing);
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
    tu_path_in(other, sizeof other, "p0.npy");        /* an .npy file, not a checkpoint */
    const char *npy[] = {other, NULL};
    assert_int_equal(tu_cli_capture("inspect", npy, &out, err, ERR), 1);
    free(out);
    has(err, other);
    const char *none[] = {NULL};
    assert_int_equal(tu_cli_capture("inspect", none, &out, err, ERR), 2);
    free(out);
    has(err, "usage: optcl inspect PATH");
}

#ifndef OPTCL_TEST_HAVE_MPI
static void test_a_manifest_without_mpi(void **state)
{
    (void)state;
    char manifest[1024], err[ERR];
    char *out = NULL;
    tu_path_in(manifest, sizeof manifest, "ck.manifest");
    FILE *f = fopen(manifest, "w");
    assert_non_null(f);
    fputs("optcl-mpi-checkpoint 2\nranks 2\n", f);
    assert_int_equal(fclose(f), 0);
    const char *args[] = {manifest, NULL};
    assert_int_equal(tu_cli_capture("inspect", args, &out, err, ERR), 1);
    assert_string_equal(out, "");
    free(out);
    has(err, manifest);
    has(err, "is a sharded checkpoint's manifest; this optcl was built without MPI");
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_checkpoint),
        cmocka_unit_test(test_unused_keys),
        cmocka_unit_test(test_tensor_named_as_the_switch),
        cmocka_unit_test(test_refusals),
#ifndef OPTCL_TEST_HAVE_MPI
        cmocka_unit_test(test_a_manifest_without_mpi),
#endif
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}
