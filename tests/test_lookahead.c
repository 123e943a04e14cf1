/* test_lookahead.c — Lookahead against an independent implementation in this file (the inner
 * optimizer stepped alone, the sync done here on host floats), on both backends; α following
 * a schedule; α picked by the line search (diverged evaluations never picked); configuration
 * errors. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1031
#define STEPS 23

static const optcl_tensor_spec spec_a[] = {
    {.name = "a", .ndim = 1, .shape = {1000}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {31}, .group = 1},
};

static tu_rig start(optcl_backend backend, const optcl_optimizer_config *c, const float *p0)
{
    return tu_rig_open(backend, spec_a, 2, p0, c);
}

static void gradient(float *g, int t)
{
    uint64_t seed = 77 + (uint64_t)t;
    tu_fill_random(g, N, &seed, -1.0f, 1.0f);
}

/* The inner optimizer alone, with the Lookahead rule applied here between steps. */
static void independent(optcl_backend backend, optcl_optimizer_config c, const float *p0,
                        float *out)
{
    int64_t k = c.lookahead.k;
    double alpha0 = c.lookahead.alpha;
    optcl_schedule alpha_schedule = c.lookahead.alpha_schedule;
    c.lookahead.k = 0;
    tu_rig r = start(backend, &c, p0);
    float slow[N], fast[N], g[N];
    memcpy(slow, p0, sizeof slow);
    for (int t = 0; t < STEPS; t++) {
        gradient(g, t);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        if ((t + 1) % k == 0) {
            float a =
                (float)optcl_schedule_lr(&alpha_schedule, alpha0, (uint64_t)((t + 1) / k - 1));
            TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, fast, N), "fast");
            for (int i = 0; i < N; i++)
                slow[i] = slow[i] + a * (fast[i] - slow[i]);
            TU_OK(optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, slow, N), "slow");
        }
    }
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, N), "out");
    tu_rig_close(&r);
}

static void with_lookahead(optcl_backend backend, const optcl_optimizer_config *c, const float *p0,
                           float *out)
{
    tu_rig r = start(backend, c, p0);
    float g[N];
    for (int t = 0; t < STEPS; t++) {
        gradient(g, t);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    }
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, N), "out");
    tu_rig_close(&r);
}

static void compare_with_independent(optcl_backend backend)
{
    float p0[N], expected[N], got[N];
    uint64_t seed = 5;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    optcl_optimizer_config configs[4];
    configs[0] = optcl_optimizer_config_default(OPTCL_SGD);
    configs[0].lr = 0.1;
    configs[0].sgd.momentum = 0.9;
    configs[1] = optcl_optimizer_config_default(OPTCL_ADAM);
    configs[1].lr = 0.01;
    configs[2] = optcl_optimizer_config_default(OPTCL_RPROP);
    configs[3] = optcl_optimizer_config_default(OPTCL_RMSPROP);
    configs[3].lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    configs[3].lookahead.alpha_schedule.gamma = 0.8;
    const int64_t ks[4] = {5, 3, 4, 2};
    for (int i = 0; i < 4; i++) {
        configs[i].lookahead.k = ks[i];
        configs[i].lookahead.alpha = 0.5 + 0.1 * i;
        independent(backend, configs[i], p0, expected);
        with_lookahead(backend, &configs[i], p0, got);
        /* The same float operations in the same order: equal to the bit. */
        assert_memory_equal(got, expected, sizeof got);
    }
}

static void independent_reference(void **state)
{
    (void)state;
    compare_with_independent(OPTCL_BACKEND_REFERENCE);
}

static void independent_opencl(void **state)
{
    (void)state;
    compare_with_independent(OPTCL_BACKEND_OPENCL);
}

/* A loss whose minimum on the segment slow → fast is known: |p − target|² with target at
 * 0.75 of the way, so the 4-point grid {0.25, 0.5, 0.75, 1} must pick 0.75. */
typedef struct quad {
    float target[N];
    int calls;
} quad;

static optcl_status quad_loss(void *user, optcl_params *params, double *loss)
{
    quad *q = user;
    float p[N];
    optcl_status st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, N);
    double s = 0.0;
    for (int i = 0; i < N; i++)
        s += ((double)p[i] - q->target[i]) * ((double)p[i] - q->target[i]);
    *loss = s;
    q->calls++;
    return st;
}

static optcl_status failing_loss(void *user, optcl_params *params, double *loss)
{
    (void)user;
    (void)params;
    *loss = 0.0;
    return OPTCL_ERROR_IO;
}

static void line_search(optcl_backend backend)
{
    float p0[N], g[N], fast[N];
    uint64_t seed = 11;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.lr = 0.1;
    c.lookahead.k = 1; /* sync after every step: slow = p0 before the first sync */
    tu_rig r = start(backend, &c, p0);
    gradient(g, 0);
    for (int i = 0; i < N; i++)
        fast[i] = p0[i] + -0.1f * g[i];
    quad q = {{0}, 0};
    for (int i = 0; i < N; i++)
        q.target[i] = p0[i] + 0.75f * (fast[i] - p0[i]);
    TU_OK(optcl_optimizer_set_lookahead_search(r.opt, quad_loss, &q, 4),
          optcl_optimizer_message(r.opt));
    TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
    TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    assert_int_equal(q.calls, 4);
    assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.75);
    float p[N], slow[N];
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, N), "p");
    TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, slow, N), "slow");
    assert_memory_equal(p, slow, sizeof p);
    for (int i = 0; i < N; i++)
        assert_true(fabsf(p[i] - q.target[i]) <= 1e-6f);
    /* An evaluator's error stops the search and comes back from the step. */
    TU_OK(optcl_optimizer_set_lookahead_search(r.opt, failing_loss, NULL, 3), "failing");
    assert_int_equal(optcl_optimizer_step(r.opt, 0, NULL, NULL), OPTCL_ERROR_IO);
    /* Switched off, the sync uses the configured α again. */
    TU_OK(optcl_optimizer_set_lookahead_search(r.opt, NULL, NULL, 0), "off");
    TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    assert_int_equal(q.calls, 4);
    assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.5);
    tu_rig_close(&r);
}

/* Losses given in turn, one per evaluation (the α grid's order). */
typedef struct scripted {
    const double *losses;
    int calls;
} scripted;

static optcl_status scripted_loss(void *user, optcl_params *params, double *loss)
{
    (void)params;
    scripted *s = user;
    *loss = s->losses[s->calls++];
    return OPTCL_SUCCESS;
}

/* A diverged evaluation (NaN, +inf) never wins, also as the first of the grid; when every one
 * diverged the sync takes the configured α, the blend of slow (p0) and fast at it. */
static void search_nan(optcl_backend backend)
{
    float p0[N], g[N], p[N];
    uint64_t seed = 13;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    const double first_nan[4] = {NAN, 3.0, 1.0, 2.0}, all_bad[4] = {NAN, INFINITY, NAN, NAN};
    const double *cases[2] = {first_nan, all_bad};
    const double expected[2] = {0.75, 0.5}; /* the grid's best; else config.lookahead.alpha */
    for (int c = 0; c < 2; c++) {
        optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
        cfg.lr = 0.1;
        cfg.lookahead.k = 1;
        cfg.lookahead.alpha = 0.5;
        tu_rig r = start(backend, &cfg, p0);
        scripted s = {cases[c], 0};
        TU_OK(optcl_optimizer_set_lookahead_search(r.opt, scripted_loss, &s, 4),
              optcl_optimizer_message(r.opt));
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        assert_int_equal(s.calls, 4);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == expected[c]);
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, N), "p");
        float a = (float)expected[c];
        for (int i = 0; i < N; i++) {
            float fast = p0[i] + -0.1f * g[i];
            assert_true(fabsf(p[i] - (p0[i] + a * (fast - p0[i]))) <= 1e-6f);
        }
        tu_rig_close(&r);
    }
}

static void search_nan_reference(void **state)
{
    (void)state;
    search_nan(OPTCL_BACKEND_REFERENCE);
}

static void search_nan_opencl(void **state)
{
    (void)state;
    search_nan(OPTCL_BACKEND_OPENCL);
}

static void search_reference(void **state)
{
    (void)state;
    line_search(OPTCL_BACKEND_REFERENCE);
}

static void search_opencl(void **state)
{
    (void)state;
    line_search(OPTCL_BACKEND_OPENCL);
}

/* The α search over a bfloat16 or float16 set: each blend is stored rounded to the set's type
 * before the loss reads it, the grid still finds the minimum at 0.75, the parameters end as
 * the blend rounded, and both backends give the same bits. */
static void search_low_precision_on(optcl_backend backend, optcl_dtype dtype, float *p_out,
                                    float *slow_out)
{
    float p0[N], g[N], fast[N];
    uint64_t seed = 11;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.lr = 0.1;
    c.lookahead.k = 1;
    optcl_context *ctx = tu_context(backend);
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_params_create_typed(ctx, spec_a, 2, dtype, &params), optcl_context_message(ctx));
    TU_OK(optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, N), "p0");
    TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, N), "p0 as stored");
    TU_OK(optcl_optimizer_create(params, &c, &opt), optcl_context_message(ctx));
    gradient(g, 0);
    TU_OK(optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
    TU_OK(optcl_params_read(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g as stored");
    quad q = {{0}, 0};
    for (int i = 0; i < N; i++) {
        fast[i] = p0[i] + -0.1f * g[i];
        q.target[i] = p0[i] + 0.75f * (fast[i] - p0[i]);
    }
    TU_OK(optcl_optimizer_set_lookahead_search(opt, quad_loss, &q, 4),
          optcl_optimizer_message(opt));
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    assert_int_equal(q.calls, 4);
    assert_true(optcl_optimizer_lookahead_alpha(opt) == 0.75);
    TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p_out, N), "p");
    TU_OK(optcl_optimizer_read_state(opt, "lookahead_slow", OPTCL_ALL, slow_out, N), "slow");
    double rel = dtype == OPTCL_DTYPE_BF16 ? 0x1p-8 : 0x1p-11; /* half an ulp, and the fast */
    for (int i = 0; i < N; i++) /* weights' own rounding */
        assert_true(fabs((double)p_out[i] - q.target[i]) <= 3.0 * rel * fabs(q.target[i]) + 1e-7);
    TU_OK(optcl_optimizer_destroy(opt), "destroy");
    TU_OK(optcl_params_destroy(params), "destroy");
    TU_OK(optcl_context_destroy(ctx), "destroy");
}

static void search_low_precision(void **state)
{
    (void)state;
    const optcl_dtype types[2] = {OPTCL_DTYPE_BF16, OPTCL_DTYPE_F16};
    for (int d = 0; d < 2; d++) {
        float p[2][N], slow[2][N];
        search_low_precision_on(OPTCL_BACKEND_REFERENCE, types[d], p[0], slow[0]);
        if (tu_opencl_missing())
            continue;
        search_low_precision_on(OPTCL_BACKEND_OPENCL, types[d], p[1], slow[1]);
        assert_memory_equal(p[0], p[1], sizeof p[0]);
        assert_memory_equal(slow[0], slow[1], sizeof slow[0]);
    }
}

static void bad_configurations(void **state)
{
    (void)state;
    float p0[N] = {0};
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    tu_rig r = start(OPTCL_BACKEND_REFERENCE, &c, p0);
    /* No Lookahead: no search, no slow state. */
    assert_int_equal(optcl_optimizer_set_lookahead_search(r.opt, quad_loss, NULL, 4),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    TU_OK(optcl_optimizer_set_lookahead_search(r.opt, NULL, NULL, 0), "off is always fine");
    float s[N];
    assert_int_equal(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, s, N),
                     OPTCL_ERROR_NOT_FOUND);
    optcl_optimizer *bad = NULL;
    const struct {
        int64_t k;
        double alpha;
        const char *field;
    } cases[] = {
        {-1, 0.5, "lookahead.k"}, {5, 0.0, "lookahead.alpha"}, {5, 1.5, "lookahead.alpha"}};
    for (size_t i = 0; i < 3; i++) {
        optcl_optimizer_config b = c;
        b.lookahead.k = cases[i].k;
        b.lookahead.alpha = cases[i].alpha;
        assert_int_equal(optcl_optimizer_create(r.params, &b, &bad), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(optcl_context_message(r.ctx), cases[i].field));
    }
    optcl_optimizer_config gamma = c; /* the α schedule's fields are named as such */
    gamma.lookahead.k = 2;
    gamma.lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    gamma.lookahead.alpha_schedule.gamma = -1.0;
    assert_int_equal(optcl_optimizer_create(r.params, &gamma, &bad), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_context_message(r.ctx), "lookahead.alpha_schedule.gamma"));
    /* α schedules that would leave [0, 1], which a checkpoint could not keep */
    const struct {
        optcl_schedule_kind kind;
        double alpha, gamma, eta_min;
        size_t milestones;
        const char *field;
    } growing[] = {
        {OPTCL_SCHEDULE_EXPONENTIAL, 0.5, 2.0, 0.0, 0, "lookahead.alpha_schedule.gamma"},
        {OPTCL_SCHEDULE_STEP, 0.1, 1.01, 0.0, 0, "lookahead.alpha_schedule.gamma"},
        {OPTCL_SCHEDULE_MULTISTEP, 0.5, 2.0, 0.0, 2, "lookahead.alpha_schedule.gamma"},
        {OPTCL_SCHEDULE_COSINE, 0.5, 0.1, 3.0, 0, "lookahead.alpha_schedule.eta_min"},
        {OPTCL_SCHEDULE_COSINE, 0.5, 0.1, 1.0000001, 0, "lookahead.alpha_schedule.eta_min"},
    };
    for (size_t i = 0; i < sizeof growing / sizeof growing[0]; i++) {
        optcl_optimizer_config b = c;
        b.lookahead.k = 2;
        b.lookahead.alpha = growing[i].alpha;
        b.lookahead.alpha_schedule = optcl_schedule_default(growing[i].kind);
        b.lookahead.alpha_schedule.gamma = growing[i].gamma;
        b.lookahead.alpha_schedule.eta_min = growing[i].eta_min;
        b.lookahead.alpha_schedule.t_max = 4;
        b.lookahead.alpha_schedule.milestone_count = growing[i].milestones;
        b.lookahead.alpha_schedule.milestones[0] = 1;
        b.lookahead.alpha_schedule.milestones[1] = 2;
        bad = NULL;
        assert_int_equal(optcl_optimizer_create(r.params, &b, &bad), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_null(bad);
        assert_non_null(strstr(optcl_context_message(r.ctx), growing[i].field));
    }
    optcl_optimizer_config la = c;
    la.lookahead.k = 2;
    TU_OK(optcl_optimizer_create(r.params, &la, &bad), optcl_context_message(r.ctx));
    assert_int_equal(optcl_optimizer_set_lookahead_search(bad, quad_loss, NULL, 1),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    optcl_optimizer_destroy(bad);
    tu_rig_close(&r);
}

/* The α schedules create accepts keep α in [0, 1], at its ends too — a multistep schedule up
 * to exactly 1, a cosine one down to 0 — and a checkpoint saved at each α loads: whatever
 * create accepts, a save and a load agree on. */
static void alpha_schedules_round_trip(optcl_backend backend)
{
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/la.safetensors", dir);
    float p0[N] = {0}, g[N];
    optcl_optimizer_config c[2];
    c[0] = optcl_optimizer_config_default(OPTCL_SGD);
    c[0].lr = 0.01;
    c[0].lookahead.k = 1;
    c[0].lookahead.alpha = 0.25;
    c[1] = c[0];
    optcl_schedule *multistep = &c[0].lookahead.alpha_schedule;
    *multistep = optcl_schedule_default(OPTCL_SCHEDULE_MULTISTEP);
    multistep->gamma = 2.0; /* 0.25, 0.5, then 1 from the second milestone on */
    multistep->milestone_count = 2;
    multistep->milestones[0] = 1;
    multistep->milestones[1] = 2;
    optcl_schedule *cosine = &c[1].lookahead.alpha_schedule;
    *cosine = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    cosine->t_max = 2; /* 0.25, 0.125, then eta_min 0 at the third sync */
    cosine->eta_min = 0.0;
    const double alphas[2][3] = {{0.25, 0.5, 1.0}, {0.25, 0.125, 0.0}};
    for (int i = 0; i < 2; i++) {
        tu_rig r = start(backend, &c[i], p0);
        for (int t = 0; t < 3; t++) {
            gradient(g, t);
            TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
            TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
            assert_true(fabs(optcl_optimizer_lookahead_alpha(r.opt) - alphas[i][t]) < 1e-15);
            TU_OK(optcl_checkpoint_save(r.opt, path), optcl_optimizer_message(r.opt));
            tu_rig back = start(backend, &c[i], p0);
            TU_OK(optcl_checkpoint_load(back.opt, path), optcl_optimizer_message(back.opt));
            assert_true(optcl_optimizer_lookahead_alpha(back.opt) ==
                        optcl_optimizer_lookahead_alpha(r.opt));
            tu_rig_close(&back);
        }
        tu_rig_close(&r);
    }
    tu_remove_tree(dir);
    free(dir);
}

static void alpha_round_trip_reference(void **state)
{
    (void)state;
    alpha_schedules_round_trip(OPTCL_BACKEND_REFERENCE);
}

static void alpha_round_trip_opencl(void **state)
{
    (void)state;
    alpha_schedules_round_trip(OPTCL_BACKEND_OPENCL);
}

/* ---- slow weights after a new step count ------------------------------------------------ */

/* Plain SGD at a constant lr and α: nothing but Lookahead's cycle depends on the count, and a
 * count that is a multiple of k keeps its phase — so a run from count 100 must equal the run
 * from 0 bit for bit, once its slow weights start from the parameters. */
static optcl_optimizer_config counted_config(bool guarded)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.lr = 0.05;
    c.lookahead.k = 2;
    c.lookahead.alpha = 0.5;
    if (guarded) /* where the device owns the count, and a step may be skipped */
        c.nonfinite = OPTCL_NONFINITE_SKIP;
    return c;
}

/* Six steps from p0 after set_step_count(count) (none for 0); a NaN in the first gradient
 * when first_bad, which a guard skips. */
static void run_from_count(optcl_backend backend, bool guarded, uint64_t count, bool first_bad,
                           const float *p0, float *out)
{
    optcl_optimizer_config c = counted_config(guarded);
    tu_rig r = start(backend, &c, p0);
    if (count)
        TU_OK(optcl_optimizer_set_step_count(r.opt, count), optcl_optimizer_message(r.opt));
    float g[N];
    for (int t = 0; t < 6; t++) {
        gradient(g, t);
        if (first_bad && t == 0)
            g[3] = NAN;
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
    }
    TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out, N), "out");
    tu_rig_close(&r);
}

/* The first step taken after set_step_count starts the slow weights from the parameters (they
 * were never set: the sync must not blend from zeros), also when a guard skips the step before
 * it, and where the device counts. */
static void new_count_starts_the_slow_weights(optcl_backend backend)
{
    float p0[N], want[N], got[N];
    uint64_t seed = 21;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    for (int guarded = 0; guarded < 2; guarded++)
        for (int first_bad = 0; first_bad <= guarded; first_bad++) {
            run_from_count(backend, guarded, 0, first_bad, p0, want);
            run_from_count(backend, guarded, 100, first_bad, p0, got);
            assert_memory_equal(got, want, sizeof got);
        }
}

/* Slow weights the caller wrote are kept, whether written before or after the count (torch's
 * state dict, then its step); read while unset, they are the parameters the next step starts
 * them from — after create and after a count changed mid-run. */
static void written_slow_weights_are_kept(optcl_backend backend)
{
    float p0[N], slow[N], g[N], got[N], fast[N];
    uint64_t seed = 23;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(slow, N, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    for (int guarded = 0; guarded < 2; guarded++)
        for (int written_first = 0; written_first < 2; written_first++) {
            optcl_optimizer_config c = counted_config(guarded);
            tu_rig r = start(backend, &c, p0);
            TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, got, N), "read");
            assert_memory_equal(got, p0, sizeof got);
            if (written_first)
                TU_OK(optcl_optimizer_write_state(r.opt, "lookahead_slow", OPTCL_ALL, slow, N),
                      optcl_optimizer_message(r.opt));
            TU_OK(optcl_optimizer_set_step_count(r.opt, 100), optcl_optimizer_message(r.opt));
            if (!written_first)
                TU_OK(optcl_optimizer_write_state(r.opt, "lookahead_slow", OPTCL_ALL, slow, N),
                      optcl_optimizer_message(r.opt));
            TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
            for (int t = 0; t < 2; t++) /* the second ends a cycle: the sync */
                TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
            TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, N), "p");
            for (int i = 0; i < N; i++) {
                fast[i] = (p0[i] - 0.05f * g[i]) - 0.05f * g[i];
                assert_true(fabsf(got[i] - (slow[i] + 0.5f * (fast[i] - slow[i]))) <= 1e-6f);
            }
            /* a new count mid-run: the next step starts them afresh from the parameters */
            TU_OK(optcl_optimizer_set_step_count(r.opt, 6), optcl_optimizer_message(r.opt));
            TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, fast, N), "read");
            assert_memory_equal(fast, got, sizeof got);
            TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
            TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, fast, N), "read");
            assert_memory_equal(fast, got, sizeof got); /* step 7 ends no cycle: no sync */
            tu_rig_close(&r);
        }
}

/* "Written since the last step" counts the steps taken: a step a guard skips is none, on
 * either backend (the device's count says so where it owns it), so slow weights written before
 * it survive a new count; one taken after the write does not keep them. */
static void skipped_step_keeps_written(optcl_backend backend)
{
    float p0[N], slow[N], g[N], got[N], params[N];
    uint64_t seed = 31;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(slow, N, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    optcl_optimizer_config c = counted_config(true);
    for (int taken = 0; taken < 2; taken++) {
        tu_rig r = start(backend, &c, p0);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_write_state(r.opt, "lookahead_slow", OPTCL_ALL, slow, N),
              optcl_optimizer_message(r.opt));
        float bad[N];
        memcpy(bad, g, sizeof bad);
        bad[7] = taken ? bad[7] : NAN; /* skipped, or a step taken after the write */
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, bad, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        assert_int_equal(optcl_optimizer_step_count(r.opt), 1 + (uint64_t)taken);
        TU_OK(optcl_optimizer_set_step_count(r.opt, 11), optcl_optimizer_message(r.opt));
        float before[N];
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, before, N), "p");
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, got, N), "read");
        /* step 12 ends a cycle: the sync committed the blend of the kept or started weights */
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, params, N), "p");
        assert_memory_equal(got, params, sizeof got);
        for (int i = 0; i < N; i++) {
            float fast = before[i] - 0.05f * g[i], from = taken ? before[i] : slow[i];
            assert_true(fabsf(got[i] - (from + 0.5f * (fast - from))) <= 1e-6f);
        }
        tu_rig_close(&r);
    }
}

/* Slow weights written for some tensors while unset start the others from the parameters at
 * the write, as a step would have: after create (the buffer holds zeros) and after a new count
 * mid-run (it holds the old run's), where the device counts too, of low-precision parameters
 * too. A zero gradient keeps the parameters, so the others' sync must leave them as they are. */
static void partial_write_starts_the_rest(optcl_backend backend)
{
    float p0[N], w[1000], zero[N] = {0}, g[N], before[N], got[N];
    uint64_t seed = 37;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(w, 1000, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    optcl_dtype dtypes[] = {OPTCL_DTYPE_F32, OPTCL_DTYPE_BF16};
    for (int d = 0; d < 2; d++)
        for (int guarded = 0; guarded < 2; guarded++)
            for (int midrun = 0; midrun < 2; midrun++) {
                optcl_optimizer_config c = counted_config(guarded);
                tu_rig r = tu_rig_open_typed(backend, spec_a, 2, dtypes[d], p0, &c);
                const char *m = optcl_optimizer_message(r.opt);
                if (midrun) { /* a sync at 2 leaves slow weights that differ from p0 */
                    TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
                    for (int t = 0; t < 3; t++)
                        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
                    TU_OK(optcl_optimizer_set_step_count(r.opt, 10), m);
                }
                TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, before, N), "p");
                TU_OK(optcl_optimizer_write_state(r.opt, "lookahead_slow", 0, w, 1000), m);
                TU_OK(optcl_optimizer_read_state(r.opt, "lookahead_slow", OPTCL_ALL, got, N), m);
                assert_memory_equal(got, w, sizeof w);
                assert_memory_equal(got + 1000, before + 1000, (N - 1000) * sizeof(float));
                TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, zero, N), "g");
                for (int t = 0; t < 2; t++) /* the second ends a cycle: the sync */
                    TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
                TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, N), "p");
                assert_memory_equal(got + 1000, before + 1000, (N - 1000) * sizeof(float));
                tu_rig_close(&r);
            }
}

/* lookahead_alpha is the α of the last sync this optimizer made: after a new count (set, or a
 * checkpoint's progress loaded) none until a step ends a cycle — not the α the count's last
 * multiple of k would have had — where the device owns the count too, and a checkpoint saves
 * that α on both backends alike. */
static void alpha_after_a_new_count(optcl_backend backend)
{
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/alpha.safetensors", dir);
    float p0[N], g[N];
    uint64_t seed = 41;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    gradient(g, 0);
    for (int guarded = 0; guarded < 2; guarded++) {
        optcl_optimizer_config c = counted_config(guarded);
        c.lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_STEP);
        c.lookahead.alpha_schedule.gamma = 0.5; /* the s-th sync's α: 0.5 · 0.5^s */
        tu_rig r = start(backend, &c, p0);
        const char *m = optcl_optimizer_message(r.opt);
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
        TU_OK(optcl_optimizer_set_step_count(r.opt, 4), m);
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.0); /* count 5: no sync yet */
        TU_OK(optcl_checkpoint_save(r.opt, path), m);
        tu_rig back = start(backend, &c, p0);
        TU_OK(optcl_checkpoint_load(back.opt, path), optcl_optimizer_message(back.opt));
        assert_true(optcl_optimizer_lookahead_alpha(back.opt) == 0.0);
        tu_rig_close(&back);
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.125); /* count 6: sync 2 */
        TU_OK(optcl_optimizer_set_step_count(r.opt, 8), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.125); /* still sync 2's */
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.125);
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.03125); /* count 10: sync 4 */
        TU_OK(optcl_checkpoint_load_progress(r.opt, path), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.0); /* the file's, at 5 */
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), m);
        assert_true(optcl_optimizer_lookahead_alpha(r.opt) == 0.125);
        tu_rig_close(&r);
    }
    tu_remove_tree(dir);
    free(dir);
}

/* A checkpoint saved while the slow weights are unset resumes as the run would have gone on. */
static void unset_slow_weights_resume(optcl_backend backend)
{
    char *dir = tu_make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/unset.safetensors", dir);
    float p0[N], g[N], want[N], got[N];
    uint64_t seed = 29;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    for (int guarded = 0; guarded < 2; guarded++) {
        optcl_optimizer_config c = counted_config(guarded);
        tu_rig a = start(backend, &c, p0), b = start(backend, &c, NULL);
        TU_OK(optcl_optimizer_set_step_count(a.opt, 100), optcl_optimizer_message(a.opt));
        TU_OK(optcl_checkpoint_save(a.opt, path), optcl_optimizer_message(a.opt));
        TU_OK(optcl_checkpoint_load(b.opt, path), optcl_optimizer_message(b.opt));
        for (int t = 0; t < 4; t++) {
            gradient(g, t);
            TU_OK(optcl_params_write(a.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
            TU_OK(optcl_params_write(b.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
            TU_OK(optcl_optimizer_step(a.opt, 0, NULL, NULL), optcl_optimizer_message(a.opt));
            TU_OK(optcl_optimizer_step(b.opt, 0, NULL, NULL), optcl_optimizer_message(b.opt));
        }
        TU_OK(optcl_params_read(a.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, want, N), "a");
        TU_OK(optcl_params_read(b.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, got, N), "b");
        assert_memory_equal(got, want, sizeof got);
        tu_rig_close(&a);
        tu_rig_close(&b);
    }
    /* the file says so by name; anything but set or unset is refused */
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    char *at = strstr((char *)bytes + 8, "\"optcl.lookahead.slow\":\"unset\"");
    assert_non_null(at);
    memcpy(at + strlen("\"optcl.lookahead.slow\":\""), "unsat", 5);
    tu_write_file(path, bytes, len);
    free(bytes);
    optcl_optimizer_config c = counted_config(false);
    tu_rig r = start(backend, &c, NULL);
    assert_int_equal(optcl_checkpoint_load(r.opt, path), OPTCL_ERROR_FORMAT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "optcl.lookahead.slow = 'unsat'"));
    tu_rig_close(&r);
    tu_remove_tree(dir);
    free(dir);
}

static void new_count_reference(void **state)
{
    (void)state;
    new_count_starts_the_slow_weights(OPTCL_BACKEND_REFERENCE);
    written_slow_weights_are_kept(OPTCL_BACKEND_REFERENCE);
    skipped_step_keeps_written(OPTCL_BACKEND_REFERENCE);
    partial_write_starts_the_rest(OPTCL_BACKEND_REFERENCE);
    alpha_after_a_new_count(OPTCL_BACKEND_REFERENCE);
    unset_slow_weights_resume(OPTCL_BACKEND_REFERENCE);
}

static void new_count_opencl(void **state)
{
    (void)state;
    new_count_starts_the_slow_weights(OPTCL_BACKEND_OPENCL);
    written_slow_weights_are_kept(OPTCL_BACKEND_OPENCL);
    skipped_step_keeps_written(OPTCL_BACKEND_OPENCL);
    partial_write_starts_the_rest(OPTCL_BACKEND_OPENCL);
    alpha_after_a_new_count(OPTCL_BACKEND_OPENCL);
    unset_slow_weights_resume(OPTCL_BACKEND_OPENCL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(independent_reference),      cmocka_unit_test(independent_opencl),
        cmocka_unit_test(search_reference),           cmocka_unit_test(search_opencl),
        cmocka_unit_test(search_nan_reference),       cmocka_unit_test(search_nan_opencl),
        cmocka_unit_test(search_low_precision),       cmocka_unit_test(bad_configurations),
        cmocka_unit_test(alpha_round_trip_reference), cmocka_unit_test(alpha_round_trip_opencl),
        cmocka_unit_test(new_count_reference),        cmocka_unit_test(new_count_opencl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
