/* test_replay_inputs.c — ctest sample_replay_inputs: `replay_inputs FOLDER N T` writes
 * p0.npy (N,) and grads.npy (T, N), which `optcl replay` takes as they are; a bad N or T — not a
 * whole number, 0, or N × T floats past what a size_t counts in bytes (where the product used to
 * wrap and the loop wrote past a tiny buffer) — exits with status 2 and one line, writing
 * nothing. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void run_in(const char *folder, const char *n, const char *t, int expect_rc, char *err,
                   size_t err_size)
{
    char *argv[] = {REPLAY_INPUTS_PATH, (char *)folder, (char *)n, (char *)t, NULL};
    err[0] = '\0';
    int rc = tu_run(argv, err, err_size);
    if (rc != expect_rc)
        fail_msg("replay_inputs %s %s %s exited with %d, not %d: %s", folder, n ? n : "",
                 t ? t : "", rc, expect_rc, err);
}

static void test_writes_replay_inputs(void **state)
{
    (void)state;
    char dir[4096], path[4200], err[4096];
    tu_path_in(dir, sizeof dir, "ok");
    assert_int_equal(mkdir(dir, 0777), 0);
    run_in(dir, "7", "3", 0, err, sizeof err);
    assert_string_equal(err, "");

    char names[256];
    tu_list_folder(dir, names, sizeof names);
    assert_string_equal(names, "grads.npy,p0.npy");
    optcl_array p0 = {0}, g = {0};
    char msg[512];
    snprintf(path, sizeof path, "%s/p0.npy", dir);
    assert_int_equal(optcl_npy_read(path, &p0, msg, sizeof msg), OPTCL_SUCCESS);
    snprintf(path, sizeof path, "%s/grads.npy", dir);
    assert_int_equal(optcl_npy_read(path, &g, msg, sizeof msg), OPTCL_SUCCESS);
    assert_int_equal(p0.ndim, 1);
    assert_int_equal(p0.shape[0], 7);
    assert_int_equal(g.ndim, 2);
    assert_int_equal(g.shape[0], 3);
    assert_int_equal(g.shape[1], 7);
    for (size_t i = 0; i < g.count; i++)
        assert_true(g.data[i] >= -1.0f && g.data[i] < 1.0f);
    for (size_t i = 0; i < p0.count; i++) /* half a gradient element each, as the sample says */
        assert_true(p0.data[i] == 0.5f * g.data[(i * 7919) % g.count]);
    optcl_array_free(&p0);
    optcl_array_free(&g);

    /* They are `optcl replay`'s inputs as they are. */
    char params[4200], grads[4200], out[4200];
    snprintf(params, sizeof params, "%s/p0.npy", dir);
    snprintf(grads, sizeof grads, "%s/grads.npy", dir);
    snprintf(out, sizeof out, "%s/out.npy", dir);
    const char *args[] = {"sgd",   "--params", params,      "--grads",   grads,
                          "--out", out,        "--backend", "reference", NULL};
    char *stdout_text = NULL;
    int rc = tu_cli_capture("replay", args, &stdout_text, err, sizeof err);
    if (rc != 0)
        fail_msg("optcl replay on replay_inputs' files exited with %d: %s", rc, err);
    free(stdout_text);
    optcl_array o = {0};
    assert_int_equal(optcl_npy_read(out, &o, msg, sizeof msg), OPTCL_SUCCESS);
    assert_int_equal(o.ndim, 2);
    assert_int_equal(o.shape[0], 3);
    assert_int_equal(o.shape[1], 7);
    optcl_array_free(&o);
}

static void test_bad_sizes_refused(void **state)
{
    (void)state;
    const struct {
        const char *n, *t, *needle;
    } cases[] = {
        {"4", "1152921504606846976", "more bytes than this machine can address"}, /* 2^60 */
        {"18446744073709551615", "2", "more bytes than this machine can address"},
        {"18446744073709551616", NULL, "N '18446744073709551616': expected a whole number"},
        {"0", NULL, "N '0': expected a whole number ≥ 1"},
        {"5", "0", "T '0': expected a whole number ≥ 1"},
        {"-1", NULL, "N '-1': expected a whole number"},
        {"abc", NULL, "N 'abc': expected a whole number"},
        {"12x", "3", "N '12x': expected a whole number"},
        {"", NULL, "N '': expected a whole number"},
    };
    char dir[4096], err[4096];
    tu_path_in(dir, sizeof dir, "refused");
    assert_int_equal(mkdir(dir, 0777), 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        run_in(dir, cases[k].n, cases[k].t, 2, err, sizeof err);
        if (!strstr(err, cases[k].needle))
            fail_msg("expected '%s' in: %s", cases[k].needle, err);
        const char *newline = strchr(err, '\n');
        assert_true(newline && newline[1] == '\0');        /* one line */
        assert_int_equal(tu_list_folder(dir, NULL, 0), 0); /* nothing written */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_replay_inputs),
        cmocka_unit_test(test_bad_sizes_refused),
    };
    return cmocka_run_group_tests(tests, tu_group_dir_setup, tu_group_dir_teardown);
}
