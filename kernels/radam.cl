/* radam.cl — torch.optim.RAdam (DECOUPLED: decoupled weight decay): Adam's moments; the
 * rectified adaptive step once ρ_t > 5, momentum SGD on the bias-corrected m before. Read side
 * by side with host/reference/radam.c and host/rules/radam.c (which names the rule's scalars). */


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
        OPTCL_WEIGHT_DECAY(p, d);
        OPTCL_ADAM_MOMENTS(m, v, exp_avg, exp_avg_sq, i, d);
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
