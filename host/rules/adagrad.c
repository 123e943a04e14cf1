/* adagrad.c — torch.optim.Adagrad (lr_decay, weight decay, initial_accumulator_value, eps,
 * maximize): kernels/adagrad.cl, host/reference/adagrad.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_adagrad;

static const optcl__field fields[] = {
    OPTCL__REAL(adagrad, lr_decay, 0.0, 0.0, HUGE_VAL, 0, 0,
                "the lr of step t is lr / (1 + (t - 1) * lr_decay)"),
    OPTCL__REAL(adagrad, initial_accumulator_value, 0.0, 0.0, HUGE_VAL, 0, 0,
                "the sum of squared gradients before the first step"),
    OPTCL__REAL(adagrad, eps, 1e-10, 0.0, HUGE_VAL, 0, 0, "added to the denominator"),
};

/* kernels/adagrad.cl's NEG_CLR, EPS, INITIAL_SUM */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    const optcl_adagrad_config *a = &c->adagrad;
    double clr = in->lr / (1.0 + (double)(in->step - 1) * a->lr_decay);
    s->rule[0] = (float)-clr;
    s->rule[1] = (float)a->eps;
    s->rule[2] = (float)a->initial_accumulator_value;
}

static const char *const states[] = {"sum", NULL};

static const char *const second_moments[] = {"sum", NULL};

const optcl__rule optcl__rule_adagrad = {
    .name = "adagrad",
    .family = "adagrad",
    .lr = 1e-2,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    .unsigned_states = second_moments,
    .reference = optcl__reference_adagrad,
    .fixed_states = states,
    OPTCL__RULE_FUNCTIONS,
};
