/* rmsprop.cl — torch.optim.RMSprop (centered, momentum, weight decay, maximize). Read side by
 * side with host/reference/rmsprop.c. */

#ifndef CENTERED
#define CENTERED 0
#endif
#ifndef HAS_MOMENTUM
#define HAS_MOMENTUM 0
#endif

__kernel void optcl_rmsprop_f32(__global param_t *param, __global grad_t *grad,
                                __global state_t *square_avg, __global state_t *grad_avg,
                                __global state_t *momentum_buffer, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        floatv sq = OPTCL_FMA(s.one_minus_alpha * d, d, LOAD_STATE(square_avg, i) * s.alpha);
        STORE_STATE(square_avg, i, sq);
    #if CENTERED
        floatv ga = optcl_lerp(LOAD_STATE(grad_avg, i), d, s.one_minus_alpha);
        STORE_STATE(grad_avg, i, ga);
        floatv avg = sqrt(OPTCL_FMA(-ga, ga, sq)) + s.eps; /* sq.addcmul(ga, ga, value=−1) */
    #else
        floatv avg = sqrt(sq) + s.eps;
    #endif
    #if HAS_MOMENTUM
        floatv buf = LOAD_STATE(momentum_buffer, i) * s.momentum + d / avg;
        STORE_STATE(momentum_buffer, i, buf);
        STORE_WEIGHT(param, i, OPTCL_FMA(s.neg_lr, buf, p));
    #else
        STORE_WEIGHT(param, i, p + s.neg_lr * d / avg);
    #endif
    }
}
