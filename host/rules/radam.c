/* radam.c — torch.optim.RAdam (betas, eps, weight decay, decoupled weight decay, maximize):
 * kernels/radam.cl, host/reference/radam.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_radam;

static const optcl__field fields[] = {
    OPTCL__REAL(radam, beta1, 0.9, 0.0, 1.0, 0, 1, "betas[0]: the first moment's decay"),
    OPTCL__REAL(radam, beta2, 0.999, 0.0, 1.0, 0, 1, "betas[1]: the second moment's decay"),
    OPTCL__REAL(radam, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
    OPTCL__FLAG(radam, decoupled_weight_decay, 0, OPTCL__LAYOUT_VALUE,
                "1: p *= 1 - lr * weight_decay (RAdamW) instead of L2 on the gradient"),
};

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    snprintf(out, size, " -DDECOUPLED=%d", c->radam.decoupled_weight_decay);
}

/* kernels/radam.cl's BIAS_CORRECTION1, RECTIFIED, LR, BIAS_CORRECTION2_SQRT, RECT: the branch
 * is decided here, in double, as torch decides it (ρ_∞ ≤ 5 when β2 ≤ 2/3: never rectified). */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_radam_config *r = &c->radam;
    double t = (double)in->step, b2t = pow(r->beta2, t);
    double bias_correction2 = 1.0 - b2t;
    double rho_inf = 2.0 / (1.0 - r->beta2) - 1.0;
    double rho_t = rho_inf - 2.0 * t * b2t / bias_correction2;
    s->one_minus_beta1 = (float)(1.0 - r->beta1);
    s->beta2 = (float)r->beta2;
    s->one_minus_beta2 = (float)(1.0 - r->beta2);
    s->eps = (float)r->eps;
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
    s->rule[0] = (float)(1.0 - pow(r->beta1, t));
    s->rule[1] = rho_t > 5.0 ? 1.0f : 0.0f;
    s->rule[2] = (float)in->lr;
    s->rule[3] = (float)sqrt(bias_correction2);
    if (rho_t > 5.0)
        s->rule[4] = (float)sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                 ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
}

static const char *const states[] = {"exp_avg", "exp_avg_sq", NULL};

static const char *const second_moments[] = {"exp_avg_sq", NULL};

const optcl__rule optcl__rule_radam = {
    .name = "radam",
    .family = "radam",
    .lr = 1e-3,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 2,
    .unsigned_states = second_moments,
    .reference = optcl__reference_radam,
    .fixed_states = states,
    .options = options,
    OPTCL__RULE_FUNCTIONS,
};
