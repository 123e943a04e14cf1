/* config.c — optimizer configurations: PyTorch's defaults, validation at create time (never a
 * silent clamp) and algorithm names, from each optimizer's descriptor (host/rules/) and the
 * fields every optimizer shares. */
#include "plateau.h"
#include "rules/rule.h"

#include <float.h>
#include <math.h>
#include <string.h>

const char *optcl_algorithm_name(optcl_algorithm algorithm)
{
    const optcl__rule *rule = optcl__rule_of(algorithm);
    return rule ? rule->name : NULL;
}

optcl_status optcl_algorithm_from_name(const char *name, optcl_algorithm *out)
{
    if (!name || !out)
        return OPTCL_ERROR_NULL_POINTER;
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++) {
        if (strcmp(name, optcl__rule_of((optcl_algorithm)a)->name) == 0) {
            *out = (optcl_algorithm)a;
            return OPTCL_SUCCESS;
        }
    }
    return OPTCL_ERROR_INVALID_ARGUMENT;
}

int optcl_algorithm_is_tensor_wise(optcl_algorithm algorithm)
{
    const optcl__rule *rule = optcl__rule_of(algorithm);
    return rule && rule->tensor_sums > 0;
}

const char *const *optcl_algorithm_running(optcl_algorithm algorithm)
{
    static const char *const none[] = {NULL};
    const optcl__rule *rule = optcl__rule_of(algorithm);
    return !rule ? NULL : rule->running ? rule->running : none;
}

optcl_optimizer_config optcl_optimizer_config_default(optcl_algorithm algorithm)
{
    optcl_optimizer_config c;
    memset(&c, 0, sizeof c);
    /* every rule's nested struct at torch's defaults, whichever algorithm is chosen */
    for (int a = 0; a < OPTCL_ALGORITHM_COUNT; a++)
        optcl__rule_defaults(optcl__rule_of((optcl_algorithm)a), &c);
    const optcl__rule *rule = optcl__rule_of(algorithm);
    c.algorithm = algorithm;
    c.lr = rule ? rule->lr : 1e-3;
    c.weight_decay = rule ? rule->weight_decay : 0.0;
    c.schedule = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    c.plateau = optcl_plateau_config_default();
    c.lookahead.k = 0;
    c.lookahead.alpha = 0.5;
    c.lookahead.alpha_schedule = optcl_schedule_default(OPTCL_SCHEDULE_CONSTANT);
    c.loss_scale.init_scale = 65536.0; /* torch.amp.GradScaler's */
    c.loss_scale.growth_factor = 2.0;
    c.loss_scale.backoff_factor = 0.5;
    c.loss_scale.growth_interval = 2000;
    return c;
}

/* Checks name the field and the value (rule.h's OPTCL__REQUIRE, as the descriptors). */
#define REQUIRE OPTCL__REQUIRE
#define REQUIRE_FLAG OPTCL__REQUIRE_FLAG

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
        const optcl__rule *rule = optcl__rule_of(c->algorithm);
        if (!rule->weight_decay_allowed && c->groups[g].weight_decay > 0.0)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid groups[%zu].weight_decay: %g (%s has no weight decay)", g,
                               c->groups[g].weight_decay, rule->name);
        int exclude = c->groups[g].exclude_from_trust_ratio;
        if (exclude != 0 && (exclude != 1 || !rule->trust_ratio))
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid groups[%zu].exclude_from_trust_ratio: %d (%s%s)", g,
                               exclude, exclude != 1 ? "must be 0 or 1" : rule->name,
                               exclude != 1 ? "" : " has no trust ratio");
    }
    return OPTCL_SUCCESS;
}

optcl_dtype optcl__state_type(const optcl_optimizer_config *c, optcl_dtype params)
{
    if (c->state_dtype == OPTCL_STATE_INT8)
        return OPTCL__DTYPE_Q8;
    return c->state_dtype == OPTCL_STATE_BF16                      ? OPTCL_DTYPE_BF16
           : c->state_dtype == OPTCL_STATE_F32 || c->master_weights ? OPTCL_DTYPE_F32
                                                                    : params;
}

optcl_status optcl__validate_for_params(const optcl_optimizer_config *c, optcl_dtype params,
                                        char *message)
{
    const char *type = optcl_dtype_name(params);
    if (c->master_weights && params == OPTCL_DTYPE_F32)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid master_weights: 1 (a float32 copy of float32 parameters; "
                           "master weights need a bf16 or f16 parameter set, this one is %s)",
                           type);
    if (c->rounding == OPTCL_ROUND_STOCHASTIC && params != OPTCL_DTYPE_BF16)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid rounding: STOCHASTIC (for bf16 parameter sets; this one is "
                           "%s)",
                           type);
    if (c->master_weights && c->lookahead.k > 0)
        return optcl__fail(message, OPTCL_ERROR_UNSUPPORTED,
                           "Lookahead (lookahead.k = %lld) with master_weights is not supported: "
                           "its slow weights would have to blend the master",
                           (long long)c->lookahead.k);
    return OPTCL_SUCCESS;
}

/* Lookahead's α must stay in [0, 1] at every sync — a blend outside it is no Lookahead, and a
 * checkpoint keeps the last α only there (optcl.lookahead.last_alpha) — so the schedule's
 * largest value is checked here, computed as optcl_schedule_lr computes it. Every form but
 * these stays between 0 and lookahead.alpha (a warmup only lowers it); α may reach 0 (a
 * decaying or cosine schedule), which is a sync that leaves the slow weights where they are. */
static optcl_status validate_alpha_range(const optcl_lookahead_config *la, char *message)
{
    const optcl_schedule *s = &la->alpha_schedule;
    bool grows = s->gamma > 1.0;
    switch (s->kind) {
    case OPTCL_SCHEDULE_EXPONENTIAL:
    case OPTCL_SCHEDULE_STEP:
        REQUIRE(!grows, "lookahead.alpha_schedule.gamma", s->gamma,
                "must be <= 1: a growing α would leave [0, 1]");
        break;
    case OPTCL_SCHEDULE_MULTISTEP: {
        double peak = la->alpha * pow(s->gamma, (double)s->milestone_count);
        if (grows && !(peak <= 1.0))
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid lookahead.alpha_schedule.gamma: %g (α reaches "
                               "lookahead.alpha · gamma^%zu = %g after the last milestone; it "
                               "must stay <= 1)",
                               s->gamma, s->milestone_count, peak);
        break;
    }
    case OPTCL_SCHEDULE_COSINE:
        REQUIRE(s->eta_min <= 1.0, "lookahead.alpha_schedule.eta_min", s->eta_min,
                "must be <= 1: α moves between it and lookahead.alpha");
        break;
    default:
        break;
    }
    return OPTCL_SUCCESS;
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
    const optcl__rule *rule = optcl__rule_of(c->algorithm);
    optcl_status st = optcl__rule_validate(rule, c, message);
    if (st != OPTCL_SUCCESS)
        return st;
    if (!rule->weight_decay_allowed && c->weight_decay != 0.0)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid weight_decay: %g (%s has no weight decay)", c->weight_decay,
                           rule->name);
    st = validate_groups(c, message);
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
                c->state_dtype == OPTCL_STATE_BF16 || c->state_dtype == OPTCL_STATE_INT8,
            "state_dtype", c->state_dtype, "must be SAME, F32, BF16 or INT8");
    if (c->state_dtype == OPTCL_STATE_INT8 && rule->int8_refused)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid state_dtype: int8 (%s keeps no 8-bit state: %s)",
                           rule->name, rule->int8_refused);
    REQUIRE_FLAG(c->master_weights, "master_weights");
    const optcl_loss_scale_config *ls = &c->loss_scale;
    REQUIRE(ls->mode == OPTCL_LOSS_SCALE_OFF || ls->mode == OPTCL_LOSS_SCALE_STATIC ||
                ls->mode == OPTCL_LOSS_SCALE_DYNAMIC,
            "loss_scale.mode", ls->mode, "must be OFF, STATIC or DYNAMIC");
    if (ls->mode != OPTCL_LOSS_SCALE_OFF) {
        /* the scale is a float32: a positive double that rounds to 0 there (1e-50) is not */
        REQUIRE(ls->init_scale > 0.0 && ls->init_scale <= FLT_MAX && (float)ls->init_scale > 0.0f,
                "loss_scale.init_scale", ls->init_scale,
                "must be > 0 and finite in float32, where it is kept");
        REQUIRE(isfinite(ls->growth_factor) && ls->growth_factor > 1.0,
                "loss_scale.growth_factor", ls->growth_factor, "must be > 1");
        REQUIRE(ls->backoff_factor > 0.0 && ls->backoff_factor < 1.0,
                "loss_scale.backoff_factor", ls->backoff_factor, "must be in (0, 1)");
        REQUIRE(ls->growth_interval >= 1 && ls->growth_interval <= UINT32_MAX,
                "loss_scale.growth_interval", (double)ls->growth_interval,
                "must be 1 … 2^32 - 1");
        REQUIRE_FLAG(ls->write_unscaled, "loss_scale.write_unscaled");
    }
    REQUIRE(c->rounding == OPTCL_ROUND_NEAREST || c->rounding == OPTCL_ROUND_STOCHASTIC,
            "rounding", c->rounding, "must be NEAREST or STOCHASTIC");
    if (c->lookahead.k == 0)
        return st;
    const optcl_lookahead_config *la = &c->lookahead;
    REQUIRE(la->k > 0, "lookahead.k", (double)la->k, "must be >= 0");
    REQUIRE(la->alpha > 0.0 && la->alpha <= 1.0, "lookahead.alpha", la->alpha, "must be in (0, 1]");
    st = optcl__schedule_validate(&la->alpha_schedule, "lookahead.alpha_schedule", message,
                                  OPTCL__MESSAGE_MAX);
    return st == OPTCL_SUCCESS ? validate_alpha_range(la, message) : st;
}
