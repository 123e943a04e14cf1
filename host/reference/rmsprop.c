/* rmsprop.c — reference torch.optim.RMSprop; mirrors kernels/rmsprop.cl. */
#include "reference.h"

void optcl__reference_rmsprop(float *param, const float *grad, float *square_avg,
                              float *grad_avg, float *momentum_buffer,
                              const optcl__step_scalars *s, optcl__rmsprop_flags f,
                              size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], f.maximize);
        if (s->weight_decay != 0.0f)
            d = d + s->weight_decay * p;
        float sq = square_avg[i] * s->alpha + s->one_minus_alpha * d * d;
        square_avg[i] = sq;
        float avg;
        if (f.centered) {
            float ga = optcl__lerp(grad_avg[i], d, s->one_minus_alpha);
            grad_avg[i] = ga;
            avg = sqrtf(sq + -1.0f * ga * ga) + s->eps;
        } else {
            avg = sqrtf(sq) + s->eps;
        }
        if (f.has_momentum) {
            float buf = momentum_buffer[i] * s->momentum + d / avg;
            momentum_buffer[i] = buf;
            param[i] = p + s->neg_lr * buf;
        } else {
            param[i] = p + s->neg_lr * d / avg;
        }
    }
}
