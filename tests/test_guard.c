/* test_guard.c — the gradient guard on both backends: nonfinite = SKIP leaves parameters, state
 * and the step count bit-identical and counts the skip (a run with bad steps equals the run
 * without those calls); PROPAGATE lets NaN through as PyTorch does; max_norm scales the
 * gradient by exactly the reported coefficient; the device decides without blocking the host;
 * the count survives the ring of scalar rows, set_lr and checkpoints. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000 /* two tensors, two groups */
#define STEPS 40

static const optcl_tensor_spec specs[] = {
    {.name = "w", .ndim = 2, .shape = {30, 20}, .group = 0},
    {.name = "b", .ndim = 1, .shape = {400}, .group = 1},
};

static tu_rig make_rig(optcl_backend backend, const optcl_optimizer_config *config)
{
    float p0[N];
    uint64_t seed = 7;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    return tu_rig_open(backend, specs, 2, p0, config);
}

/* Step t's gradient; bad steps carry one NaN, +Inf or −Inf somewhere. */
static void gradient(float *g, int t, bool bad)
{
    uint64_t seed = 1000u + (uint64_t)t;
    tu_fill_random(g, N, &seed, -2.0f, 2.0f);
    if (bad) {
        const float poison[] = {NAN, INFINITY, -INFINITY};
        g[(size_t)(t * 37) % N] = poison[t % 3];
    }
}

static void step_with(tu_rig *r, int t, bool bad)
{
    float g[N];
    gradient(g, t, bad);
    TU_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "write g");
    TU_OK(optcl_optimizer_step(r->opt, 0, NULL, NULL), optcl_optimizer_message(r->opt));
}

/* Parameters then every state buffer, packed: (1 + states) × N floats. */
static float *snapshot(tu_rig *r, size_t *count)
{
    size_t k = 1 + optcl_optimizer_state_count(r->opt);
    float *v = malloc(k * N * sizeof *v);
    assert_non_null(v);
    TU_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, v, N), "read params");
    for (size_t s = 1; s < k; s++)
        TU_OK(optcl_optimizer_read_state(r->opt, optcl_optimizer_state_name(r->opt, s - 1),
                                         OPTCL_ALL, v + s * N, N),
              optcl_optimizer_message(r->opt));
    *count = k * N;
    return v;
}

static void assert_same_bits(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)a[i], (double)b[i]);
}

/* Parameters and every state of two rigs, bit for bit. */
static void assert_same_rigs(tu_rig *got, tu_rig *want, const char *what)
{
    size_t n1 = 0, n2 = 0;
    float *a = snapshot(got, &n1), *e = snapshot(want, &n2);
    assert_int_equal(n1, n2);
    assert_same_bits(a, e, n1, what);
    free(a);
    free(e);
}

static optcl_optimizer_config skipping(optcl_algorithm algo)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(algo);
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    return c;
}

static const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};

/* The configurations whose steps depend on the count: bias corrections, first-step rules, a
 * schedule, Lookahead's cycle — and clipping on top of skipping. */
static size_t count_sensitive(optcl_optimizer_config *out)
{
    size_t n = 0;
    out[n++] = skipping(OPTCL_ADAM);
    out[n] = skipping(OPTCL_SGD);
    out[n].sgd.momentum = 0.9;
    out[n].schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
    out[n++].schedule.t_max = 25;
    out[n] = skipping(OPTCL_RPROP);
    out[n++].lookahead.k = 3;
    out[n] = skipping(OPTCL_ADAMW);
    out[n].max_norm = 5.0;
    out[n].adam.amsgrad = 1;
    out[n++].lookahead.k = 4;
    out[n] = skipping(OPTCL_RMSPROP);
    out[n].rmsprop.centered = 1;
    out[n++].schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    return n;
}

/* A skipped step changes nothing, the run with bad steps equals the run without those calls,
 * and the account says how many were skipped. Step 0 is bad too: first-step rules wait. */
static void skip_equals_omitting_the_call(void **state)
{
    (void)state;
    static const bool bad[STEPS] = {[0] = true, [5] = true, [6] = true, [13] = true, [39] = true};
    optcl_optimizer_config configs[8];
    size_t nc = count_sensitive(configs);
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        for (size_t k = 0; k < nc; k++) {
            tu_rig with = make_rig(backends[b], &configs[k]);
            tu_rig without = make_rig(backends[b], &configs[k]);
            size_t n_before = 0, n_after = 0;
            uint64_t taken = 0;
            for (int t = 0; t < STEPS; t++) {
                float *before = t == 13 ? snapshot(&with, &n_before) : NULL;
                step_with(&with, t, bad[t]);
                if (before) { /* a bad step leaves every bit as it was */
                    float *after = snapshot(&with, &n_after);
                    assert_same_bits(after, before, n_before, "after a skipped step");
                    free(after);
                    free(before);
                }
                if (!bad[t])
                    step_with(&without, t, false), taken++;
            }
            assert_same_rigs(&with, &without, optcl_algorithm_name(configs[k].algorithm));
            optcl_guard_stats gs;
            TU_OK(optcl_optimizer_guard_stats(with.opt, &gs), optcl_optimizer_message(with.opt));
            assert_int_equal(gs.steps, taken);
            assert_int_equal(gs.skipped, STEPS - taken);
            assert_int_equal(optcl_optimizer_step_count(with.opt), taken);
            tu_rig_close(&with);
            tu_rig_close(&without);
        }
    }
}

/* Finite gradients whose squares overflow make the norm +Inf but are not skipped; a NaN beside
 * them still is (the reduction reads a chunk again for NaN and ±Inf only where its squares are
 * not finite). */
static void overflowing_squares_are_not_skipped(void **state)
{
    (void)state;
    optcl_optimizer_config c = skipping(OPTCL_ADAM);
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        tu_rig r = make_rig(backends[b], &c);
        float g[N];
        gradient(g, 1, false);
        g[10] = 3e20f; /* finite; its square is not */
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "write g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        optcl_guard_stats gs;
        TU_OK(optcl_optimizer_guard_stats(r.opt, &gs), optcl_optimizer_message(r.opt));
        assert_int_equal(gs.steps, 1);
        assert_int_equal(gs.skipped, 0);
        assert_true(isinf(gs.last_norm) && gs.last_norm > 0.0f);
        g[700] = NAN; /* in another worker's chunk */
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "write g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_guard_stats(r.opt, &gs), optcl_optimizer_message(r.opt));
        assert_int_equal(gs.steps, 1);
        assert_int_equal(gs.skipped, 1);
        g[700] = 1.0f;
        g[10] = INFINITY; /* alone in its chunk with overflowing squares */
        g[11] = 3e20f;
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "write g");
        TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
        TU_OK(optcl_optimizer_guard_stats(r.opt, &gs), optcl_optimizer_message(r.opt));
        assert_int_equal(gs.skipped, 2);
        tu_rig_close(&r);
    }
}

/* PyTorch's behaviour by default: the NaN reaches the parameters, and nothing is skipped. */
static void propagate_is_the_default(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    assert_int_equal(c.nonfinite, OPTCL_NONFINITE_PROPAGATE);
    assert_true(c.max_norm == 0.0);
    c.max_norm = 1.0; /* a guard that clips but does not skip */
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        tu_rig r = make_rig(backends[b], &c);
        step_with(&r, 3, true);
        float p[N];
        TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p, N), "read");
        /* clip_grad_norm_ with a NaN norm scales every gradient by NaN */
        for (size_t i = 0; i < N; i++)
            assert_true(isnan(p[i]));
        optcl_guard_stats gs;
        TU_OK(optcl_optimizer_guard_stats(r.opt, &gs), optcl_optimizer_message(r.opt));
        assert_int_equal(gs.steps, 1);
        assert_int_equal(gs.skipped, 0);
        assert_true(isnan(gs.last_norm) || isinf(gs.last_norm));
        tu_rig_close(&r);
    }
}

/* With max_norm the step equals an unguarded step on the gradient times the reported
 * coefficient (one float multiply, as clip_grad_norm_'s mul_), bit for bit, and the norm is
 * the gradient's L2 norm. */
static void clipping_scales_by_the_reported_coefficient(void **state)
{
    (void)state;
    const double max_norms[] = {0.5, 10.0, 1e6}; /* clipped hard, a little, not at all */
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        for (size_t m = 0; m < 3; m++) {
            optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
            c.lr = 0.01;
            tu_rig plain = make_rig(backends[b], &c);
            c.max_norm = max_norms[m];
            tu_rig clipped = make_rig(backends[b], &c);
            for (int t = 0; t < 5; t++) {
                float g[N];
                gradient(g, t, false);
                double sum = 0.0;
                for (size_t i = 0; i < N; i++)
                    sum += (double)g[i] * g[i];
                TU_OK(optcl_params_write(clipped.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
                TU_OK(optcl_optimizer_step(clipped.opt, 0, NULL, NULL), "step");
                optcl_guard_stats gs;
                TU_OK(optcl_optimizer_guard_stats(clipped.opt, &gs), "stats");
                assert_true(fabs(gs.last_norm - sqrt(sum)) <= 1e-5 * sqrt(sum));
                double expected = fmin(1.0, max_norms[m] / (sqrt(sum) + 1e-6));
                assert_true(fabs(gs.last_clip_coef - expected) <= 1e-5 * expected);
                for (size_t i = 0; i < N; i++)
                    g[i] = g[i] * (float)gs.last_clip_coef;
                TU_OK(optcl_params_write(plain.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
                TU_OK(optcl_optimizer_step(plain.opt, 0, NULL, NULL), "step");
            }
            assert_same_rigs(&clipped, &plain, "clipped step");
            tu_rig_close(&plain);
            tu_rig_close(&clipped);
        }
    }
}

/* The device decides: steps enqueued behind an event that has not fired all return at once
 * (a host round trip would wait forever), and so do lr changes among them (each writes the
 * rows of every count the device may hold); the results are right once it fires. */
static void steps_do_not_wait_for_the_device(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_optimizer_config c = skipping(OPTCL_ADAM);
    c.max_norm = 3.0;
    tu_rig dev = make_rig(OPTCL_BACKEND_OPENCL, &c);
    tu_rig ref = make_rig(OPTCL_BACKEND_REFERENCE, &c);
    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(optcl_context_cl_context(dev.ctx), &err);
    assert_int_equal(err, CL_SUCCESS);
    float g[N];
    gradient(g, 0, false);
    /* Every step reads the same gradient buffer, written once behind the gate. */
    TU_OK(optcl_params_write(dev.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
    TU_OK(optcl_params_write(ref.params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
    for (int t = 0; t < 100; t++) {
        TU_OK(optcl_optimizer_step(dev.opt, t == 0 ? 1 : 0, t == 0 ? &gate : NULL, NULL),
              optcl_optimizer_message(dev.opt));
        if (t % 7 == 3 || (t >= 60 && t < 70)) /* once in a while, then every step */
            TU_OK(optcl_optimizer_set_lr(dev.opt, -1, 1e-3 * (1 + t % 5)),
                  optcl_optimizer_message(dev.opt));
    }
    assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    clReleaseEvent(gate);
    for (int t = 0; t < 100; t++) {
        TU_OK(optcl_optimizer_step(ref.opt, 0, NULL, NULL), "step");
        if (t % 7 == 3 || (t >= 60 && t < 70))
            TU_OK(optcl_optimizer_set_lr(ref.opt, -1, 1e-3 * (1 + t % 5)), "set_lr");
    }
    assert_int_equal(optcl_optimizer_step_count(dev.opt), 100);
    assert_same_rigs(&dev, &ref, "OpenCL after 100 unsynchronised steps");
    tu_rig_close(&dev);
    tu_rig_close(&ref);
}

/* Far more steps than the ring of scalar rows holds, skips among them, an lr change, plateau
 * reports, and a stretch with a new lr every step (each change writes fewer rows than the
 * ring, and they wrap around it): the backends agree bit for bit and count alike. */
static void long_runs_and_lr_changes(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    optcl_optimizer_config c = skipping(OPTCL_ADAM);
    c.plateau = optcl_plateau_config_default();
    c.plateau.enabled = 1;
    c.plateau.patience = 0;
    tu_rig r[2] = {make_rig(OPTCL_BACKEND_REFERENCE, &c), make_rig(OPTCL_BACKEND_OPENCL, &c)};
    for (int t = 0; t < 700; t++) {
        for (int k = 0; k < 2; k++) {
            step_with(&r[k], t % 50, t % 97 == 5);
            if (t == 300)
                TU_OK(optcl_optimizer_set_lr(r[k].opt, -1, 0.002), "set_lr");
            if (t >= 500 && t < 620) /* a warmup by hand */
                TU_OK(optcl_optimizer_set_lr(r[k].opt, -1, 0.002 * (t - 499) / 120.0), "set_lr");
            if (t == 400 || t == 401)
                TU_OK(optcl_optimizer_report_metric(r[k].opt, 1.0), "report");
        }
    }
    assert_same_rigs(&r[1], &r[0], "OpenCL after 700 steps");
    optcl_guard_stats s0, s1;
    TU_OK(optcl_optimizer_guard_stats(r[0].opt, &s0), "stats");
    TU_OK(optcl_optimizer_guard_stats(r[1].opt, &s1), "stats");
    assert_int_equal(s0.skipped, 8); /* t = 5, 102, …, 684 */
    assert_int_equal(s1.skipped, s0.skipped);
    assert_int_equal(s1.steps, 700 - s0.skipped);
    assert_int_equal(s0.steps, s1.steps);
    tu_rig_close(&r[0]);
    tu_rig_close(&r[1]);
}

/* Schedule-Free's weight sum and lr_max (and NAdam's μ product) run over the steps taken. With a
 * guard the device's rows run ahead of its count; an lr change must leave the sums of the steps
 * already taken as their rows had them (the reference backend adds one term per step): the
 * backends agree bit for bit through skips and lr changes, once and every step. */
static void running_sums_follow_the_lrs_taken(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    const optcl_algorithm algos[] = {OPTCL_ADAMW_SCHEDULEFREE, OPTCL_SGD_SCHEDULEFREE, OPTCL_NADAM};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        optcl_optimizer_config c = skipping(algos[a]);
        c.max_norm = 2.0;
        tu_rig r[2] = {make_rig(OPTCL_BACKEND_REFERENCE, &c), make_rig(OPTCL_BACKEND_OPENCL, &c)};
        for (int t = 0; t < 120; t++)
            for (int k = 0; k < 2; k++) {
                step_with(&r[k], t, t % 13 == 4);
                if (t == 20 || (t >= 60 && t < 90)) /* once, then a warmup by hand */
                    TU_OK(optcl_optimizer_set_lr(r[k].opt, -1, 1e-3 * (1.0 + t % 7)), "set_lr");
            }
        char what[64];
        snprintf(what, sizeof what, "%s after lr changes", optcl_algorithm_name(algos[a]));
        assert_same_rigs(&r[1], &r[0], what);
        tu_rig_close(&r[0]);
        tu_rig_close(&r[1]);
    }
}

/* A set of one group that one work-group steps reduces and decides in its update kernel: one
 * launch per guarded step instead of two — with the reference backend's bits, skips and count,
 * also with bfloat16 parameters, the 8-bit state's block per work-item, clipping and a dynamic
 * loss scale. A larger set, or two groups, keeps the guard's own launch. */
static void small_sets_decide_in_the_update_kernel(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    static const optcl_tensor_spec one[] = {{.name = "w", .ndim = 1, .shape = {N}}};
    optcl_optimizer_config configs[5];
    configs[0] = skipping(OPTCL_ADAM);
    configs[1] = skipping(OPTCL_ADAMW);
    configs[1].max_norm = 5.0;
    configs[1].state_dtype = OPTCL_STATE_INT8;
    configs[2] = skipping(OPTCL_SGD);
    configs[2].sgd.momentum = 0.9;
    configs[2].max_norm = 3.0;
    configs[3] = optcl_optimizer_config_default(OPTCL_ADAM);
    configs[3].loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    configs[3].loss_scale.init_scale = 4.0;
    configs[3].loss_scale.growth_interval = 3;
    configs[3].max_norm = 5.0;
    configs[4] = skipping(OPTCL_RMSPROP);
    float p0[N];
    uint64_t seed = 7;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        /* the last with bfloat16 parameters: the reduction widens them itself */
        optcl_dtype dtype = k == 4 ? OPTCL_DTYPE_BF16 : OPTCL_DTYPE_F32;
        tu_rig r[2] = {tu_rig_open_typed(OPTCL_BACKEND_REFERENCE, one, 1, dtype, p0, &configs[k]),
                       tu_rig_open_typed(OPTCL_BACKEND_OPENCL, one, 1, dtype, p0, &configs[k])};
        const char *name = optcl_algorithm_name(configs[k].algorithm);
        for (int t = 0; t < STEPS; t++)
            for (int b = 0; b < 2; b++)
                step_with(&r[b], t, t % 7 == 2);
        assert_same_rigs(&r[1], &r[0], name);
        optcl_guard_stats s[2];
        for (int b = 0; b < 2; b++)
            TU_OK(optcl_optimizer_guard_stats(r[b].opt, &s[b]), "stats");
        assert_int_equal(s[0].skipped, 6); /* t = 2, 9, …, 37 */
        assert_int_equal(s[1].skipped, s[0].skipped);
        assert_int_equal(s[1].steps, s[0].steps);
        assert_true(s[1].loss_scale == s[0].loss_scale && s[1].last_norm == s[0].last_norm);
        /* one launch where the update is one work-group: N = 1000 pads to 1024 elements, VEC
         * (or an 8-bit block, 256) per item, at most the context's work-group size of items;
         * 8-bit blocks stepped by work-groups (GPUs) are a work-group each */
        bool q8 = configs[k].state_dtype == OPTCL_STATE_INT8;
        size_t per_item = q8 ? 256 : optcl_context_vector_width(r[1].ctx);
        bool one_work_group = 1024 / per_item <= optcl_context_work_group_size(r[1].ctx) &&
                              !(q8 && optcl_context_int8_block_items(r[1].ctx) > 1);
        assert_int_equal(optcl_optimizer_launch_count(r[1].opt), (one_work_group ? 1 : 2) * STEPS);
        tu_rig_close(&r[0]);
        tu_rig_close(&r[1]);
    }
    /* two groups: the guard's launch and one per group */
    tu_rig two = make_rig(OPTCL_BACKEND_OPENCL, &configs[0]);
    for (int t = 0; t < 3; t++)
        step_with(&two, t, false);
    assert_int_equal(optcl_optimizer_launch_count(two.opt), 3 * 3);
    tu_rig_close(&two);
}

/* The skipped count and the step count travel in checkpoints; a resumed run continues bit for
 * bit; a checkpoint without a guard does not load into a guarded optimizer. */
static void checkpoints_keep_the_account(void **state)
{
    (void)state;
    char *dir = tu_make_tempdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/guard.safetensors", dir);
    optcl_optimizer_config c = skipping(OPTCL_ADAM);
    c.max_norm = 2.0;
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        tu_rig whole = make_rig(backends[b], &c), first = make_rig(backends[b], &c);
        for (int t = 0; t < 20; t++) {
            step_with(&whole, t, t % 7 == 2);
            if (t < 10)
                step_with(&first, t, t % 7 == 2);
        }
        TU_OK(optcl_checkpoint_save(first.opt, path), optcl_optimizer_message(first.opt));
        tu_rig second = make_rig(backends[b], &c);
        TU_OK(optcl_checkpoint_load(second.opt, path), optcl_optimizer_message(second.opt));
        optcl_guard_stats gs;
        TU_OK(optcl_optimizer_guard_stats(second.opt, &gs), "stats");
        assert_int_equal(gs.steps, 8);
        assert_int_equal(gs.skipped, 2);
        for (int t = 10; t < 20; t++)
            step_with(&second, t, t % 7 == 2);
        assert_same_rigs(&second, &whole, "resumed run");
        TU_OK(optcl_optimizer_guard_stats(second.opt, &gs), "stats");
        assert_int_equal(gs.skipped, 3);

        optcl_optimizer_config plain = optcl_optimizer_config_default(OPTCL_ADAM);
        tu_rig other = make_rig(backends[b], &plain);
        assert_int_equal(optcl_checkpoint_load(other.opt, path), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(optcl_optimizer_message(other.opt), "max_norm"));
        tu_rig_close(&other);
        tu_rig_close(&whole);
        tu_rig_close(&first);
        tu_rig_close(&second);
    }
    tu_remove_tree(dir);
    free(dir);
}

static optcl_status never_called(void *user, optcl_params *params, double *loss)
{
    (void)user, (void)params, (void)loss;
    fail_msg("the α search ran although it was refused");
    return OPTCL_SUCCESS;
}

/* Lookahead's α of the last sync is the device's when it owns the count: read right after
 * each step (without waiting first), it follows the syncs taken, a skipped step's none. */
static void lookahead_alpha_follows_the_device(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.lr = 0.01;
    c.nonfinite = OPTCL_NONFINITE_SKIP;
    c.lookahead.k = 2;
    c.lookahead.alpha = 0.5;
    c.lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL);
    c.lookahead.alpha_schedule.gamma = 0.5;
    static const bool bad[7] = {[2] = true, [3] = true};
    static const double alpha[7] = {0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25}; /* syncs at 2, 4 taken */
    for (size_t b = 0; b < 2; b++) {
        if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        tu_rig r = make_rig(backends[b], &c);
        for (int t = 0; t < 7; t++) {
            step_with(&r, t, bad[t]);
            assert_true(optcl_optimizer_lookahead_alpha(r.opt) == alpha[t]);
        }
        assert_int_equal(optcl_optimizer_step_count(r.opt), 5);
        tu_rig_close(&r);
    }
}

static void bad_configurations_are_refused(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *params = NULL;
    TU_OK(optcl_params_create(ctx, specs, 2, &params), optcl_context_message(ctx));
    optcl_optimizer *opt = NULL;
    const double bad_norms[] = {-1.0, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++) {
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
        c.max_norm = bad_norms[i];
        assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(optcl_context_message(ctx), "max_norm"));
        assert_null(opt);
    }
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    c.nonfinite = (optcl_nonfinite)7;
    assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_context_message(ctx), "nonfinite"));
    /* The α search needs the count on the host each step: refused with a guard. */
    c = skipping(OPTCL_SGD);
    c.lookahead.k = 2;
    TU_OK(optcl_optimizer_create(params, &c, &opt), optcl_context_message(ctx));
    assert_int_equal(optcl_optimizer_set_lookahead_search(opt, NULL, NULL, 0), OPTCL_SUCCESS);
    assert_int_equal(optcl_optimizer_set_lookahead_search(opt, never_called, NULL, 4),
                     OPTCL_ERROR_UNSUPPORTED);
    assert_non_null(strstr(optcl_optimizer_message(opt), "guard"));
    optcl_guard_stats gs;
    assert_int_equal(optcl_optimizer_guard_stats(opt, NULL), OPTCL_ERROR_NULL_POINTER);
    optcl_optimizer_destroy(opt);
    /* Without a guard: the steps, nothing skipped, no norm, coefficient 1. */
    c = optcl_optimizer_config_default(OPTCL_SGD);
    TU_OK(optcl_optimizer_create(params, &c, &opt), optcl_context_message(ctx));
    float g[N];
    gradient(g, 1, true);
    TU_OK(optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, N), "g");
    TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    TU_OK(optcl_optimizer_guard_stats(opt, &gs), optcl_optimizer_message(opt));
    assert_int_equal(gs.steps, 1);
    assert_int_equal(gs.skipped, 0);
    assert_true(gs.last_norm == 0.0 && gs.last_clip_coef == 1.0);
    assert_int_equal(optcl_optimizer_guard_stats(NULL, &gs), OPTCL_ERROR_NULL_POINTER);
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skip_equals_omitting_the_call),
        cmocka_unit_test(propagate_is_the_default),
        cmocka_unit_test(overflowing_squares_are_not_skipped),
        cmocka_unit_test(clipping_scales_by_the_reported_coefficient),
        cmocka_unit_test(steps_do_not_wait_for_the_device),
        cmocka_unit_test(long_runs_and_lr_changes),
        cmocka_unit_test(running_sums_follow_the_lrs_taken),
        cmocka_unit_test(small_sets_decide_in_the_update_kernel),
        cmocka_unit_test(checkpoints_keep_the_account),
        cmocka_unit_test(lookahead_alpha_follows_the_device),
        cmocka_unit_test(bad_configurations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
