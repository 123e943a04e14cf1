/* rprop.cl — torch.optim.Rprop and the lecture's classic Rprop (CLASSIC). Read side by side
 * with host/reference/rprop.c. */

#ifndef CLASSIC
#define CLASSIC 0
#endif

__kernel void optcl_rprop_f32(__global param_t *param, __global grad_t *grad,
                              __global state_t *prev, __global state_t *step_size, OPTCL_STEP_ARGS)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) { /* launches cover their range exactly: no bounds check */
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        floatv product = d * LOAD_STATE(prev, i);
        /* loaded either way: a select vectorises, a branch not */
        floatv stored = LOAD_STATE(step_size, i);
        floatv step = s.first_step ? (floatv)s.lr : stored;
    #if CLASSIC
        /* A product ≤ 0 (a sign change, or the first step's zero) shrinks the step. */
        step = step * select((floatv)s.etaminus, (floatv)s.etaplus, product > 0.0f);
    #else
        /* PyTorch: grow on agreement, shrink on a sign change and rest that element this step. */
        floatv factor = select(select((floatv)1.0f, (floatv)s.etaminus, product < 0.0f),
                               (floatv)s.etaplus, product > 0.0f);
        step = step * factor;
        d = select(d, (floatv)0.0f, product < 0.0f);
    #endif
        /* torch.clamp, NaN kept (fmin/fmax would drop it) */
        step = select(step, (floatv)s.step_min, step < s.step_min);
        step = select(step, (floatv)s.step_max, step > s.step_max);
        STORE_STATE(step_size, i, step);
        /* torch.sign(d): 0 for ±0 and NaN (a NaN gradient leaves its element where it is) */
        floatv direction =
            select(select((floatv)0.0f, (floatv)-1.0f, d < 0.0f), (floatv)1.0f, d > 0.0f);
        STORE_WEIGHT(param, i, LOAD_WEIGHT(param, i) - direction * step);
        STORE_STATE(prev, i, d);
    }
}
