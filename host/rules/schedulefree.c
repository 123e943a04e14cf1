/* schedulefree.c — Schedule-Free AdamW and SGD (Defazio et al. 2024), as the schedulefree
 * package's AdamWScheduleFree and SGDScheduleFree (1.4.1), with their train and eval modes:
 * kernels/schedulefree.cl (ADAMW for AdamW), host/reference/schedulefree.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_schedulefree;

static const optcl__field adamw_fields[] = {
    OPTCL__REAL(adamw_schedulefree, beta1, 0.9, 0.0, 1.0, 1, 1,
                "betas[0]: y = (1 - beta1) z + beta1 x (eval divides by it)"),
    OPTCL__REAL(adamw_schedulefree, beta2, 0.999, 0.0, 1.0, 0, 1,
                "betas[1]: the second moment's decay"),
    OPTCL__REAL(adamw_schedulefree, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
    OPTCL__REAL(adamw_schedulefree, warmup_steps, 0.0, 0.0, HUGE_VAL, 0, 0,
                "the lr of step t is lr * min(1, t / warmup_steps)"),
    OPTCL__REAL(adamw_schedulefree, r, 0.0, 0.0, HUGE_VAL, 0, 0,
                "the average's weights grow as t^r"),
    OPTCL__REAL(adamw_schedulefree, weight_lr_power, 2.0, 0.0, HUGE_VAL, 0, 0,
                "and as lr_max^weight_lr_power"),
};

static const optcl__field sgd_fields[] = {
    OPTCL__REAL(sgd_schedulefree, momentum, 0.9, 0.0, 1.0, 1, 1,
                "y = (1 - momentum) z + momentum x (eval divides by it)"),
    OPTCL__REAL(sgd_schedulefree, warmup_steps, 0.0, 0.0, HUGE_VAL, 0, 0,
                "the lr of step t is lr * min(1, t / warmup_steps)"),
    OPTCL__REAL(sgd_schedulefree, r, 0.0, 0.0, HUGE_VAL, 0, 0, "the average's weights grow as t^r"),
    OPTCL__REAL(sgd_schedulefree, weight_lr_power, 2.0, 0.0, HUGE_VAL, 0, 0,
                "and as lr_max^weight_lr_power"),
};

static bool is_adamw(const optcl_optimizer_config *c)
{
    return c->algorithm == OPTCL_ADAMW_SCHEDULEFREE;
}

/* What both share: β (beta1 or momentum), the warmup and the average's weights. */
typedef struct shared {
    double beta, warmup_steps, r, weight_lr_power;
} shared;

static shared shared_of(const optcl_optimizer_config *c)
{
    const optcl_adamw_schedulefree_config *a = &c->adamw_schedulefree;
    const optcl_sgd_schedulefree_config *g = &c->sgd_schedulefree;
    return is_adamw(c) ? (shared){a->beta1, a->warmup_steps, a->r, a->weight_lr_power}
                       : (shared){g->momentum, g->warmup_steps, g->r, g->weight_lr_power};
}

/* The package reads the group's lr every step and keeps running sums of it; optcl computes
 * each step's from the step alone, so the lr must not change with the step. */
static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    const char *name = is_adamw(c) ? "adamw_schedulefree" : "sgd_schedulefree";
    const char *what = c->schedule.kind != OPTCL_SCHEDULE_CONSTANT ? "a schedule"
                       : c->schedule.warmup_steps > 0              ? "a schedule's warmup"
                       : c->plateau.enabled                        ? "ReduceLROnPlateau"
                       : c->lookahead.k > 0                        ? "Lookahead"
                                                                   : NULL;
    if (what)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "%s does not take %s: Schedule-Free replaces the schedule (its own "
                           "warmup_steps) and keeps its average in z",
                           name, what);
    return OPTCL_SUCCESS;
}

static size_t states(const optcl_optimizer_config *c, const char **names, unsigned *slots)
{
    names[0] = "z";
    slots[0] = 0;
    if (!is_adamw(c))
        return 1;
    names[1] = "exp_avg_sq";
    slots[1] = 1;
    return 2;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DADAMW=%d", is_adamw(c));
}

/* The lr after warmup at 1-based step t. */
static double warmed_lr(const shared *sh, double lr, uint64_t t)
{
    return (double)(t - 1) < sh->warmup_steps ? lr * ((double)t / sh->warmup_steps) : lr;
}

/* The weight sum Σ_j≤t t^r·lr_max^p and lr_max after step t (the package's group weight_sum and
 * lr_max, starting at 0 and −1): a pure function of the step for a constant lr, kept in the
 * group's memo so that each step adds one term. */
static void running(const shared *sh, double lr, uint64_t t, optcl__rule_memo *memo,
                    double *weight, double *weight_sum)
{
    if (memo->step >= t || memo->step == 0)
        *memo = (optcl__rule_memo){0, {0.0, -1.0}};
    double sum = memo->value[0], lr_max = memo->value[1], w = 0.0;
    for (uint64_t j = memo->step + 1; j <= t; j++) {
        lr_max = fmax(warmed_lr(sh, lr, j), lr_max);
        w = pow((double)j, sh->r) * pow(lr_max, sh->weight_lr_power);
        sum += w;
    }
    *memo = (optcl__rule_memo){t, {sum, lr_max}};
    *weight = w;
    *weight_sum = sum;
}

/* kernels/schedulefree.cl's CKP1, Y_COEF, LR, BIAS_CORRECTION2 */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    shared sh = shared_of(c);
    double lr = warmed_lr(&sh, in->lr, in->step), weight = 0.0, weight_sum = 0.0;
    running(&sh, in->lr, in->step, in->memo, &weight, &weight_sum);
    double ckp1 = weight_sum != 0.0 ? weight / weight_sum : 0.0;
    s->rule[0] = (float)ckp1;
    s->rule[1] = (float)(lr * (sh.beta * (1.0 - ckp1) - 1.0));
    s->rule[2] = (float)lr;
    if (is_adamw(c)) {
        const optcl_adamw_schedulefree_config *a = &c->adamw_schedulefree;
        s->rule[3] = (float)(1.0 - pow(a->beta2, (double)in->step));
        s->beta2 = (float)a->beta2;
        s->one_minus_beta2 = (float)(1.0 - a->beta2);
        s->eps = (float)a->eps;
    }
}

/* eval(): p.lerp_(z, 1 − 1/β); train(): p.lerp_(z, 1 − β) */
static double mode_weight(const optcl_optimizer_config *c, bool train)
{
    double beta = shared_of(c).beta;
    return train ? 1.0 - beta : 1.0 - 1.0 / beta;
}

static const char *const second_moments[] = {"exp_avg_sq", NULL};

/* the package's group weight_sum and lr_max */
static const char *const running_names[] = {"weight_sum", "lr_max", NULL};

#define SCHEDULEFREE_RULE(rule_name, default_lr, rule_fields)                                      \
    {                                                                                              \
        .name = rule_name, .family = "schedulefree", .lr = default_lr, .weight_decay = 0.0,        \
        .weight_decay_allowed = true, .slots = 2, .unsigned_states = second_moments,               \
        .int8_refused = "z holds the parameters' running point, which 8-bit codes cannot",         \
        .validate = validate, .reference = optcl__reference_schedulefree,                          \
        .mode_weight = mode_weight, .mode_state = "z", .fields = rule_fields,                      \
        .field_count = sizeof rule_fields / sizeof rule_fields[0], .states = states,               \
        .options = options, .scalars = scalars, .lr_history = true, .running = running_names,      \
    }

const optcl__rule optcl__rule_adamw_schedulefree =
    SCHEDULEFREE_RULE("adamw_schedulefree", 2.5e-3, adamw_fields);
const optcl__rule optcl__rule_sgd_schedulefree =
    SCHEDULEFREE_RULE("sgd_schedulefree", 1.0, sgd_fields);
