/* adam.cl — torch.optim.Adam and AdamW (DECOUPLED), with AMSGrad and maximize. Read side by
 * side with host/reference/adam.c. */

#ifndef DECOUPLED
#define DECOUPLED 0 /* AdamW: param *= 1 − lr·weight_decay before the update */
#endif
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
    #if DECOUPLED
        if (s.weight_decay != 0.0f)
            p = p * s.decay_factor;
    #else
        if (s.weight_decay != 0.0f)
            d = d + s.weight_decay * p;
    #endif
        floatv m = optcl_lerp(LOAD_STATE(exp_avg, i), d, s.one_minus_beta1);
        floatv v = LOAD_STATE(exp_avg_sq, i) * s.beta2 + s.one_minus_beta2 * d * d;
        STORE_STATE(exp_avg, i, m);
        STORE_STATE(exp_avg_sq, i, v);
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
