/* nadam.cl — torch.optim.NAdam (DECOUPLED: decoupled weight decay): Adam's moments, and a step
 * of the gradient and the momentum weighted by this and the next step's μ. Read side by side
 * with host/reference/nadam.c and host/rules/nadam.c (which names the rule's scalars). */


#define BIAS_CORRECTION2 s.rule[0] /* 1 − β2^t */
#define GRAD_COEF s.rule[1]        /* −lr·(1 − μ_t) / (1 − Π μ_1..t) */
#define MOMENTUM_COEF s.rule[2]    /* −lr·μ_t+1 / (1 − Π μ_1..t+1) */

__kernel void optcl_nadam_f32(__global param_t *param, __global grad_t *grad,
                              __global state_t *exp_avg, __global state_t *exp_avg_sq,
                              OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        OPTCL_ADAM_MOMENTS(m, v, exp_avg, exp_avg_sq, i, d);
        floatv denom = sqrt(v / BIAS_CORRECTION2) + s.eps;
        p = p + GRAD_COEF * d / denom;
        STORE_WEIGHT(param, i, p + MOMENTUM_COEF * m / denom);
    }
}
