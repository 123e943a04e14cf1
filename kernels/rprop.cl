/* rprop.cl — torch.optim.Rprop and the lecture's classic Rprop (CLASSIC). Read side by side
 * with host/reference/rprop.c. */

#ifndef CLASSIC
#define CLASSIC 0
#endif

__kernel void optcl_rprop_f32(__global float *param, __global const float *grad,
                              __global float *prev, __global float *step_size, float init_step,
                              float etaminus, float etaplus, float step_min, float step_max,
                              int first_step)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    floatv d = optcl_direction(LOAD(grad, i));
    floatv product = d * LOAD(prev, i);
    floatv step = first_step ? (floatv)init_step : LOAD(step_size, i);
#if CLASSIC
    /* A product ≤ 0 (a sign change, or the first step's zero) shrinks the step. */
    step = step * select((floatv)etaminus, (floatv)etaplus, product > 0.0f);
#else
    /* PyTorch: grow on agreement, shrink on a sign change and rest that element this step. */
    floatv factor = select(select((floatv)1.0f, (floatv)etaminus, product < 0.0f),
                           (floatv)etaplus, product > 0.0f);
    step = step * factor;
    d = select(d, (floatv)0.0f, product < 0.0f);
#endif
    /* torch.clamp, NaN kept (fmin/fmax would drop it) */
    step = select(step, (floatv)step_min, step < step_min);
    step = select(step, (floatv)step_max, step > step_max);
    STORE(step_size, i, step);
    /* sign(d), with zeros and NaN kept as they are */
    floatv direction = select(select(d, (floatv)-1.0f, d < 0.0f), (floatv)1.0f, d > 0.0f);
    STORE(param, i, LOAD(param, i) - direction * step);
    STORE(prev, i, d);
}
