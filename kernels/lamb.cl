/* lamb.cl — LAMB (You et al. 2020) as optax.lamb: Adam's bias-corrected moments, the update
 * u = m̂ / (√(v̂ + eps_root) + eps) + weight_decay·p, scaled per tensor by the trust ratio
 * ‖p‖ / ‖u‖ (1 where either is 0, or for a group left out) and by −lr. Three kernels
 * (host/segments.h): the sums kernel computes the new moments and u and adds ‖p‖² and ‖u‖² per
 * block, storing nothing; the totals kernel makes each tensor's trust ratio; the step kernel
 * computes the moments and u again, the same bits, and stores. So the norm is the norm of the
 * update applied, and the update uses the new moments unrounded (bfloat16 state rounds only
 * what is stored), as optax's mu_dtype does — at 44 B per parameter and step, where storing the
 * moments in the first pass would move 40. A tensor small enough to stay in cache is stepped
 * whole by the totals kernel's work-group (sums, ratio, step), which reads it from memory once:
 * 28 B, as Adam. Read side by side with host/reference/lamb.c and
 * host/rules/lamb.c. */

#define BETA1 s.rule[0]
#define INV_BIAS_CORRECTION1 s.rule[1] /* 1 / (1 − β1^t): a multiply, as XLA compiles optax's */
#define INV_BIAS_CORRECTION2 s.rule[2] /* division (two divisions fewer per element and pass) */
#define EPS_ROOT s.rule[3]
#define TRUST s.rule[4] /* 1: the group's update is scaled by the trust ratio; 0: by 1 */

/* optax.scale_by_adam's moments of d at vector i, its update, then add_decayed_weights */
#define LAMB_MOMENTS(m, v, i, d)                                                                  \
    floatv m = s.one_minus_beta1 * d + BETA1 * LOAD_STATE(exp_avg, i);                            \
    floatv v = s.one_minus_beta2 * (d * d) + s.beta2 * LOAD_STATE(exp_avg_sq, i)
#define LAMB_UPDATE(m, v, p)                                                                      \
    ((m) * INV_BIAS_CORRECTION1 / (sqrt((v) * INV_BIAS_CORRECTION2 + EPS_ROOT) + s.eps) +       \
     s.weight_decay * (p))

/* ‖p‖² and ‖u‖² of vector i, into lane vector k of the sums */
#define LAMB_SUMS(i, k)                                                                           \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    /* the step reads the gradient again: only it stores an unscaled one */                       \
    floatv d = optcl_direction(OPTCL_GRAD_PEEK(grad, i));                                         \
    LAMB_MOMENTS(m, v, i, d);                                                                     \
    floatv u = LAMB_UPDATE(m, v, p);                                                              \
    OPTCL_SUM(0, k, p * p);                                                                       \
    OPTCL_SUM(1, k, u * u)
/* vector i's step, its tensor's trust ratio known */
#define LAMB_STEP(i, ratio)                                                                       \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));                                           \
    LAMB_MOMENTS(m, v, i, d);                                                                     \
    STORE_STATE(exp_avg, i, m);                                                                   \
    STORE_STATE(exp_avg_sq, i, v);                                                                \
    STORE_WEIGHT(param, i, p + s.neg_lr * (LAMB_UPDATE(m, v, p) * (ratio)))

__kernel void optcl_lamb_sums_f32(__global param_t *param, __global grad_t *grad,
                                  __global state_t *exp_avg, __global state_t *exp_avg_sq,
                                  OPTCL_STEP_ARGS OPTCL_SUMS_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_SUMS_BEGIN(2);
    OPTCL_FOR_EACH_BLOCK_VECTOR(i, k) {
        LAMB_SUMS(i, k);
    }
    OPTCL_SUMS_END(2);
}

/* Per tensor, the trust ratio; a small tensor's sums and step as well (common.cl's
 * OPTCL_TENSOR_BEGIN). */
__kernel void optcl_lamb_totals_f32(__global param_t *param, __global grad_t *grad,
                                    __global state_t *exp_avg, __global state_t *exp_avg_sq,
                                    OPTCL_STEP_ARGS OPTCL_TOTALS_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_TENSOR_BEGIN(t);
    OPTCL_WHOLE_SUMS(t, 2, LAMB_SUMS);
    float p_norm = sqrt(OPTCL_TOTAL(t, 2, 0)), u_norm = sqrt(OPTCL_TOTAL(t, 2, 1));
    float ratio = TRUST != 0.0f && p_norm != 0.0f && u_norm != 0.0f ? p_norm / u_norm : 1.0f;
    OPTCL_TENSOR_WRITE(t, ratio);
    OPTCL_FOR_EACH_WHOLE_VECTOR(t, i) {
        LAMB_STEP(i, ratio);
    }
}

__kernel void optcl_lamb_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *exp_avg, __global state_t *exp_avg_sq,
                             OPTCL_STEP_ARGS OPTCL_TENSOR_VALUES_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) {
        if (OPTCL_STEPPED_WHOLE(i))
            continue;
        LAMB_STEP(i, OPTCL_TENSOR_VALUE(i, 1, 0));
    }
}
