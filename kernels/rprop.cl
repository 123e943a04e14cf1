/* rprop.cl — torch.optim.Rprop and the lecture's classic Rprop (CLASSIC). Read side by side
 * with host/reference/rprop.c. */

#ifndef CLASSIC
#define CLASSIC 0
#endif

__kernel void optcl_rprop_f32(__global float *param, __global const float *grad,
                              __global float *prev, __global float *step_size, float init_step,
                              float etaminus, float etaplus, float step_min, float step_max,
                              int first_step, ulong end)
{
    size_t i = get_global_id(0);
    if (i >= end)
        return;
    float d = optcl_direction(grad[i]);
    float product = d * prev[i];
    float step = first_step ? init_step : step_size[i];
#if CLASSIC
    /* A product ≤ 0 (a sign change, or the first step's zero) shrinks the step. */
    step = step * (product > 0.0f ? etaplus : etaminus);
#else
    /* PyTorch: grow on agreement, shrink on a sign change and rest that element this step. */
    float factor = product > 0.0f ? etaplus : (product < 0.0f ? etaminus : 1.0f);
    step = step * factor;
    if (product < 0.0f)
        d = 0.0f;
#endif
    /* torch.clamp, NaN kept (fmin/fmax would drop it) */
    step = step < step_min ? step_min : (step > step_max ? step_max : step);
    step_size[i] = step;
    float direction = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : d); /* sign, zero and NaN kept */
    param[i] = param[i] - direction * step;
    prev[i] = d;
}
