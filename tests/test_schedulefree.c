/* test_schedulefree.c — Schedule-Free's train and eval modes (optcl_optimizer_set_mode) on both
 * backends: the switch gives the parameters that reading in the other mode promised, bit for
 * bit; a step in eval mode is refused and changes nothing; before the first step only the mode
 * changes; checkpoints keep the mode; optimizers without modes and configurations that
 * Schedule-Free cannot take are refused by name. The update itself is in test_golden (the
 * schedulefree package's trajectories, y and x) and test_backends (bit-identical backends). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUMEL 300

static const optcl_tensor_spec specs[] = {
    {.name = "w", .ndim = 2, .shape = {20, 13}},
    {.name = "b", .ndim = 1, .shape = {40}, .group = 1},
};

static bool skip_backend(optcl_backend b)
{
    return b == OPTCL_BACKEND_OPENCL && tu_opencl_missing();
}

static optcl_optimizer_config sf_config(optcl_algorithm algorithm)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(algorithm);
    c.lr = 0.01;
    c.weight_decay = 0.05;
    c.max_norm = algorithm == OPTCL_SGD_SCHEDULEFREE ? 5.0 : 0.0; /* the device counts */
    return c;
}

static void steps(tu_rig *r, int from, int count)
{
    float g[NUMEL];
    for (int t = from; t < from + count; t++) {
        uint64_t seed = 77 + (uint64_t)t;
        tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
        TU_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "grads");
        TU_OK(optcl_optimizer_step(r->opt, 0, NULL, NULL), optcl_optimizer_message(r->opt));
    }
}

static void read_params(tu_rig *r, float *p)
{
    TU_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, NUMEL), "read");
}

static tu_rig open_rig(optcl_backend b, const optcl_optimizer_config *c, optcl_dtype dtype)
{
    float p0[NUMEL];
    uint64_t seed = 5;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    tu_rig r = {.ctx = tu_context(b)};
    TU_OK(optcl_params_create_typed(r.ctx, specs, 2, dtype, &r.params),
          optcl_context_message(r.ctx));
    TU_OK(optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, NUMEL), "p0");
    TU_OK(optcl_optimizer_create(r.params, c, &r.opt), optcl_context_message(r.ctx));
    return r;
}

static void switch_round_trip(optcl_backend b, optcl_algorithm algorithm, optcl_dtype dtype,
                              int master)
{
    optcl_optimizer_config c = sf_config(algorithm);
    c.master_weights = master;
    tu_rig r = open_rig(b, &c, dtype);
    float y[NUMEL], x[NUMEL], got[NUMEL], y_again[NUMEL], after[NUMEL];
    steps(&r, 0, 7);
    read_params(&r, y);
    TU_OK(optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_EVAL, OPTCL_ALL, x, NUMEL),
          optcl_optimizer_message(r.opt));
    read_params(&r, got);
    assert_memory_equal(got, y, sizeof y); /* reading in a mode changes nothing */
    assert_memory_not_equal(x, y, sizeof y);

    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_EVAL), optcl_optimizer_message(r.opt));
    assert_int_equal(optcl_optimizer_mode(r.opt), OPTCL_MODE_EVAL);
    read_params(&r, got);
    assert_memory_equal(got, x, sizeof x);
    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_EVAL), "again: nothing to do");
    read_params(&r, got);
    assert_memory_equal(got, x, sizeof x);

    /* a step in eval mode is refused and changes nothing, not even the count */
    assert_int_equal(optcl_optimizer_step(r.opt, 0, NULL, NULL), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "eval mode"));
    assert_int_equal(optcl_optimizer_step_count(r.opt), 7);
    read_params(&r, got);
    assert_memory_equal(got, x, sizeof x);

    TU_OK(optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_TRAIN, OPTCL_ALL, y_again, NUMEL),
          optcl_optimizer_message(r.opt));
    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_TRAIN), optcl_optimizer_message(r.opt));
    read_params(&r, got);
    assert_memory_equal(got, y_again, sizeof got);
    double worst = 0.0; /* y comes back within rounding (the round trip is not exact) */
    assert_int_equal(tu_first_mismatch(got, y, NUMEL, 1e-2, 1e-2, &worst), (size_t)-1);
    steps(&r, 7, 2);
    read_params(&r, after);
    assert_memory_not_equal(after, got, sizeof got);
    tu_rig_close(&r);
}

static void switches_are_what_reading_promised(void **state)
{
    (void)state;
    const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
    for (size_t k = 0; k < 2; k++) {
        if (skip_backend(backends[k]))
            continue;
        switch_round_trip(backends[k], OPTCL_ADAMW_SCHEDULEFREE, OPTCL_DTYPE_F32, 0);
        switch_round_trip(backends[k], OPTCL_SGD_SCHEDULEFREE, OPTCL_DTYPE_F32, 0);
        switch_round_trip(backends[k], OPTCL_ADAMW_SCHEDULEFREE, OPTCL_DTYPE_BF16, 0);
        switch_round_trip(backends[k], OPTCL_SGD_SCHEDULEFREE, OPTCL_DTYPE_F16, 0);
        switch_round_trip(backends[k], OPTCL_ADAMW_SCHEDULEFREE, OPTCL_DTYPE_BF16, 1);
        switch_round_trip(backends[k], OPTCL_SGD_SCHEDULEFREE, OPTCL_DTYPE_F16, 1);
    }
}

/* Before the first step there is no z: eval's x is y, and only the mode changes. */
static void before_the_first_step(void **state)
{
    (void)state;
    optcl_optimizer_config c = sf_config(OPTCL_SGD_SCHEDULEFREE);
    tu_rig r = open_rig(OPTCL_BACKEND_REFERENCE, &c, OPTCL_DTYPE_F32);
    float p0[NUMEL], got[NUMEL];
    read_params(&r, p0);
    TU_OK(optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_EVAL, OPTCL_ALL, got, NUMEL),
          "read");
    assert_memory_equal(got, p0, sizeof got);
    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_EVAL), optcl_optimizer_message(r.opt));
    read_params(&r, got);
    assert_memory_equal(got, p0, sizeof got);
    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_TRAIN), optcl_optimizer_message(r.opt));
    steps(&r, 0, 1);
    tu_rig_close(&r);
}

/* A checkpoint saved in eval mode loads in eval mode with x in the parameters, into an optimizer
 * that had stepped with another lr; back in train mode both runs go on alike, bit for bit. */
static void checkpoints_keep_the_mode(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/sf.safetensors", dir);
    optcl_optimizer_config c = sf_config(OPTCL_ADAMW_SCHEDULEFREE);
    tu_rig a = open_rig(OPTCL_BACKEND_REFERENCE, &c, OPTCL_DTYPE_F32);
    steps(&a, 0, 4);
    TU_OK(optcl_optimizer_set_mode(a.opt, OPTCL_MODE_EVAL), optcl_optimizer_message(a.opt));
    TU_OK(optcl_checkpoint_save(a.opt, path), optcl_optimizer_message(a.opt));
    /* b has stepped with another lr first: its running weight sums must not survive the load
     * (they would weigh the average with lr_max = 0.001 where the file's run had 0.01) */
    optcl_optimizer_config other = c;
    other.lr = 0.001;
    tu_rig b = open_rig(OPTCL_BACKEND_REFERENCE, &other, OPTCL_DTYPE_F32);
    steps(&b, 0, 2);
    TU_OK(optcl_checkpoint_load(b.opt, path), optcl_optimizer_message(b.opt));
    assert_int_equal(optcl_optimizer_mode(b.opt), OPTCL_MODE_EVAL);
    float pa[NUMEL], pb[NUMEL];
    read_params(&a, pa);
    read_params(&b, pb);
    assert_memory_equal(pa, pb, sizeof pa);
    TU_OK(optcl_optimizer_set_mode(a.opt, OPTCL_MODE_TRAIN), optcl_optimizer_message(a.opt));
    TU_OK(optcl_optimizer_set_mode(b.opt, OPTCL_MODE_TRAIN), optcl_optimizer_message(b.opt));
    steps(&a, 4, 3);
    steps(&b, 4, 3);
    read_params(&a, pa);
    read_params(&b, pb);
    assert_memory_equal(pa, pb, sizeof pa);
    tu_rig_close(&a);
    tu_rig_close(&b);
    tu_remove_tree(dir);
    free(dir);
}

static void optimizers_without_modes(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    tu_rig r = open_rig(OPTCL_BACKEND_REFERENCE, &c, OPTCL_DTYPE_F32);
    float p[NUMEL];
    TU_OK(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_TRAIN), "train: nothing to do");
    assert_int_equal(optcl_optimizer_set_mode(r.opt, OPTCL_MODE_EVAL), OPTCL_ERROR_UNSUPPORTED);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "adam has no eval mode"));
    assert_int_equal(optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_EVAL, OPTCL_ALL, p,
                                                         NUMEL),
                     OPTCL_ERROR_UNSUPPORTED);
    TU_OK(optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_TRAIN, OPTCL_ALL, p, NUMEL),
          "train: a plain read");
    assert_int_equal(
        optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_TRAIN, OPTCL_ALL, p, NUMEL - 1),
        OPTCL_ERROR_SIZE_MISMATCH); /* the read's own message, passed on */
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "read_params_in_mode: "));
    assert_true(strlen(optcl_optimizer_message(r.opt)) >
                strlen("optcl_optimizer_read_params_in_mode: "));
    assert_int_equal(
        optcl_optimizer_read_params_in_mode(r.opt, OPTCL_MODE_TRAIN, OPTCL_ALL, NULL, NUMEL),
        OPTCL_ERROR_NULL_POINTER);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "data is NULL"));
    assert_int_equal(optcl_optimizer_set_mode(r.opt, (optcl_mode)7),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_mode(r.opt), OPTCL_MODE_TRAIN);
    assert_int_equal(optcl_optimizer_mode(NULL), OPTCL_MODE_TRAIN);
    assert_int_equal(optcl_optimizer_set_mode(NULL, OPTCL_MODE_EVAL), OPTCL_ERROR_NULL_POINTER);
    steps(&r, 0, 1);
    tu_rig_close(&r);
}

/* What Schedule-Free cannot take, refused at create with a message naming it. */
static void refusals(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *f32 = NULL, *bf16 = NULL;
    TU_OK(optcl_params_create(ctx, specs, 2, &f32), optcl_context_message(ctx));
    TU_OK(optcl_params_create_typed(ctx, specs, 2, OPTCL_DTYPE_BF16, &bf16), "bf16");
    struct {
        const char *named;
        optcl_params *params;
        optcl_optimizer_config c;
    } cases[5];
    for (int k = 0; k < 5; k++) {
        cases[k].c = sf_config(k % 2 ? OPTCL_SGD_SCHEDULEFREE : OPTCL_ADAMW_SCHEDULEFREE);
        cases[k].params = f32;
    }
    cases[0].named = "a schedule";
    cases[0].c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    cases[1].named = "a schedule's warmup";
    cases[1].c.schedule.warmup_steps = 5;
    cases[2].named = "ReduceLROnPlateau";
    cases[2].c.plateau.enabled = 1;
    cases[3].named = "Lookahead";
    cases[3].c.lookahead.k = 5;
    cases[4].named = "int8";
    cases[4].c.state_dtype = OPTCL_STATE_INT8;
    cases[4].params = bf16;
    for (int k = 0; k < 5; k++) {
        optcl_optimizer *opt = NULL;
        assert_int_equal(optcl_optimizer_create(cases[k].params, &cases[k].c, &opt),
                         OPTCL_ERROR_INVALID_ARGUMENT);
        assert_null(opt);
        if (!strstr(optcl_context_message(ctx), cases[k].named))
            fail_msg("'%s' does not name %s", optcl_context_message(ctx), cases[k].named);
    }
    TU_OK(optcl_params_destroy(f32), "destroy");
    TU_OK(optcl_params_destroy(bf16), "destroy");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(switches_are_what_reading_promised),
        cmocka_unit_test(before_the_first_step),
        cmocka_unit_test(checkpoints_keep_the_mode),
        cmocka_unit_test(optimizers_without_modes),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
