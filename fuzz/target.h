/* target.h — the libFuzzer glue shared by fuzz_npy.c and fuzz_checkpoint.c: each input is
 * written to a file (optcl reads files by path) in a scratch folder, on tmpfs where there is
 * one, and handed to a check of harness.h; a broken promise aborts with its reason, which
 * libFuzzer reports as a crash and saves the input. */
#ifndef OPTCL_FUZZ_TARGET_H
#define OPTCL_FUZZ_TARGET_H

#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $OPTCL_FUZZ_SCRATCH (scripts/fuzz makes and removes it), else /dev/shm/optcl-fuzz-<pid>,
 * else the same under /tmp. */
static char fuzz_scratch[512];
static char fuzz_input[600];

static void fuzz_cleanup(void)
{
    char path[700];
    static const char *const names[] = {"roundtrip.npy", "before.safetensors", "after.safetensors"};
    unlink(fuzz_input);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_scratch, names[i]);
        unlink(path);
    }
    if (!getenv("OPTCL_FUZZ_SCRATCH"))
        rmdir(fuzz_scratch);
}

static void fuzz_setup(const char *input_name)
{
    const char *given = getenv("OPTCL_FUZZ_SCRATCH");
    if (given) {
        snprintf(fuzz_scratch, sizeof fuzz_scratch, "%s", given);
    } else {
        struct stat st;
        const char *root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_scratch, sizeof fuzz_scratch, "%s/optcl-fuzz-%ld", root, (long)getpid());
    }
    mkdir(fuzz_scratch, 0700);
    snprintf(fuzz_input, sizeof fuzz_input, "%s/%s.%ld", fuzz_scratch, input_name, (long)getpid());
    atexit(fuzz_cleanup);
}

static void fuzz_write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(fuzz_input, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", fuzz_input);
        abort();
    }
}

static void fuzz_check(int (*check)(const char *, const char *, char *, size_t))
{
    char why[2048] = "";
    if (check(fuzz_input, fuzz_scratch, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz: broken promise: %s\n", why);
        abort();
    }
}

#endif
