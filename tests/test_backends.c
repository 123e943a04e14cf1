/* test_backends.c — every optimizer and every option, run for 50 steps on the OpenCL backend
 * and on the CPU reference at sizes 1, 7, 1031 and 2^18+3 (2^17+3 under AddressSanitizer), and
 * over several tensors in two parameter groups; parameters and every state buffer are compared.
 *
 * Tolerance: |a − e| ≤ 1e-5 + 1e-4·|e|, the same bound the PyTorch conformance promise uses:
 * both backends run the same float operations in the same order (FP_CONTRACT off, correctly
 * rounded divide/sqrt where the device offers it), so they may differ only where a device's
 * sqrt or division is less exact than IEEE (OpenCL allows 3 ulp). On PoCL they agree bit for
 * bit, except Muon's matrix products (CLBlast adds in its own order); the test prints how many
 * elements differ at all. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 50
#define ATOL 1e-5
#define RTOL 1e-4
#define BASE 4099 /* a pool of random gradient values, reused with a stride per step */

typedef struct named_config {
    const char *name;
    optcl_optimizer_config c;
} named_config;

#define MAX_CONFIGS 128

/* The large size: 2^18 + 3 elements, or under AddressSanitizer (several times slower) 2^17 + 3.
 * Both take the guard's two-launch reduction, several work-groups, and whole 8-bit blocks with a
 * tail. */
#if defined(__SANITIZE_ADDRESS__)
#define LARGE ((1u << 17) + 3)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LARGE ((1u << 17) + 3)
#endif
#endif
#ifndef LARGE
#define LARGE ((1u << 18) + 3)
#endif

static size_t all_configs(named_config *out)
{
    size_t n = 0;
#define ADD(label, algo, ...)                                                                  \
    do {                                                                                       \
        optcl_optimizer_config c = optcl_optimizer_config_default(algo);                       \
        __VA_ARGS__;                                                                           \
        assert_true(n < MAX_CONFIGS);                                                          \
        out[n].name = label;                                                                   \
        out[n++].c = c;                                                                        \
    } while (0)
    ADD("sgd", OPTCL_SGD, c.lr = 0.05);
    ADD("sgd weight_decay", OPTCL_SGD, c.lr = 0.05, c.weight_decay = 0.1);
    ADD("sgd maximize", OPTCL_SGD, c.maximize = 1);
    ADD("sgd momentum", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9);
    ADD("sgd dampening", OPTCL_SGD, c.sgd.momentum = 0.9, c.sgd.dampening = 0.3);
    ADD("sgd nesterov", OPTCL_SGD, c.sgd.momentum = 0.9, c.sgd.nesterov = 1, c.weight_decay = 0.01);
    ADD("sgd ema", OPTCL_SGD, c.lr = 0.1, c.sgd.momentum = 0.9, c.sgd.ema = 1);
    ADD("sgd momentum maximize", OPTCL_SGD, c.sgd.momentum = 0.5, c.maximize = 1, c.weight_decay = 0.1);
    ADD("adam", OPTCL_ADAM, (void)0);
    ADD("adam amsgrad", OPTCL_ADAM, c.adam.amsgrad = 1);
    ADD("adam weight_decay", OPTCL_ADAM, c.weight_decay = 0.1, c.lr = 0.01);
    ADD("adam maximize", OPTCL_ADAM, c.maximize = 1);
    ADD("adam betas eps", OPTCL_ADAM, c.adam.beta1 = 0.3, c.adam.beta2 = 0.9, c.adam.eps = 1e-6);
    ADD("adamw", OPTCL_ADAMW, (void)0);
    ADD("adamw amsgrad", OPTCL_ADAMW, c.adam.amsgrad = 1, c.weight_decay = 0.05, c.lr = 0.01);
    ADD("rmsprop", OPTCL_RMSPROP, (void)0);
    ADD("rmsprop centered", OPTCL_RMSPROP, c.rmsprop.centered = 1);
    ADD("rmsprop momentum", OPTCL_RMSPROP, c.rmsprop.momentum = 0.9);
    ADD("rmsprop centered momentum wd", OPTCL_RMSPROP, c.rmsprop.centered = 1,
        c.rmsprop.momentum = 0.5, c.weight_decay = 0.1);
    ADD("rmsprop maximize alpha", OPTCL_RMSPROP, c.maximize = 1, c.rmsprop.alpha = 0.3,
        c.rmsprop.centered = 1);
    ADD("rprop", OPTCL_RPROP, (void)0);
    ADD("rprop etas", OPTCL_RPROP, c.rprop.etaminus = 0.3, c.rprop.etaplus = 1.5,
        c.rprop.step_min = 1e-3, c.rprop.step_max = 0.05);
    ADD("rprop maximize", OPTCL_RPROP, c.maximize = 1);
    ADD("rprop classic", OPTCL_RPROP, c.rprop.variant = OPTCL_RPROP_CLASSIC);
    ADD("rprop classic maximize", OPTCL_RPROP, c.rprop.variant = OPTCL_RPROP_CLASSIC,
        c.maximize = 1);
    /* the gradient guard: the norm is reduced in the same order on both backends */
    ADD("sgd momentum clip", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9, c.max_norm = 1.0);
    ADD("adam clip skip", OPTCL_ADAM, c.max_norm = 0.5, c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("adamw amsgrad clip", OPTCL_ADAMW, c.adam.amsgrad = 1, c.max_norm = 20.0);
    ADD("rmsprop centered momentum clip", OPTCL_RMSPROP, c.rmsprop.centered = 1,
        c.rmsprop.momentum = 0.5, c.max_norm = 3.0);
    ADD("rprop classic skip", OPTCL_RPROP, c.rprop.variant = OPTCL_RPROP_CLASSIC,
        c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("lion", OPTCL_LION, c.lr = 0.01);
    ADD("lion betas weight_decay maximize", OPTCL_LION, c.lr = 0.01, c.lion.beta1 = 0.5,
        c.lion.beta2 = 0.9, c.weight_decay = 0.1, c.maximize = 1);
    ADD("lion clip bf16", OPTCL_LION, c.max_norm = 2.0, c.state_dtype = OPTCL_STATE_BF16);
    /* bfloat16 state: widened, updated in float32, rounded when stored, alike on both */
    ADD("sgd momentum bf16", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9,
        c.state_dtype = OPTCL_STATE_BF16);
    ADD("adam bf16", OPTCL_ADAM, c.state_dtype = OPTCL_STATE_BF16);
    ADD("adamw amsgrad clip skip bf16", OPTCL_ADAMW, c.adam.amsgrad = 1, c.max_norm = 5.0,
        c.nonfinite = OPTCL_NONFINITE_SKIP, c.state_dtype = OPTCL_STATE_BF16);
    ADD("rmsprop centered momentum bf16", OPTCL_RMSPROP, c.rmsprop.centered = 1,
        c.rmsprop.momentum = 0.5, c.state_dtype = OPTCL_STATE_BF16);
    ADD("rprop bf16", OPTCL_RPROP, c.state_dtype = OPTCL_STATE_BF16);
    ADD("rprop classic maximize bf16", OPTCL_RPROP, c.rprop.variant = OPTCL_RPROP_CLASSIC,
        c.maximize = 1, c.state_dtype = OPTCL_STATE_BF16);
    /* 8-bit state: float32 below 4096 elements, block-wise codes above */
    ADD("sgd momentum int8", OPTCL_SGD, c.lr = 0.05, c.sgd.momentum = 0.9,
        c.state_dtype = OPTCL_STATE_INT8);
    ADD("adam int8", OPTCL_ADAM, c.state_dtype = OPTCL_STATE_INT8);
    ADD("adamw amsgrad clip skip int8", OPTCL_ADAMW, c.adam.amsgrad = 1, c.max_norm = 5.0,
        c.nonfinite = OPTCL_NONFINITE_SKIP, c.state_dtype = OPTCL_STATE_INT8);
    ADD("rmsprop centered momentum int8", OPTCL_RMSPROP, c.rmsprop.centered = 1,
        c.rmsprop.momentum = 0.5, c.state_dtype = OPTCL_STATE_INT8);
    ADD("lion int8", OPTCL_LION, c.lr = 0.01, c.state_dtype = OPTCL_STATE_INT8);
    /* the optimizers of issue 15, each option on */
    ADD("adam eps_root", OPTCL_ADAM, c.adam.eps_root = 1e-3, c.adam.eps = 0.0);
    ADD("adamw eps_root amsgrad bf16", OPTCL_ADAMW, c.adam.eps_root = 1e-2, c.adam.amsgrad = 1,
        c.state_dtype = OPTCL_STATE_BF16);
    ADD("adagrad", OPTCL_ADAGRAD, (void)0);
    ADD("adagrad lr_decay initial wd maximize clip", OPTCL_ADAGRAD, c.lr = 0.1,
        c.adagrad.lr_decay = 0.05, c.adagrad.initial_accumulator_value = 0.5,
        c.adagrad.eps = 1e-3, c.weight_decay = 0.1, c.maximize = 1, c.max_norm = 2.0);
    ADD("adagrad int8", OPTCL_ADAGRAD, c.adagrad.initial_accumulator_value = 0.1,
        c.state_dtype = OPTCL_STATE_INT8);
    ADD("adadelta", OPTCL_ADADELTA, (void)0);
    ADD("adadelta rho eps wd maximize bf16", OPTCL_ADADELTA, c.adadelta.rho = 0.5,
        c.adadelta.eps = 1e-4, c.weight_decay = 0.1, c.maximize = 1,
        c.state_dtype = OPTCL_STATE_BF16);
    ADD("adadelta int8 skip", OPTCL_ADADELTA, c.state_dtype = OPTCL_STATE_INT8,
        c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("adamax", OPTCL_ADAMAX, (void)0);
    ADD("adamax betas eps wd maximize", OPTCL_ADAMAX, c.lr = 0.02, c.adamax.beta1 = 0.4,
        c.adamax.beta2 = 0.95, c.adamax.eps = 1e-3, c.weight_decay = 0.1, c.maximize = 1);
    ADD("adamax int8", OPTCL_ADAMAX, c.state_dtype = OPTCL_STATE_INT8);
    ADD("nadam", OPTCL_NADAM, (void)0);
    ADD("nadam momentum_decay wd maximize", OPTCL_NADAM, c.nadam.momentum_decay = 0.05,
        c.nadam.beta1 = 0.95, c.weight_decay = 0.1, c.maximize = 1);
    ADD("nadam decoupled clip bf16", OPTCL_NADAM, c.nadam.decoupled_weight_decay = 1,
        c.weight_decay = 0.1, c.max_norm = 1.0, c.state_dtype = OPTCL_STATE_BF16);
    ADD("nadam int8", OPTCL_NADAM, c.state_dtype = OPTCL_STATE_INT8);
    ADD("radam", OPTCL_RADAM, (void)0);
    ADD("radam beta2 eps wd maximize", OPTCL_RADAM, c.radam.beta2 = 0.9, c.radam.eps = 1e-3,
        c.weight_decay = 0.1, c.maximize = 1);
    ADD("radam never rectified", OPTCL_RADAM, c.radam.beta2 = 0.6);
    ADD("radam decoupled skip int8", OPTCL_RADAM, c.radam.decoupled_weight_decay = 1,
        c.weight_decay = 0.1, c.nonfinite = OPTCL_NONFINITE_SKIP,
        c.state_dtype = OPTCL_STATE_INT8);
    ADD("asgd", OPTCL_ASGD, (void)0);
    ADD("asgd averaging wd maximize", OPTCL_ASGD, c.lr = 0.05, c.asgd.lambd = 0.1,
        c.asgd.alpha = 0.5, c.asgd.t0 = 1.0, c.weight_decay = 0.1, c.maximize = 1);
    ADD("asgd averaging clip bf16", OPTCL_ASGD, c.asgd.t0 = 0.0, c.max_norm = 1.0,
        c.state_dtype = OPTCL_STATE_BF16);
    ADD("adamw_schedulefree", OPTCL_ADAMW_SCHEDULEFREE, (void)0);
    ADD("adamw_schedulefree all options skip", OPTCL_ADAMW_SCHEDULEFREE, c.lr = 0.02,
        c.adamw_schedulefree.beta1 = 0.95, c.adamw_schedulefree.beta2 = 0.9,
        c.adamw_schedulefree.eps = 1e-3, c.adamw_schedulefree.warmup_steps = 5,
        c.adamw_schedulefree.r = 0.25, c.adamw_schedulefree.weight_lr_power = 1,
        c.weight_decay = 0.05, c.maximize = 1, c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("sgd_schedulefree clip bf16", OPTCL_SGD_SCHEDULEFREE, c.lr = 0.05, c.max_norm = 1.0,
        c.sgd_schedulefree.momentum = 0.5, c.sgd_schedulefree.warmup_steps = 10,
        c.weight_decay = 0.1, c.state_dtype = OPTCL_STATE_BF16);
    /* the rules that look at whole tensors (issue 16): per-tensor sums in the same order */
    ADD("lamb", OPTCL_LAMB, c.lr = 0.01);
    ADD("lamb betas eps_root wd maximize", OPTCL_LAMB, c.lr = 0.01, c.lamb.beta1 = 0.5,
        c.lamb.beta2 = 0.9, c.lamb.eps = 1e-3, c.lamb.eps_root = 1e-4, c.weight_decay = 0.1,
        c.maximize = 1);
    ADD("lamb clip skip bf16", OPTCL_LAMB, c.lr = 0.01, c.max_norm = 1.0,
        c.nonfinite = OPTCL_NONFINITE_SKIP, c.state_dtype = OPTCL_STATE_BF16);
    ADD("lamb lookahead exponential", OPTCL_LAMB, c.lr = 0.01, c.lookahead.k = 3,
        c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL), c.schedule.gamma = 0.9);
    ADD("lars", OPTCL_LARS, (void)0);
    ADD("lars nesterov tc eps wd maximize", OPTCL_LARS, c.lr = 0.5, c.lars.nesterov = 1,
        c.lars.momentum = 0.8, c.lars.trust_coefficient = 0.01, c.lars.eps = 1e-3,
        c.weight_decay = 0.1, c.maximize = 1);
    ADD("lars clip bf16", OPTCL_LARS, c.max_norm = 2.0, c.state_dtype = OPTCL_STATE_BF16);
    ADD("lars momentum 0 lookahead skip", OPTCL_LARS, c.lars.momentum = 0.0, c.lookahead.k = 2,
        c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("adafactor", OPTCL_ADAFACTOR, (void)0);
    ADD("adafactor all options", OPTCL_ADAFACTOR, c.lr = 0.2, c.adafactor.beta2_decay = -0.5,
        c.adafactor.eps1 = 1e-3, c.adafactor.eps2 = 0.1, c.adafactor.d = 1.5,
        c.weight_decay = 0.1, c.maximize = 1);
    ADD("adafactor eps1 clip skip", OPTCL_ADAFACTOR, c.adafactor.eps1 = 1e-6,
        c.max_norm = 1.0, c.nonfinite = OPTCL_NONFINITE_SKIP);
    ADD("adafactor lookahead exponential", OPTCL_ADAFACTOR, c.lookahead.k = 3,
        c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_EXPONENTIAL), c.schedule.gamma = 0.9);
    /* Muon's products: CLBlast's order of addition against a plain C GEMM, within tolerance */
    ADD("muon", OPTCL_MUON, c.lr = 0.02);
    ADD("muon nesterov 0 ns wd maximize spectral", OPTCL_MUON, c.lr = 0.02, c.muon.nesterov = 0,
        c.muon.momentum = 0.8, c.muon.ns_a = 2.0, c.muon.ns_b = -1.5, c.muon.ns_c = 0.5,
        c.muon.ns_steps = 3, c.weight_decay = 0.2, c.maximize = 1,
        c.muon.adjust_lr_fn = OPTCL_MUON_SPECTRAL_UNCLAMPED);
    ADD("muon clip skip bf16 state lookahead", OPTCL_MUON, c.lr = 0.02, c.max_norm = 1.0,
        c.nonfinite = OPTCL_NONFINITE_SKIP, c.state_dtype = OPTCL_STATE_BF16, c.lookahead.k = 2,
        c.muon.adjust_lr_fn = OPTCL_MUON_MATCH_RMS_ADAMW);
#undef ADD
    return n;
}

/* One backend's run; returns params then each state, packed (numel floats each). */
typedef struct run_result {
    float *values[6];
    size_t count;    /* buffers in values */
    char note[1024]; /* tu_exactness_note: why the device may not give the reference's bits */
} run_result;

static void make_gradient(float *g, size_t numel, const float *pool, int step)
{
    size_t stride = 7 + 2 * (size_t)step, start = (size_t)step * 131;
    for (size_t i = 0; i < numel; i++)
        g[i] = pool[(start + i * stride) % BASE] * (1.0f + 0.02f * (float)step);
}

static run_result run(optcl_backend backend, const optcl_tensor_spec *specs, size_t ntensors,
                      const optcl_optimizer_config *config, const float *p0, const float *pool)
{
    optcl_context *ctx = tu_context(backend);
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    optcl_tensor_spec matrices[8]; /* Muon takes 2-D tensors only: vectors become 1×n */
    assert_true(ntensors <= 8);
    tu_as_matrices(specs, ntensors, matrices);
    if (config->algorithm == OPTCL_MUON)
        specs = matrices;
    TU_OK(optcl_params_create(ctx, specs, ntensors, &params), optcl_context_message(ctx));
    size_t numel = optcl_params_numel(params);
    float *g = malloc(numel * sizeof *g);
    assert_non_null(g);
    TU_OK(optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, numel), "write p0");
    TU_OK(optcl_optimizer_create(params, config, &opt), optcl_context_message(ctx));
    for (int t = 0; t < STEPS; t++) {
        make_gradient(g, numel, pool, t);
        TU_OK(optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, numel), "write g");
        TU_OK(optcl_optimizer_step(opt, 0, NULL, NULL), optcl_optimizer_message(opt));
    }
    run_result r = {{NULL}, 1 + optcl_optimizer_state_count(opt), ""};
    snprintf(r.note, sizeof r.note, "%s", tu_exactness_note(ctx));
    assert_true(r.count <= sizeof r.values / sizeof r.values[0]);
    for (size_t k = 0; k < r.count; k++) {
        r.values[k] = calloc(numel, sizeof(float)); /* Adafactor's row and column means: fewer */
        assert_non_null(r.values[k]);
        if (k == 0)
            TU_OK(optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, r.values[0], numel),
                  optcl_params_message(params));
        else
            TU_OK(optcl_optimizer_read_state(opt, optcl_optimizer_state_name(opt, k - 1),
                                             OPTCL_ALL, r.values[k],
                                             tu_state_values(params, opt, k - 1)),
                  optcl_optimizer_message(opt));
    }
    free(g);
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    return r;
}

static void compare_case(const char *label, const optcl_tensor_spec *specs, size_t ntensors,
                         size_t numel, const optcl_optimizer_config *config, const float *pool,
                         size_t *differing)
{
    if (tu_muon_refused(OPTCL_BACKEND_OPENCL, config->algorithm))
        return; /* a build without CLBlast: test_tensorwise checks the refusal */
    float *p0 = malloc(numel * sizeof *p0);
    assert_non_null(p0);
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ numel;
    tu_fill_random(p0, numel, &seed, -1.0f, 1.0f);
    run_result ref = run(OPTCL_BACKEND_REFERENCE, specs, ntensors, config, p0, pool);
    run_result dev = run(OPTCL_BACKEND_OPENCL, specs, ntensors, config, p0, pool);
    assert_int_equal(ref.count, dev.count);
    for (size_t k = 0; k < ref.count; k++) {
        double worst = 0.0;
        size_t bad = tu_first_mismatch(dev.values[k], ref.values[k], numel, ATOL, RTOL, &worst);
        if (bad != (size_t)-1)
            fail_msg("%s, n=%zu, buffer %zu: element %zu is %.9g on OpenCL, %.9g on the "
                     "reference (worst |diff| %.3g)%s%s",
                     label, numel, k, bad, (double)dev.values[k][bad], (double)ref.values[k][bad],
                     worst, *dev.note ? "; " : "", dev.note);
        for (size_t i = 0; i < numel; i++)
            *differing += memcmp(&dev.values[k][i], &ref.values[k][i], sizeof(float)) != 0;
        free(ref.values[k]);
        free(dev.values[k]);
    }
    free(p0);
}

static const float *gradient_pool(void)
{
    static float pool[BASE];
    uint64_t seed = 12345;
    tu_fill_random(pool, BASE, &seed, -1.0f, 1.0f);
    for (size_t i = 0; i < BASE; i += 17)
        pool[i] = 0.0f; /* exact zeros: Rprop's product-0 branch, zero updates */
    return pool;
}

static void single_tensor_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 7, 1031, LARGE};
    named_config configs[MAX_CONFIGS];
    size_t nc = all_configs(configs);
    const float *pool = gradient_pool();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t differing = 0;
        optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {(int64_t)sizes[s]}};
        for (size_t k = 0; k < nc; k++) {
            /* Muon's 1×n matrix: CLBlast pads a 1-row product to whole tiles (seconds a step
             * at n = 2^20); the small sizes and the groups check it */
            if (configs[k].c.algorithm == OPTCL_MUON && sizes[s] == LARGE)
                continue;
            compare_case(configs[k].name, &spec, 1, sizes[s], &configs[k].c, pool, &differing);
        }
        print_message("n=%zu: %zu configurations agree; %zu elements not bit-identical\n",
                      sizes[s], nc, differing);
    }
}

/* Odd sizes at odd offsets in two groups with their own lr and weight decay. */
static void groups_and_offsets(void **state)
{
    (void)state;
    const optcl_tensor_spec specs[] = {
        {.name = "layer1.weight", .ndim = 2, .shape = {37, 41}, .group = 0}, /* > 1024 */
        {.name = "layer1.bias", .ndim = 1, .shape = {13}, .group = 1},
        {.name = "layer2.weight", .ndim = 2, .shape = {7, 13}, .group = 0},
        {.name = "scale", .ndim = 0, .group = 1},
        {.name = "layer2.bias", .ndim = 1, .shape = {7}, .group = 1},
    };
    const size_t numel = 37 * 41 + 13 + 7 * 13 + 1 + 7;
    const optcl_group_config groups[2] = {{-1.0, -1.0, 0}, {0.003, 0.0, 0}};
    /* LAMB and LARS: the biases' group is left out of the trust ratio, as users do */
    const optcl_group_config excluded[2] = {{-1.0, -1.0, 0}, {0.003, 0.0, 1}};
    named_config configs[MAX_CONFIGS];
    size_t nc = all_configs(configs);
    const float *pool = gradient_pool();
    size_t differing = 0;
    for (size_t k = 0; k < nc; k++) {
        optcl_algorithm a = configs[k].c.algorithm;
        configs[k].c.groups = a == OPTCL_LAMB || a == OPTCL_LARS ? excluded : groups;
        configs[k].c.group_count = 2;
        compare_case(configs[k].name, specs, 5, numel, &configs[k].c, pool, &differing);
    }
    print_message("groups: %zu configurations agree; %zu elements not bit-identical\n", nc,
                  differing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_and_offsets),
        cmocka_unit_test(single_tensor_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
