/* adagrad.c — reference of kernels/adagrad.cl, line by line; scalars in host/rules/adagrad.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_adagrad;

OPTCL__REFERENCE_LOOP static void adagrad_cloned(const optcl_optimizer_config *c, float *param,
                                                 const float *grad, float **state, size_t begin,
                                                 size_t end, const optcl__step_scalars *s)
{
    float *sum = state[0];
    const float neg_clr = s->rule[0], eps = s->rule[1], initial_sum = s->rule[2];
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, false);
        float acc = fmaf(d, d, s->first_step ? initial_sum : sum[i]);
        sum[i] = acc;
        param[i] = p + neg_clr * d / (sqrtf(acc) + eps);
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_adagrad(const optcl_optimizer_config *c, float *param, const float *grad,
                              float **state, size_t begin, size_t end, const optcl__step_scalars *s)
{
    adagrad_cloned(c, param, grad, state, begin, end, s);
}
