/* test_tensorwise.c — what the rules that look at whole tensors (LAMB, LARS) promise beyond the
 * golden data, on both backends:
 *   - tensors are independent: a tensor steps bit for bit as it would alone in its own set,
 *     and a NaN in one tensor's gradient reaches no other tensor;
 *   - both backends give the same bits, with the OpenCL totals on 1 or 64 work-items per
 *     tensor (OPTCL_TOTALS_ITEMS: ctest runs this suite both ways);
 *   - a zero norm gives the trust ratio 1 (optax): a tensor of zero parameters takes the plain
 *     scaled step, a tensor of zero gradient (and no weight decay) does not move. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#define STEPS 5
static const optcl_tensor_spec SPECS[] = {
    {.name = "a", .ndim = 2, .shape = {2, 5}},
    {.name = "b", .ndim = 1, .shape = {300}}, /* more than one 256-element block */
    {.name = "c", .ndim = 2, .shape = {3, 3}},
};
#define COUNT 3
#define NUMEL (10 + 300 + 9)
static const size_t FIRST[COUNT] = {0, 10, 310}, SIZE[COUNT] = {10, 300, 9};

static const optcl_backend BACKENDS[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};

static optcl_optimizer_config config_of(optcl_algorithm a)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    c.lr = a == OPTCL_LARS ? 0.5 : 0.01;
    c.weight_decay = 0.05;
    return c;
}

static void gradient(float *g, int t)
{
    uint64_t seed = 7u + (uint64_t)t;
    tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
}

/* Steps a rig of `count` tensors from specs, whose elements are [first, first + n) of the
 * whole set's p0 and gradients; the parameters after STEPS steps into out. */
static void run(optcl_backend b, const optcl_tensor_spec *specs, size_t count, size_t first,
                size_t n, const float *p0, const optcl_optimizer_config *c, int nan_at,
                float *out)
{
    tu_rig r = tu_rig_open(b, specs, count, p0 + first, c);
    float g[NUMEL];
    for (int t = 0; t < STEPS; t++) {
        gradient(g, t);
        if (nan_at >= 0)
            g[nan_at] = NAN;
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g + first, n), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    }
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, n), "read");
    tu_rig_close(&r);
}

static void tensors_are_independent(void **state)
{
    (void)state;
    float p0[NUMEL], whole[NUMEL], poisoned[NUMEL], alone[NUMEL], reference[2][NUMEL];
    uint64_t seed = 3;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    const optcl_algorithm rules[] = {OPTCL_LAMB, OPTCL_LARS};
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        for (size_t k = 0; k < 2; k++) {
            optcl_optimizer_config c = config_of(rules[k]);
            const char *name = optcl_algorithm_name(rules[k]);
            run(BACKENDS[b], SPECS, COUNT, 0, NUMEL, p0, &c, -1, whole);
            if (b == 0)
                memcpy(reference[k], whole, sizeof whole);
            else if (memcmp(reference[k], whole, sizeof whole) != 0)
                fail_msg("%s: the OpenCL backend differs from the reference", name);
            run(BACKENDS[b], SPECS, COUNT, 0, NUMEL, p0, &c, 20, poisoned); /* in b */
            for (size_t t = 0; t < COUNT; t++) {
                run(BACKENDS[b], &SPECS[t], 1, FIRST[t], SIZE[t], p0, &c, -1, alone);
                if (memcmp(alone, whole + FIRST[t], SIZE[t] * sizeof(float)) != 0)
                    fail_msg("%s: tensor %s steps differently alone", name, SPECS[t].name);
                bool hit = t == 1;
                for (size_t i = 0; i < SIZE[t]; i++) {
                    float v = poisoned[FIRST[t] + i];
                    if (hit ? !isnan(v) : v != whole[FIRST[t] + i])
                        fail_msg("%s: a NaN in b's gradient %s tensor %s (element %zu: %g)",
                                 name, hit ? "did not reach all of" : "reached", SPECS[t].name,
                                 i, (double)v);
                }
            }
        }
    }
}

/* Tensor a holds zero parameters (‖p‖ = 0), tensor c gets a zero gradient (‖u‖ = 0 without
 * weight decay): both take the ratio 1. LARS with momentum 0: a becomes −lr·g exactly, c stays.
 * LAMB: after one step, each equals the run whose group is left out of the trust ratio. */
static void zero_norms_give_ratio_one(void **state)
{
    (void)state;
    float p0[NUMEL], g[NUMEL], got[NUMEL], want[NUMEL];
    uint64_t seed = 11;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    memset(p0, 0, SIZE[0] * sizeof(float));
    gradient(g, 0);
    memset(g + FIRST[2], 0, SIZE[2] * sizeof(float));
    static const optcl_group_config excluded[1] = {{-1.0, -1.0, 1}};
    for (size_t b = 0; b < 2; b++) {
        if (BACKENDS[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_optimizer_config lars = optcl_optimizer_config_default(OPTCL_LARS);
        lars.lars.momentum = 0.0;
        tu_rig r = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lars);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, NUMEL), "read");
        tu_rig_close(&r);
        float neg_lr = (float)-lars.lr;
        for (size_t i = 0; i < SIZE[0]; i++)
            assert_true(got[i] == 0.0f + neg_lr * (g[i] * 1.0f));
        assert_memory_equal(got + FIRST[2], p0 + FIRST[2], SIZE[2] * sizeof(float));

        optcl_optimizer_config lamb = optcl_optimizer_config_default(OPTCL_LAMB);
        tu_rig in = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lamb);
        lamb.groups = excluded;
        lamb.group_count = 1;
        tu_rig out = tu_rig_open(BACKENDS[b], SPECS, COUNT, p0, &lamb);
        tu_rig *rigs[2] = {&in, &out}; /* one step: after it a's parameters are not zero */
        for (int k = 0; k < 2; k++) {
            TU_OK(optcl_params_write(rigs[k]->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
            TU_OK(optcl_optimizer_step(rigs[k]->opt, 0, NULL, NULL), "step");
        }
        TU_OK(optcl_params_read(in.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, NUMEL), "read");
        TU_OK(optcl_params_read(out.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "read");
        assert_memory_equal(got, want, SIZE[0] * sizeof(float));
        assert_memory_equal(got + FIRST[2], want + FIRST[2], SIZE[2] * sizeof(float));
        assert_memory_not_equal(got + FIRST[1], want + FIRST[1], SIZE[1] * sizeof(float));
        tu_rig_close(&in);
        tu_rig_close(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tensors_are_independent),
        cmocka_unit_test(zero_norms_give_ratio_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
