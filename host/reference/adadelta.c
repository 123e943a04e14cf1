/* adadelta.c — reference of kernels/adadelta.cl, line by line; scalars in host/rules/adadelta.c. */
#include "reference.h"

optcl__reference_rule optcl__reference_adadelta;

OPTCL__REFERENCE_LOOP static void adadelta_cloned(const optcl_optimizer_config *c, float *param,
                                                  const float *grad, float **state, size_t begin,
                                                  size_t end, const optcl__step_scalars *s)
{
    float *square_avg = state[0], *acc_delta = state[1];
    const float rho = s->rule[0], one_minus_rho = s->rule[1], eps = s->rule[2];
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], c->maximize != 0);
        optcl__weight_decay(&p, &d, s, false);
        float sq = fmaf(one_minus_rho * d, d, square_avg[i] * rho);
        float acc = acc_delta[i];
        float delta = sqrtf(acc + eps) / sqrtf(sq + eps) * d;
        square_avg[i] = sq;
        acc_delta[i] = fmaf(one_minus_rho * delta, delta, acc * rho);
        param[i] = fmaf(s->neg_lr, delta, p);
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_adadelta(const optcl_optimizer_config *c, float *param, const float *grad,
                               float **state, size_t begin, size_t end,
                               const optcl__step_scalars *s)
{
    adadelta_cloned(c, param, grad, state, begin, end, s);
}
