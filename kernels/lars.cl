/* lars.cl — LARS (You et al. 2017) as optax.lars: u = g + weight_decay·p, scaled per tensor by
 * the trust ratio trust_coefficient·‖p‖ / (‖u‖ + eps) (1 where either norm is 0, or for a group
 * left out) and by −lr; then momentum on the scaled update, m = u + momentum·m, and p += m
 * (nesterov: p += u + momentum·m). Three kernels (host/segments.h): the sums kernel adds ‖p‖²
 * and ‖u‖² per block, the totals kernel makes each tensor's trust ratio, the step kernel steps;
 * a tensor small enough to stay in cache, the totals kernel's work-group steps whole.
 * Read side by side with host/reference/lars.c and host/rules/lars.c. */

#ifndef NESTEROV
#define NESTEROV 0
#endif
#define TRUST_COEFFICIENT s.rule[0]
#define TRUST s.rule[1] /* 1: the group's update is scaled by the trust ratio; 0: by 1 */

/* ‖p‖² and ‖u‖² of vector i, into lane vector k of the sums */
#define LARS_SUMS(i, k)                                                                           \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    /* the step reads the gradient again: only it stores an unscaled one */                       \
    floatv u = optcl_direction(OPTCL_GRAD_PEEK(grad, i)) + s.weight_decay * p;                    \
    OPTCL_SUM(0, k, p * p);                                                                       \
    OPTCL_SUM(1, k, u * u)
/* vector i's step, its tensor's trust ratio known */
#define LARS_STEP(i, ratio)                                                                       \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    floatv u = optcl_direction(OPTCL_GRAD_AT(grad, i)) + s.weight_decay * p;                      \
    u = s.neg_lr * (u * (ratio));                                                                 \
    floatv m = u + s.momentum * LOAD_STATE(momentum_buffer, i);                                   \
    STORE_STATE(momentum_buffer, i, m);                                                           \
    STORE_WEIGHT(param, i, NESTEROV ? p + (u + s.momentum * m) : p + m)

__kernel void optcl_lars_sums_f32(__global param_t *param, __global grad_t *grad,
                                  __global state_t *momentum_buffer,
                                  OPTCL_STEP_ARGS OPTCL_SUMS_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_SUMS_BEGIN(2);
    OPTCL_FOR_EACH_BLOCK_VECTOR(i, k) {
        LARS_SUMS(i, k);
    }
    OPTCL_SUMS_END(2);
}

/* Per tensor, the trust ratio; a small tensor's sums and step as well (common.cl's
 * OPTCL_TENSOR_BEGIN). */
__kernel void optcl_lars_totals_f32(__global param_t *param, __global grad_t *grad,
                                    __global state_t *momentum_buffer,
                                    OPTCL_STEP_ARGS OPTCL_TOTALS_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_TENSOR_BEGIN(t);
    OPTCL_WHOLE_SUMS(t, 2, LARS_SUMS);
    float p_norm = sqrt(OPTCL_TOTAL(t, 2, 0)), u_norm = sqrt(OPTCL_TOTAL(t, 2, 1));
    float ratio = TRUST != 0.0f && p_norm != 0.0f && u_norm != 0.0f
                      ? TRUST_COEFFICIENT * p_norm / (u_norm + s.eps)
                      : 1.0f;
    OPTCL_TENSOR_WRITE(t, ratio);
    OPTCL_FOR_EACH_WHOLE_VECTOR(t, i) {
        LARS_STEP(i, ratio);
    }
}

__kernel void optcl_lars_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *momentum_buffer,
                             OPTCL_STEP_ARGS OPTCL_TENSOR_VALUES_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) {
        if (OPTCL_STEPPED_WHOLE(i))
            continue;
        LARS_STEP(i, OPTCL_TENSOR_VALUE(i, 1, 0));
    }
}
