/* schedulefree.c — reference of kernels/schedulefree.cl, line by line; scalars in
 * host/rules/schedulefree.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_schedulefree;

OPTCL__REFERENCE_LOOP static void schedulefree_cloned(const optcl_optimizer_config *c, float *param,
                                                      const float *grad, float **state,
                                                      size_t begin, size_t end,
                                                      const optcl__step_scalars *s)
{
    float *z = state[0], *exp_avg_sq = c->algorithm == OPTCL_ADAMW_SCHEDULEFREE ? state[1] : NULL;
    const float ckp1 = s->rule[0], y_coef = s->rule[1], lr = s->rule[2];
    const float bias_correction2 = s->rule[3];
    for (size_t i = begin; i < end; i++) {
        float y = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        float zi = s->first_step ? y : z[i];
        if (exp_avg_sq) {
            float v = fmaf(s->one_minus_beta2 * d, d, exp_avg_sq[i] * s->beta2);
            exp_avg_sq[i] = v;
            d = d / (sqrtf(v / bias_correction2) + s->eps);
        }
        optcl__weight_decay(&y, &d, s, false); /* at y, into the direction: L2 */
        y = optcl__lerp(y, zi, ckp1);
        param[i] = fmaf(y_coef, d, y);
        z[i] = fmaf(-lr, d, zi);
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_schedulefree(const optcl_optimizer_config *c, float *param, const float *grad,
                                   float **state, size_t begin, size_t end,
                                   const optcl__step_scalars *s)
{
    schedulefree_cloned(c, param, grad, state, begin, end, s);
}
