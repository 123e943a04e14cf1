/* asgd.c — reference of kernels/asgd.cl, line by line; scalars in host/rules/asgd.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_asgd;

OPTCL__REFERENCE_LOOP static void asgd_cloned(const optcl_optimizer_config *c, float *param,
                                              const float *grad, float **state, size_t begin,
                                              size_t end, const optcl__step_scalars *s)
{
    float *ax = state[0];
    const float decay = s->rule[0], neg_eta = s->rule[1], mu = s->rule[2];
    const bool averaging = mu != 1.0f;
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, false);
        p = p * decay;
        p = fmaf(neg_eta, d, p);
        param[i] = p;
        ax[i] = averaging ? ax[i] + (p - ax[i]) * mu : p;
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_asgd(const optcl_optimizer_config *c, float *param, const float *grad,
                           float **state, size_t begin, size_t end, const optcl__step_scalars *s)
{
    asgd_cloned(c, param, grad, state, begin, end, s);
}
