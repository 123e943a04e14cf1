/* rmsprop.cl — torch.optim.RMSprop (centered, momentum, weight decay, maximize). Read side by
 * side with host/reference/rmsprop.c. */

#ifndef CENTERED
#define CENTERED 0
#endif
#ifndef HAS_MOMENTUM
#define HAS_MOMENTUM 0
#endif

__kernel void optcl_rmsprop_f32(__global float *param, __global const float *grad,
                                __global float *square_avg, __global float *grad_avg,
                                __global float *momentum_buffer, float neg_lr,
                                float weight_decay, float alpha, float one_minus_alpha,
                                float eps, float momentum, ulong end)
{
    size_t i = get_global_id(0);
    if (i >= end)
        return;
    float p = param[i];
    float d = optcl_direction(grad[i]);
    if (weight_decay != 0.0f)
        d = d + weight_decay * p;
    float sq = square_avg[i] * alpha + one_minus_alpha * d * d;
    square_avg[i] = sq;
#if CENTERED
    float ga = optcl_lerp(grad_avg[i], d, one_minus_alpha);
    grad_avg[i] = ga;
    float avg = sqrt(sq + -1.0f * ga * ga) + eps;
#else
    float avg = sqrt(sq) + eps;
#endif
#if HAS_MOMENTUM
    float buf = momentum_buffer[i] * momentum + d / avg;
    momentum_buffer[i] = buf;
    param[i] = p + neg_lr * buf;
#else
    param[i] = p + neg_lr * d / avg;
#endif
}
