/* adamax.c — torch.optim.Adamax (betas, eps, weight decay, maximize): kernels/adamax.cl,
 * host/reference/adamax.c. */
#include "rule.h"

#include <math.h>
#include <stdio.h>

optcl__reference_rule optcl__reference_adamax;

static const optcl__field fields[] = {
    OPTCL__REAL(adamax, beta1, 0.9, 0.0, 1.0, 0, 1, "betas[0]: the first moment's decay"),
    OPTCL__REAL(adamax, beta2, 0.999, 0.0, 1.0, 0, 1, "betas[1]: the infinity norm's decay"),
    OPTCL__REAL(adamax, eps, 1e-8, 0.0, HUGE_VAL, 0, 0, "added to |g| inside the maximum"),
};

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    double b1 = c->adamax.beta1;
    s->one_minus_beta1 = (float)(1.0 - b1);
    s->beta2 = (float)c->adamax.beta2;
    s->eps = (float)c->adamax.eps;
    s->neg_step_size = (float)-(in->lr / (1.0 - pow(b1, (double)in->step)));
}

static const char *const states[] = {"exp_avg", "exp_inf", NULL};

static const char *const second_moments[] = {"exp_inf", NULL};

const optcl__rule optcl__rule_adamax = {
    .name = "adamax",
    .family = "adamax",
    .lr = 2e-3,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 2,
    .unsigned_states = second_moments,
    .reference = optcl__reference_adamax,
    .fixed_states = states,
    OPTCL__RULE_FUNCTIONS,
};
