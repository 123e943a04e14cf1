/* sgd.cl — torch.optim.SGD (momentum, dampening, Nesterov, weight decay, maximize) and the
 * lecture's EMA momentum. Read side by side with host/reference/sgd.c. */

#ifndef HAS_MOMENTUM
#define HAS_MOMENTUM 0 /* momentum != 0: a momentum_buffer exists */
#endif
#ifndef NESTEROV
#define NESTEROV 0
#endif
#ifndef EMA
#define EMA 0 /* buf = momentum·buf + (1−momentum)·d, starting at zero */
#endif

__kernel void optcl_sgd_f32(__global param_t *param, __global grad_t *grad,
                            __global state_t *momentum_buffer, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
    #if HAS_MOMENTUM
        floatv buf = LOAD_STATE(momentum_buffer, i);
    #if EMA
        buf = OPTCL_FMA(s.one_minus_dampening, d, buf * s.momentum);
    #else
        /* buf.mul_(momentum).add_(d, alpha=1 − dampening) */
        buf = s.first_step ? d : OPTCL_FMA(s.one_minus_dampening, d, buf * s.momentum);
    #endif
        STORE_STATE(momentum_buffer, i, buf);
    #if NESTEROV
        d = OPTCL_FMA(s.momentum, buf, d);
    #else
        d = buf;
    #endif
    #endif
        STORE_WEIGHT(param, i, OPTCL_FMA(s.neg_lr, d, p)); /* p.add_(d, alpha=−lr) */
    }
}
