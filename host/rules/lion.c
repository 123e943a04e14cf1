/* lion.c — Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; the
 * google/automl rule): p *= 1 − lr·weight_decay; p −= lr·sign(lerp(m, g, 1 − β1));
 * m = lerp(m, g, 1 − β2). kernels/lion.cl, host/reference/lion.c. */
#include "rule.h"

#include <stdio.h>

static const optcl__field fields[] = {
    OPTCL__REAL(lion, beta1, 0.9, 0.0, 1.0, 0, 0, "betas[0]: the update's interpolation"),
    OPTCL__REAL(lion, beta2, 0.99, 0.0, 1.0, 0, 0, "betas[1]: the momentum's decay"),
};

static void scalars(const optcl_optimizer_config *c, const optcl__step_inputs *in,
                    optcl__step_scalars *s)
{
    s->one_minus_beta1 = (float)(1.0 - c->lion.beta1);
    s->one_minus_beta2 = (float)(1.0 - c->lion.beta2);
    s->decay_factor = (float)(1.0 - in->lr * in->weight_decay);
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__reference_lion(p, g, state[0], s, c->maximize != 0, begin, end);
}

static const char *const states[] = {"exp_avg", NULL};

const optcl__rule optcl__rule_lion = {
    .name = "lion",
    .family = "lion",
    .lr = 1e-4,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    .reference = reference,
    .fixed_states = states,
    OPTCL__RULE_FUNCTIONS,
};
