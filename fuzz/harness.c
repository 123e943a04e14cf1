/* harness.c — the checks of one fuzz input (see harness.h). Public API only. */
#include "harness.h"

#include "optcl.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE 1024
#define SMALL_TENSORS 64 /* an inspected checkpoint larger than this is not recreated */
#define SMALL_NUMEL (1u << 16)

/* 1: an accepted checkpoint must also give every group a finite lr >= 0 (finding F1 in
 * docs/RELIABILITY.md, fixed; its inputs are in fuzz/regressions/checkpoint/). */
#ifndef OPTCL_FUZZ_STRICT_VALUES
#define OPTCL_FUZZ_STRICT_VALUES 1
#endif

#define broken optcl_fuzz__broken

int optcl_fuzz__broken(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && why_size)
        vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return 1;
}

/* The whole file, malloc'd (NULL if it cannot be read). */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *bigger = realloc(b, cap * 2);
        if (!bigger) {
            free(b);
            b = NULL;
            break;
        }
        b = bigger;
        cap *= 2;
    }
    fclose(f);
    *size = n;
    return b;
}

/* Whether two files hold the same bytes (-1: one of them cannot be read). */
static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y ? na == nb && memcmp(x, y, na) == 0 : -1;
    free(x);
    free(y);
    return same;
}

static void scratch_path(char *buf, size_t size, const char *scratch, const char *name)
{
    snprintf(buf, size, "%s/%s", scratch, name);
}

/* ---- .npy ------------------------------------------------------------------------------- */

int optcl_fuzz_npy(const char *path, const char *scratch, char *why, size_t why_size)
{
    char message[MESSAGE] = "";
    optcl_array a;
    memset(&a, 0x5a, sizeof a); /* must be emptied, also on failure */
    optcl_status st = optcl_npy_read(path, &a, message, sizeof message);
    if (st != OPTCL_SUCCESS) {
        if (a.data || a.ndim || a.count)
            return broken(why, why_size, "refused (%s) but the array is not empty",
                          optcl_status_name(st));
        if (strncmp(message, path, strlen(path)) != 0)
            return broken(why, why_size,
                          "refused with a message that does not start with "
                          "the path: '%s'",
                          message);
        return 0;
    }
    int rc = 0;
    size_t count = 1;
    if (a.ndim < 0 || a.ndim > OPTCL_NPY_MAX_DIMS || !a.data)
        rc = broken(why, why_size, "accepted with ndim %d, data %p", a.ndim, (void *)a.data);
    for (int i = 0; !rc && i < a.ndim; i++)
        count *= a.shape[i];
    if (!rc && count != a.count)
        rc = broken(why, why_size, "accepted with count %zu, but the shape holds %zu", a.count,
                    count);
    if (!rc) {
        /* Written back and read again: the same array, bit for bit. */
        char out[4096];
        scratch_path(out, sizeof out, scratch, "roundtrip.npy");
        st = optcl_npy_write(out, a.data, a.shape, a.ndim, message, sizeof message);
        optcl_array b = {0};
        if (st != OPTCL_SUCCESS)
            rc = broken(why, why_size, "an accepted array does not write back: %s", message);
        else if ((st = optcl_npy_read(out, &b, message, sizeof message)) != OPTCL_SUCCESS)
            rc = broken(why, why_size, "an accepted array, written back, is refused: %s", message);
        else if (b.ndim != a.ndim || b.count != a.count ||
                 memcmp(b.shape, a.shape, sizeof a.shape[0] * (size_t)a.ndim) != 0 ||
                 memcmp(b.data, a.data, a.count * sizeof(float)) != 0)
            rc = broken(why, why_size, "an accepted array, written back, reads back different");
        optcl_array_free(&b);
    }
    optcl_array_free(&a);
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Parameters and every state set to values no checkpoint of the corpus holds. */
static int fill_pattern(optcl_params *params, optcl_optimizer *opt, char *why, size_t why_size)
{
    size_t n = optcl_params_numel(params);
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x)
        return broken(why, why_size, "out of memory");
    int rc = 0;
    for (size_t k = 0; k <= optcl_optimizer_state_count(opt) && !rc; k++) {
        for (size_t i = 0; i < n; i++)
            x[i] = 0.125f * (float)((i * 7 + k * 3) % 17) + 0.0625f;
        optcl_status st =
            k == 0 ? optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, n)
                   : optcl_optimizer_write_state(opt, optcl_optimizer_state_name(opt, k - 1),
                                                 OPTCL_ALL, x, n);
        if (st != OPTCL_SUCCESS)
            rc = broken(why, why_size, "cannot set the pattern: %s", optcl_status_name(st));
    }
    free(x);
    return rc;
}

/* Everything a load may change, read back through the API. */
typedef struct snapshot {
    float *values; /* parameters, then every state, packed */
    uint64_t steps;
    double lr[OPTCL_MAX_GROUPS];
    optcl_plateau_state plateau;
    double lookahead_alpha;
    optcl_optimizer_config config; /* copied bytewise, padding included */
} snapshot;

static int take(optcl_params *params, optcl_optimizer *opt, snapshot *s)
{
    size_t n = optcl_params_numel(params), roles = 1 + optcl_optimizer_state_count(opt);
    memset(s, 0, sizeof *s);
    s->values = malloc((n ? n : 1) * roles * sizeof *s->values);
    if (!s->values)
        return 1;
    optcl_status st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, s->values, n);
    for (size_t k = 1; k < roles && st == OPTCL_SUCCESS; k++)
        st = optcl_optimizer_read_state(opt, optcl_optimizer_state_name(opt, k - 1), OPTCL_ALL,
                                        s->values + k * n, n);
    for (int g = 0; g < OPTCL_MAX_GROUPS && st == OPTCL_SUCCESS; g++)
        st = optcl_optimizer_get_lr(opt, g, &s->lr[g]);
    s->steps = optcl_optimizer_step_count(opt);
    s->lookahead_alpha = optcl_optimizer_lookahead_alpha(opt);
    if (optcl_optimizer_config_get(opt)->plateau.enabled && st == OPTCL_SUCCESS)
        st = optcl_optimizer_plateau_state(opt, &s->plateau);
    memcpy(&s->config, optcl_optimizer_config_get(opt), sizeof s->config);
    return st != OPTCL_SUCCESS;
}

static int same_snapshot(const snapshot *a, const snapshot *b, size_t floats)
{
    return memcmp(a->values, b->values, floats * sizeof(float)) == 0 && a->steps == b->steps &&
           memcmp(a->lr, b->lr, sizeof a->lr) == 0 &&
           memcmp(&a->plateau, &b->plateau, sizeof a->plateau) == 0 &&
           memcmp(&a->lookahead_alpha, &b->lookahead_alpha, sizeof(double)) == 0 &&
           memcmp(&a->config, &b->config, sizeof a->config) == 0;
}

/* Loads path into opt and checks the promises (harness.h). A refused load is compared with a
 * snapshot read through the API; an accepted one is compared through the optimizer's own
 * checkpoints, which hold parameters, every state, the step count, the configuration, group
 * settings and the plateau and Lookahead state. */
static int check_load(optcl_params *params, optcl_optimizer *opt, const char *path,
                      const char *scratch, char *why, size_t why_size)
{
    char before[4096], after[4096];
    scratch_path(before, sizeof before, scratch, "before.safetensors");
    scratch_path(after, sizeof after, scratch, "after.safetensors");
    if (fill_pattern(params, opt, why, why_size))
        return 1;
    snapshot s0, s1 = {0};
    if (take(params, opt, &s0)) {
        free(s0.values);
        return broken(why, why_size, "cannot read the state before the load");
    }
    optcl_status st = optcl_checkpoint_load(opt, path);
    if (st != OPTCL_SUCCESS) {
        int rc = 0;
        size_t floats = optcl_params_numel(params) * (1 + optcl_optimizer_state_count(opt));
        if (!strstr(optcl_optimizer_message(opt), path))
            rc = broken(why, why_size,
                        "refused (%s) with a message that does not name the "
                        "file: '%s'",
                        optcl_status_name(st), optcl_optimizer_message(opt));
        else if (take(params, opt, &s1))
            rc = broken(why, why_size, "cannot read the state after a refused load");
        else if (!same_snapshot(&s0, &s1, floats))
            rc = broken(why, why_size, "a refused load (%s: %s) changed the optimizer",
                        optcl_status_name(st), optcl_optimizer_message(opt));
        free(s0.values);
        free(s1.values);
        return rc;
    }
    free(s0.values);

#if OPTCL_FUZZ_STRICT_VALUES
    /* Accepted: every learning rate is one optcl_optimizer_set_lr would accept. */
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        double lr = -1.0;
        if (optcl_optimizer_get_lr(opt, g, &lr) != OPTCL_SUCCESS || !isfinite(lr) || lr < 0.0)
            return broken(why, why_size, "an accepted checkpoint gives group %d the lr %g", g, lr);
    }
#endif

    /* Accepted: saves, steps, and the saved state loads back to the same state. */
    if (optcl_checkpoint_save(opt, before) != OPTCL_SUCCESS)
        return broken(why, why_size, "an accepted checkpoint does not save again: %s",
                      optcl_optimizer_message(opt));
    size_t n = optcl_params_numel(params);
    float *g = calloc(n ? n : 1, sizeof *g);
    if (!g)
        return broken(why, why_size, "out of memory");
    for (size_t i = 0; i < n; i++)
        g[i] = (float)(i % 5) * 0.25f - 0.5f;
    st = optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n);
    free(g);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_step(opt, 0, NULL, NULL);
    if (st != OPTCL_SUCCESS)
        return broken(why, why_size, "no step after an accepted load: %s",
                      optcl_optimizer_message(opt));
    if (optcl_checkpoint_load(opt, before) != OPTCL_SUCCESS)
        return broken(why, why_size,
                      "the re-saved state of an accepted checkpoint is "
                      "refused: %s",
                      optcl_optimizer_message(opt));
    if (optcl_checkpoint_save(opt, after) != OPTCL_SUCCESS)
        return broken(why, why_size, "cannot save after the round trip: %s",
                      optcl_optimizer_message(opt));
    if (same_file(before, after) != 1)
        return broken(why, why_size,
                      "an accepted checkpoint does not survive save and load "
                      "unchanged");
    return 0;
}

/* Element count of a spec list, or 0 when it is empty, not small or not valid. */
static size_t small_numel(const optcl_tensor_spec *specs, size_t count)
{
    if (count == 0 || count > SMALL_TENSORS)
        return 0;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (specs[i].ndim < 0 || specs[i].ndim > OPTCL_MAX_DIMS)
            return 0;
        uint64_t n = 1;
        for (int d = 0; d < specs[i].ndim; d++) {
            if (specs[i].shape[d] <= 0 || (uint64_t)specs[i].shape[d] > SMALL_NUMEL)
                return 0;
            n *= (uint64_t)specs[i].shape[d];
            if (n > SMALL_NUMEL)
                return 0;
        }
        total += (size_t)n;
        if (total > SMALL_NUMEL)
            return 0;
    }
    return total;
}

/* A reference context, a parameter set of specs and an optimizer of config, loaded from path
 * and checked. Sets that optcl refuses to create are no failure: nothing to load into. */
static int load_into(const optcl_tensor_spec *specs, size_t count,
                     const optcl_optimizer_config *config, const char *path, const char *scratch,
                     char *why, size_t why_size)
{
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    char message[MESSAGE];
    if (optcl_context_create(&cc, &ctx, message, sizeof message) != OPTCL_SUCCESS)
        return broken(why, why_size, "no reference context: %s", message);
    int rc = 0;
    if (optcl_params_create(ctx, specs, count, &params) == OPTCL_SUCCESS &&
        optcl_optimizer_create(params, config, &opt) == OPTCL_SUCCESS)
        rc = check_load(params, opt, path, scratch, why, why_size);
    if (optcl_optimizer_destroy(opt) != OPTCL_SUCCESS ||
        optcl_params_destroy(params) != OPTCL_SUCCESS ||
        optcl_context_destroy(ctx) != OPTCL_SUCCESS)
        rc = rc ? rc : broken(why, why_size, "cannot destroy the objects");
    return rc;
}

int optcl_fuzz_checkpoint(const char *path, const char *scratch, char *why, size_t why_size)
{
    char message[MESSAGE] = "";
    optcl_tensor_spec *specs = (optcl_tensor_spec *)(uintptr_t)1; /* must be reset */
    size_t count = 12345;
    optcl_optimizer_config config;
    optcl_status st =
        optcl_checkpoint_inspect(path, &specs, &count, &config, message, sizeof message);
    int rc = 0;
    if (st != OPTCL_SUCCESS) {
        if (specs || count)
            rc = broken(why, why_size, "inspect refused (%s) but returned specs", message);
        else if (!strstr(message, path))
            rc = broken(why, why_size,
                        "inspect refused with a message that does not name the "
                        "file: '%s'",
                        message);
        specs = NULL;
    } else {
        for (size_t i = 0; i < count && !rc; i++)
            if (!specs[i].name || specs[i].ndim < 0 || specs[i].ndim > OPTCL_MAX_DIMS ||
                specs[i].group < 0 || specs[i].group >= OPTCL_MAX_GROUPS)
                rc = broken(why, why_size, "inspect reported an impossible tensor %zu", i);
        if (!rc && small_numel(specs, count))
            rc = load_into(specs, count, &config, path, scratch, why, why_size);
    }
    free(specs);

    /* The progress: a refusal names the file and leaves the output alone; what is read are
     * lrs ≥ 0 (never NaN) and a finite scale > 0. A file inspect accepts has a progress. */
    if (!rc) {
        optcl_checkpoint_progress p, before;
        memset(&before, 0x5a, sizeof before);
        p = before;
        optcl_status pst = optcl_checkpoint_inspect_progress(path, &p, message, sizeof message);
        if (pst != OPTCL_SUCCESS && st == OPTCL_SUCCESS)
            rc = broken(why, why_size, "inspect accepts it but its progress is refused: %s",
                        message);
        else if (pst != OPTCL_SUCCESS && (memcmp(&p, &before, sizeof p) || !strstr(message, path)))
            rc = broken(why, why_size,
                        "a refused progress changed its output or did not name "
                        "the file: '%s'",
                        message);
        else if (pst == OPTCL_SUCCESS && !(isfinite(p.loss_scale) && p.loss_scale > 0.0))
            rc = broken(why, why_size, "progress gave the loss scale %g", p.loss_scale);
        for (int g = 0; pst == OPTCL_SUCCESS && !rc && g < OPTCL_MAX_GROUPS; g++)
            if (!(p.lr[g] >= 0.0))
                rc = broken(why, why_size, "progress gave group %d the lr %g", g, p.lr[g]);
    }

    /* The optimizer `optcl replay adam` saves: whatever the file, a load into it must keep
     * its promises. */
    if (!rc) {
        optcl_tensor_spec fixed = {.name = "param", .ndim = 1, .shape = {6}, .group = 0};
        optcl_optimizer_config adam = optcl_optimizer_config_default(OPTCL_ADAM);
        rc = load_into(&fixed, 1, &adam, path, scratch, why, why_size);
    }
    return rc;
}

int optcl_fuzz_checkpoint_refused(const char *path, char *why, size_t why_size)
{
    char message[MESSAGE] = "";
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_optimizer_config config;
    if (optcl_checkpoint_inspect(path, &specs, &count, &config, message, sizeof message) ==
        OPTCL_SUCCESS) {
        free(specs);
        return broken(why, why_size, "optcl_checkpoint_inspect accepts it");
    }
    /* Inspect refused: the optimizer the file was made for is `optcl replay adam`'s. */
    optcl_tensor_spec fixed = {.name = "param", .ndim = 1, .shape = {6}, .group = 0};
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    int rc = 0;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT && !rc; a++) {
        optcl_optimizer_config c = optcl_optimizer_config_default((optcl_algorithm)a);
        if (optcl_context_create(&cc, &ctx, message, sizeof message) == OPTCL_SUCCESS &&
            optcl_params_create(ctx, &fixed, 1, &params) == OPTCL_SUCCESS &&
            optcl_optimizer_create(params, &c, &opt) == OPTCL_SUCCESS &&
            optcl_checkpoint_load(opt, path) == OPTCL_SUCCESS)
            rc = broken(why, why_size, "optcl_checkpoint_load accepts it into %s",
                        optcl_algorithm_name((optcl_algorithm)a));
        optcl_optimizer_destroy(opt);
        optcl_params_destroy(params);
        optcl_context_destroy(ctx);
        opt = NULL;
        params = NULL;
        ctx = NULL;
    }
    return rc;
}
