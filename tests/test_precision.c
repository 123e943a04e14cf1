/* test_precision.c — bfloat16 optimizer state (config.state_dtype = OPTCL_STATE_BF16) on both
 * backends: values round as torch's c10::BFloat16 does (nearest even, NaN → 0x7FC0); a step
 * is exactly the float32 step from the same state, with the parameters' update using the new
 * state unrounded and the stored state rounded; half the state bytes and 20 B per Adam step;
 * checkpoints keep the state as BF16 tensors, resume bit for bit and refuse the other state
 * type by name. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
#define BACKENDS (sizeof backends / sizeof backends[0])

static const optcl_tensor_spec specs[] = {
    {.name = "w", .ndim = 2, .shape = {33, 31}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {517}, .group = 1},
};
#define NUMEL (33 * 31 + 517)

/* c10::BFloat16's round_to_nearest_even, widened back to float32. */
static float bf16(float f)
{
    return tu_float((uint32_t)tu_bf16_bits(f) << 16);
}

static bool skip_backend(optcl_backend b)
{
    return b == OPTCL_BACKEND_OPENCL && tu_opencl_missing();
}

static optcl_optimizer_config with_bf16(optcl_optimizer_config c)
{
    c.state_dtype = OPTCL_STATE_BF16;
    return c;
}

static void assert_bits(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (tu_bits(got[i]) != tu_bits(want[i]))
            fail_msg("%s: element %zu is %.9g (0x%08x), expected %.9g (0x%08x)", what, i,
                     (double)got[i], tu_bits(got[i]), (double)want[i], tu_bits(want[i]));
}

/* Values written into a bfloat16 state read back rounded as c10 rounds: ties to even in both
 * directions, carries into the exponent and up to ±Inf, subnormals, signed zeros, NaNs of any
 * sign and payload. */
static void values_round_as_c10(void **state)
{
    (void)state;
    static const uint32_t cases[] = {
        0x3F808000u, /* 1 + 2^-8: a tie, to even (down to 1) */
        0x3F818000u, /* 1 + 3·2^-8: a tie, to even (up) */
        0x3F808001u, 0x3F807FFFu, 0xBF808000u, 0xBF818000u, 0x7F7F8000u, /* a tie at the top: to
                                                                            +Inf */
        0x7F7F7FFFu, 0xFF7F8000u, 0x7F800000u, 0xFF800000u, 0x00008000u, 0x00018000u,
        0x00000001u, 0x80008000u, /* subnormals */
        0x00000000u, 0x80000000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFFFFFFFFu,
        0x7FA00000u,                           /* NaNs */
        0x3DCCCCCDu, 0x40490FDBu, 0xC2F6E979u, /* 0.1, π, −123.456 */
    };
    size_t nc = sizeof cases / sizeof cases[0];
    float *values = calloc(NUMEL, sizeof *values), *want = calloc(NUMEL, sizeof *want);
    float *got = calloc(NUMEL, sizeof *got);
    assert_true(values && want && got);
    uint64_t seed = 3;
    tu_fill_random(values, NUMEL, &seed, -1e3f, 1e3f);
    for (size_t i = 0; i < nc; i++)
        values[i * 37] = tu_float(cases[i]);
    for (size_t i = 0; i < NUMEL; i++)
        want[i] = bf16(values[i]);
    assert_true(tu_bits(want[0]) == 0x3F800000u && tu_bits(want[37]) == 0x3F820000u);
    assert_true(tu_bits(want[6 * 37]) == 0x7F800000u && tu_bits(want[20 * 37]) == 0x7FC00000u);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_optimizer_config c = with_bf16(optcl_optimizer_config_default(OPTCL_ADAM));
        tu_rig r = tu_rig_open(backends[b], specs, 2, NULL, &c);
        TU_OK(optcl_optimizer_write_state(r.opt, "exp_avg", OPTCL_ALL, values, NUMEL), "write");
        TU_OK(optcl_optimizer_read_state(r.opt, "exp_avg", OPTCL_ALL, got, NUMEL), "read");
        assert_bits(got, want, NUMEL, optcl_context_device_name(r.ctx));
        /* one tensor alone, at its offset */
        TU_OK(optcl_optimizer_write_state(r.opt, "exp_avg_sq", 1, values, 517), "write b");
        TU_OK(optcl_optimizer_read_state(r.opt, "exp_avg_sq", 1, got, 517), "read b");
        assert_bits(got, want, 517, "tensor b");
        tu_rig_close(&r);
    }
    free(values);
    free(want);
    free(got);
}

/* Every rule with state, on both backends. */
static size_t configurations(optcl_optimizer_config *out)
{
    size_t n = 0;
    out[n] = optcl_optimizer_config_default(OPTCL_SGD);
    out[n].lr = 0.05;
    out[n].weight_decay = 0.01;
    out[n++].sgd.momentum = 0.9;
    out[n] = optcl_optimizer_config_default(OPTCL_SGD);
    out[n].sgd.momentum = 0.9;
    out[n++].sgd.nesterov = 1;
    out[n++] = optcl_optimizer_config_default(OPTCL_ADAM);
    out[n] = optcl_optimizer_config_default(OPTCL_ADAMW);
    out[n++].adam.amsgrad = 1;
    out[n] = optcl_optimizer_config_default(OPTCL_RMSPROP);
    out[n].rmsprop.centered = 1;
    out[n++].rmsprop.momentum = 0.5;
    out[n++] = optcl_optimizer_config_default(OPTCL_RPROP);
    out[n] = optcl_optimizer_config_default(OPTCL_LION);
    out[n++].weight_decay = 0.1;
    out[n] = optcl_optimizer_config_default(OPTCL_LAMB); /* two passes, the same contract */
    out[n++].weight_decay = 0.1;
    out[n] = optcl_optimizer_config_default(OPTCL_LARS);
    out[n++].lars.nesterov = 1;
    return n;
}

static void gradient(float *g, int t)
{
    uint64_t seed = 100u + (uint64_t)t;
    tu_fill_random(g, NUMEL, &seed, -2.0f, 2.0f);
}

/* From the same parameters and the same (bfloat16) state, a bfloat16-state step gives the
 * float32-state step's parameters bit for bit — the new state enters the update unrounded —
 * and stores that step's state rounded. The float32 twin is set back to the bfloat16 state
 * after every step, so each step is compared from equal starts. */
static void a_step_is_the_f32_step_with_the_state_rounded(void **state)
{
    (void)state;
    optcl_optimizer_config configs[12];
    size_t nc = configurations(configs);
    float p0[NUMEL], g[NUMEL], a[NUMEL], e[NUMEL];
    uint64_t seed = 11;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        for (size_t k = 0; k < nc; k++) {
            optcl_optimizer_config low = with_bf16(configs[k]);
            tu_rig f32 = tu_rig_open(backends[b], specs, 2, p0, &configs[k]);
            tu_rig half = tu_rig_open(backends[b], specs, 2, p0, &low);
            const char *name = optcl_algorithm_name(configs[k].algorithm);
            size_t states = optcl_optimizer_state_count(half.opt);
            assert_int_equal(states, optcl_optimizer_state_count(f32.opt));
            for (int t = 0; t < 12; t++) {
                gradient(g, t);
                TU_OK(optcl_params_write(f32.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
                TU_OK(optcl_params_write(half.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
                TU_OK(optcl_optimizer_step(f32.opt, 0, NULL, NULL),
                      optcl_optimizer_message(f32.opt));
                TU_OK(optcl_optimizer_step(half.opt, 0, NULL, NULL),
                      optcl_optimizer_message(half.opt));
                TU_OK(optcl_params_read(half.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, NUMEL), "p");
                TU_OK(optcl_params_read(f32.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, e, NUMEL), "p");
                assert_bits(a, e, NUMEL, name);
                for (size_t s = 0; s < states; s++) {
                    const char *sn = optcl_optimizer_state_name(half.opt, s);
                    TU_OK(optcl_optimizer_read_state(half.opt, sn, OPTCL_ALL, a, NUMEL), sn);
                    TU_OK(optcl_optimizer_read_state(f32.opt, sn, OPTCL_ALL, e, NUMEL), sn);
                    for (size_t i = 0; i < NUMEL; i++)
                        e[i] = bf16(e[i]);
                    assert_bits(a, e, NUMEL, sn);
                    /* the float32 twin continues from the rounded state */
                    TU_OK(optcl_optimizer_write_state(f32.opt, sn, OPTCL_ALL, a, NUMEL), sn);
                }
            }
            tu_rig_close(&f32);
            tu_rig_close(&half);
        }
    }
}

/* Half the state memory, and 20 B per parameter for an Adam step (bytes_per_step), on both
 * backends; Lookahead's slow weights stay float32 and are not state bytes. */
static void half_the_bytes(void **state)
{
    (void)state;
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
        c.lookahead.k = 3;
        optcl_optimizer_config low = with_bf16(c);
        tu_rig f32 = tu_rig_open(backends[b], specs, 2, NULL, &c);
        tu_rig half = tu_rig_open(backends[b], specs, 2, NULL, &low);
        size_t flat = optcl_params_flat_size(half.params);
        assert_int_equal(optcl_optimizer_state_bytes(f32.opt), 8 * flat);
        assert_int_equal(optcl_optimizer_state_bytes(half.opt), 4 * flat);
        double la = 16.0 / 3.0 * (double)flat;
        assert_true(fabs(optcl_optimizer_bytes_per_step(f32.opt) - (28.0 * flat + la)) < 1.0);
        assert_true(fabs(optcl_optimizer_bytes_per_step(half.opt) - (20.0 * flat + la)) < 1.0);
        float x[NUMEL];
        for (size_t i = 0; i < NUMEL; i++)
            x[i] = 0.1f * (float)i;
        TU_OK(optcl_optimizer_write_state(half.opt, "lookahead_slow", OPTCL_ALL, x, NUMEL), "w");
        float y[NUMEL];
        TU_OK(optcl_optimizer_read_state(half.opt, "lookahead_slow", OPTCL_ALL, y, NUMEL), "r");
        assert_bits(y, x, NUMEL, "float32 slow weights"); /* not rounded */
        tu_rig_close(&f32);
        tu_rig_close(&half);
    }
    assert_int_equal(optcl_optimizer_state_bytes(NULL), 0);
}

/* A checkpoint of a bfloat16-state run holds its state as BF16 tensors and resumes bit for
 * bit, on the other backend too; a float32-state optimizer refuses it, naming both types, and
 * keeps its own state. */
static void checkpoints_resume_and_refuse(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/bf16.safetensors", dir);
    optcl_optimizer_config c = with_bf16(optcl_optimizer_config_default(OPTCL_ADAMW));
    float p0[NUMEL], g[NUMEL], a[NUMEL], e[NUMEL];
    uint64_t seed = 5;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    tu_rig full = tu_rig_open(OPTCL_BACKEND_REFERENCE, specs, 2, p0, &c);
    for (int t = 0; t < 10; t++) {
        if (t == 4)
            TU_OK(optcl_checkpoint_save(full.opt, path), optcl_optimizer_message(full.opt));
        gradient(g, t);
        TU_OK(optcl_params_write(full.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
        TU_OK(optcl_optimizer_step(full.opt, 0, NULL, NULL), "step");
    }
    TU_OK(optcl_params_read(full.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, e, NUMEL), "p");
    /* the state is BF16 in the file, the parameters F32 */
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    char *header = strndup((const char *)bytes + 8, len > 8 ? len - 8 : 0);
    assert_non_null(header);
    assert_non_null(strstr(header, "\"optim.exp_avg.w\":{\"dtype\":\"BF16\",\"shape\":[33,31]"));
    assert_non_null(strstr(header, "\"optim.exp_avg_sq.b\":{\"dtype\":\"BF16\""));
    assert_non_null(strstr(header, "\"w\":{\"dtype\":\"F32\",\"shape\":[33,31]"));
    free(header);
    free(bytes);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        tu_rig resumed = tu_rig_open(backends[b], specs, 2, NULL, &c);
        TU_OK(optcl_checkpoint_load(resumed.opt, path), optcl_optimizer_message(resumed.opt));
        for (int t = 4; t < 10; t++) {
            gradient(g, t);
            TU_OK(optcl_params_write(resumed.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
            TU_OK(optcl_optimizer_step(resumed.opt, 0, NULL, NULL), "step");
        }
        TU_OK(optcl_params_read(resumed.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, NUMEL), "p");
        assert_bits(a, e, NUMEL, "resumed");
        tu_rig_close(&resumed);
    }
    optcl_optimizer_config f32c = optcl_optimizer_config_default(OPTCL_ADAMW);
    tu_rig other = tu_rig_open(OPTCL_BACKEND_REFERENCE, specs, 2, p0, &f32c);
    for (size_t i = 0; i < NUMEL; i++)
        a[i] = 0.25f;
    TU_OK(optcl_optimizer_write_state(other.opt, "exp_avg", OPTCL_ALL, a, NUMEL), "w");
    assert_int_equal(optcl_checkpoint_load(other.opt, path), OPTCL_ERROR_INVALID_ARGUMENT);
    const char *msg = optcl_optimizer_message(other.opt);
    if (!strstr(msg, "state_dtype") || !strstr(msg, "(bf16)") || !strstr(msg, "(f32)"))
        fail_msg("unexpected message: %s", msg);
    TU_OK(optcl_optimizer_read_state(other.opt, "exp_avg", OPTCL_ALL, e, NUMEL), "r");
    assert_bits(e, a, NUMEL, "state kept after a refused load");
    tu_rig_close(&other);
    tu_rig_close(&full);
    tu_remove_tree(dir);
    free(dir);
}

static void bad_state_dtype_is_refused(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, specs, 2, &p), optcl_context_message(ctx));
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.state_dtype = (optcl_state_dtype)7;
    optcl_optimizer *o = NULL;
    assert_int_equal(optcl_optimizer_create(p, &c, &o), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_null(o);
    assert_non_null(strstr(optcl_context_message(ctx), "state_dtype"));
    assert_int_equal(optcl_optimizer_config_default(OPTCL_ADAM).state_dtype, OPTCL_STATE_SAME);
    TU_OK(optcl_params_destroy(p), "destroy");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_as_c10),
        cmocka_unit_test(a_step_is_the_f32_step_with_the_state_rounded),
        cmocka_unit_test(half_the_bytes),
        cmocka_unit_test(checkpoints_resume_and_refuse),
        cmocka_unit_test(bad_state_dtype_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
