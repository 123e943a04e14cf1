/* nadam.c — reference of kernels/nadam.cl, line by line; scalars in host/rules/nadam.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_nadam;

OPTCL__REFERENCE_LOOP static void nadam_cloned(const optcl_optimizer_config *c, float *param,
                                               const float *grad, float **state, size_t begin,
                                               size_t end, const optcl__step_scalars *s)
{
    float *exp_avg = state[0], *exp_avg_sq = state[1];
    const float bias_correction2 = s->rule[0], grad_coef = s->rule[1], momentum_coef = s->rule[2];
    const bool decoupled = c->nadam.decoupled_weight_decay != 0;
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, decoupled);
        float m, v;
        optcl__adam_moments(exp_avg, exp_avg_sq, i, d, s, &m, &v);
        float denom = sqrtf(v / bias_correction2) + s->eps;
        p = p + grad_coef * d / denom;
        param[i] = p + momentum_coef * m / denom;
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_nadam(const optcl_optimizer_config *c, float *param, const float *grad,
                            float **state, size_t begin, size_t end, const optcl__step_scalars *s)
{
    nadam_cloned(c, param, grad, state, begin, end, s);
}
