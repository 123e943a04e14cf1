/* test_cli.c — ctest sample_fashion_mnist_cli: the fashion_mnist command's own exits. --help
 * prints the usage once and exits 0; a bad argument exits 2 with one line. With MPI, the same
 * under `mpirun -n 2 fashion_mnist --distributed`: the usage and the line come once (rank 0),
 * and every rank finishes MPI first, so mpirun reports no rank that "exited without calling
 * finalize" and passes --help's 0 on. Without MPI, --distributed is refused by name. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The command: built beside this test (FM_COMMAND_PATH), or $FM_TEST_COMMAND for a copied
 * build. */
static char *command_path(void)
{
    const char *env = getenv("FM_TEST_COMMAND");
    return (char *)(env && *env ? env : FM_COMMAND_PATH);
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Runs fashion_mnist with args (NULL-terminated, at most 8) — under mpirun -n ranks with
 * --distributed first when ranks > 0 — and returns the exit status, stdout in *out (malloc'd)
 * and stderr in err. */
static int run(int ranks, const char *const *args, char **out, char *err, size_t err_size)
{
    char *argv[32];
    int n = 0;
#ifdef FM_TEST_MPIEXEC
    static char flags[256], np[16];
    if (ranks > 0) {
        argv[n++] = FM_TEST_MPIEXEC;
        snprintf(flags, sizeof flags, "%s", FM_TEST_MPIEXEC_FLAGS); /* space-separated */
        for (char *tok = strtok(flags, " "); tok; tok = strtok(NULL, " "))
            argv[n++] = tok;
        snprintf(np, sizeof np, "%d", ranks);
        argv[n++] = "-n";
        argv[n++] = np;
    }
#endif
    argv[n++] = command_path();
    if (ranks > 0)
        argv[n++] = "--distributed";
    for (int i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    err[0] = '\0';
    return tu_run_capture(argv, out, err, err_size);
}

static void expect_help(int ranks)
{
    const char *args[] = {"--help", NULL};
    char *out = NULL, err[8192];
    int rc = run(ranks, args, &out, err, sizeof err);
    if (rc != 0)
        fail_msg("fashion_mnist --help on %d rank(s) exited with %d:\n%s", ranks, rc, err);
    if (count_of(out, "usage: fashion_mnist") != 1)
        fail_msg("expected the usage once on stdout, got:\n%s", out);
    assert_non_null(strstr(out, "--distributed"));
    if (strstr(err, "finalize") || strstr(err, "improperly") || strstr(err, "usage"))
        fail_msg("stderr of --help on %d rank(s):\n%s", ranks, err);
    free(out);
}

/* Each bad argument: exit status 2 and its line once on stderr, nothing on stdout. Under
 * mpirun, stderr also holds mpirun's note that a rank returned a non-zero status, but no
 * abnormal termination. */
static void expect_refusals(int ranks)
{
    const struct {
        const char *args[4], *needle;
    } cases[] = {
        {{"--epochs", "0", NULL}, "fashion_mnist: --epochs 0: expected a whole number in 1"},
        {{"--bogus", NULL}, "fashion_mnist: unknown argument '--bogus' (see --help)"},
        {{"--batch", NULL}, "fashion_mnist: --batch (missing): expected a whole number"},
        {{"--optimizer", "adamx", NULL}, "unknown optimizer 'adamx'"},
        {{"--compare", "adam,sgd", NULL},
         ranks > 0 ? "--compare runs in one process; --distributed is for one run"
                   : "fashion_mnist: --compare"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (ranks == 0 && !strcmp(cases[k].args[0], "--compare"))
            continue; /* one process: --compare runs (test_smoke) */
        char *out = NULL, err[8192];
        int rc = run(ranks, cases[k].args, &out, err, sizeof err);
        if (rc != 2 || count_of(err, cases[k].needle) != 1)
            fail_msg("fashion_mnist %s on %d rank(s): exit %d (expected 2), expected '%s' once "
                     "on stderr:\n%s",
                     cases[k].args[0], ranks, rc, cases[k].needle, err);
        if (strstr(err, "finalize") || strstr(err, "improperly"))
            fail_msg("a rank exited without finishing MPI:\n%s", err);
        if (ranks == 0) {
            const char *newline = strchr(err, '\n');
            assert_true(newline && newline[1] == '\0'); /* one line */
        }
        assert_string_equal(out, "");
        free(out);
    }
}

static void test_help(void **state)
{
    (void)state;
    expect_help(0);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refusals(0);
}

#ifdef FM_TEST_MPIEXEC
static void test_distributed_help(void **state)
{
    (void)state;
    expect_help(2);
}

static void test_distributed_refusals(void **state)
{
    (void)state;
    expect_refusals(2);
}
#else
static void test_distributed_refused_without_mpi(void **state)
{
    (void)state;
    const char *args[] = {"--distributed", "--help", NULL};
    char *out = NULL, err[8192];
    assert_int_equal(run(0, args, &out, err, sizeof err), 2);
    if (!strstr(err, "--distributed needs optcl built with MPI"))
        fail_msg("stderr: %s", err);
    free(out);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refusals),
#ifdef FM_TEST_MPIEXEC
        cmocka_unit_test(test_distributed_help),
        cmocka_unit_test(test_distributed_refusals),
#else
        cmocka_unit_test(test_distributed_refused_without_mpi),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
