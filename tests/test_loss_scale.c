/* test_loss_scale.c — loss scaling on the device (config.loss_scale), on both backends:
 *   - the dynamic scale follows GradScaler's rule step by step (a hand-worked trace);
 *   - a step whose gradient holds a NaN or Inf changes nothing and is not counted, whatever
 *     config.nonfinite says;
 *   - with a power-of-two scale, feeding scaled gradients gives the bits of feeding unscaled
 *     ones without scaling, with and without clipping (which clips the unscaled gradient),
 *     in float32 and bfloat16;
 *   - write_unscaled stores the unscaled gradient back, and only then is the buffer changed;
 *   - the scale's device buffer holds the scale; checkpoints keep scale and tracker, every
 *     scale the optimizer can reach (subnormal, 0 after underflow, the largest float32);
 *   - bad configurations are refused by name. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
#define BACKENDS (sizeof backends / sizeof backends[0])

static const optcl_tensor_spec specs[] = {
    {.name = "w", .ndim = 2, .shape = {19, 23}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {77}, .group = 1},
};
#define NSPECS 2
#define NUMEL (19 * 23 + 77)

static bool skip_backend(optcl_backend b)
{
    return b == OPTCL_BACKEND_OPENCL && tu_opencl_missing();
}

static void gradient(float *g, int t, float scale)
{
    uint64_t seed = 0xabc0u + (uint64_t)t;
    tu_fill_random(g, NUMEL, &seed, -1.0f, 1.0f);
    for (size_t i = 0; i < NUMEL; i++)
        g[i] *= scale;
}

typedef struct run {
    optcl_context *ctx;
    optcl_params *p;
    optcl_optimizer *o;
} run;

static run open_run(optcl_backend backend, optcl_dtype dtype, const optcl_optimizer_config *c)
{
    run r = {tu_context(backend), NULL, NULL};
    TU_OK(optcl_params_create_typed(r.ctx, specs, NSPECS, dtype, &r.p), "create");
    TU_OK(optcl_optimizer_create(r.p, c, &r.o), optcl_context_message(r.ctx));
    float p0[NUMEL];
    uint64_t seed = 9;
    tu_fill_random(p0, NUMEL, &seed, -1.0f, 1.0f);
    TU_OK(optcl_params_write(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, NUMEL), "p0");
    return r;
}

static void close_run(run *r)
{
    optcl_optimizer_destroy(r->o);
    optcl_params_destroy(r->p);
    optcl_context_destroy(r->ctx);
}

static void step_with(run *r, const float *g)
{
    TU_OK(optcl_params_write(r->p, OPTCL_ROLE_GRADS, OPTCL_ALL, g, NUMEL), "g");
    TU_OK(optcl_optimizer_step(r->o, 0, NULL, NULL), optcl_optimizer_message(r->o));
}

static optcl_guard_stats stats_of(run *r)
{
    optcl_guard_stats s;
    TU_OK(optcl_optimizer_guard_stats(r->o, &s), optcl_optimizer_message(r->o));
    return s;
}

/* GradScaler with init 8, growth 2, backoff 0.25 and interval 3 over ten steps, the third and
 * the seventh with an Inf or a NaN, worked by hand from torch._amp_update_scale_:
 *   step      1  2  3(inf) 4  5  6   7(nan) 8  9  10
 *   scale     8  8  2      2  2  4   1      1  1  2
 *   tracker   1  2  0      1  2  0   0      1  2  0
 *   skipped   0  0  1      1  1  1   2      2  2  2  */
static void dynamic_scale_follows_gradscaler(void **state)
{
    (void)state;
    static const float scale[] = {8, 8, 2, 2, 2, 4, 1, 1, 1, 2};
    static const unsigned tracker[] = {1, 2, 0, 1, 2, 0, 0, 1, 2, 0};
    static const unsigned skipped[] = {0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.init_scale = 8.0;
    c.loss_scale.backoff_factor = 0.25;
    c.loss_scale.growth_interval = 3;
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        run r = open_run(backends[b], OPTCL_DTYPE_F32, &c);
        double s0 = 0.0;
        TU_OK(optcl_optimizer_loss_scale(r.o, &s0), "scale");
        assert_true(s0 == 8.0);
        float g[NUMEL];
        for (int t = 0; t < 10; t++) {
            gradient(g, t, 1.0f);
            if (t == 2)
                g[5] = INFINITY;
            if (t == 6)
                g[NUMEL - 1] = NAN;
            step_with(&r, g);
            optcl_guard_stats s = stats_of(&r);
            if (s.loss_scale != scale[t] || s.growth_tracker != tracker[t] ||
                s.skipped != skipped[t])
                fail_msg("%s, after step %d: scale %g tracker %llu skipped %llu; expected %g %u "
                         "%u",
                         b ? "opencl" : "reference", t + 1, s.loss_scale,
                         (unsigned long long)s.growth_tracker, (unsigned long long)s.skipped,
                         (double)scale[t], tracker[t], skipped[t]);
            assert_int_equal(s.steps, (uint64_t)(t + 1) - skipped[t]);
        }
        close_run(&r);
    }
}

/* A NaN gradient under loss scaling (nonfinite left at PROPAGATE) changes no parameter, no
 * state, and not the count. */
static void a_bad_step_changes_nothing(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAMW);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_STATIC;
    c.loss_scale.init_scale = 256.0;
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        run r = open_run(backends[b], OPTCL_DTYPE_BF16, &c);
        float g[NUMEL], before[3][NUMEL], after[3][NUMEL];
        gradient(g, 0, 256.0f);
        step_with(&r, g);
        const char *names[] = {"exp_avg", "exp_avg_sq"};
        TU_OK(optcl_params_read(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, before[0], NUMEL), "p");
        for (int k = 0; k < 2; k++)
            TU_OK(optcl_optimizer_read_state(r.o, names[k], OPTCL_ALL, before[k + 1], NUMEL), "s");
        gradient(g, 1, 256.0f);
        g[100] = NAN;
        step_with(&r, g);
        TU_OK(optcl_params_read(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, after[0], NUMEL), "p");
        for (int k = 0; k < 2; k++)
            TU_OK(optcl_optimizer_read_state(r.o, names[k], OPTCL_ALL, after[k + 1], NUMEL), "s");
        assert_memory_equal(before, after, sizeof before);
        optcl_guard_stats s = stats_of(&r);
        assert_int_equal(s.steps, 1);
        assert_int_equal(s.skipped, 1);
        assert_true(s.loss_scale == 256.0); /* static: it stays */
        close_run(&r);
    }
}

/* Gradients times 2^10 with grad_scale 2^10 step as the plain gradients do without scaling,
 * bit for bit, for Adam and SGD with momentum, clipped or not, float32 and bfloat16. */
static void scaled_equals_unscaled(void **state)
{
    (void)state;
    /* LAMB and LARS: both of their passes read the unscaled gradient */
    const optcl_algorithm algos[] = {OPTCL_ADAM, OPTCL_SGD, OPTCL_LAMB, OPTCL_LARS};
    const optcl_dtype dtypes[] = {OPTCL_DTYPE_F32, OPTCL_DTYPE_BF16};
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++)
            for (size_t d = 0; d < 2; d++)
                for (int clip = 0; clip < 2; clip++) {
                    optcl_optimizer_config plain = optcl_optimizer_config_default(algos[a]);
                    plain.lr = 0.01;
                    plain.sgd.momentum = 0.9;
                    plain.max_norm = clip ? 3.0 : 0.0;
                    optcl_optimizer_config scaled = plain;
                    scaled.loss_scale.mode = OPTCL_LOSS_SCALE_STATIC;
                    scaled.loss_scale.init_scale = 1024.0;
                    run r0 = open_run(backends[b], dtypes[d], &plain);
                    run r1 = open_run(backends[b], dtypes[d], &scaled);
                    float g[NUMEL], x[NUMEL], y[NUMEL];
                    for (int t = 0; t < 6; t++) {
                        gradient(g, t, 1.0f);
                        step_with(&r0, g);
                        gradient(g, t, 1024.0f);
                        step_with(&r1, g);
                    }
                    TU_OK(optcl_params_read(r0.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, x, NUMEL), "x");
                    TU_OK(optcl_params_read(r1.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, y, NUMEL), "y");
                    if (memcmp(x, y, sizeof x) != 0)
                        fail_msg("%s %s %s%s: scaled and unscaled runs differ",
                                 b ? "opencl" : "reference", optcl_algorithm_name(algos[a]),
                                 optcl_dtype_name(dtypes[d]), clip ? " clipped" : "");
                    if (clip) /* the norm is the unscaled gradient's */
                        assert_true(stats_of(&r0).last_norm == stats_of(&r1).last_norm);
                    close_run(&r0);
                    close_run(&r1);
                }
    }
}

/* write_unscaled = 1 leaves the unscaled gradient in the buffer (in the set's type); without
 * it the buffer keeps what the caller wrote. LAMB stores it in its first pass, LARS (which
 * reads the gradient twice) in its second: once either way. */
static void write_unscaled_stores_the_unscaled_gradient(void **state)
{
    (void)state;
    const optcl_algorithm algos[] = {OPTCL_SGD, OPTCL_LAMB, OPTCL_LARS};
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        for (int k = 0; k < 6; k++) {
            int write = k % 2;
            optcl_optimizer_config c = optcl_optimizer_config_default(algos[k / 2]);
            c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
            c.loss_scale.init_scale = 64.0;
            c.loss_scale.write_unscaled = write;
            run r = open_run(backends[b], OPTCL_DTYPE_F16, &c);
            float g[NUMEL], scaled[NUMEL], got[NUMEL], want[NUMEL];
            gradient(g, 3, 1.0f);
            for (size_t i = 0; i < NUMEL; i++)
                scaled[i] = g[i] * 64.0f;
            step_with(&r, scaled);
            /* what the buffer should hold: the float16 values of g·64 (as written), or those
             * times 1/64 rounded to float16 again (the step's unscaled gradient, stored) */
            TU_OK(optcl_params_write(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, scaled, NUMEL), "w");
            TU_OK(optcl_params_read(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "w");
            if (write) {
                for (size_t i = 0; i < NUMEL; i++)
                    want[i] = want[i] * (1.0f / 64.0f);
                TU_OK(optcl_params_write(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "w");
                TU_OK(optcl_params_read(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "w");
            }
            TU_OK(optcl_params_read(r.p, OPTCL_ROLE_GRADS, OPTCL_ALL, got, NUMEL), "g");
            if (memcmp(got, want, sizeof got) != 0)
                fail_msg("%s %s, write_unscaled = %d: the gradient buffer holds the wrong values",
                         b ? "opencl" : "reference", optcl_algorithm_name(algos[k / 2]), write);
            close_run(&r);
        }
    }
}

/* The scale's device buffer holds the scale (OpenCL); the calls refuse what they cannot do. */
static void the_scale_buffer_holds_the_scale(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.growth_interval = 1; /* grows every step */
    cl_mem buf = NULL;
    run ref = open_run(OPTCL_BACKEND_REFERENCE, OPTCL_DTYPE_F32, &c);
    assert_int_equal(optcl_optimizer_loss_scale_buffer(ref.o, &buf), OPTCL_ERROR_WRONG_BACKEND);
    close_run(&ref);
    if (tu_opencl_missing())
        return;
    run r = open_run(OPTCL_BACKEND_OPENCL, OPTCL_DTYPE_F32, &c);
    if (optcl_context_backend(r.ctx) != OPTCL_BACKEND_OPENCL) { /* OPTCL_DEVICE=reference */
        close_run(&r);
        return;
    }
    float g[NUMEL], on_device = 0.0f;
    gradient(g, 0, 1.0f);
    step_with(&r, g);
    step_with(&r, g);
    TU_OK(optcl_optimizer_loss_scale_buffer(r.o, &buf), optcl_optimizer_message(r.o));
    assert_int_equal(clEnqueueReadBuffer(optcl_context_cl_queue(r.ctx), buf, CL_TRUE, 0,
                                         sizeof on_device, &on_device, 0, NULL, NULL),
                     CL_SUCCESS);
    double scale = 0.0;
    TU_OK(optcl_optimizer_loss_scale(r.o, &scale), "scale");
    assert_true(scale == 65536.0 * 4.0);
    assert_true(on_device == (float)scale);
    close_run(&r);
    optcl_optimizer_config off = optcl_optimizer_config_default(OPTCL_ADAM);
    run plain = open_run(OPTCL_BACKEND_OPENCL, OPTCL_DTYPE_F32, &off);
    assert_int_equal(optcl_optimizer_loss_scale_buffer(plain.o, &buf),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    TU_OK(optcl_optimizer_loss_scale(plain.o, &scale), "scale");
    assert_true(scale == 1.0);
    assert_true(stats_of(&plain).loss_scale == 1.0);
    close_run(&plain);
}

/* A checkpoint keeps the scale and the tracker: a resumed run continues bit for bit, its
 * trace too, on both backends. */
static void checkpoints_keep_the_scale(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/scaled.safetensors", dir);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.init_scale = 32.0;
    c.loss_scale.growth_interval = 3;
    float g[NUMEL], want[NUMEL], got[NUMEL];
    run full = open_run(OPTCL_BACKEND_REFERENCE, OPTCL_DTYPE_F32, &c);
    for (int t = 0; t < 9; t++) {
        if (t == 5)
            TU_OK(optcl_checkpoint_save(full.o, path), optcl_optimizer_message(full.o));
        gradient(g, t, 32.0f);
        if (t == 1)
            g[0] = INFINITY;
        step_with(&full, g);
    }
    optcl_guard_stats end = stats_of(&full);
    TU_OK(optcl_params_read(full.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, NUMEL), "p");
    close_run(&full);
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        run r = open_run(backends[b], OPTCL_DTYPE_F32, &c);
        TU_OK(optcl_checkpoint_load(r.o, path), optcl_optimizer_message(r.o));
        for (int t = 5; t < 9; t++) {
            gradient(g, t, 32.0f);
            step_with(&r, g);
        }
        TU_OK(optcl_params_read(r.p, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, NUMEL), "p");
        assert_memory_equal(got, want, sizeof got);
        optcl_guard_stats s = stats_of(&r);
        assert_true(s.loss_scale == end.loss_scale);
        assert_int_equal(s.growth_tracker, end.growth_tracker);
        assert_int_equal(s.skipped, end.skipped);
        close_run(&r);
    }
    tu_remove_tree(dir);
    free(dir);
}

/* Saves r, loads the file into a fresh optimizer of c on the same backend and returns the
 * scale it has then. */
static double scale_after_reload(run *r, optcl_backend backend, const optcl_optimizer_config *c,
                                 const char *path)
{
    TU_OK(optcl_checkpoint_save(r->o, path), optcl_optimizer_message(r->o));
    run back = open_run(backend, OPTCL_DTYPE_F32, c);
    TU_OK(optcl_checkpoint_load(back.o, path), optcl_optimizer_message(back.o));
    double scale = stats_of(&back).loss_scale;
    close_run(&back);
    return scale;
}

/* The file at path with its scale's text `from` replaced by `to` (as long), loaded into a
 * fresh optimizer of c: refused as a malformed scale. */
static void expect_scale_refused(const char *path, const char *from, const char *to,
                                 const optcl_optimizer_config *c)
{
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    char key[128];
    snprintf(key, sizeof key, "\"optcl.loss_scale.scale\":\"%s\"", from);
    char *at = strstr((char *)bytes + 8, key); /* the JSON header, after its length */
    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at + strlen(key) - strlen(from) - 1, to, strlen(to));
    tu_write_file(path, bytes, len);
    free(bytes);
    run r = open_run(OPTCL_BACKEND_REFERENCE, OPTCL_DTYPE_F32, c);
    assert_int_equal(optcl_checkpoint_load(r.o, path), OPTCL_ERROR_FORMAT);
    if (!strstr(optcl_optimizer_message(r.o), "optcl.loss_scale.scale"))
        fail_msg("%s: not about the scale", optcl_optimizer_message(r.o));
    close_run(&r);
}

/* Every scale the optimizer can hold loads from its own checkpoint, exactly: the largest
 * float32, a subnormal one the caller set, the subnormal ones dynamic scaling backs off to
 * (as torch's scaler does) and the 0 it ends at. */
static void extreme_scales_round_trip(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/extreme.safetensors", dir);
    float nan[NUMEL];
    for (size_t i = 0; i < NUMEL; i++)
        nan[i] = NAN;
    for (size_t b = 0; b < BACKENDS; b++) {
        if (skip_backend(backends[b]))
            continue;
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
        c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
        c.loss_scale.init_scale = FLT_MAX;
        run r = open_run(backends[b], OPTCL_DTYPE_F32, &c);
        assert_true(scale_after_reload(&r, backends[b], &c, path) == FLT_MAX);
        /* just past the largest float32's rounding range: inf in float32 */
        expect_scale_refused(path, "3.40282347e+38", "3.40282357e+38", &c);
        TU_OK(optcl_optimizer_set_loss_scale(r.o, 1e-40), optcl_optimizer_message(r.o));
        assert_true(scale_after_reload(&r, backends[b], &c, path) == (double)1e-40f);
        close_run(&r);
        c.loss_scale.init_scale = 65536.0; /* 2^16, halved by each skipped step */
        r = open_run(backends[b], OPTCL_DTYPE_F32, &c);
        TU_OK(optcl_params_write(r.p, OPTCL_ROLE_GRADS, OPTCL_ALL, nan, NUMEL), "g");
        const int backoffs[] = {150, 165, 166}; /* 2^-134 (subnormal), 2^-149, then 0 */
        for (int k = 0, done = 0; k < 3; k++) {
            for (; done < backoffs[k]; done++)
                TU_OK(optcl_optimizer_step(r.o, 0, NULL, NULL), optcl_optimizer_message(r.o));
            double want = ldexp(1.0, 16 - backoffs[k]);
            want = want < 0x1p-149 ? 0.0 : want;
            assert_true(stats_of(&r).loss_scale == want);
            assert_true(scale_after_reload(&r, backends[b], &c, path) == want);
        }
        close_run(&r);
    }
    /* A static scale never reaches 0: a file saying so is refused, as is a value that is 0 in
     * float32. */
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_STATIC;
    c.loss_scale.init_scale = 4.0;
    run r = open_run(OPTCL_BACKEND_REFERENCE, OPTCL_DTYPE_F32, &c);
    TU_OK(optcl_checkpoint_save(r.o, path), optcl_optimizer_message(r.o));
    expect_scale_refused(path, "4", "0", &c);
    TU_OK(optcl_optimizer_set_loss_scale(r.o, 0.125), optcl_optimizer_message(r.o));
    TU_OK(optcl_checkpoint_save(r.o, path), optcl_optimizer_message(r.o));
    expect_scale_refused(path, "0.125", "1e-50", &c);
    close_run(&r);
    tu_remove_tree(dir);
    free(dir);
}

static void bad_configurations_are_refused(void **state)
{
    (void)state;
    struct {
        const char *field;
        double value;
    } cases[] = {{"loss_scale.mode", 7},           {"loss_scale.init_scale", 0},
                 {"loss_scale.init_scale", -2},    {"loss_scale.init_scale", INFINITY},
                 {"loss_scale.init_scale", 1e39},  {"loss_scale.init_scale", 1e-50},
                 {"loss_scale.growth_factor", 1},  {"loss_scale.backoff_factor", 1},
                 {"loss_scale.backoff_factor", 0}, {"loss_scale.growth_interval", 0},
                 {"loss_scale.write_unscaled", 2}};
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *p = NULL;
    TU_OK(optcl_params_create(ctx, specs, NSPECS, &p), "create");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
        optcl_loss_scale_config *ls = &c.loss_scale;
        ls->mode = OPTCL_LOSS_SCALE_DYNAMIC;
        const char *f = cases[k].field + strlen("loss_scale.");
        double v = cases[k].value;
        if (!strcmp(f, "mode"))
            ls->mode = (optcl_loss_scaling)v;
        else if (!strcmp(f, "init_scale"))
            ls->init_scale = v;
        else if (!strcmp(f, "growth_factor"))
            ls->growth_factor = v;
        else if (!strcmp(f, "backoff_factor"))
            ls->backoff_factor = v;
        else if (!strcmp(f, "growth_interval"))
            ls->growth_interval = (int64_t)v;
        else
            ls->write_unscaled = (int)v;
        optcl_optimizer *o = (optcl_optimizer *)&o;
        assert_int_equal(optcl_optimizer_create(p, &c, &o), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_null(o);
        if (!strstr(optcl_context_message(ctx), cases[k].field))
            fail_msg("%s = %g: '%s' does not name the field", cases[k].field, v,
                     optcl_context_message(ctx));
    }
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dynamic_scale_follows_gradscaler),
        cmocka_unit_test(a_bad_step_changes_nothing),
        cmocka_unit_test(scaled_equals_unscaled),
        cmocka_unit_test(write_unscaled_stores_the_unscaled_gradient),
        cmocka_unit_test(the_scale_buffer_holds_the_scale),
        cmocka_unit_test(checkpoints_keep_the_scale),
        cmocka_unit_test(extreme_scales_round_trip),
        cmocka_unit_test(bad_configurations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
