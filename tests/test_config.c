/* test_config.c — optimizer configurations: PyTorch's defaults, every invalid hyperparameter
 * refused at create time with a message naming it (and nothing created), and a kernel that
 * fails to build reporting its build log. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void defaults_are_pytorchs(void **state)
{
    (void)state;
    optcl_optimizer_config sgd = optcl_optimizer_config_default(OPTCL_SGD);
    assert_true(sgd.lr == 1e-3 && sgd.weight_decay == 0.0 && sgd.maximize == 0);
    assert_true(sgd.sgd.momentum == 0.0 && sgd.sgd.dampening == 0.0 && !sgd.sgd.nesterov);
    assert_false(sgd.sgd.ema);
    optcl_optimizer_config adam = optcl_optimizer_config_default(OPTCL_ADAM);
    assert_true(adam.lr == 1e-3 && adam.weight_decay == 0.0);
    assert_true(adam.adam.beta1 == 0.9 && adam.adam.beta2 == 0.999 && adam.adam.eps == 1e-8);
    assert_false(adam.adam.amsgrad);
    optcl_optimizer_config adamw = optcl_optimizer_config_default(OPTCL_ADAMW);
    assert_true(adamw.lr == 1e-3 && adamw.weight_decay == 1e-2);
    optcl_optimizer_config rms = optcl_optimizer_config_default(OPTCL_RMSPROP);
    assert_true(rms.lr == 1e-2 && rms.rmsprop.alpha == 0.99 && rms.rmsprop.eps == 1e-8);
    assert_true(rms.rmsprop.momentum == 0.0 && !rms.rmsprop.centered);
    optcl_optimizer_config rprop = optcl_optimizer_config_default(OPTCL_RPROP);
    assert_true(rprop.lr == 1e-2 && rprop.rprop.etaminus == 0.5 && rprop.rprop.etaplus == 1.2);
    assert_true(rprop.rprop.step_min == 1e-6 && rprop.rprop.step_max == 50.0);
    assert_int_equal(rprop.rprop.variant, OPTCL_RPROP_PYTORCH);
    optcl_optimizer_config lion = optcl_optimizer_config_default(OPTCL_LION);
    assert_true(lion.lr == 1e-4 && lion.weight_decay == 0.0);
    assert_true(lion.lion.beta1 == 0.9 && lion.lion.beta2 == 0.99);
    assert_true(adam.adam.eps_root == 0.0 && adamw.adam.eps_root == 0.0);
    optcl_optimizer_config adagrad = optcl_optimizer_config_default(OPTCL_ADAGRAD);
    assert_true(adagrad.lr == 1e-2 && adagrad.weight_decay == 0.0);
    assert_true(adagrad.adagrad.lr_decay == 0.0 && adagrad.adagrad.eps == 1e-10);
    assert_true(adagrad.adagrad.initial_accumulator_value == 0.0);
    optcl_optimizer_config adadelta = optcl_optimizer_config_default(OPTCL_ADADELTA);
    assert_true(adadelta.lr == 1.0 && adadelta.adadelta.rho == 0.9);
    assert_true(adadelta.adadelta.eps == 1e-6);
    optcl_optimizer_config adamax = optcl_optimizer_config_default(OPTCL_ADAMAX);
    assert_true(adamax.lr == 2e-3 && adamax.adamax.beta1 == 0.9 && adamax.adamax.beta2 == 0.999);
    assert_true(adamax.adamax.eps == 1e-8);
    optcl_optimizer_config nadam = optcl_optimizer_config_default(OPTCL_NADAM);
    assert_true(nadam.lr == 2e-3 && nadam.nadam.beta1 == 0.9 && nadam.nadam.beta2 == 0.999);
    assert_true(nadam.nadam.eps == 1e-8 && nadam.nadam.momentum_decay == 4e-3);
    assert_false(nadam.nadam.decoupled_weight_decay);
    optcl_optimizer_config radam = optcl_optimizer_config_default(OPTCL_RADAM);
    assert_true(radam.lr == 1e-3 && radam.radam.beta1 == 0.9 && radam.radam.beta2 == 0.999);
    assert_true(radam.radam.eps == 1e-8 && !radam.radam.decoupled_weight_decay);
    optcl_optimizer_config asgd = optcl_optimizer_config_default(OPTCL_ASGD);
    assert_true(asgd.lr == 1e-2 && asgd.asgd.lambd == 1e-4 && asgd.asgd.alpha == 0.75);
    assert_true(asgd.asgd.t0 == 1e6);
}

/* The options by name: each one's description agrees with the struct (its default is what
 * optcl_optimizer_config_default sets, set and get reach the same field), unknown keys and
 * values a FLAG or CHOICE cannot hold are refused and change nothing. */
static void options_by_name(void **state)
{
    (void)state;
    assert_int_equal(optcl_algorithm_option_count(OPTCL_ALGORITHM_COUNT), 0);
    assert_null(optcl_algorithm_option(OPTCL_ALGORITHM_COUNT, 0));
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        optcl_algorithm algo = (optcl_algorithm)a;
        size_t count = optcl_algorithm_option_count(algo);
        assert_true(count > 0);
        assert_null(optcl_algorithm_option(algo, count));
        for (size_t i = 0; i < count; i++) {
            const optcl_option_info *o = optcl_algorithm_option(algo, i);
            optcl_optimizer_config c = optcl_optimizer_config_default(algo);
            double v = -1.0;
            TU_OK(optcl_optimizer_config_get_option(&c, o->key, &v), o->key);
            if (v != o->default_value)
                fail_msg("%s %s: default %g, description %g", optcl_algorithm_name(algo), o->key,
                         v, o->default_value);
            assert_non_null(strchr(o->field, '.'));
            assert_non_null(o->help);
            assert_true((o->type == OPTCL_OPTION_CHOICE) == (o->choices != NULL));
            double next = o->type == OPTCL_OPTION_REAL ? v + 0.25 : v == 0.0 ? 1.0 : 0.0;
            TU_OK(optcl_optimizer_config_set_option(&c, o->key, next), o->key);
            TU_OK(optcl_optimizer_config_get_option(&c, o->key, &v), o->key);
            assert_true(v == next);
            optcl_optimizer_config before = c;
            if (o->type != OPTCL_OPTION_REAL) {
                assert_int_equal(optcl_optimizer_config_set_option(&c, o->key, 0.5),
                                 OPTCL_ERROR_INVALID_ARGUMENT);
                assert_int_equal(optcl_optimizer_config_set_option(&c, o->key, 7.0),
                                 OPTCL_ERROR_INVALID_ARGUMENT);
            }
            assert_int_equal(optcl_optimizer_config_set_option(&c, "no_such_key", 1.0),
                             OPTCL_ERROR_INVALID_ARGUMENT);
            assert_memory_equal(&c, &before, sizeof c);
        }
    }
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    double v = 0.0;
    /* another algorithm's key */
    assert_int_equal(optcl_optimizer_config_set_option(&c, "beta1", 0.5),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_config_get_option(&c, "beta1", &v),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(optcl_optimizer_config_set_option(NULL, "momentum", 0.5),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_config_set_option(&c, NULL, 0.5), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_config_get_option(&c, "momentum", NULL),
                     OPTCL_ERROR_NULL_POINTER);
    TU_OK(optcl_optimizer_config_set_option(&c, "momentum", 0.9), "momentum");
    assert_true(c.sgd.momentum == 0.9);
    c = optcl_optimizer_config_default(OPTCL_RPROP);
    TU_OK(optcl_optimizer_config_set_option(&c, "variant", OPTCL_RPROP_CLASSIC), "variant");
    assert_int_equal(c.rprop.variant, OPTCL_RPROP_CLASSIC);
}

/* The value text of the field called name in c ("" and a failure when there is none). */
static const char *field_text(const optcl_optimizer_config *c, const char *name, char *out,
                              size_t size)
{
    for (size_t i = 0; i < optcl_optimizer_config_field_count(c); i++) {
        const char *n = NULL;
        TU_OK(optcl_optimizer_config_field(c, i, &n, out, size), "field");
        if (!strcmp(n, name))
            return out;
    }
    fail_msg("no field %s", name);
    return "";
}

/* Every field by name: the shared ones and each algorithm's own options, once each, as exact
 * text that changes with the value; bad arguments refused and nothing written. */
static void config_fields_by_name(void **state)
{
    (void)state;
    static const char *const shared[] = {"algorithm",
                                         "lr",
                                         "weight_decay",
                                         "schedule.t_max",
                                         "plateau.factor",
                                         "lookahead.alpha",
                                         "lookahead.alpha_schedule.eta_min",
                                         "max_norm",
                                         "seed",
                                         "loss_scale.growth_interval"};
    char value[OPTCL_CONFIG_VALUE_MAX];
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        optcl_optimizer_config c = optcl_optimizer_config_default((optcl_algorithm)a);
        size_t count = optcl_optimizer_config_field_count(&c);
        assert_int_equal(count, optcl_optimizer_config_field_count(
                                    &(optcl_optimizer_config){.algorithm = c.algorithm}));
        const char *names[128];
        assert_true(count > sizeof shared / sizeof shared[0] && count <= 128);
        for (size_t i = 0; i < count; i++) {
            TU_OK(optcl_optimizer_config_field(&c, i, &names[i], value, sizeof value), "field");
            for (size_t j = 0; j < i; j++)
                if (!strcmp(names[i], names[j]))
                    fail_msg("%s twice", names[i]);
        }
        for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++)
            field_text(&c, shared[k], value, sizeof value);
        for (size_t k = 0; k < optcl_algorithm_option_count(c.algorithm); k++)
            field_text(&c, optcl_algorithm_option(c.algorithm, k)->field, value, sizeof value);
    }
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    assert_string_equal(field_text(&c, "adam.beta1", value, sizeof value), "0.90000000000000002");
    c.adam.beta1 = 0.5;
    assert_string_equal(field_text(&c, "adam.beta1", value, sizeof value), "0.5");
    c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_MULTISTEP);
    c.schedule.milestone_count = 3;
    c.schedule.milestones[0] = 5;
    c.schedule.milestones[1] = 20;
    c.schedule.milestones[2] = 33;
    assert_string_equal(field_text(&c, "schedule.milestones", value, sizeof value), "5,20,33");
    c.schedule.t_max = -7;
    assert_string_equal(field_text(&c, "schedule.t_max", value, sizeof value), "-7");
    c.seed = UINT64_MAX; /* unsigned: every key as itself, as a checkpoint writes it */
    assert_string_equal(field_text(&c, "seed", value, sizeof value), "18446744073709551615");

    /* refused: nothing written */
    size_t count = optcl_optimizer_config_field_count(&c);
    const char *name = "unchanged";
    strcpy(value, "unchanged");
    assert_int_equal(optcl_optimizer_config_field_count(NULL), 0);
    assert_int_equal(optcl_optimizer_config_field(NULL, 0, &name, value, sizeof value),
                     OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_config_field(&c, 0, &name, NULL, 8), OPTCL_ERROR_NULL_POINTER);
    assert_int_equal(optcl_optimizer_config_field(&c, count, &name, value, sizeof value),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    optcl_optimizer_config unknown = c;
    unknown.algorithm = OPTCL_ALGORITHM_COUNT;
    assert_int_equal(optcl_optimizer_config_field_count(&unknown), 0);
    assert_int_equal(optcl_optimizer_config_field(&unknown, 0, &name, value, sizeof value),
                     OPTCL_ERROR_INVALID_ARGUMENT);
    size_t lr_index = 1; /* "lr", the table's second field */
    TU_OK(optcl_optimizer_config_field(&c, lr_index, &name, value, sizeof value), "lr");
    assert_string_equal(name, "lr");
    size_t need = strlen(value) + 1;
    strcpy(value, "unchanged");
    name = "unchanged";
    assert_int_equal(optcl_optimizer_config_field(&c, lr_index, &name, value, need - 1),
                     OPTCL_ERROR_SIZE_MISMATCH);
    assert_string_equal(value, "unchanged");
    assert_string_equal(name, "unchanged");
    TU_OK(optcl_optimizer_config_field(&c, lr_index, NULL, value, need), "lr, just fits");
    assert_string_equal(value, "0.001");
}

/* Every REAL option just outside its range, NaN and infinity are refused by name, on every
 * algorithm, from the descriptions alone. */
static void every_range_is_checked(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {5}};
    optcl_params *params = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &params), optcl_context_message(ctx));
    size_t refused = 0;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        optcl_algorithm algo = (optcl_algorithm)a;
        for (size_t i = 0; i < optcl_algorithm_option_count(algo); i++) {
            const optcl_option_info *o = optcl_algorithm_option(algo, i);
            if (o->type != OPTCL_OPTION_REAL)
                continue;
            double outside[4] = {0.0 / 0.0, 1.0 / 0.0, o->min - 0.5, o->max + 0.5};
            if (o->min_open)
                outside[2] = o->min;
            if (o->max_open)
                outside[3] = o->max;
            for (int k = 0; k < 4; k++) {
                if (k >= 2 && !isfinite(outside[k]))
                    continue; /* no bound on that side */
                optcl_optimizer_config c = optcl_optimizer_config_default(algo);
                TU_OK(optcl_optimizer_config_set_option(&c, o->key, outside[k]), o->key);
                optcl_optimizer *opt = NULL;
                optcl_status st = optcl_optimizer_create(params, &c, &opt);
                if (st != OPTCL_ERROR_INVALID_ARGUMENT)
                    fail_msg("%s %s = %g: %s", optcl_algorithm_name(algo), o->key, outside[k],
                             optcl_status_name(st));
                assert_null(opt);
                char named[64];
                snprintf(named, sizeof named, "invalid %s:", o->key);
                if (!strstr(optcl_context_message(ctx), named))
                    fail_msg("'%s' does not name %s", optcl_context_message(ctx), o->key);
                refused++;
            }
        }
    }
    print_message("%zu out-of-range values refused by name\n", refused);
    assert_int_equal(optcl_params_destroy(params), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

typedef struct bad_case {
    optcl_optimizer_config c;
    const char *field; /* the message must name it */
} bad_case;

static size_t bad_cases(bad_case *out)
{
    size_t n = 0;
#define BAD(algo, fld, ...)                                                                    \
    do {                                                                                       \
        optcl_optimizer_config c = optcl_optimizer_config_default(algo);                       \
        __VA_ARGS__;                                                                           \
        out[n].c = c;                                                                          \
        out[n++].field = fld;                                                                  \
    } while (0)
    BAD(OPTCL_SGD, "lr", c.lr = -0.1);
    BAD(OPTCL_SGD, "lr", c.lr = 1.0 / 0.0);
    BAD(OPTCL_ADAM, "weight_decay", c.weight_decay = -1.0);
    BAD(OPTCL_ADAM, "maximize", c.maximize = 2);
    BAD(OPTCL_SGD, "momentum", c.sgd.momentum = -0.5);
    BAD(OPTCL_SGD, "momentum", c.sgd.nesterov = 1);
    BAD(OPTCL_SGD, "momentum", c.sgd.nesterov = 1, c.sgd.momentum = 0.9, c.sgd.dampening = 0.1);
    BAD(OPTCL_SGD, "momentum", c.sgd.ema = 1, c.sgd.momentum = 1.0);
    BAD(OPTCL_SGD, "dampening", c.sgd.ema = 1, c.sgd.momentum = 0.9, c.sgd.dampening = 0.1);
    BAD(OPTCL_SGD, "nesterov", c.sgd.nesterov = 3);
    BAD(OPTCL_ADAM, "beta1", c.adam.beta1 = 1.0);
    BAD(OPTCL_ADAM, "beta1", c.adam.beta1 = -0.1);
    BAD(OPTCL_ADAMW, "beta2", c.adam.beta2 = 1.5);
    BAD(OPTCL_LION, "beta1", c.lion.beta1 = 1.5);
    BAD(OPTCL_LION, "beta2", c.lion.beta2 = -0.5);
    BAD(OPTCL_LION, "weight_decay", c.weight_decay = -1.0);
    BAD(OPTCL_ADAM, "eps", c.adam.eps = -1e-8);
    BAD(OPTCL_ADAM, "amsgrad", c.adam.amsgrad = -1);
    BAD(OPTCL_RMSPROP, "alpha", c.rmsprop.alpha = 1.5);
    BAD(OPTCL_RMSPROP, "eps", c.rmsprop.eps = -1.0);
    BAD(OPTCL_RMSPROP, "momentum", c.rmsprop.momentum = -0.1);
    BAD(OPTCL_RMSPROP, "centered", c.rmsprop.centered = 5);
    BAD(OPTCL_RPROP, "etaminus", c.rprop.etaminus = 1.0);
    BAD(OPTCL_RPROP, "etaminus", c.rprop.etaminus = 0.0);
    BAD(OPTCL_RPROP, "etaplus", c.rprop.etaplus = 1.0);
    BAD(OPTCL_RPROP, "etaplus", c.rprop.etaplus = 0.5);
    BAD(OPTCL_RPROP, "step_min", c.rprop.step_min = -1.0);
    BAD(OPTCL_RPROP, "step_max", c.rprop.step_max = 1e-7);
    BAD(OPTCL_RPROP, "weight_decay", c.weight_decay = 0.1);
    BAD(OPTCL_RPROP, "variant", c.rprop.variant = (optcl_rprop_variant)7);
    BAD(OPTCL_ADAM, "eps_root", c.adam.eps_root = -1e-8);
    BAD(OPTCL_ADAGRAD, "lr_decay", c.adagrad.lr_decay = -0.1);
    BAD(OPTCL_ADAGRAD, "initial_accumulator_value", c.adagrad.initial_accumulator_value = -1);
    BAD(OPTCL_ADAGRAD, "eps", c.adagrad.eps = -1e-10);
    BAD(OPTCL_ADADELTA, "rho", c.adadelta.rho = 1.5);
    BAD(OPTCL_ADADELTA, "eps", c.adadelta.eps = -1.0);
    BAD(OPTCL_ADAMAX, "beta1", c.adamax.beta1 = 1.0);
    BAD(OPTCL_ADAMAX, "beta2", c.adamax.beta2 = -0.5);
    BAD(OPTCL_NADAM, "momentum_decay", c.nadam.momentum_decay = -1.0);
    BAD(OPTCL_NADAM, "decoupled_weight_decay", c.nadam.decoupled_weight_decay = 2);
    BAD(OPTCL_RADAM, "beta2", c.radam.beta2 = 1.0);
    BAD(OPTCL_RADAM, "decoupled_weight_decay", c.radam.decoupled_weight_decay = -1);
    BAD(OPTCL_ASGD, "lambd", c.asgd.lambd = -1.0);
    BAD(OPTCL_ASGD, "t0", c.asgd.t0 = -1.0);
    BAD(OPTCL_ASGD, "state_dtype", c.state_dtype = OPTCL_STATE_INT8);
    BAD(OPTCL_SGD, "algorithm", c.algorithm = (optcl_algorithm)99);
    BAD(OPTCL_SGD, "group_count", c.group_count = OPTCL_MAX_GROUPS + 1);
    BAD(OPTCL_SGD, "groups", c.group_count = 2, c.groups = NULL);
    /* a group's trust-ratio switch: 0 or 1, and only where there is a trust ratio */
    static const optcl_group_config excluded[1] = {{-1.0, -1.0, 1}};
    static const optcl_group_config two[1] = {{-1.0, -1.0, 2}};
    BAD(OPTCL_ADAM, "exclude_from_trust_ratio", c.group_count = 1, c.groups = excluded);
    BAD(OPTCL_LAMB, "exclude_from_trust_ratio", c.group_count = 1, c.groups = two);
    BAD(OPTCL_LAMB, "eps", c.lamb.eps = 0.0);
    BAD(OPTCL_LAMB, "beta2", c.lamb.beta2 = 1.0);
    BAD(OPTCL_LAMB, "eps_root", c.lamb.eps_root = -1.0);
    BAD(OPTCL_LAMB, "state_dtype", c.state_dtype = OPTCL_STATE_INT8);
    BAD(OPTCL_LARS, "trust_coefficient", c.lars.trust_coefficient = 0.0);
    BAD(OPTCL_LARS, "momentum", c.lars.momentum = -0.5);
    BAD(OPTCL_LARS, "nesterov", c.lars.nesterov = 3);
    BAD(OPTCL_LARS, "state_dtype", c.state_dtype = OPTCL_STATE_INT8);
#undef BAD
    return n;
}

static void invalid_values_are_refused(optcl_backend backend)
{
    optcl_context *ctx = tu_context(backend);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {5}};
    optcl_params *params = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &params), optcl_context_message(ctx));
    bad_case cases[96];
    size_t n = bad_cases(cases);
    for (size_t i = 0; i < n; i++) {
        optcl_optimizer *opt = (optcl_optimizer *)&n; /* must be reset to NULL */
        optcl_status st = optcl_optimizer_create(params, &cases[i].c, &opt);
        if (st == OPTCL_SUCCESS)
            fail_msg("case %zu (%s) was accepted", i, cases[i].field);
        assert_true(st == OPTCL_ERROR_INVALID_ARGUMENT || st == OPTCL_ERROR_NULL_POINTER);
        assert_null(opt);
        if (!strstr(optcl_context_message(ctx), cases[i].field))
            fail_msg("case %zu: message '%s' does not name %s", i, optcl_context_message(ctx),
                     cases[i].field);
    }
    /* Nothing was left attached to the parameter set: it can be destroyed at once. */
    assert_int_equal(optcl_params_destroy(params), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(ctx), OPTCL_SUCCESS);
}

static void invalid_reference(void **state)
{
    (void)state;
    invalid_values_are_refused(OPTCL_BACKEND_REFERENCE);
}

static void invalid_opencl(void **state)
{
    (void)state;
    invalid_values_are_refused(OPTCL_BACKEND_OPENCL);
}

/* Boundary values PyTorch accepts are accepted. */
static void edge_values_are_accepted(void **state)
{
    (void)state;
    optcl_context *ctx = tu_context(OPTCL_BACKEND_REFERENCE);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {5}};
    optcl_params *params = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &params), optcl_context_message(ctx));
    optcl_optimizer_config ok[6];
    ok[0] = optcl_optimizer_config_default(OPTCL_SGD);
    ok[0].lr = 0.0;
    ok[1] = optcl_optimizer_config_default(OPTCL_ADAM);
    ok[1].adam.beta1 = 0.0;
    ok[1].adam.beta2 = 0.0;
    ok[1].adam.eps = 0.0;
    ok[2] = optcl_optimizer_config_default(OPTCL_RMSPROP);
    ok[2].rmsprop.alpha = 1.0;
    ok[3] = optcl_optimizer_config_default(OPTCL_RPROP);
    ok[3].rprop.step_min = 0.0;
    ok[3].rprop.step_max = 0.0;
    ok[4] = optcl_optimizer_config_default(OPTCL_SGD);
    ok[4].sgd.momentum = 0.9;
    ok[4].sgd.dampening = 1.0;
    ok[5] = optcl_optimizer_config_default(OPTCL_SGD);
    ok[5].sgd.ema = 1; /* momentum 0: EMA of nothing is plain SGD */
    for (size_t i = 0; i < 6; i++) {
        optcl_optimizer *opt = NULL;
        TU_OK(optcl_optimizer_create(params, &ok[i], &opt), optcl_context_message(ctx));
        optcl_optimizer_destroy(opt);
    }
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
}

/* A kernel folder whose sgd.cl does not compile: a build status, the log in the message, and
 * nothing cached, so a good folder works afterwards. */
static void build_failure_reports_the_log(void **state)
{
    (void)state;
    optcl_context *probe = tu_opencl_missing() ? NULL : tu_context(OPTCL_BACKEND_OPENCL);
    bool opencl = probe && optcl_context_backend(probe) == OPTCL_BACKEND_OPENCL;
    optcl_context_destroy(probe);
    if (!opencl) /* no device, or OPTCL_DEVICE=reference (valgrind): no kernel to build */
        skip();
    char *dir = tu_make_tempdir();
    assert_non_null(dir);
    char path[512];
    FILE *f = NULL;
    static const char *const shared[] = {"common.cl", "q8.cl", "guard_decide.cl"};
    for (int k = 0; k < 3; k++) { /* the parts every program starts with */
        snprintf(path, sizeof path, "%s/%s", dir, shared[k]);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("/* empty */\n", f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/sgd.cl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("__kernel void optcl_sgd_f32(__global float *p) { p[0] = undeclared_thing; }\n", f);
    fclose(f);

    setenv("OPTCL_KERNEL_DIR", dir, 1);
    optcl_context *ctx = tu_context(OPTCL_BACKEND_OPENCL);
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {5}};
    optcl_params *params = NULL;
    TU_OK(optcl_params_create(ctx, &spec, 1, &params), optcl_context_message(ctx));
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    optcl_optimizer *opt = NULL;
    assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_BUILD_FAILED);
    assert_null(opt);
    assert_non_null(strstr(optcl_context_message(ctx), "undeclared_thing"));

    /* A missing folder is an I/O error naming the file. */
    setenv("OPTCL_KERNEL_DIR", "/nonexistent-optcl-kernels", 1);
    assert_int_equal(optcl_optimizer_create(params, &c, &opt), OPTCL_ERROR_IO);
    assert_non_null(strstr(optcl_context_message(ctx), "/nonexistent-optcl-kernels/"));

    unsetenv("OPTCL_KERNEL_DIR");
    TU_OK(optcl_optimizer_create(params, &c, &opt), optcl_context_message(ctx));
    /* The traffic kernel is built at its first step: its failure is the optimizer's message. */
    setenv("OPTCL_KERNEL_DIR", "/nonexistent-optcl-kernels", 1);
    assert_int_equal(optcl_optimizer_traffic_step(opt), OPTCL_ERROR_IO);
    assert_non_null(strstr(optcl_optimizer_message(opt), "traffic kernel"));
    assert_non_null(strstr(optcl_optimizer_message(opt), "/nonexistent-optcl-kernels/"));
    unsetenv("OPTCL_KERNEL_DIR");
    TU_OK(optcl_optimizer_traffic_step(opt), optcl_optimizer_message(opt));
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    tu_remove_tree(dir);
    free(dir);
}

/* The config's enums by name: each value's, NULL past the last and below 0. */
static void enum_names(void **state)
{
    (void)state;
    assert_string_equal(optcl_state_dtype_name(OPTCL_STATE_SAME), "same");
    assert_string_equal(optcl_state_dtype_name(OPTCL_STATE_F32), "f32");
    assert_string_equal(optcl_state_dtype_name(OPTCL_STATE_BF16), "bf16");
    assert_string_equal(optcl_state_dtype_name(OPTCL_STATE_INT8), "int8");
    assert_null(optcl_state_dtype_name((optcl_state_dtype)(OPTCL_STATE_INT8 + 1)));
    assert_null(optcl_state_dtype_name((optcl_state_dtype)-1));
    assert_string_equal(optcl_loss_scaling_name(OPTCL_LOSS_SCALE_OFF), "off");
    assert_string_equal(optcl_loss_scaling_name(OPTCL_LOSS_SCALE_STATIC), "static");
    assert_string_equal(optcl_loss_scaling_name(OPTCL_LOSS_SCALE_DYNAMIC), "dynamic");
    assert_null(optcl_loss_scaling_name((optcl_loss_scaling)(OPTCL_LOSS_SCALE_DYNAMIC + 1)));
    assert_null(optcl_loss_scaling_name((optcl_loss_scaling)-1));
    assert_string_equal(optcl_rounding_name(OPTCL_ROUND_NEAREST), "nearest");
    assert_string_equal(optcl_rounding_name(OPTCL_ROUND_STOCHASTIC), "stochastic");
    assert_null(optcl_rounding_name((optcl_rounding)(OPTCL_ROUND_STOCHASTIC + 1)));
    assert_null(optcl_rounding_name((optcl_rounding)-1));
    assert_string_equal(optcl_nonfinite_name(OPTCL_NONFINITE_PROPAGATE), "propagate");
    assert_string_equal(optcl_nonfinite_name(OPTCL_NONFINITE_SKIP), "skip");
    assert_null(optcl_nonfinite_name((optcl_nonfinite)(OPTCL_NONFINITE_SKIP + 1)));
    assert_null(optcl_nonfinite_name((optcl_nonfinite)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enum_names),
        cmocka_unit_test(defaults_are_pytorchs),
        cmocka_unit_test(options_by_name),
        cmocka_unit_test(config_fields_by_name),
        cmocka_unit_test(every_range_is_checked),
        cmocka_unit_test(invalid_reference),
        cmocka_unit_test(invalid_opencl),
        cmocka_unit_test(edge_values_are_accepted),
        cmocka_unit_test(build_failure_reports_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
