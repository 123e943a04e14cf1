/* radam.cl — torch.optim.RAdam (DECOUPLED: decoupled weight decay): Adam's moments; the
 * rectified adaptive step once ρ_t > 5, momentum SGD on the bias-corrected m before. Read side
 * by side with host/reference/radam.c and host/rules/radam.c (which names the rule's scalars). */

#ifndef DECOUPLED
#define DECOUPLED 0 /* param *= 1 − lr·weight_decay before the update */
#endif

#define BIAS_CORRECTION1 s.rule[0]      /* 1 − β1^t */
#define RECTIFIED (s.rule[1] != 0.0f)   /* ρ_t > 5: the whole step's branch */
#define LR s.rule[2]
#define BIAS_CORRECTION2_SQRT s.rule[3] /* √(1 − β2^t) */
#define RECT s.rule[4]                  /* the rectification term r_t */

__kernel void optcl_radam_f32(__global param_t *param, __global grad_t *grad,
                              __global state_t *exp_avg, __global state_t *exp_avg_sq,
                              OPTCL_STEP_ARGS)
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
        floatv m_hat = m / BIAS_CORRECTION1;
        if (RECTIFIED) {
            floatv adaptive = 1.0f / (sqrt(v) + s.eps) * BIAS_CORRECTION2_SQRT;
            p = p - m_hat * LR * adaptive * RECT;
        } else {
            p = p - m_hat * LR;
        }
        STORE_WEIGHT(param, i, p);
    }
}
