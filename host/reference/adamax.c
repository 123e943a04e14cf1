/* adamax.c — reference of kernels/adamax.cl, line by line; scalars in host/rules/adamax.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_adamax;

OPTCL__REFERENCE_LOOP static void adamax_cloned(const optcl_optimizer_config *c, float *param,
                                                const float *grad, float **state, size_t begin,
                                                size_t end, const optcl__step_scalars *s)
{
    float *exp_avg = state[0], *exp_inf = state[1];
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, false);
        float m = optcl__lerp(exp_avg[i], d, s->one_minus_beta1);
        float u = optcl__maximum(exp_inf[i] * s->beta2, fabsf(d) + s->eps);
        exp_avg[i] = m;
        exp_inf[i] = u;
        param[i] = p + s->neg_step_size * m / u;
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_adamax(const optcl_optimizer_config *c, float *param, const float *grad,
                             float **state, size_t begin, size_t end, const optcl__step_scalars *s)
{
    adamax_cloned(c, param, grad, state, begin, end, s);
}
