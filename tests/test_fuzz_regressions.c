/* test_fuzz_regressions.c — replays the fuzz targets' seed corpus (fuzz/corpus/) and every input
 * that ever broke one (fuzz/regressions/) through the public API with the fuzzers' own checks
 * (fuzz/harness.h): reading never crashes, a refused file changes nothing, an accepted one
 * round-trips. Runs in every build, sanitizers and valgrind included, without clang. */
#include "testutil.h"

#include "../fuzz/harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fuzz_dir(void)
{
    const char *env = getenv("OPTCL_TEST_FUZZ_DIR");
    return env && *env ? env : OPTCL_FUZZ_DIR;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs check on every file of <fuzz>/<folder>/<kind> (sorted; dot files and README skipped);
 * returns how many. A missing folder holds none. */
static size_t replay(const char *folder, const char *kind,
                     int (*check)(const char *, const char *, char *, size_t))
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s/%s", fuzz_dir(), folder, kind);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    char *scratch = tu_make_tempdir();
    assert_non_null(scratch);
    for (size_t i = 0; i < n; i++) {
        char path[2048], why[2048] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (check(path, scratch, why, sizeof why) != 0)
            fail_msg("%s: %s", path, why);
        free(names[i]);
    }
    tu_remove_tree(scratch);
    free(scratch);
    return n;
}

static void npy_corpus(void **state)
{
    (void)state;
    size_t seeds = replay("corpus", "npy", optcl_fuzz_npy);
    assert_true(seeds >= 5); /* the folder is where it should be */
    replay("regressions", "npy", optcl_fuzz_npy);
}

static void checkpoint_corpus(void **state)
{
    (void)state;
    size_t seeds = replay("corpus", "checkpoint", optcl_fuzz_checkpoint);
    assert_true(seeds >= 3);
    replay("regressions", "checkpoint", optcl_fuzz_checkpoint);
}

#ifdef OPTCL_FUZZ_MPI
static void manifest_corpus(void **state)
{
    (void)state;
    size_t seeds = replay("corpus", "manifest", optcl_fuzz_manifest);
    assert_true(seeds >= 3);
    replay("regressions", "manifest", optcl_fuzz_manifest);
}
#endif

/* Finding F1 (docs/RELIABILITY.md): checkpoints whose scalar metadata was damaged — inf or
 * overflowing numbers, NaN scales, an out-of-range step count, a fractional group — were
 * accepted and poisoned the next step. host/checkpoint.c refuses them now; this keeps it so. */
static void damaged_metadata_is_refused(void **state)
{
    (void)state;
    static const char *const files[] = {
        "group_lr_inf.safetensors",    "group_weight_decay_overflow.safetensors",
        "plateau_scale_nan.safetensors", "step_overflow.safetensors",
        "tensor_group_fraction.safetensors",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[2048], why[1024] = "";
        snprintf(path, sizeof path, "%s/regressions/checkpoint/%s", fuzz_dir(), files[i]);
        if (optcl_fuzz_checkpoint_refused(path, why, sizeof why) != 0)
            fail_msg("%s is accepted: %s", files[i], why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(npy_corpus),
        cmocka_unit_test(checkpoint_corpus),
#ifdef OPTCL_FUZZ_MPI
        cmocka_unit_test(manifest_corpus),
#endif
        cmocka_unit_test(damaged_metadata_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
