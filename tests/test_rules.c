/* test_rules.c — hand-checked values of the first steps of every update rule, on both
 * backends. Each expected value below was worked out on paper from PyTorch's (or the
 * lecture's) formula; the comment beside it shows the arithmetic. Tolerance: 2e-7 absolute,
 * a few float32 roundings of values near 1. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>

#define N 3 /* a few elements, so every element of a launch is checked */
#define MAX_STEPS 4
#define TOL 2e-7

typedef struct rule_case {
    const char *name;
    optcl_optimizer_config config;
    int steps;
    float grads[MAX_STEPS];    /* the same gradient for every element */
    double expected[MAX_STEPS]; /* parameter after each step, starting from 1.0 */
} rule_case;

static optcl_optimizer_config cfg(optcl_algorithm a, double lr)
{
    optcl_optimizer_config c = optcl_optimizer_config_default(a);
    c.lr = lr;
    return c;
}

static void run_case(const rule_case *rc, optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {N}};
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &params), optcl_context_message(ctx));
    float p[N] = {1.0f, 1.0f, 1.0f}, g[N];
    TU_OK(optcl_params_write(params, OPTCL_ROLE_PARAMS, 0, p, N), optcl_params_message(params));
    TU_OK(optcl_optimizer_create(params, &rc->config, &opt), optcl_context_message(ctx));
    for (int t = 0; t < rc->steps; t++) {
        for (int i = 0; i < N; i++)
            g[i] = rc->grads[t];
        TU_OK(optcl_params_write(params, OPTCL_ROLE_GRADS, 0, g, N), optcl_params_message(params));
        TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
        TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, 0, p, N), optcl_params_message(params));
        for (int i = 0; i < N; i++)
            if (fabs(p[i] - rc->expected[t]) > TOL)
                fail_msg("%s (%s): step %d element %d is %.9g, expected %.9g", rc->name,
                         backend == OPTCL_BACKEND_REFERENCE ? "reference" : "opencl", t + 1, i,
                         (double)p[i], rc->expected[t]);
    }
    assert_int_equal(optcl_optimizer_step_count(opt), (uint64_t)rc->steps);
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
}

static rule_case *cases(size_t *count)
{
    static rule_case c[32];
    size_t n = 0;
    /* Plain SGD: w − lr·g = 1 − 0.1·0.5 */
    c[n] = (rule_case){"sgd", cfg(OPTCL_SGD, 0.1), 2, {0.5f, -1.0f}, {0.95, 1.05}};
    n++;
    /* Weight decay: d = g + wd·w = 0.5 + 0.1 → 1 − 0.1·0.6 */
    c[n] = (rule_case){"sgd wd", cfg(OPTCL_SGD, 0.1), 1, {0.5f}, {0.94}};
    c[n++].config.weight_decay = 0.1;
    /* Maximize: w + lr·g */
    c[n] = (rule_case){"sgd maximize", cfg(OPTCL_SGD, 0.1), 1, {0.5f}, {1.05}};
    c[n++].config.maximize = 1;
    /* Momentum 0.9: buf₁ = g (PyTorch's first step) → 0.95; buf₂ = 0.9·0.5 + 0.5 = 0.95 →
     * 0.95 − 0.095 = 0.855 */
    c[n] = (rule_case){"sgd momentum", cfg(OPTCL_SGD, 0.1), 2, {0.5f, 0.5f}, {0.95, 0.855}};
    c[n++].config.sgd.momentum = 0.9;
    /* Dampening 0.5: buf₁ = g = 0.5 → 0.95; buf₂ = 0.9·0.5 + 0.5·0.5 = 0.7 → 0.88 */
    c[n] = (rule_case){"sgd dampening", cfg(OPTCL_SGD, 0.1), 2, {0.5f, 0.5f}, {0.95, 0.88}};
    c[n].config.sgd.momentum = 0.9;
    c[n++].config.sgd.dampening = 0.5;
    /* Nesterov: buf₁ = 0.5, d = 0.5 + 0.9·0.5 = 0.95 → 0.905; buf₂ = 0.95, d = 0.5 + 0.855 =
     * 1.355 → 0.905 − 0.1355 = 0.7695 */
    c[n] = (rule_case){"sgd nesterov", cfg(OPTCL_SGD, 0.1), 2, {0.5f, 0.5f}, {0.905, 0.7695}};
    c[n].config.sgd.momentum = 0.9;
    c[n++].config.sgd.nesterov = 1;
    /* EMA momentum β = 0.9, v₀ = 0: v₁ = 0.1·0.5 = 0.05 → 0.995; v₂ = 0.045 + 0.05 = 0.095 →
     * 0.9855 */
    c[n] = (rule_case){"sgd ema", cfg(OPTCL_SGD, 0.1), 2, {0.5f, 0.5f}, {0.995, 0.9855}};
    c[n].config.sgd.momentum = 0.9;
    c[n++].config.sgd.ema = 1;
    /* Adam step 1: m̂ = g, v̂ = g², w − lr·g/(|g| + eps) = 1 − 0.001·0.5/(0.5 + 1e-8) */
    c[n++] = (rule_case){"adam", cfg(OPTCL_ADAM, 1e-3), 1, {0.5f}, {1.0 - 1e-3 * 0.5 / 0.50000001}};
    /* Adam step 2 with g = 0.5 then −0.5: m₂ = 0.9·0.05 − 0.05 = −0.005,
     * m̂ = −0.005/0.19; v₂ = 0.999·0.00025 + 0.00025 = 0.00049975, v̂ = v₂/0.001999 = 0.25;
     * w₂ = w₁ + 0.001·(0.005/0.19)/0.5 */
    c[n++] = (rule_case){"adam 2 steps",
                         cfg(OPTCL_ADAM, 1e-3),
                         2,
                         {0.5f, -0.5f},
                         {0.999, 0.999 + 1e-3 * (0.005 / 0.19) / 0.5}};
    /* AdamW: w·(1 − lr·wd) first: 1 − 1e-5, then − 0.001 */
    c[n++] = (rule_case){"adamw", cfg(OPTCL_ADAMW, 1e-3), 1, {0.5f}, {1.0 - 1e-5 - 1e-3}};
    /* Adam with coupled wd 1: d = 0.5 + 1 = 1.5; step 1 still moves by lr·sign(d) */
    c[n] = (rule_case){"adam wd", cfg(OPTCL_ADAM, 1e-3), 1, {0.5f}, {0.999}};
    c[n++].config.weight_decay = 1.0;
    /* AMSGrad, g = 1 then 0.01: v₂ = 0.000999 + 1e-7 < v_max = 0.001, so v̂ = 0.001/0.001999
     * (plain Adam would use v₂); m₂ = 0.09 + 0.001 = 0.091, m̂ = 0.091/0.19 */
    c[n] = (rule_case){"adam amsgrad",
                       cfg(OPTCL_ADAM, 1e-3),
                       2,
                       {1.0f, 0.01f},
                       {0.999, 0.999 - 1e-3 * (0.091 / 0.19) / sqrt(0.001 / 0.001999)}};
    c[n++].config.adam.amsgrad = 1;
    /* RMSprop: sq = 0.01·0.25 = 0.0025, avg = 0.05 → 1 − 0.01·0.5/0.05 = 0.9 */
    c[n++] = (rule_case){"rmsprop", cfg(OPTCL_RMSPROP, 1e-2), 1, {0.5f}, {0.9}};
    /* Centered: ga = 0.005, avg = sqrt(0.0025 − 0.000025) → 1 − 0.005/sqrt(0.002475) */
    c[n] = (rule_case){"rmsprop centered", cfg(OPTCL_RMSPROP, 1e-2), 1, {0.5f},
                       {1.0 - 0.005 / sqrt(0.002475)}};
    c[n++].config.rmsprop.centered = 1;
    /* Momentum 0.5: buf₁ = 0.5/0.05 = 10 → 0.9; sq₂ = 0.002475 + 0.0025 = 0.004975,
     * buf₂ = 5 + 0.5/sqrt(0.004975) → w₂ = 0.9 − 0.01·buf₂ */
    c[n] = (rule_case){"rmsprop momentum",
                       cfg(OPTCL_RMSPROP, 1e-2),
                       2,
                       {0.5f, 0.5f},
                       {0.9, 0.9 - 0.01 * (5.0 + 0.5 / sqrt(0.004975))}};
    c[n++].config.rmsprop.momentum = 0.5;
    /* Rprop (PyTorch): step₁ = lr (product 0 → ×1) → 0.99; same sign ×1.2 → 0.978;
     * sign change: step 0.006 but this element rests; then product 0 → ×1, moves +0.006 */
    c[n++] = (rule_case){"rprop",
                         cfg(OPTCL_RPROP, 1e-2),
                         4,
                         {0.5f, 0.5f, -0.5f, -0.5f},
                         {0.99, 0.978, 0.978, 0.984}};
    /* Classic Rprop: the first product 0 shrinks: 0.005 → 0.995; ×1.2 → 0.006 → 0.989;
     * sign change shrinks to 0.003 and still moves → 0.992; agree ×1.2 = 0.0036 → 0.9956 */
    c[n] = (rule_case){"rprop classic",
                       cfg(OPTCL_RPROP, 1e-2),
                       4,
                       {0.5f, 0.5f, -0.5f, -0.5f},
                       {0.995, 0.989, 0.992, 0.9956}};
    c[n++].config.rprop.variant = OPTCL_RPROP_CLASSIC;
    /* A NaN gradient (torch.sign(NaN) = 0): step₂ leaves the weight and the step size (×1), and
     * step₃'s product with the stored NaN is ×1 again → 0.98 */
    c[n++] =
        (rule_case){"rprop nan", cfg(OPTCL_RPROP, 1e-2), 3, {0.5f, NAN, 0.5f}, {0.99, 0.99, 0.98}};
    /* Step sizes clamp: step_max 0.011 caps the ×1.2 growth at 0.011 → 0.99, 0.979 */
    c[n] = (rule_case){"rprop clamp", cfg(OPTCL_RPROP, 1e-2), 2, {0.5f, 0.5f}, {0.99, 0.979}};
    c[n++].config.rprop.step_max = 0.011;
    /* Lion (lr 0.1, β 0.9/0.99), m₀ = 0: c₁ = 0.1·0.5 = 0.05 > 0 → 0.9, m₁ = 0.01·0.5 = 0.005;
     * c₂ = 0.005 + 0.1·(−0.2 − 0.005) = −0.0155 < 0 → 1.0, m₂ = 0.005 − 0.01·0.205 = 0.00295;
     * g₃ = 0.00295 ≈ m₂, so c₃ ≈ 0.00295 > 0 → 0.9 */
    c[n++] = (rule_case){"lion", cfg(OPTCL_LION, 0.1), 3, {0.5f, -0.2f, 0.00295f},
                         {0.9, 1.0, 0.9}};
    /* Decoupled weight decay 0.5: w·(1 − 0.1·0.5) = 0.95 first, then − 0.1 → 0.85 */
    c[n] = (rule_case){"lion wd", cfg(OPTCL_LION, 0.1), 1, {0.5f}, {0.85}};
    c[n++].config.weight_decay = 0.5;
    /* Maximize: d = −0.5, c₁ = −0.05 → 1.1, m₁ = −0.005; then g = 0: c₂ = −0.0045, the momentum
     * alone keeps the sign → 1.2 */
    c[n] = (rule_case){"lion maximize", cfg(OPTCL_LION, 0.1), 2, {0.5f, 0.0f}, {1.1, 1.2}};
    c[n++].config.maximize = 1;
    *count = n;
    return c;
}

static void test_rules(optcl_backend backend)
{
    size_t n = 0;
    rule_case *c = cases(&n);
    for (size_t i = 0; i < n; i++)
        run_case(&c[i], backend);
}

static void rules_reference(void **state)
{
    (void)state;
    test_rules(OPTCL_BACKEND_REFERENCE);
}

static void rules_opencl(void **state)
{
    (void)state;
    test_rules(OPTCL_BACKEND_OPENCL);
}

/* Zero gradients from the start leave every rule's parameters exactly where they were. */
static void zero_gradients_do_nothing(optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {1031}};
    float p0[1031], p[1031];
    uint64_t seed = 7;
    tu_fill_random(p0, 1031, &seed, -2.0f, 2.0f);
    optcl_optimizer_config configs[OPTCL_ALGORITHM_COUNT + 3];
    size_t nc = 0;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++)
        configs[nc++] = optcl_optimizer_config_default((optcl_algorithm)a);
    configs[1].adam.amsgrad = 1;
    configs[2].weight_decay = 0.0; /* AdamW's decoupled decay moves w even without gradient */
    configs[OPTCL_ASGD].asgd.lambd = 0.0; /* so does ASGD's p *= 1 − λ·η */
    configs[OPTCL_MUON].weight_decay = 0.0; /* and Muon's (0.1 by default) */
    configs[nc] = optcl_optimizer_config_default(OPTCL_SGD);
    configs[nc++].sgd.momentum = 0.9;
    configs[nc] = optcl_optimizer_config_default(OPTCL_RMSPROP);
    configs[nc].rmsprop.centered = 1;
    configs[nc++].rmsprop.momentum = 0.9;
    configs[nc] = optcl_optimizer_config_default(OPTCL_RPROP);
    configs[nc++].rprop.variant = OPTCL_RPROP_CLASSIC;
    optcl_tensor_spec matrix; /* Muon takes 2-D tensors only: 1×1031 */
    tu_as_matrices(&spec, 1, &matrix);
    for (size_t k = 0; k < nc; k++) {
        if (tu_muon_refused(backend, configs[k].algorithm))
            continue;
        optcl_params *params = NULL;
        optcl_optimizer *opt = NULL;
        TU_OK(optcl_params_create(ctx, configs[k].algorithm == OPTCL_MUON ? &matrix : &spec, 1,
                                  &params),
              optcl_context_message(ctx));
        TU_OK(optcl_params_write(params, OPTCL_ROLE_PARAMS, 0, p0, 1031), "write");
        TU_OK(optcl_optimizer_create(params, &configs[k], &opt), optcl_context_message(ctx));
        for (int t = 0; t < 5; t++)
            TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
        TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, 0, p, 1031), "read");
        assert_memory_equal(p, p0, sizeof p);
        optcl_optimizer_destroy(opt);
        optcl_params_destroy(params);
    }
    optcl_context_destroy(ctx);
}

static void zero_reference(void **state)
{
    (void)state;
    zero_gradients_do_nothing(OPTCL_BACKEND_REFERENCE);
}

static void zero_opencl(void **state)
{
    (void)state;
    zero_gradients_do_nothing(OPTCL_BACKEND_OPENCL);
}

/* ASGD (λ 0.5, α 1, g = 1, from 1.0): p ← p·(1 − λη) − η, the η of step t from step t − 1's lr
 * and count. lr 0.1: η₁ = 0.1 → 0.85; η₂ = 0.1/(1 + 0.05) → 0.85·0.952381 − 0.095238 =
 * 0.714286. Then set_lr(0.2): step 3 keeps step 2's lr, as torch's η state does, η₃ = 0.1/1.1 →
 * 0.714286·0.954545 − 0.090909 = 0.590909 (0.488095 with the new lr); η₄ = 0.2/(1 + 0.3) →
 * 0.590909·0.923077 − 0.153846 = 0.391608. Guarded too: the device's rows run ahead of it. */
static void asgd_eta_takes_a_new_lr_a_step_later(void **state)
{
    (void)state;
    static const double expected[4] = {0.85, 0.7142857, 0.5909091, 0.3916084};
    const optcl_backend backends[] = {OPTCL_BACKEND_REFERENCE, OPTCL_BACKEND_OPENCL};
    for (int b = 0; b < 2; b++)
        for (int guarded = 0; guarded < 2; guarded++) {
            if (backends[b] == OPTCL_BACKEND_OPENCL && tu_opencl_missing())
                continue;
            optcl_optimizer_config c = cfg(OPTCL_ASGD, 0.1);
            c.asgd.lambd = 0.5;
            c.asgd.alpha = 1.0;
            c.max_norm = guarded ? 100.0 : 0.0;
            float p0[N] = {1.0f, 1.0f, 1.0f}, g[N] = {1.0f, 1.0f, 1.0f}, p[N];
            optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {N}};
            tu_rig r = tu_rig_open(backends[b], &spec, 1, p0, &c);
            for (int t = 0; t < 4; t++) {
                if (t == 2)
                    TU_OK(optcl_optimizer_set_lr(r.opt, -1, 0.2), optcl_optimizer_message(r.opt));
                TU_OK(optcl_params_write(r.params, OPTCL_ROLE_GRADS, 0, g, N), "g");
                TU_OK(optcl_optimizer_step(r.opt, 0, NULL, NULL), optcl_optimizer_message(r.opt));
                TU_OK(optcl_params_read(r.params, OPTCL_ROLE_PARAMS, 0, p, N), "p");
                if (fabs(p[0] - expected[t]) > 1e-6)
                    fail_msg("asgd%s on backend %d: step %d is %.9g, expected %.9g",
                             guarded ? " guarded" : "", b, t + 1, (double)p[0], expected[t]);
            }
            tu_rig_close(&r);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_reference),
        cmocka_unit_test(rules_opencl),
        cmocka_unit_test(zero_reference),
        cmocka_unit_test(zero_opencl),
        cmocka_unit_test(asgd_eta_takes_a_new_lr_a_step_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
