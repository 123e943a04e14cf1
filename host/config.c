/* config.c — optimizer configurations: PyTorch's defaults, validation at create time (never a
 * silent clamp), algorithm names, and which state buffers each algorithm keeps. */
#include "plateau.h"

#include <math.h>
#include <string.h>

static const char *const algorithm_names[OPTCL_ALGORITHM_COUNT] = {"sgd", "adam", "adamw",
                                                                   "rmsprop", "rprop"};

const char *optcl_algorithm_name(optcl_algorithm algorithm)
{
    if ((int)algorithm < 0 || algorithm >= OPTCL_ALGORITHM_COUNT)
        return NULL;
    return algorithm_names[algorithm];
}

optcl_status optcl_algorithm_from_name(const char *name, optcl_algorithm *out)
{
    if (!name || !out)
        return OPTCL_ERROR_NULL_POINTER;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        if (strcmp(name, algorithm_names[a]) == 0) {
            *out = (optcl_algorithm)a;
            return OPTCL_SUCCESS;
        }
    }
    return OPTCL_ERROR_INVALID_ARGUMENT;
}

optcl_optimizer_config optcl_optimizer_config_default(optcl_algorithm algorithm)
{
    optcl_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.algorithm = algorithm;
    c.lr = (algorithm == OPTCL_RMSPROP || algorithm == OPTCL_RPROP) ? 1e-2 : 1e-3;
    c.weight_decay = algorithm == OPTCL_ADAMW ? 1e-2 : 0.0;
    c.adam.beta1 = 0.9;
    c.adam.beta2 = 0.999;
    c.adam.eps = 1e-8;
    c.rmsprop.alpha = 0.99;
    c.rmsprop.eps = 1e-8;
    c.rprop.etaminus = 0.5;
    c.rprop.etaplus = 1.2;
    c.rprop.step_min = 1e-6;
    c.rprop.step_max = 50.0;
    c.rprop.variant = OPTCL_RPROP_PYTORCH;
    c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    c.plateau = optcl_plateau_config_default();
    c.lookahead.k = 0;
    c.lookahead.alpha = 0.5;
    c.lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    return c;
}

/* Each check names the field and the value, as PyTorch's ValueErrors do. */
#define REQUIRE(cond, field, value, why)                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid %s: %g (%s)",       \
                               field, (double)(value), why);                                       \
    } while (0)

static bool is_flag(int v)
{
    return v == 0 || v == 1;
}

#define REQUIRE_FLAG(v, field)                                                                     \
    do {                                                                                           \
        if (!is_flag(v))                                                                           \
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,                              \
                               "invalid %s: %d (must be 0 or 1)", field, (v));                     \
    } while (0)

static optcl_status validate_groups(const optcl_optimizer_config *c, char *message)
{
    if (c->group_count > OPTCL_MAX_GROUPS)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid group_count: %zu (at most %d)", c->group_count,
                           OPTCL_MAX_GROUPS);
    if (c->group_count > 0 && !c->groups)
        return optcl__fail(message, OPTCL_ERROR_NULL_POINTER,
                           "groups is NULL but group_count is %zu", c->group_count);
    for (size_t g = 0; g < c->group_count; g++) {
        /* Negative means "inherit"; NaN and infinity are never meaningful. */
        if (!isfinite(c->groups[g].lr) || !isfinite(c->groups[g].weight_decay))
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid groups[%zu]: lr %g, weight_decay %g (must be finite)", g,
                               c->groups[g].lr, c->groups[g].weight_decay);
        if (c->algorithm == OPTCL_RPROP && c->groups[g].weight_decay > 0.0)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid groups[%zu].weight_decay: %g (rprop has no weight decay)",
                               g, c->groups[g].weight_decay);
    }
    return OPTCL_SUCCESS;
}

bool optcl__state_is_bf16(const optcl_optimizer_config *c)
{
    return c->state_dtype == OPTCL_STATE_BF16;
}

const char *optcl__state_dtype_name(const optcl_optimizer_config *c)
{
    return optcl__state_is_bf16(c) ? "bfloat16" : "float32";
}

optcl_status optcl__validate_config(const optcl_optimizer_config *c, char *message)
{
    if ((int)c->algorithm < 0 || c->algorithm >= OPTCL_ALGORITHM_COUNT)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid algorithm: %d",
                           (int)c->algorithm);
    REQUIRE(isfinite(c->lr) && c->lr >= 0.0, "lr", c->lr, "must be finite and >= 0");
    REQUIRE(isfinite(c->weight_decay) && c->weight_decay >= 0.0, "weight_decay", c->weight_decay,
            "must be finite and >= 0");
    REQUIRE_FLAG(c->maximize, "maximize");
    switch (c->algorithm) {
    case OPTCL_SGD: {
        const optcl_sgd_config *s = &c->sgd;
        REQUIRE_FLAG(s->nesterov, "nesterov");
        REQUIRE_FLAG(s->ema, "ema");
        REQUIRE(isfinite(s->momentum) && s->momentum >= 0.0, "momentum", s->momentum,
                "must be finite and >= 0");
        REQUIRE(isfinite(s->dampening), "dampening", s->dampening, "must be finite");
        if (s->nesterov)
            REQUIRE(s->momentum > 0.0 && s->dampening == 0.0, "momentum", s->momentum,
                    "nesterov needs momentum > 0 and dampening = 0");
        if (s->ema) {
            REQUIRE(s->momentum < 1.0, "momentum", s->momentum, "ema needs momentum in [0, 1)");
            REQUIRE(s->dampening == 0.0, "dampening", s->dampening,
                    "ema sets its own dampening; leave it 0");
            REQUIRE(!s->nesterov, "nesterov", s->nesterov, "ema and nesterov do not combine");
        }
        break;
    }
    case OPTCL_ADAM:
    case OPTCL_ADAMW: {
        const optcl_adam_config *a = &c->adam;
        REQUIRE(a->beta1 >= 0.0 && a->beta1 < 1.0, "beta1", a->beta1, "must be in [0, 1)");
        REQUIRE(a->beta2 >= 0.0 && a->beta2 < 1.0, "beta2", a->beta2, "must be in [0, 1)");
        REQUIRE(isfinite(a->eps) && a->eps >= 0.0, "eps", a->eps, "must be finite and >= 0");
        REQUIRE_FLAG(a->amsgrad, "amsgrad");
        break;
    }
    case OPTCL_RMSPROP: {
        const optcl_rmsprop_config *r = &c->rmsprop;
        REQUIRE(r->alpha >= 0.0 && r->alpha <= 1.0, "alpha", r->alpha, "must be in [0, 1]");
        REQUIRE(isfinite(r->eps) && r->eps >= 0.0, "eps", r->eps, "must be finite and >= 0");
        REQUIRE(isfinite(r->momentum) && r->momentum >= 0.0, "momentum", r->momentum,
                "must be finite and >= 0");
        REQUIRE_FLAG(r->centered, "centered");
        break;
    }
    case OPTCL_RPROP: {
        const optcl_rprop_config *r = &c->rprop;
        REQUIRE(r->etaminus > 0.0 && r->etaminus < 1.0, "etaminus", r->etaminus,
                "must be in (0, 1)");
        REQUIRE(isfinite(r->etaplus) && r->etaplus > 1.0, "etaplus", r->etaplus,
                "must be finite and > 1");
        REQUIRE(isfinite(r->step_min) && r->step_min >= 0.0, "step_min", r->step_min,
                "must be finite and >= 0");
        REQUIRE(isfinite(r->step_max) && r->step_max >= r->step_min, "step_max", r->step_max,
                "must be finite and >= step_min");
        REQUIRE(c->weight_decay == 0.0, "weight_decay", c->weight_decay,
                "rprop has no weight decay");
        REQUIRE(r->variant == OPTCL_RPROP_PYTORCH || r->variant == OPTCL_RPROP_CLASSIC,
                "rprop.variant", r->variant, "must be PYTORCH or CLASSIC");
        break;
    }
    default:
        break;
    }
    optcl_status st = validate_groups(c, message);
    if (st == OPTCL_SUCCESS)
        st = optcl_schedule_validate(&c->schedule, message, OPTCL__MESSAGE_MAX);
    if (st == OPTCL_SUCCESS)
        st = optcl__plateau_validate(&c->plateau, message);
    if (st != OPTCL_SUCCESS)
        return st;
    REQUIRE(isfinite(c->max_norm) && c->max_norm >= 0.0, "max_norm", c->max_norm,
            "must be finite and >= 0; 0 turns clipping off");
    REQUIRE(c->nonfinite == OPTCL_NONFINITE_PROPAGATE || c->nonfinite == OPTCL_NONFINITE_SKIP,
            "nonfinite", c->nonfinite, "must be PROPAGATE or SKIP");
    REQUIRE(c->state_dtype == OPTCL_STATE_SAME || c->state_dtype == OPTCL_STATE_F32 ||
                c->state_dtype == OPTCL_STATE_BF16,
            "state_dtype", c->state_dtype, "must be SAME, F32 or BF16");
    if (c->lookahead.k == 0)
        return st;
    const optcl_lookahead_config *la = &c->lookahead;
    REQUIRE(la->k > 0, "lookahead.k", (double)la->k, "must be >= 0");
    REQUIRE(la->alpha > 0.0 && la->alpha <= 1.0, "lookahead.alpha", la->alpha, "must be in (0, 1]");
    return optcl_schedule_validate(&la->alpha_schedule, message, OPTCL__MESSAGE_MAX);
}

size_t optcl__state_names(const optcl_optimizer_config *c, const char **names)
{
    size_t n = 0;
    switch (c->algorithm) {
    case OPTCL_SGD:
        if (c->sgd.momentum != 0.0)
            names[n++] = "momentum_buffer";
        break;
    case OPTCL_ADAM:
    case OPTCL_ADAMW:
        names[n++] = "exp_avg";
        names[n++] = "exp_avg_sq";
        if (c->adam.amsgrad)
            names[n++] = "max_exp_avg_sq";
        break;
    case OPTCL_RMSPROP:
        names[n++] = "square_avg";
        if (c->rmsprop.centered)
            names[n++] = "grad_avg";
        if (c->rmsprop.momentum > 0.0)
            names[n++] = "momentum_buffer";
        break;
    case OPTCL_RPROP:
        names[n++] = "prev";
        names[n++] = "step_size";
        break;
    default:
        break;
    }
    return n;
}
