/* adadelta.c — torch.optim.Adadelta (rho, eps, weight decay, maximize): kernels/adadelta.cl,
 * host/reference/adadelta.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_adadelta;

static const optcl__field fields[] = {
    OPTCL__REAL(adadelta, rho, 0.9, 0.0, 1.0, 0, 0, "the running averages' decay"),
    OPTCL__REAL(adadelta, eps, 1e-6, 0.0, HUGE_VAL, 0, 0, "added inside both square roots"),
};

/* kernels/adadelta.cl's RHO, ONE_MINUS_RHO, EPS */
static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    (void)in;
    s->rule[0] = (float)c->adadelta.rho;
    s->rule[1] = (float)(1.0 - c->adadelta.rho);
    s->rule[2] = (float)c->adadelta.eps;
}

static const char *const states[] = {"square_avg", "acc_delta", NULL};

static const char *const second_moments[] = {"square_avg", "acc_delta", NULL};

const optcl__rule optcl__rule_adadelta = {
    .name = "adadelta",
    .family = "adadelta",
    .lr = 1.0,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 2,
    .unsigned_states = second_moments,
    .reference = optcl__reference_adadelta,
    .fixed_states = states,
    OPTCL__RULE_FUNCTIONS,
};
