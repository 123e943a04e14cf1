/* adamax.cl — torch.optim.Adamax: Adam with the infinity norm, exp_inf = max(β2·exp_inf,
 * |g| + eps). Read side by side with host/reference/adamax.c and host/rules/adamax.c. */

__kernel void optcl_adamax_f32(__global param_t *param, __global grad_t *grad,
                               __global state_t *exp_avg, __global state_t *exp_inf,
                               OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv p = LOAD_WEIGHT(param, i);
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        OPTCL_WEIGHT_DECAY(p, d);
        floatv m = optcl_lerp(LOAD_STATE(exp_avg, i), d, s.one_minus_beta1);
        floatv u = optcl_maximum(LOAD_STATE(exp_inf, i) * s.beta2, fabs(d) + s.eps);
        STORE_STATE(exp_avg, i, m);
        STORE_STATE(exp_inf, i, u);
        STORE_WEIGHT(param, i, p + s.neg_step_size * m / u);
    }
}
