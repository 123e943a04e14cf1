/* test_set_option.c — hyperparameters, the step count and the loss scale changed between
 * steps (optcl_optimizer_set_option, optcl_optimizer_set_step_count,
 * optcl_optimizer_set_loss_scale), a rule's running values carried over
 * (optcl_optimizer_set_running_value), as a binding that re-reads torch's param_groups, takes over
 * torch's state or follows a GradScaler needs; and optcl_struct_size. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 1031

static const optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {N}};

typedef struct snapshot {
    float p[N], m[N], v[N];
} snapshot;

static void take(tu_rig *r, snapshot *s)
{
    TU_OK(optcl_params_read(r->params, OPTCL_ROLE_PARAMS, 0, s->p, N), "read p");
    TU_OK(optcl_optimizer_read_state(r->opt, "exp_avg", 0, s->m, N), "read m");
    TU_OK(optcl_optimizer_read_state(r->opt, "exp_avg_sq", 0, s->v, N), "read v");
}

static void step_with(tu_rig *r, const float *g)
{
    TU_OK(optcl_params_write(r->params, OPTCL_ROLE_GRADS, 0, g, N), "write g");
    TU_OK(optcl_optimizer_step(r->opt, 0, NULL, NULL), optcl_optimizer_message(r->opt));
}

/* Adam steps with beta1 0.9 and weight decay 0, then 0.8 and 0.01 from the second step on: the
 * same bits as a fresh optimizer created with 0.8 and 0.01 that takes over the first one's
 * state and step count after step 1. */
static void takes_over(optcl_backend backend, const optcl_optimizer_config *base)
{
    float p0[N], g1[N], g2[N];
    uint64_t seed = 7;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    tu_fill_random(g1, N, &seed, -1.0f, 1.0f);
    tu_fill_random(g2, N, &seed, -1.0f, 1.0f);
    tu_rig a = tu_rig_open(backend, &spec, 1, p0, base);
    step_with(&a, g1);
    snapshot after1, sa, sb;
    take(&a, &after1);
    TU_OK(optcl_optimizer_set_option(a.opt, "beta1", 0.8), optcl_optimizer_message(a.opt));
    TU_OK(optcl_optimizer_set_option(a.opt, "weight_decay", 0.01), optcl_optimizer_message(a.opt));
    double beta1 = 0.0;
    TU_OK(optcl_optimizer_config_get_option(optcl_optimizer_config_get(a.opt), "beta1", &beta1),
          "get beta1");
    assert_true(beta1 == 0.8);
    step_with(&a, g2);
    take(&a, &sa);

    optcl_optimizer_config changed = *base;
    changed.adam.beta1 = 0.8;
    changed.weight_decay = 0.01;
    tu_rig b = tu_rig_open(backend, &spec, 1, after1.p, &changed);
    TU_OK(optcl_optimizer_write_state(b.opt, "exp_avg", 0, after1.m, N), "write m");
    TU_OK(optcl_optimizer_write_state(b.opt, "exp_avg_sq", 0, after1.v, N), "write v");
    TU_OK(optcl_optimizer_set_step_count(b.opt, 1), optcl_optimizer_message(b.opt));
    assert_int_equal(optcl_optimizer_step_count(b.opt), 1);
    step_with(&b, g2);
    assert_int_equal(optcl_optimizer_step_count(b.opt), 2);
    take(&b, &sb);
    assert_memory_equal(&sa, &sb, sizeof sa);

    /* without the step count the bias corrections of step 1 would apply: different bits */
    tu_rig c = tu_rig_open(backend, &spec, 1, after1.p, &changed);
    TU_OK(optcl_optimizer_write_state(c.opt, "exp_avg", 0, after1.m, N), "write m");
    TU_OK(optcl_optimizer_write_state(c.opt, "exp_avg_sq", 0, after1.v, N), "write v");
    step_with(&c, g2);
    snapshot sc;
    take(&c, &sc);
    assert_true(memcmp(sc.p, sa.p, sizeof sa.p) != 0);
    tu_rig_close(&a);
    tu_rig_close(&b);
    tu_rig_close(&c);
}

static void adam_takes_over(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    takes_over(OPTCL_BACKEND_REFERENCE, &c);
    takes_over(OPTCL_BACKEND_OPENCL, &c);
    c.max_norm = 1.0; /* the guard: the device owns the count, and its rows carry the values */
    takes_over(OPTCL_BACKEND_REFERENCE, &c);
    takes_over(OPTCL_BACKEND_OPENCL, &c);
}

/* torch's NAdam keeps μ_product as state: each step multiplies in its μ_t, from the β1 and
 * momentum_decay of that step. A β1 changed after step 3 leaves μ1…μ3 as they were (no
 * product over the new β1 from the first step). The oracle is torch 2.x's single-tensor rule
 * in double for one element, gradient 1; both backends, and guarded on OpenCL (the device's
 * rows resume the product from its count). */
static void nadam_keeps_the_mu_of_the_steps_taken(void **state)
{
    (void)state;
    const double lr = 0.1, beta2 = 0.999, eps = 1e-8, psi = 4e-3;
    double p = 1.0, m = 0.0, v = 0.0, product = 1.0, beta1 = 0.9, want[6];
    for (int t = 1; t <= 6; t++) {
        if (t == 4)
            beta1 = 0.8;
        double mu = beta1 * (1.0 - 0.5 * pow(0.96, t * psi));
        double mu_next = beta1 * (1.0 - 0.5 * pow(0.96, (t + 1) * psi));
        product *= mu;
        m += (1.0 - beta1) * (1.0 - m);
        v = beta2 * v + (1.0 - beta2);
        double denom = sqrt(v / (1.0 - pow(beta2, t))) + eps;
        p += -lr * (1.0 - mu) / (1.0 - product) / denom;
        p += -lr * mu_next / (1.0 - product * mu_next) * m / denom;
        want[t - 1] = p;
    }
    const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
    for (int k = 0; k < 3; k++) {
        optcl_backend backend = backends[k > 0];
        if (backend == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
            continue;
        optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_NADAM);
        c.lr = lr;
        c.max_norm = k == 2 ? 100.0 : 0.0;
        float p0[N], g[N], got[N];
        for (size_t i = 0; i < N; i++)
            p0[i] = 1.0f, g[i] = 1.0f;
        tu_rig r = tu_rig_open(backend, &spec, 1, p0, &c);
        for (int t = 1; t <= 6; t++) {
            if (t == 4)
                TU_OK(optcl_optimizer_set_option(r.opt, "beta1", 0.8),
                      optcl_optimizer_message(r.opt));
            step_with(&r, g);
            TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, 0, got, N), "read p");
            if (fabs(got[N - 1] - want[t - 1]) > 2e-6)
                fail_msg("nadam (%s%s) step %d: %.9g, torch's rule gives %.9g",
                         backend == OPTCL_BACKEND_OPENCL ? "opencl" : "reference",
                         k == 2 ? ", guarded" : "", t, (double)got[N - 1], want[t - 1]);
        }
        tu_rig_close(&r);
    }
}

/* A rule's running values (optcl_optimizer_running_value) carried over as load_state_dict
 * carries torch's scalar state: A steps 6 times, an option (or the lr) changed after step 4; B,
 * made with A's values as they are after the change, takes A's parameters, states, count and
 * running values then and steps twice more: A's bits (ASGD's η of step 5 is the old lr's). B
 * without the running values recomputes them from the first step with its own values, and steps
 * differently. */
typedef struct running_case {
    optcl_algorithm algorithm;
    const char *key; /* "lr" through set_lr */
    double before, after;
} running_case;

static void change(tu_rig *r, const char *key, double value)
{
    optcl_status st = strcmp(key, "lr") == 0 ? optcl_optimizer_set_lr(r->opt, 0, value)
                                             : optcl_optimizer_set_option(r->opt, key, value);
    TU_OK(st, optcl_optimizer_message(r->opt));
}

static void carry(tu_rig *from, tu_rig *to, bool running)
{
    float values[N];
    TU_OK(optcl_params_read(from->params, OPTCL_ROLE_PARAMS, 0, values, N), "read p");
    TU_OK(optcl_params_write(to->params, OPTCL_ROLE_PARAMS, 0, values, N), "write p");
    for (size_t i = 0; i < optcl_optimizer_state_count(from->opt); i++) {
        const char *name = optcl_optimizer_state_name(from->opt, i);
        TU_OK(optcl_optimizer_read_state(from->opt, name, 0, values, N), name);
        TU_OK(optcl_optimizer_write_state(to->opt, name, 0, values, N), name);
    }
    TU_OK(optcl_optimizer_set_step_count(to->opt, optcl_optimizer_step_count(from->opt)),
          optcl_optimizer_message(to->opt));
    const char *const *names =
        optcl_algorithm_running(optcl_optimizer_config_get(from->opt)->algorithm);
    for (size_t k = 0; running && names[k]; k++) {
        double value = 0.0;
        TU_OK(optcl_optimizer_running_value(from->opt, 0, names[k], &value),
              optcl_optimizer_message(from->opt));
        TU_OK(optcl_optimizer_set_running_value(to->opt, 0, names[k], value),
              optcl_optimizer_message(to->opt));
        double back = 0.0;
        TU_OK(optcl_optimizer_running_value(to->opt, 0, names[k], &back), names[k]);
        assert_true(back == value);
    }
}

static void running_values_carry_over(void **state)
{
    (void)state;
    const running_case cases[] = {{OPTCL_NADAM, "beta1", 0.9, 0.7},
                                  {OPTCL_ASGD, "lr", 0.1, 0.02},
                                  {OPTCL_ADAMW_SCHEDULEFREE, "lr", 0.003, 0.01},
                                  {OPTCL_SGD_SCHEDULEFREE, "lr", 0.1, 0.5}}; /* lr_max grows */
    float p0[N], g[6][N], a_end[N], b_end[N];
    uint64_t seed = 11;
    tu_fill_random(p0, N, &seed, -1.0f, 1.0f);
    for (int t = 0; t < 6; t++)
        tu_fill_random(g[t], N, &seed, -1.0f, 1.0f);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < 3; k++) {
            optcl_backend backend = k == 0 ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL;
            if (backend == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
                continue;
            const running_case *rc = &cases[c];
            optcl_optimizer_config config = optcl_optimizer_config_default(rc->algorithm);
            config.max_norm = k == 2 ? 100.0 : 0.0; /* guarded: the device's rows */
            config.asgd.t0 = 2.0;
            if (strcmp(rc->key, "lr") == 0)
                config.lr = rc->before;
            else
                TU_OK(optcl_optimizer_config_set_option(&config, rc->key, rc->before), rc->key);
            tu_rig a = tu_rig_open(backend, &spec, 1, p0, &config);
            tu_rig b[2];
            for (int t = 1; t <= 6; t++) {
                step_with(&a, g[t - 1]);
                if (t != 4)
                    continue;
                change(&a, rc->key, rc->after);
                for (int with = 0; with < 2; with++) {
                    b[with] = tu_rig_open(backend, &spec, 1, NULL, &config);
                    change(&b[with], rc->key, rc->after);
                    carry(&a, &b[with], with == 1);
                }
            }
            TU_OK(optcl_params_read(a.params, OPTCL_ROLE_PARAMS, 0, a_end, N), "read a");
            for (int with = 0; with < 2; with++) {
                step_with(&b[with], g[4]);
                step_with(&b[with], g[5]);
                TU_OK(optcl_params_read(b[with].params, OPTCL_ROLE_PARAMS, 0, b_end, N), "b");
                bool same = memcmp(a_end, b_end, sizeof a_end) == 0;
                if (same != (with == 1))
                    fail_msg("%s (%s%s) %s the running values: %s A's bits",
                             optcl_algorithm_name(rc->algorithm),
                             backend == OPTCL_BACKEND_OPENCL ? "opencl" : "reference",
                             k == 2 ? ", guarded" : "", with ? "with" : "without",
                             same ? "has" : "does not have");
                tu_rig_close(&b[with]);
            }
            tu_rig_close(&a);
        }
}

/* The running values' refusals name the problem and change nothing. */
static void running_value_refusals(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_NADAM);
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    double value = 0.0;
    assert_int_equal(optcl_optimizer_running_value(r.opt, 0, "mu_product", &value),
                     OPTCL_ERROR_INVALID_ARGUMENT); /* no step taken */
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "no step taken yet"));
    float g[N];
    for (size_t i = 0; i < N; i++)
        g[i] = 0.5f;
    step_with(&r, g);
    TU_OK(optcl_optimizer_running_value(r.opt, 0, "mu_product", &value), "mu_product");
    float mu1 = (float)(0.9 * (1.0 - 0.5 * pow(0.96, 4e-3)));
    assert_true(value == (double)mu1); /* torch's float32 product after one step */
    assert_int_equal(optcl_optimizer_running_value(r.opt, 0, "eta", &value),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "nadam keeps no running value 'eta' "
                                                           "(it keeps: mu_product)"));
    assert_int_equal(optcl_optimizer_running_value(r.opt, OPTCL_MAX_GROUPS, "mu_product", &value),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "group"));
    assert_int_equal(optcl_optimizer_set_running_value(r.opt, 0, "mu_product", NAN),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "not finite"));
    assert_int_equal(optcl_optimizer_running_value(r.opt, 0, NULL, &value),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_running_value(r.opt, 0, "mu_product", NULL),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_running_value(NULL, 0, "mu_product", &value),
                     OPTCL_ERROR_NULL_POINTER);
    TU_OK(optcl_optimizer_running_value(r.opt, 0, "mu_product", &value), "unchanged");
    assert_true(value == (double)mu1);
    tu_rig_close(&r);

    c = optcl_optimizer_config_default(OPTCL_ADAM);
    r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    step_with(&r, g);
    assert_int_equal(optcl_optimizer_set_running_value(r.opt, 0, "mu_product", 1.0),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "(it keeps: none)"));
    assert_null(optcl_algorithm_running(OPTCL_ADAM)[0]);
    assert_string_equal(optcl_algorithm_running(OPTCL_SGD_SCHEDULEFREE)[1], "lr_max");
    assert_null(optcl_algorithm_running((optcl_algorithm)999));
    tu_rig_close(&r);
}

/* Refusals name the problem and change nothing. */
static void refusals(void **state)
{
    (void)state;
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    tu_rig r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    assert_int_equal(optcl_optimizer_set_option(r.opt, "amsgrad", 1), OPTCL_ERROR_UNSUPPORTED);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "amsgrad = 1"));
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "create a new optimizer"));
    assert_int_equal(optcl_optimizer_set_option(r.opt, "beta1", 1.5),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "beta1"));
    assert_int_equal(optcl_optimizer_set_option(r.opt, "weight_decay", -1.0),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_set_option(r.opt, "momentum", 0.5),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "no option 'momentum'"));
    assert_int_equal(optcl_optimizer_set_option(r.opt, "amsgrad", 2), /* a flag: 0 or 1 */
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "invalid amsgrad: 2"));
    double lr = 0.0;
    assert_int_equal(optcl_optimizer_get_lr(r.opt, OPTCL_MAX_GROUPS, &lr),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "invalid group 64"));
    assert_int_equal(optcl_optimizer_set_option(r.opt, "lr", 0.5), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_set_option(NULL, "beta1", 0.5), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_set_option(r.opt, NULL, 0.5), OPTCL_ERROR_NULL_POINTER);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "key is NULL"));
    assert_int_equal(optcl_optimizer_plateau_state(r.opt, NULL), OPTCL_ERROR_NULL_POINTER);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "state is NULL"));
    assert_int_equal(optcl_optimizer_set_step_count(NULL, 3), OPTCL_ERROR_NULL_POINTER);
    const optcl_optimizer_config *now = optcl_optimizer_config_get(r.opt);
    assert_true(now->adam.beta1 == 0.9 && now->adam.amsgrad == 0 && now->weight_decay == 0.0);
    tu_rig_close(&r);

    /* SGD: momentum 0.9 → 0.5 keeps the momentum buffer; 0.9 → 0 would drop it */
    c = optcl_optimizer_config_default(OPTCL_SGD);
    c.sgd.momentum = 0.9;
    r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    TU_OK(optcl_optimizer_set_option(r.opt, "momentum", 0.5), optcl_optimizer_message(r.opt));
    assert_int_equal(optcl_optimizer_set_option(r.opt, "momentum", 0.0), OPTCL_ERROR_UNSUPPORTED);
    assert_true(optcl_optimizer_config_get(r.opt)->sgd.momentum == 0.5);
    tu_rig_close(&r);

    c = optcl_optimizer_config_default(OPTCL_RPROP); /* Rprop has no weight decay */
    r = tu_rig_open(OPTCL_BACKEND_REFERENCE, &spec, 1, NULL, &c);
    assert_int_equal(optcl_optimizer_set_option(r.opt, "weight_decay", 0.1),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(r.opt), "weight_decay"));
    tu_rig_close(&r);
}

/* torch's fused contract: gradients multiplied by a scale the caller keeps and changes; each
 * step divides by the scale set last — the same bits as unscaled gradients for powers of two. */
/* Adam plain (a) and with the caller's static loss scale (b), from the same parameters. */
static void open_amp_pair(optcl_backend backend, uint64_t *seed, tu_rig *a, tu_rig *b)
{
    float p0[N];
    tu_fill_random(p0, N, seed, -1.0f, 1.0f);
    optcl_optimizer_config plain = optcl_optimizer_config_default(OPTCL_ADAM);
    optcl_optimizer_config amp = plain;
    amp.loss_scale.mode = OPTCL_LOSS_SCALE_STATIC;
    *a = tu_rig_open(backend, &spec, 1, p0, &plain);
    *b = tu_rig_open(backend, &spec, 1, p0, &amp);
}

static void caller_kept_loss_scale(optcl_backend backend)
{
    float g[N], scaled[N];
    uint64_t seed = 11;
    tu_rig a, b;
    open_amp_pair(backend, &seed, &a, &b);
    const double scales[] = {65536.0, 8.0, 0.5};
    for (int t = 0; t < 3; t++) {
        tu_fill_random(g, N, &seed, -1.0f, 1.0f);
        for (size_t i = 0; i < N; i++)
            scaled[i] = g[i] * (float)scales[t];
        TU_OK(optcl_optimizer_set_loss_scale(b.opt, scales[t]), optcl_optimizer_message(b.opt));
        double now = 0.0;
        TU_OK(optcl_optimizer_loss_scale(b.opt, &now), "loss_scale");
        assert_true(now == scales[t]);
        step_with(&a, g);
        step_with(&b, scaled);
    }
    snapshot sa, sb;
    take(&a, &sa);
    take(&b, &sb);
    assert_memory_equal(&sa, &sb, sizeof sa);
    assert_int_equal(optcl_optimizer_set_loss_scale(a.opt, 2.0), OPTCL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(optcl_optimizer_message(a.opt), "config.loss_scale is off"));
    const double bad[] = {0.0, -1.0, 1e39, 1e-50, HUGE_VAL, NAN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(optcl_optimizer_set_loss_scale(b.opt, bad[i]),
                         OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_set_loss_scale(NULL, 2.0), OPTCL_ERROR_NULL_POINTER);
    double now = 0.0;
    TU_OK(optcl_optimizer_loss_scale(b.opt, &now), "loss_scale");
    assert_true(now == 0.5); /* the refusals changed nothing */
    tu_rig_close(&a);
    tu_rig_close(&b);
}

/* With the dynamic scaler, a scale set by the caller leaves the growth tracker as it is, as
 * GradScaler.update(new_scale) does: the steps since the last skip keep counting. */
static void set_scale_keeps_the_tracker(optcl_backend backend)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    c.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    c.loss_scale.growth_interval = 100;
    tu_rig r = tu_rig_open(backend, &spec, 1, NULL, &c);
    float g[N];
    uint64_t seed = 17;
    tu_fill_random(g, N, &seed, -1.0f, 1.0f);
    for (int t = 0; t < 3; t++)
        step_with(&r, g);
    TU_OK(optcl_optimizer_set_loss_scale(r.opt, 8.0), optcl_optimizer_message(r.opt));
    optcl_guard_stats s;
    TU_OK(optcl_optimizer_guard_stats(r.opt, &s), optcl_optimizer_message(r.opt));
    assert_true(s.loss_scale == 8.0);
    assert_int_equal(s.growth_tracker, 3);
    step_with(&r, g);
    TU_OK(optcl_optimizer_guard_stats(r.opt, &s), optcl_optimizer_message(r.opt));
    assert_true(s.loss_scale == 8.0);
    assert_int_equal(s.growth_tracker, 4);
    tu_rig_close(&r);
}

static void loss_scale_set_by_the_caller(void **state)
{
    (void)state;
    caller_kept_loss_scale(OPTCL_BACKEND_REFERENCE);
    caller_kept_loss_scale(OPTCL_BACKEND_OPENCL);
    set_scale_keeps_the_tracker(OPTCL_BACKEND_REFERENCE);
    set_scale_keeps_the_tracker(OPTCL_BACKEND_OPENCL);
}

/* Setting the scale does not wait for the queue: steps and scales set between them, all
 * enqueued behind an event that has not fired, return at once (a wait would hang), and each
 * step divides by the scale set before it. */
static void loss_scale_set_without_waiting(void **state)
{
    (void)state;
    if (tu_opencl_missing())
        skip();
    static float g[4][N], scaled[4][N];
    uint64_t seed = 13;
    tu_rig a, b;
    open_amp_pair(OPTCL_BACKEND_OPENCL, &seed, &a, &b);
    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(optcl_context_cl_context(b.ctx), &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem grads = NULL;
    TU_OK(optcl_params_buffer(b.params, OPTCL_ROLE_GRADS, OPTCL_ALL, &grads), "grads");
    cl_command_queue queue = optcl_context_cl_queue(b.ctx);
    const double scales[] = {1024.0, 4.0, 0.25, 65536.0};
    for (int t = 0; t < 4; t++) {
        tu_fill_random(g[t], N, &seed, -1.0f, 1.0f);
        for (size_t i = 0; i < N; i++)
            scaled[t][i] = g[t][i] * (float)scales[t];
        TU_OK(optcl_optimizer_set_loss_scale(b.opt, scales[t]), optcl_optimizer_message(b.opt));
        assert_int_equal(clEnqueueWriteBuffer(queue, grads, CL_FALSE, 0, sizeof scaled[t],
                                              scaled[t], t == 0 ? 1 : 0, t == 0 ? &gate : NULL,
                                              NULL),
                         CL_SUCCESS);
        TU_OK(optcl_optimizer_step(b.opt, 0, NULL, NULL), optcl_optimizer_message(b.opt));
        step_with(&a, g[t]);
    }
    assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    clReleaseEvent(gate);
    snapshot sa, sb;
    take(&a, &sa);
    take(&b, &sb);
    assert_memory_equal(&sa, &sb, sizeof sa);
    double now = 0.0;
    TU_OK(optcl_optimizer_loss_scale(b.opt, &now), "loss_scale");
    assert_true(now == 65536.0);
    tu_rig_close(&a);
    tu_rig_close(&b);
}

static void struct_sizes(void **state)
{
    (void)state;
    assert_int_equal(optcl_struct_size("optcl_optimizer_config"), sizeof(optcl_optimizer_config));
    assert_int_equal(optcl_struct_size("optcl_tensor_spec"), sizeof(optcl_tensor_spec));
    assert_int_equal(optcl_struct_size("optcl_muon_config"), sizeof(optcl_muon_config));
    assert_int_equal(optcl_struct_size("optcl_array"), sizeof(optcl_array));
    assert_int_equal(optcl_struct_size("optcl_nothing"), 0);
    assert_int_equal(optcl_struct_size(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_takes_over),
        cmocka_unit_test(nadam_keeps_the_mu_of_the_steps_taken),
        cmocka_unit_test(refusals),
        cmocka_unit_test(running_values_carry_over),
        cmocka_unit_test(running_value_refusals),
        cmocka_unit_test(loss_scale_set_by_the_caller),
        cmocka_unit_test(loss_scale_set_without_waiting),
        cmocka_unit_test(struct_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
