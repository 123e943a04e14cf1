/* radam.c — reference of kernels/radam.cl, line by line; scalars in host/rules/radam.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_radam;

OPTCL__REFERENCE_LOOP static void radam_cloned(const optcl_optimizer_config *c, float *param,
                                               const float *grad, float **state, size_t begin,
                                               size_t end, const optcl__step_scalars *s)
{
    float *exp_avg = state[0], *exp_avg_sq = state[1];
    const float bias_correction1 = s->rule[0], lr = s->rule[2];
    const float bias_correction2_sqrt = s->rule[3], rect = s->rule[4];
    const bool rectified = s->rule[1] != 0.0f, decoupled = c->radam.decoupled_weight_decay != 0;
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, decoupled);
        float m, v;
        optcl__adam_moments(exp_avg, exp_avg_sq, i, d, s, &m, &v);
        float m_hat = m / bias_correction1;
        if (rectified) {
            float adaptive = 1.0f / (sqrtf(v) + s->eps) * bias_correction2_sqrt;
            p = p - m_hat * lr * adaptive * rect;
        } else {
            p = p - m_hat * lr;
        }
        param[i] = p;
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_radam(const optcl_optimizer_config *c, float *param, const float *grad,
                            float **state, size_t begin, size_t end, const optcl__step_scalars *s)
{
    radam_cloned(c, param, grad, state, begin, end, s);
}
