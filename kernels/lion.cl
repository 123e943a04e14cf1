/* lion.cl — Lion (Chen et al. 2023; the google/automl rule, written with lerp as lion-pytorch
 * does): the step is the sign of an interpolation of momentum and gradient. Read side by side
 * with host/reference/lion.c and host/rules/lion.c. */

__kernel void optcl_lion_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *exp_avg, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv g = optcl_direction(OPTCL_GRAD_AT(grad, i));
        floatv m = LOAD_STATE(exp_avg, i);
        floatv c = optcl_lerp(m, g, s.one_minus_beta1);
        /* sign(c): zeros and NaN kept as they are */
        floatv update = select(select(c, (floatv)-1.0f, c < 0.0f), (floatv)1.0f, c > 0.0f);
        if (s.weight_decay != 0.0f)
            p = p * s.decay_factor;
        STORE_WEIGHT(param, i, p + s.neg_lr * update);
        STORE_STATE(exp_avg, i, optcl_lerp(m, g, s.one_minus_beta2));
    }
}
