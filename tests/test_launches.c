/* test_launches.c — one kernel launch per parameter group per step, whatever the number of
 * tensors (counted by the optimizer, not timed; three for the rules that look at whole tensors,
 * one for LAMB, LARS and Adafactor when every tensor is small enough to step whole),
 * plus one per Lookahead sync; the documented
 * minimal bytes per step; the traffic yardstick the benchmark compares with. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define TENSORS 1000

/* Muon's launches per step and group: its four kernels, and per shape 3 GEMMs per
 * Newton–Schulz iteration, whatever the tensor count. */
static void muon_launches(optcl_context *ctx, const optcl_optimizer_config *c, optcl_params *alone,
                          optcl_params *one, optcl_params *two)
{
    optcl_params *sets[] = {alone, one, two};
    const uint64_t shapes[] = {1, 13, 26}; /* groups × shapes */
    const uint64_t groups[] = {1, 1, 2};
    for (size_t k = 0; k < 3; k++) {
        optcl_optimizer *o = NULL;
        TU_OK(optcl_optimizer_create(sets[k], c, &o), optcl_context_message(ctx));
        for (int s = 0; s < 3; s++)
            TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
        assert_int_equal(optcl_optimizer_launch_count(o),
                         3 * (4 * groups[k] + 3 * (uint64_t)c->muon.ns_steps * shapes[k]));
        if (k == 0) /* 300×7: m = 7, n = 300, 4m²n + 2m³ per iteration */
            assert_true(optcl_optimizer_flops_per_step(o) ==
                        c->muon.ns_steps * (4.0 * 7 * 7 * 300 + 2.0 * 7 * 7 * 7));
        optcl_optimizer_destroy(o);
    }
}

static void many_tensors_one_launch(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    optcl_tensor_spec *specs = calloc(TENSORS, sizeof *specs);
    char(*names)[16] = calloc(TENSORS, sizeof *names);
    assert_true(specs && names);
    for (int i = 0; i < TENSORS; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        specs[i].name = names[i];
        specs[i].ndim = 1;
        specs[i].shape[0] = 1 + i % 13;
        specs[i].group = i % 3 == 0 ? 2 : 0; /* two groups, interleaved in creation order */
    }
    optcl_params *one = NULL, *two = NULL;
    optcl_tensor_spec *single = calloc(TENSORS, sizeof *single);
    assert_non_null(single);
    for (int i = 0; i < TENSORS; i++) {
        single[i] = specs[i];
        single[i].group = 0;
    }
    optcl_tensor_spec lone = {.name = "w", .ndim = 2, .shape = {300, 7}};
    optcl_params *alone = NULL; /* one tensor: the same count as a thousand */
    TU_OK(optcl_params_create(ctx, single, TENSORS, &one), optcl_context_message(ctx));
    TU_OK(optcl_params_create(ctx, specs, TENSORS, &two), optcl_context_message(ctx));
    TU_OK(optcl_params_create(ctx, &lone, 1, &alone), optcl_context_message(ctx));
    /* Muon: the same tensors as 1×n matrices, 13 shapes in each group */
    optcl_params *one_m = NULL, *two_m = NULL;
    tu_as_matrices(single, TENSORS, single);
    tu_as_matrices(specs, TENSORS, specs);
    TU_OK(optcl_params_create(ctx, single, TENSORS, &one_m), optcl_context_message(ctx));
    TU_OK(optcl_params_create(ctx, specs, TENSORS, &two_m), optcl_context_message(ctx));
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        optcl_optimizer_config c = optcl_optimizer_config_default((optcl_algorithm)a);
        if (a == OPTCL_MUON) { /* sums, totals, pack and step; 3 GEMMs per shape and iteration */
            if (!tu_muon_refused(OPTCL_BACKEND_OPENCL, OPTCL_MUON))
                muon_launches(ctx, &c, alone, one_m, two_m);
            continue;
        }
        /* tensor-wise rules (LAMB, LARS): the tensors' sums, their totals per tensor, the step
         * (Adafactor's row and column means and their means of rows before them) — or, all
         * tensors here being small, the totals kernel stepping each whole, unless
         * OPTCL_WHOLE_TENSORS=never (the second pass) */
        bool whole = a == OPTCL_LAMB || a == OPTCL_LARS || a == OPTCL_ADAFACTOR;
        for (int never = 0; never < 1 + whole; never++) {
            uint64_t per_group = whole && !never                                      ? 1
                                 : a == OPTCL_ADAFACTOR                               ? 5
                                 : optcl_algorithm_is_tensor_wise((optcl_algorithm)a) ? 3
                                                                                      : 1;
            optcl_optimizer *o1 = NULL, *o2 = NULL, *o0 = NULL;
            if (never)
                setenv("OPTCL_WHOLE_TENSORS", "never", 1);
            TU_OK(optcl_optimizer_create(one, &c, &o1), optcl_context_message(ctx));
            TU_OK(optcl_optimizer_create(two, &c, &o2), optcl_context_message(ctx));
            TU_OK(optcl_optimizer_create(alone, &c, &o0), optcl_context_message(ctx));
            unsetenv("OPTCL_WHOLE_TENSORS");
            for (int s = 0; s < 7; s++) {
                TU_OK(optcl_optimizer_step(o1, 0, NULL, NULL), optcl_optimizer_message(o1));
                TU_OK(optcl_optimizer_step(o2, 0, NULL, NULL), optcl_optimizer_message(o2));
                TU_OK(optcl_optimizer_step(o0, 0, NULL, NULL), optcl_optimizer_message(o0));
            }
            assert_int_equal(optcl_optimizer_launch_count(o0), 7 * per_group);
            assert_int_equal(optcl_optimizer_launch_count(o1), 7 * per_group);
            assert_int_equal(optcl_optimizer_launch_count(o2), 14 * per_group);
            if (whole && never) /* the predicate is not empty */
                assert_int_equal(per_group, a == OPTCL_ADAFACTOR ? 5 : 3);
            optcl_optimizer_destroy(o0);
            optcl_optimizer_destroy(o1);
            optcl_optimizer_destroy(o2);
        }
    }
    /* Lookahead with k = 3: one more launch every third step. */
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.lookahead.k = 3;
    optcl_optimizer *o = NULL;
    TU_OK(optcl_optimizer_create(one, &c, &o), optcl_context_message(ctx));
    for (int s = 0; s < 7; s++)
        TU_OK(optcl_optimizer_step(o, 0, NULL, NULL), optcl_optimizer_message(o));
    assert_int_equal(optcl_optimizer_launch_count(o), 7 + 2);
    optcl_optimizer_destroy(o);
    optcl_params_destroy(one);
    optcl_params_destroy(two);
    optcl_params_destroy(one_m);
    optcl_params_destroy(two_m);
    optcl_params_destroy(alone);
    optcl_context_destroy(ctx);
    free(single);
    free(specs);
    free(names);
}

static void minimal_bytes(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {1024}}; /* no padding */
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &p), optcl_context_message(ctx));
    struct {
        optcl_algorithm a;
        int option;
        double per_param;
    } cases[] = {{OPTCL_SGD, 0, 12},     {OPTCL_SGD, 1, 20},   {OPTCL_ADAM, 0, 28},
                 {OPTCL_ADAM, 1, 36},    {OPTCL_ADAMW, 0, 28}, {OPTCL_RMSPROP, 0, 20},
                 {OPTCL_RMSPROP, 1, 36}, {OPTCL_RPROP, 0, 28}, {OPTCL_ADAM, 2, 32},
                 {OPTCL_ADAM, 3, 32},    {OPTCL_LAMB, 0, 44},  {OPTCL_LARS, 0, 28},
                 {OPTCL_ADAFACTOR, 0, 32}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(cases[i].a);
        if (cases[i].option) {
            c.sgd.momentum = 0.9;
            c.adam.amsgrad = 1;
            c.rmsprop.centered = 1;
            c.rmsprop.momentum = 0.9;
        }
        if (cases[i].option >= 2)
            c.adam.amsgrad = 0;
        if (cases[i].option == 2) /* the guard reads the gradient once more */
            c.max_norm = 1.0;
        if (cases[i].option == 3) /* the sync moves params and slow weights: 16 B every k steps */
            c.lookahead.k = 4;
        optcl_optimizer *o = NULL;
        TU_OK(optcl_optimizer_create(p, &c, &o), optcl_context_message(ctx));
        assert_true(optcl_optimizer_bytes_per_step(o) == 1024 * cases[i].per_param);
        assert_int_equal(optcl_optimizer_launch_count(o), 0);
        optcl_optimizer_destroy(o);
    }
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
    /* On OpenCL, LAMB, LARS and Adafactor read a tensor stepped whole from memory once: Adam's
     * 28 B, SGD with momentum's 20, a step of p, g and a variance 20 (the other passes read it
     * from cache) — 44, 28 and 32 when not. A 32×32 matrix's Adafactor state is 64 floats
     * (0.25 B/param, read and written); when not whole, its gradient is read twice more (rows
     * and columns) and the sums read p and g: 12.5 B or 28.5. */
    if (tu_opencl_missing())
        return;
    ctx = tu_context(OPTCL_BACKEND_OPENCL);
    optcl_tensor_spec matrix = {.name = "m", .ndim = 2, .shape = {32, 32}};
    optcl_params *m = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &p), optcl_context_message(ctx));
    TU_OK(optcl_params_create(ctx, &matrix, 1, &m), optcl_context_message(ctx));
    const struct {
        optcl_algorithm a;
        const char *whole;
        bool matrix;
        double per_param;
    } whole[] = {{OPTCL_LAMB, "always", false, 28},       {OPTCL_LAMB, "never", false, 44},
                 {OPTCL_LARS, "always", false, 20},       {OPTCL_LARS, "never", false, 28},
                 {OPTCL_ADAFACTOR, "always", false, 20},  {OPTCL_ADAFACTOR, "never", false, 32},
                 {OPTCL_ADAFACTOR, "always", true, 12.5}, {OPTCL_ADAFACTOR, "never", true, 28.5}};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(whole[i].a);
        optcl_optimizer *o = NULL;
        setenv("OPTCL_WHOLE_TENSORS", whole[i].whole, 1);
        TU_OK(optcl_optimizer_create(whole[i].matrix ? m : p, &c, &o), optcl_context_message(ctx));
        unsetenv("OPTCL_WHOLE_TENSORS");
        assert_true(optcl_optimizer_bytes_per_step(o) == 1024 * whole[i].per_param);
        optcl_optimizer_destroy(o);
    }
    optcl_params_destroy(m);
    optcl_params_destroy(p);
    /* Unset, the documented choice: a tensor whose parameters, gradients and states (LAMB:
     * 16 B per parameter) fit the device's global memory cache divided among its compute units
     * is stepped whole (28 B), one of a block more is not (44). */
    cl_device_id device = optcl_context_cl_device(ctx);
    cl_ulong cache = 0;
    cl_uint units = 0;
    assert_int_equal(
        clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof cache, &cache, NULL),
        CL_SUCCESS);
    assert_int_equal(
        clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL),
        CL_SUCCESS);
    size_t limit = units ? (size_t)(cache / units / 16 / 256) : 0; /* blocks */
    for (size_t blocks = limit; blocks <= limit + 1 && limit > 0 && limit <= 16384; blocks++) {
        optcl_tensor_spec big = {.name = "big", .ndim = 1, .shape = {(int64_t)blocks * 256}};
        TU_OK(optcl_params_create(ctx, &big, 1, &p), optcl_context_message(ctx));
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_LAMB);
        optcl_optimizer *o = NULL;
        TU_OK(optcl_optimizer_create(p, &c, &o), optcl_context_message(ctx));
        double flat = (double)optcl_params_flat_size(p);
        assert_true(optcl_optimizer_bytes_per_step(o) == flat * (blocks == limit ? 28 : 44));
        optcl_optimizer_destroy(o);
        optcl_params_destroy(p);
    }
    optcl_context_destroy(ctx);
}

/* The traffic yardstick moves the step's bytes with one add per element: every buffer but the
 * gradient becomes the element's sum over all buffers — the same on the device as in the
 * host loop — and it counts as no optimizer launch. */
static void traffic_step_sums(void **state)
{
    (void)state;
    const optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {1031}};
    float p0[1031], g[1031], after[2][3][1031];
    uint64_t seed = 3;
    tu_fill_random(p0, 1031, &seed, -1.0f, 1.0f);
    tu_fill_random(g, 1031, &seed, -1.0f, 1.0f);
    for (int b = 0; b < OPTCL_BACKEND_COUNT; b++) {
        optcl_context *ctx = tu_context((optcl_backend)b);
        optcl_params *p = NULL;
        optcl_optimizer *o = NULL;
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
        c.sgd.momentum = 0.9; /* three buffers: params, grads, momentum_buffer */
        TU_OK(optcl_params_create(ctx, &spec, 1, &p), optcl_context_message(ctx));
        TU_OK(optcl_params_write(p, OPTCL_ROLE_PARAMS, 0, p0, 1031), "p");
        TU_OK(optcl_params_write(p, OPTCL_ROLE_GRADS, 0, g, 1031), "g");
        TU_OK(optcl_optimizer_create(p, &c, &o), optcl_context_message(ctx));
        TU_OK(optcl_optimizer_write_state(o, "momentum_buffer", 0, g, 1031), "buf");
        TU_OK(optcl_optimizer_traffic_step(o), optcl_optimizer_message(o));
        TU_OK(optcl_params_read(p, OPTCL_ROLE_PARAMS, 0, after[b][0], 1031), "p");
        TU_OK(optcl_params_read(p, OPTCL_ROLE_GRADS, 0, after[b][1], 1031), "g");
        TU_OK(optcl_optimizer_read_state(o, "momentum_buffer", 0, after[b][2], 1031), "buf");
        for (int i = 0; i < 1031; i++) {
            float sum = p0[i] + g[i] + g[i];
            assert_true(after[b][0][i] == sum && after[b][2][i] == sum);
            assert_true(after[b][1][i] == g[i]);
        }
        assert_int_equal(optcl_optimizer_launch_count(o), 0);
        /* A build log is a string on either backend: empty on the reference backend. */
        const char *log = optcl_optimizer_build_log(o);
        assert_non_null(log);
        if (b == OPTCL_BACKEND_REFERENCE)
            assert_string_equal(log, "");
        optcl_optimizer_destroy(o);
        optcl_params_destroy(p);
        optcl_context_destroy(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_tensors_one_launch),
        cmocka_unit_test(minimal_bytes),
        cmocka_unit_test(traffic_step_sums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
