/* fault_walk.c — the walk of the fault-injection suites, their optimizer and snapshots (see
 * fault_walk.h). */
#include "fault_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const optcl_tensor_spec fw_specs[] = {
    {.name = "w", .ndim = 2, .shape = {5, 7}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {300}, .group = 1},
    {.name = "s", .ndim = 0, .group = 1},
};

const optcl_tensor_spec fw_matrix_specs[] = {
    {.name = "w", .ndim = 2, .shape = {5, 7}, .group = 0},
    {.name = "v", .ndim = 2, .shape = {3, 100}, .group = 1},
    {.name = "u", .ndim = 2, .shape = {1, 1}, .group = 1},
};

/* ---- walking ------------------------------------------------------------------------------ */

static long g_runs, g_failed, g_absorbed;

/* The status a failed call must come back as. */
static optcl_status expected_status(const fault_shot *s)
{
    if (s->cls == FAULT_USER)
        return (optcl_status)s->code;
    if (s->cls == FAULT_FILE)
        return OPTCL_ERROR_IO;
    if (strcmp(s->name, "clBuildProgram") == 0)
        return OPTCL_ERROR_BUILD_FAILED;
    return (optcl_status)s->code;
}

/* Whether name is one of the space-separated words of list. */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *at = strstr(list, name); at; at = strstr(at + 1, name))
        if ((at == list || at[-1] == ' ') && (at[n] == ' ' || at[n] == '\0'))
            return true;
    return false;
}

static void assert_live(long want, const char *walk_name, long n)
{
    if (fault_live_objects() != want) {
        char text[256];
        fault_live_text(text, sizeof text);
        fail_msg("%s, call %ld failing: %ld OpenCL objects alive (%s), %ld before", walk_name, n,
                 fault_live_objects(), text, want);
    }
}

/* "(58 OpenCL, 3 loss)": the nonzero counts of each class. */
static void kinds_text(char *buf, size_t size, long (*count)(fault_class))
{
    static const char *const names[FAULT_CLASS_COUNT] = {"OpenCL", "file", "loss"};
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int c = 0; c < FAULT_CLASS_COUNT; c++)
        if (count((fault_class)c) > 0 && used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%ld %s", used > 1 ? ", " : "",
                                     count((fault_class)c), names[c]);
    if (used < size)
        snprintf(buf + used, size - used, "):");
}

void fw_walk_all(const fw_walk *w)
{
    long live = fault_live_objects();
    w->setup(w->fx);
    fault_arm(0);
    optcl_status st = w->run(w->fx);
    long calls = fault_disarm();
    char kinds[64];
    kinds_text(kinds, sizeof kinds, fault_counted);
    if (st != OPTCL_SUCCESS)
        fail_msg("%s without faults: %s", w->name, optcl_status_name(st));
    w->check(w->fx, st, NULL);
    w->teardown(w->fx);
    assert_live(live, w->name, 0);
    assert_true(calls > 0);

    long failed = 0, absorbed = 0;
    char absorbed_names[256] = "";
    for (long n = 1; n <= calls; n++) {
        w->setup(w->fx);
        fault_arm(n);
        st = w->run(w->fx);
        fault_disarm();
        fault_shot shot = fault_last();
        if (!shot.fired)
            fail_msg("%s: call %ld of %ld never came (the calls are not deterministic)", w->name, n,
                     calls);
        optcl_status want = expected_status(&shot);
        if (st == OPTCL_SUCCESS && listed(w->absorbs, shot.name)) {
            absorbed++;
            if (!strstr(absorbed_names, shot.name))
                snprintf(absorbed_names + strlen(absorbed_names),
                         sizeof absorbed_names - strlen(absorbed_names), " %s", shot.name);
        } else if (st != want) {
            fail_msg("%s: call %ld (%s, failing with %d) returned %s, expected %s", w->name, n,
                     shot.name, shot.code, optcl_status_name(st), optcl_status_name(want));
        } else {
            failed++;
        }
        w->check(w->fx, st, &shot);
        w->teardown(w->fx);
        assert_live(live, w->name, n);
    }
    g_runs += calls;
    g_failed += failed;
    g_absorbed += absorbed;
    print_message("[ FAULTS   ] %-28s %3ld calls %-22s %3ld failed with their status, %ld "
                  "absorbed%s\n",
                  w->name, calls, kinds, failed, absorbed, absorbed_names);
}

void fw_no_teardown(void *fx)
{
    (void)fx;
}

bool fw_opencl_skipped(void)
{
    if (tu_opencl_missing())
        return true;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    bool reference = optcl_context_backend(ctx) == OPTCL_BACKEND_REFERENCE;
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
    if (reference)
        print_message("[  SKIP    ] OPTCL_DEVICE=reference: no OpenCL call to fail\n");
    return reference;
}

void fw_summary(void)
{
    char kinds[64];
    kinds_text(kinds, sizeof kinds, fault_injected);
    printf("[ FAULTS   ] %ld faults injected %s %ld failed with their status, %ld absorbed\n",
           g_runs, kinds, g_failed, g_absorbed);
}

/* ---- an optimizer and its snapshots ------------------------------------------------------- */

optcl_optimizer_config fw_rich_config(void)
{
    static const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {0.02, 0.0, 0}};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.groups = groups;
    c.group_count = 2;
    c.adam.amsgrad = 1;
    c.weight_decay = 0.01;
    c.plateau.enabled = 1;
    c.plateau.patience = 0;
    c.lookahead.k = 2;
    c.lookahead.alpha = 0.6;
    return c;
}

optcl_optimizer_config fw_tensorwise_config(optcl_algorithm a, bool guarded)
{
    static const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {0.02, 0.0, 0}};
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    c.groups = groups;
    c.group_count = 2;
    c.weight_decay = 0.01;
    c.plateau.enabled = 1;
    c.plateau.patience = 0;
    c.max_norm = guarded ? 0.5 : 0.0;
    return c;
}

const optcl_tensor_spec *fw_specs_for(optcl_algorithm a, size_t *tensors)
{
    *tensors = a == OPTCL_MUON ? FW_MATRIX_NTENSORS : FW_NTENSORS;
    return a == OPTCL_MUON ? fw_matrix_specs : fw_specs;
}

void fw_fill(float *x, uint64_t seed, float lo)
{
    tu_fill_random(x, FW_NUMEL, &seed, lo, 1.0f);
}

void fw_fixture_open(fw_fixture *f, optcl_context *ctx, const optcl_optimizer_config *c)
{
    fw_fixture_open_on(f, ctx, c, fw_specs, FW_NTENSORS);
}

void fw_fixture_open_on(fw_fixture *f, optcl_context *ctx, const optcl_optimizer_config *c,
                        const optcl_tensor_spec *specs, size_t tensors)
{
    float x[FW_NUMEL], states[FW_ROLES][FW_NUMEL];
    *f = (fw_fixture){ctx, NULL, NULL, specs, tensors};
    TU_OK(optcl_params_create(ctx, specs, tensors, &f->params), optcl_context_message(ctx));
    TU_OK(optcl_optimizer_create(f->params, c, &f->opt), optcl_context_message(ctx));
    fw_fill(x, 11, -1.0f);
    TU_OK(optcl_params_write(f->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, FW_NUMEL), "params");
    fw_fill(x, 12, -1.0f);
    TU_OK(optcl_params_write(f->params, OPTCL_ROLE_GRADS, OPTCL_ALL, x, FW_NUMEL), "grads");
    assert_true(optcl_optimizer_state_count(f->opt) < FW_ROLES);
    for (size_t k = 0; k < optcl_optimizer_state_count(f->opt); k++)
        fw_fill(states[k], 13 + k, 0.0f);
    fw_write_states(f, states);
}

static size_t spec_count(const optcl_tensor_spec *spec)
{
    size_t n = 1;
    for (int d = 0; d < spec->ndim; d++)
        n *= (size_t)spec->shape[d];
    return n;
}

/* Each tensor's values of state k at its first packed element: false when the tensor keeps
 * none of it. */
static bool state_part(const fw_fixture *f, size_t k, size_t t, size_t *offset, size_t *count)
{
    int ndim = 0;
    int64_t shape[OPTCL_MAX_DIMS];
    optcl_status st =
        optcl_optimizer_state_shape(f->opt, optcl_optimizer_state_name(f->opt, k), t, &ndim, shape);
    if (st == OPTCL_ERROR_NOT_FOUND)
        return false;
    TU_OK(st, optcl_optimizer_message(f->opt));
    *offset = 0;
    for (size_t u = 0; u < t; u++)
        *offset += spec_count(&f->specs[u]);
    *count = 1;
    for (int d = 0; d < ndim; d++)
        *count *= (size_t)shape[d];
    assert_true(*count <= spec_count(&f->specs[t]));
    return true;
}

void fw_write_states(const fw_fixture *f, float (*v)[FW_NUMEL])
{
    size_t offset = 0, count = 0;
    for (size_t k = 0; k < optcl_optimizer_state_count(f->opt); k++)
        for (size_t t = 0; t < f->tensors; t++)
            if (state_part(f, k, t, &offset, &count))
                TU_OK(optcl_optimizer_write_state(f->opt, optcl_optimizer_state_name(f->opt, k), t,
                                                  v[k] + offset, count),
                      optcl_optimizer_message(f->opt));
}

void fw_fixture_close(fw_fixture *f, bool own_ctx)
{
    assert_int_equal(optcl_optimizer_destroy(f->opt), OPTCL_SUCCESS);
    assert_int_equal(optcl_params_destroy(f->params), OPTCL_SUCCESS);
    if (own_ctx)
        assert_int_equal(optcl_context_destroy(f->ctx), OPTCL_SUCCESS);
    *f = (fw_fixture){0};
}

void fw_take(const fw_fixture *f, fw_snap *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->message, sizeof s->message, "%s", optcl_optimizer_message(f->opt));
    TU_OK(optcl_params_read(f->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, s->v[0], FW_NUMEL), "read");
    s->roles = 1 + optcl_optimizer_state_count(f->opt);
    assert_true(s->roles <= FW_ROLES);
    s->slow = s->roles > 1 &&
              strcmp(optcl_optimizer_state_name(f->opt, s->roles - 2), "lookahead_slow") == 0;
    size_t offset = 0, count = 0;
    for (size_t k = 1; k < s->roles; k++)
        for (size_t t = 0; t < f->tensors; t++)
            if (state_part(f, k - 1, t, &offset, &count))
                TU_OK(optcl_optimizer_read_state(f->opt, optcl_optimizer_state_name(f->opt, k - 1),
                                                 t, s->v[k] + offset, count),
                      optcl_optimizer_message(f->opt));
    s->steps = optcl_optimizer_step_count(f->opt);
    for (int g = 0; g < 2; g++)
        TU_OK(optcl_optimizer_get_lr(f->opt, g, &s->lr[g]), "lr");
    s->alpha = optcl_optimizer_lookahead_alpha(f->opt);
    TU_OK(optcl_optimizer_plateau_state(f->opt, &s->plateau), "plateau");
    optcl_guard_stats g;
    TU_OK(optcl_optimizer_guard_stats(f->opt, &g), optcl_optimizer_message(f->opt));
    s->scale = g.loss_scale;
    s->tracker = g.growth_tracker;
}

bool fw_same_values(const fw_snap *a, const fw_snap *b, size_t first, size_t last, size_t begin,
                    size_t end)
{
    for (size_t r = first; r < last; r++)
        if (memcmp(a->v[r] + begin, b->v[r] + begin, (end - begin) * sizeof(float)) != 0)
            return false;
    return true;
}

bool fw_same_snap(const fw_snap *a, const fw_snap *b)
{
    return a->roles == b->roles && a->slow == b->slow &&
           fw_same_values(a, b, 0, a->roles, 0, FW_NUMEL) && a->steps == b->steps &&
           memcmp(a->lr, b->lr, sizeof a->lr) == 0 &&
           memcmp(&a->alpha, &b->alpha, sizeof a->alpha) == 0 &&
           memcmp(&a->plateau, &b->plateau, sizeof a->plateau) == 0 && a->scale == b->scale &&
           a->tracker == b->tracker;
}
