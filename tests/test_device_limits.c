/* test_device_limits.c — what optcl does on devices lesser than PoCL, which launch_seam.c makes
 * PoCL report: kernels that allow fewer work-items per work-group than the device (as GPUs do
 * for kernels that use many registers), a device whose work-groups stop below 256. Launches stay
 * within each kernel's limit and give the same bits as on the full device; what needs a fixed
 * size is refused with a message saying so. */
#include "launch_seam.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 3

/* A set of one group range that one work-group may step (1024 elements), and a larger one of
 * several work-groups in two groups. */
static const optcl_tensor_spec small_set[] = {
    {.name = "w", .ndim = 2, .shape = {20, 30}, .group = 0},
    {.name = "b", .ndim = 2, .shape = {1, 7}, .group = 0},
};
static const optcl_tensor_spec large_set[] = {
    {.name = "w", .ndim = 2, .shape = {300, 70}, .group = 0},
    {.name = "b", .ndim = 2, .shape = {1, 70}, .group = 1},
    {.name = "n", .ndim = 2, .shape = {3, 129}, .group = 0},
};
#define SMALL (sizeof small_set / sizeof small_set[0])
#define LARGE (sizeof large_set / sizeof large_set[0])

/* Every value an optimizer holds after STEPS steps: the parameters, then each state. */
typedef struct outcome {
    float *values;
    size_t count;
    uint64_t steps;
} outcome;

/* STEPS steps of random gradients (the second with a NaN when the guard skips), Schedule-Free
 * switched to EVAL, a traffic step (its launches too), then everything read back. */
static outcome run(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                   const optcl_optimizer_config *c)
{
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, specs, count, &p), optcl_context_message(ctx));
    size_t numel = optcl_params_numel(p);
    float *g = malloc(numel * sizeof *g);
    assert_non_null(g);
    uint64_t seed = 0x2545f4914f6cdd1dull;
    tu_fill_random(g, numel, &seed, -1.0f, 1.0f);
    TU_OK(optcl_params_write(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, g, numel), optcl_params_message(p));
    optcl_optimizer *o = NULL;
    TU_OK(optcl_optimizer_create(p, c, &o), optcl_context_message(ctx));
    for (int s = 0; s < STEPS; s++) {
        tu_fill_random(g, numel, &seed, -2.0f, 2.0f);
        if (s == 1 && c->nonfinite == OPTCL_NONFINITE_SKIP)
            g[numel / 2] = NAN;
        TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, OPTCL_ALL, g, numel),
              optcl_params_message(p));
        TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
    }
    optcl_status st = optcl_optimizer_set_mode(o, OPTCL_MODE_EVAL);
    assert_true(st == OPTCL_SUCCESS || st == OPTCL_ERROR_UNSUPPORTED);
    TU_OK(optcl_optimizer_traffic_step(o), optcl_optimizer_message(o));
    outcome r = {.count = numel, .steps = optcl_optimizer_step_count(o)};
    for (size_t k = 0; k < optcl_optimizer_state_count(o); k++)
        r.count += tu_state_values(p, o, k);
    r.values = malloc(r.count * sizeof *r.values);
    assert_non_null(r.values);
    TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, OPTCL_ALL, r.values, numel),
          optcl_params_message(p));
    for (size_t k = 0, at = numel; k < optcl_optimizer_state_count(o); k++) {
        size_t n = tu_state_values(p, o, k);
        TU_OK(optcl_optimizer_read_state(o, optcl_optimizer_state_name(o, k), OPTCL_ALL,
                                         r.values + at, n),
              optcl_optimizer_message(o));
        at += n;
    }
    free(g);
    TU_OK(optcl_optimizer_destroy(o), "destroy");
    TU_OK(optcl_params_destroy(p), "destroy");
    return r;
}

/* Fails unless both outcomes hold the same bits; frees them. */
static void assert_same(outcome want, outcome got, const char *what)
{
    assert_int_equal(want.count, got.count);
    if (want.steps != got.steps)
        fail_msg("%s: %llu steps counted, %llu on the full device", what,
                 (unsigned long long)got.steps, (unsigned long long)want.steps);
    for (size_t i = 0; i < want.count; i++)
        if (memcmp(&want.values[i], &got.values[i], sizeof(float)) != 0)
            fail_msg("%s: value %zu of %zu is %.9g, %.9g on the full device", what, i, want.count,
                     (double)got.values[i], (double)want.values[i]);
    free(want.values);
    free(got.values);
}

/* The configuration of algorithm a on the set (Muon's matrices are already 2-D). */
static optcl_optimizer_config config_of(optcl_algorithm a)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    if (a == OPTCL_SGD) /* SGD runs with Lookahead too: its start and sync launches */
        c.lookahead.k = 2;
    return c;
}

/* Launches recorded since seam_clear: each of whole work-groups of at most most items. */
static void assert_within(size_t most, const char *what)
{
    assert_true(seam_count() > 0 && seam_count() < SEAM_MAX_LAUNCHES);
    for (size_t i = 0; i < seam_count(); i++) {
        const seam_launch *l = seam_get(i);
        if (l->local == 0 || l->local > most || l->global % l->local != 0)
            fail_msg("%s: %s launched %zu work-items in groups of %zu; its limit is %zu", what,
                     l->name, l->global, l->local, most);
    }
}

/* Every kernel allows 64 items per work-group (the least the 64-lane totals need) on a device
 * of 256 or more: every rule's launches keep to 64 — with one item or GPUs' 64 per tensor in
 * the totals, small tensors stepped whole or not — and give the full device's bits. */
static void launches_keep_to_each_kernels_limit(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    static const struct {
        const char *totals_items, *whole; /* OPTCL_TOTALS_ITEMS, OPTCL_WHOLE_TENSORS */
    } modes[] = {{"1", "auto"}, {"64", "auto"}, {"64", "never"}};
    size_t runs = 0;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        setenv("OPTCL_TOTALS_ITEMS", modes[m].totals_items, 1);
        optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
        unsetenv("OPTCL_TOTALS_ITEMS");
        assert_true(optcl_context_work_group_size(ctx) > 64);
        for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
            optcl_algorithm alg = (optcl_algorithm)a;
            if (tu_muon_refused(OPTCL_BACKEND_OPENCL, alg))
                continue;
            optcl_optimizer_config c = config_of(alg);
            for (int s = 0; s < 2; s++) {
                const optcl_tensor_spec *specs = s ? large_set : small_set;
                size_t count = s ? LARGE : SMALL;
                char what[160];
                snprintf(what, sizeof what,
                         "%s on %zu tensors, OPTCL_TOTALS_ITEMS=%s OPTCL_WHOLE_TENSORS=%s",
                         optcl_algorithm_name(alg), count, modes[m].totals_items, modes[m].whole);
                if (strcmp(modes[m].whole, "auto") != 0)
                    setenv("OPTCL_WHOLE_TENSORS", modes[m].whole, 1);
                outcome want = run(ctx, specs, count, &c);
                seam_limit_kernels(64, NULL);
                seam_clear();
                outcome got = run(ctx, specs, count, &c);
                seam_device_reset();
                unsetenv("OPTCL_WHOLE_TENSORS");
                assert_within(64, what);
                assert_same(want, got, what);
                runs++;
            }
        }
        TU_OK(optcl_context_destroy(ctx), "destroy");
    }
    printf("kernel limits: %zu runs within 64 items per work-group, the same bits\n", runs);
}

/* Sets OPTCL_VECTOR_WIDTH for the contexts made until restore_vector_width. */
static char *saved_width;
static void set_vector_width(const char *width)
{
    const char *old = getenv("OPTCL_VECTOR_WIDTH");
    saved_width = old ? strdup(old) : NULL;
    setenv("OPTCL_VECTOR_WIDTH", width, 1);
}
static void restore_vector_width(void)
{
    if (saved_width)
        setenv("OPTCL_VECTOR_WIDTH", saved_width, 1);
    else
        unsetenv("OPTCL_VECTOR_WIDTH");
    free(saved_width);
    saved_width = NULL;
}

static optcl_optimizer_config guarded(void)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.max_norm = 0.5;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    return c;
}

/* Whether the launches recorded hold kernel name. */
static bool launched(const char *name)
{
    for (size_t i = 0; i < seam_count(); i++)
        if (!strcmp(seam_get(i)->name, name))
            return true;
    return false;
}

/* A guarded set that one work-group steps reduces in its update kernel — unless that kernel
 * allows fewer items than the set has: then the guard takes its own launches, and the step
 * gives the same bits. */
static void guard_reduces_apart_when_the_update_kernel_allows_fewer(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    set_vector_width("4"); /* 1024 elements: 256 work-items, one work-group */
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    restore_vector_width();
    if (optcl_context_vector_width(ctx) != 4 || optcl_context_work_group_size(ctx) < 256) {
        TU_OK(optcl_context_destroy(ctx), "destroy");
        skip();
    }
    optcl_optimizer_config c = guarded();
    seam_clear();
    outcome want = run(ctx, small_set, SMALL, &c);
    assert_true(launched("optcl_adam_f32") && !launched("optcl_guard_stats_finalize"));
    seam_limit_kernels(128, "optcl_adam_f32");
    seam_clear();
    outcome got = run(ctx, small_set, SMALL, &c);
    seam_device_reset();
    assert_true(launched("optcl_guard_stats_finalize")); /* the guard's own reduction */
    for (size_t i = 0; i < seam_count(); i++) {
        const seam_launch *l = seam_get(i);
        if (!strcmp(l->name, "optcl_adam_f32") && l->local > 128)
            fail_msg("the update kernel ran %zu items per work-group; its limit is 128", l->local);
    }
    assert_same(want, got, "guarded Adam, update kernel limited to 128");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

/* The guard's reduction is one work-group of exactly 256 (kernels/guard.cl's
 * reqd_work_group_size): a kernel that allows fewer is refused, saying why. */
static void guard_refuses_a_reduction_below_256(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, large_set, LARGE, &p), optcl_context_message(ctx));
    optcl_optimizer_config c = guarded();
    optcl_optimizer *o = NULL;
    seam_limit_kernels(128, "finalize"); /* optcl_guard_stats_finalize here */
    optcl_status st = optcl_optimizer_create(p, &c, &o);
    seam_device_reset();
    assert_int_equal(st, OPTCL_ERROR_UNSUPPORTED);
    assert_null(o);
    const char *message = optcl_context_message(ctx);
    if (!strstr(message, "256") || !strstr(message, "finalize"))
        fail_msg("the refusal does not say why: %s", message);
    TU_OK(optcl_params_destroy(p), "destroy");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

/* A device whose work-groups stop at 128: a guarded set that one work-group steps reduces in its
 * update kernel, which needs no 256, and gives the full device's bits; a larger set needs the
 * guard's 256-item reduction and is refused, saying so. */
static void guard_on_a_device_below_256(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    set_vector_width("8"); /* 1024 elements: 128 work-items, one work-group */
    optcl_context *full = tu_context(OPTCL_BACKEND_OPENCL);
    seam_limit_device(128);
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    seam_device_reset();
    restore_vector_width();
    if (optcl_context_vector_width(ctx) != 8) {
        TU_OK(optcl_context_destroy(full), "destroy");
        TU_OK(optcl_context_destroy(ctx), "destroy");
        skip();
    }
    assert_int_equal(optcl_context_work_group_size(ctx), 128);
    optcl_optimizer_config c = guarded();
    outcome want = run(full, small_set, SMALL, &c);
    seam_clear();
    outcome got = run(ctx, small_set, SMALL, &c);
    assert_true(launched("optcl_adam_f32") && !launched("optcl_guard_stats_finalize"));
    assert_same(want, got, "guarded Adam in one work-group of 128");
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, large_set, LARGE, &p), optcl_context_message(ctx));
    optcl_optimizer *o = NULL;
    assert_int_equal(optcl_optimizer_create(p, &c, &o), OPTCL_ERROR_UNSUPPORTED);
    if (!strstr(optcl_context_message(ctx), "256"))
        fail_msg("the refusal does not say why: %s", optcl_context_message(ctx));
    TU_OK(optcl_params_destroy(p), "destroy");
    TU_OK(optcl_context_destroy(full), "destroy");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

/* A device without correctly rounded divide/sqrt or denormals may not give the reference
 * backend's bits: the suites' bit-for-bit failures then say why (tu_exactness_note), and so
 * does every suite's first OpenCL context on stderr. */
static void suites_say_why_a_device_may_differ(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    assert_string_equal(tu_exactness_note(ctx), ""); /* PoCL has both */
    TU_OK(optcl_context_destroy(ctx), "destroy");
    const cl_device_fp_config lacks[] = {CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT, CL_FP_DENORM,
                                         CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT | CL_FP_DENORM};
    for (size_t i = 0; i < 3; i++) {
        seam_drop_fp(lacks[i]);
        ctx = tu_context(OPTCL_BACKEND_OPENCL);
        const char *note = tu_exactness_note(ctx);
        bool rounded = strstr(note, "CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT") != NULL,
             denormals = strstr(note, "CL_FP_DENORM") != NULL;
        if (rounded != ((lacks[i] & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0) ||
            denormals != ((lacks[i] & CL_FP_DENORM) != 0) || !strstr(note, "bit-for-bit"))
            fail_msg("lacking 0x%llx: \"%s\"", (unsigned long long)lacks[i], note);
        seam_device_reset();
        TU_OK(optcl_context_destroy(ctx), "destroy");
    }
    optcl_context *ref = tu_context(OPTCL_BACKEND_REFERENCE);
    assert_string_equal(tu_exactness_note(ref), "");
    TU_OK(optcl_context_destroy(ref), "destroy");
}

/* A device not available, or without an OpenCL C compiler, is never chosen — by default, by
 * indices or by name — and the refusal says why. (PoCL's is the only device here.) */
static void unusable_devices_are_refused(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_context_config by_default = optcl_context_config_default(),
                         by_index = optcl_context_config_default(),
                         by_name = optcl_context_config_default();
    by_default.ignore_environment = by_index.ignore_environment = by_name.ignore_environment = 1;
    by_index.platform_index = by_index.device_index = 0;
    optcl_context *probe = tu_context(OPTCL_BACKEND_OPENCL);
    char name[256] = "", prefix[9] = "";
    assert_int_equal(
        clGetDeviceInfo(optcl_context_cl_device(probe), CL_DEVICE_NAME, sizeof name, name, NULL),
        CL_SUCCESS);
    assert_true(name[0] != '\0'); /* an empty name would match any device */
    snprintf(prefix, sizeof prefix, "%.8s", name);
    by_name.device_name = prefix; /* its name's first letters */
    TU_OK(optcl_context_destroy(probe), "destroy");
    /* usable, the name picks it; a name of no device picks none */
    optcl_context *named = NULL;
    char message[1024] = "";
    TU_OK(optcl_context_create(&by_name, &named, message, sizeof message), message);
    assert_non_null(strstr(optcl_context_device_name(named), name));
    TU_OK(optcl_context_destroy(named), "destroy");
    optcl_context_config nowhere = by_name;
    nowhere.device_name = "no-such-device-here";
    assert_int_equal(optcl_context_create(&nowhere, &named, message, sizeof message),
                     OPTCL_ERROR_NO_DEVICE);
    assert_non_null(strstr(message, "no OpenCL device matches 'no-such-device-here'"));
    const optcl_context_config *configs[] = {&by_default, &by_index, &by_name};
    for (int lack = 0; lack < 2; lack++) {
        seam_availability(lack != 0, lack == 0);
        const char *why = lack == 0 ? "not available" : "compiler";
        for (size_t c = 0; c < 3; c++) {
            message[0] = '\0';
            optcl_context *ctx = NULL;
            optcl_status st = optcl_context_create(configs[c], &ctx, message, sizeof message);
            /* by name: the device it matched is refused, saying why */
            int picked = c != 2 || (strstr(message, name) && strstr(message, " is "));
            if (st != OPTCL_ERROR_NO_DEVICE || ctx || !strstr(message, why) || !picked)
                fail_msg("choice %zu on a device %s: %s (%s)", c, why, optcl_status_name(st),
                         message);
        }
        seam_device_reset();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(launches_keep_to_each_kernels_limit),
        cmocka_unit_test(guard_reduces_apart_when_the_update_kernel_allows_fewer),
        cmocka_unit_test(guard_refuses_a_reduction_below_256),
        cmocka_unit_test(guard_on_a_device_below_256),
        cmocka_unit_test(suites_say_why_a_device_may_differ),
        cmocka_unit_test(unusable_devices_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
