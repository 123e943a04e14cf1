/* lion.c — Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; the
 * google/automl rule): p *= 1 − lr·weight_decay; p −= lr·sign(lerp(m, g, 1 − β1));
 * m = lerp(m, g, 1 − β2). kernels/lion.cl, host/reference/lion.c. */
#include "rule.h"

#include <stdio.h>

static void defaults(optcl_optimizer_config *c)
{
    c->lion.beta1 = 0.9;
    c->lion.beta2 = 0.99;
}

static optcl_status validate(const optcl_optimizer_config *c, char *message)
{
    OPTCL__REQUIRE(c->lion.beta1 >= 0.0 && c->lion.beta1 <= 1.0, "beta1", c->lion.beta1,
                   "must be in [0, 1]");
    OPTCL__REQUIRE(c->lion.beta2 >= 0.0 && c->lion.beta2 <= 1.0, "beta2", c->lion.beta2,
                   "must be in [0, 1]");
    return OPTCL_SUCCESS;
}

static size_t states(const optcl_optimizer_config *c, const char **names, unsigned *slots)
{
    (void)c;
    names[0] = "exp_avg";
    slots[0] = 0;
    return 1;
}

static void options(const optcl_optimizer_config *c, char *out, size_t size)
{
    (void)c;
    if (size > 0)
        out[0] = '\0';
}

static void scalars(const optcl_optimizer_config *c, double lr, double weight_decay, uint64_t step,
                    optcl__step_scalars *s)
{
    (void)step;
    s->one_minus_beta1 = (float)(1.0 - c->lion.beta1);
    s->one_minus_beta2 = (float)(1.0 - c->lion.beta2);
    s->decay_factor = (float)(1.0 - lr * weight_decay);
}

static const char *differs(const optcl_optimizer_config *a, const optcl_optimizer_config *b)
{
    (void)a, (void)b;
    return NULL; /* one state, one kernel: every Lion has the same structure */
}

static void reference(const optcl_optimizer_config *c, float *p, const float *g, float **state,
                      size_t begin, size_t end, const optcl__step_scalars *s)
{
    optcl__reference_lion(p, g, state[0], s, c->maximize != 0, begin, end);
}

const optcl__rule optcl__rule_lion = {
    .name = "lion",
    .family = "lion",
    .lr = 1e-4,
    .weight_decay = 0.0,
    .weight_decay_allowed = true,
    .slots = 1,
    OPTCL__RULE_FUNCTIONS,
};
