/* adam.cl — torch.optim.Adam and AdamW (DECOUPLED), with AMSGrad and maximize. Read side by
 * side with host/reference/adam.c. */

#ifndef AMSGRAD
#define AMSGRAD 0
#endif
#ifndef EPS_ROOT
#define EPS_ROOT 0 /* eps_root != 0: the denominator is sqrt(v / (1 − β2^t) + eps_root) + eps */
#endif
#define BIAS_CORRECTION2 s.rule[0]
#define EPS_ROOT_VALUE s.rule[1]

__kernel void optcl_adam_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *exp_avg, __global state_t *exp_avg_sq,
                             __global state_t *max_exp_avg_sq, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        OPTCL_ADAM_MOMENTS(m, v, exp_avg, exp_avg_sq, i, d);
    #if AMSGRAD
        v = optcl_maximum(LOAD_STATE(max_exp_avg_sq, i), v);
        STORE_STATE(max_exp_avg_sq, i, v);
    #endif
    #if EPS_ROOT
        floatv denom = sqrt(v / BIAS_CORRECTION2 + EPS_ROOT_VALUE) + s.eps;
    #else
        floatv denom = sqrt(v) / s.bias_correction2_sqrt + s.eps;
    #endif
        STORE_WEIGHT(param, i, p + s.neg_step_size * m / denom);
    }
}
