/* testutil.c — helpers shared by the cmocka suites. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_make_tempdir(void)
{
    char *path = strdup("/tmp/optcl-test-XXXXXX");
    if (!path || !mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void tu_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            size_t len = strlen(path) + strlen(e->d_name) + 2;
            char *child = malloc(len);
            if (!child)
                continue;
            snprintf(child, len, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                tu_remove_tree(child);
            else
                unlink(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

optcl_context *tu_context(optcl_backend backend)
{
    optcl_context_config cfg = optcl_context_config_default();
    cfg.backend = backend;
    char message[512] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(&cfg, &ctx, message, sizeof message);
    if (st != OPTCL_SUCCESS)
        fail_msg("optcl_context_create: %s (%s)", optcl_status_name(st), message);
    return ctx;
}

void tu_fill_random(float *x, size_t n, uint64_t *seed, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t s = *seed;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *seed = s;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

size_t tu_first_mismatch(const float *a, const float *e, size_t n, double atol, double rtol,
                         double *worst)
{
    size_t first = (size_t)-1;
    double w = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)e[i]);
        bool nan_ok = isnan(a[i]) && isnan(e[i]);
        if (!nan_ok && d > w)
            w = d;
        if (!nan_ok && (isnan(d) || d > atol + rtol * fabs((double)e[i])) && first == (size_t)-1)
            first = i;
    }
    if (worst)
        *worst = w;
    return first;
}

const char *tu_cli_path(void)
{
    const char *env = getenv("OPTCL_TEST_CLI");
    return env && *env ? env : OPTCL_CLI_PATH;
}

const char *tu_golden_dir(void)
{
    const char *env = getenv("OPTCL_TEST_GOLDEN_DIR");
    return env && *env ? env : OPTCL_GOLDEN_DIR;
}

int tu_allow_no_device(void)
{
    const char *env = getenv("OPTCL_TEST_ALLOW_NO_DEVICE");
    return env && strcmp(env, "1") == 0;
}
