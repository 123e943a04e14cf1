/* nadam.c — torch.optim.NAdam (betas, eps, weight decay, momentum_decay, decoupled weight decay,
 * maximize): kernels/nadam.cl, host/reference/nadam.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_nadam;

static const optcl__field fields[] = {
    OPTCL__REAL(nadam, beta1, 0.9, 0.0, 1.0, 0, 1, "betas[0]: the first moment's decay"),
    OPTCL__REAL(nadam, beta2, 0.999, 0.0, 1.0, 0, 1, "betas[1]: the second moment's decay"),
    OPTCL__REAL(nadam, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
    OPTCL__REAL(nadam, momentum_decay, 4e-3, 0.0, HUGE_VAL, 0, 0,
                "mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))"),
    OPTCL__FLAG(nadam, decoupled_weight_decay, 0, OPTCL__LAYOUT_VALUE,
                "1: p *= 1 - lr * weight_decay (NAdamW) instead of L2 on the gradient"),
};

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DDECOUPLED=%d", c->nadam.decoupled_weight_decay);
}

static double mu_at(const optcl_nadam_config *n, uint64_t step)
{
    return n->beta1 * (1.0 - 0.5 * pow(0.96, (double)step * n->momentum_decay));
}

/* torch's state mu_product: a float32 that each step multiplies by μ_t (rounded to float32). A
 * pure function of the step; the memo holds the last one computed. */
static double mu_product(const optcl_nadam_config *n, uint64_t step, optcl__rule_memo *memo)
{
    if (memo->step > step || memo->step == 0)
        *memo = (optcl__rule_memo){0, {1.0, 0.0}};
    float product = (float)memo->value[0];
    for (uint64_t t = memo->step + 1; t <= step; t++)
        product = product * (float)mu_at(n, t);
    *memo = (optcl__rule_memo){step, {product, 0.0}};
    return product;
}

/* kernels/nadam.cl's BIAS_CORRECTION2, GRAD_COEF, MOMENTUM_COEF */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_nadam_config *n = &c->nadam;
    double mu = mu_at(n, in->step), mu_next = mu_at(n, in->step + 1);
    double product = mu_product(n, in->step, in->memo);
    s->one_minus_beta1 = (float)(1.0 - n->beta1);
    s->beta2 = (float)n->beta2;
    s->one_minus_beta2 = (float)(1.0 - n->beta2);
    s->eps = (float)n->eps;
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
    s->rule[0] = (float)(1.0 - pow(n->beta2, (double)in->step));
    s->rule[1] = (float)(-in->lr * (1.0 - mu) / (1.0 - product));
    s->rule[2] = (float)(-in->lr * mu_next / (1.0 - product * mu_next));
}

static const char *const states[] = {"exp_avg", "exp_avg_sq", NULL};

static const char *const second_moments[] = {"exp_avg_sq", NULL};

static const char *const running[] = {"mu_product", NULL};

const optcl__rule optcl__rule_nadam = {
    .name = "nadam",
    .family = "nadam",
    .lr = 2e-3,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 2,
    .unsigned_states = second_moments,
    .running = running,
    .reference = optcl__reference_nadam,
    .fixed_states = states,
    .options = options,
    OPTCL__RULE_FUNCTIONS,
};
