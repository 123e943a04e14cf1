/* test_kernel_warnings.c — every optimizer's kernels build without a compiler warning in the
 * modes that compile different code: float32, bfloat16 and float16 parameters, the guard fused
 * into a small set's update and the guard's own launches on a larger one, loss scaling, 8-bit
 * state, master weights with stochastic rounding, Lookahead. A warning is a defect the driver
 * saw (PoCL's compiler warned about float16 vectors passed by value on CPUs without AVX-512,
 * and printed "N warnings generated." on every user's stderr). PoCL's kernel cache is turned
 * off here, since a cached binary comes without a build log. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mode {
    const char *name;
    optcl_dtype dtype;
    int64_t side; /* one side×side matrix: 64 is one work-group (the fused guard), 128 is not */
    int guarded, loss_scale, int8_state, master, lookahead;
    int may_refuse; /* a combination some rules refuse (Rprop's 8-bit state, ...) */
} mode;

static const mode MODES[] = {
    {"float32", OPTCL_DTYPE_F32, 64, 0, 0, 0, 0, 0, 0},
    {"bfloat16, guard fused", OPTCL_DTYPE_BF16, 64, 1, 0, 0, 0, 0, 0},
    {"float16, dynamic loss scale, guard launches", OPTCL_DTYPE_F16, 128, 1, 1, 0, 0, 0, 0},
    {"float32, 8-bit state, guard launches", OPTCL_DTYPE_F32, 128, 1, 0, 1, 0, 0, 1},
    {"bfloat16, master weights, stochastic rounding", OPTCL_DTYPE_BF16, 64, 0, 0, 0, 1, 0, 1},
    {"float32, Lookahead, guard fused", OPTCL_DTYPE_F32, 64, 1, 0, 0, 0, 1, 1},
};

static void no_warnings(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    size_t built = 0;
    for (size_t m = 0; m < sizeof MODES / sizeof MODES[0]; m++) {
        const mode *md = &MODES[m];
        optcl_tensor_spec spec = {.name = "w", .ndim = 2, .shape = {md->side, md->side}};
        optcl_params *p = NULL;
        TU_OK(optcl_params_create_typed(ctx, &spec, 1, md->dtype, &p), optcl_context_message(ctx));
        for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
            optcl_optimizer_config c = optcl_optimizer_config_default((optcl_algorithm)a);
            if (md->guarded) {
                c.max_norm = 1.0;
                c.nonfinite = OPTCL_NONFINITE_SKIP;
            }
            if (md->loss_scale)
                c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
            if (md->int8_state)
                c.state_dtype = OPTCL_STATE_INT8;
            if (md->master) {
                c.master_weights = 1;
                c.rounding = OPTCL_ROUND_STOCHASTIC;
            }
            if (md->lookahead)
                c.lookahead.k = 5;
            optcl_optimizer *o = NULL;
            optcl_status st = optcl_optimizer_create(p, &c, &o);
            const char *name = optcl_algorithm_name((optcl_algorithm)a);
            if (st != OPTCL_SUCCESS && md->may_refuse)
                continue;
            if (st != OPTCL_SUCCESS)
                fail_msg("%s, %s: %s: %s", name, md->name, optcl_status_name(st),
                         optcl_context_message(ctx));
            const char *log = optcl_optimizer_build_log(o);
            if (strstr(log, "warning"))
                fail_msg("%s, %s: the kernels' build log has a warning:\n%s", name, md->name, log);
            built++;
            assert_int_equal(optcl_optimizer_destroy(o), OPTCL_SUCCESS);
        }
        assert_int_equal(optcl_params_destroy(p), OPTCL_SUCCESS);
    }
    printf("%zu optimizer builds without a warning\n", built);
    assert_true(built >= 3 * OPTCL_ALGORITHM_COUNT); /* the first three modes never refuse */
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

int main(void)
{
    setenv("POCL_KERNEL_CACHE", "0", 1); /* before the first OpenCL call reads it */
    const struct CMUnitTest tests[] = {cmocka_unit_test(no_warnings)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
