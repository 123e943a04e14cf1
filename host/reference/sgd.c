/* sgd.c — reference torch.optim.SGD and the lecture's EMA momentum; mirrors kernels/sgd.cl. */
#include "reference.h"

void optcl__reference_sgd(float *param, const float *grad, float *momentum_buffer,
                          const optcl__step_scalars *s, optcl__sgd_flags f, size_t begin,
                          size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], f.maximize);
        optcl__weight_decay(&p, &d, s, false);
        if (f.has_momentum) {
            float buf = momentum_buffer[i];
            if (f.ema)
                buf = buf * s->momentum + s->one_minus_dampening * d;
            else
                buf = s->first_step ? d : buf * s->momentum + s->one_minus_dampening * d;
            momentum_buffer[i] = buf;
            if (f.nesterov)
                d = d + s->momentum * buf;
            else
                d = buf;
        }
        param[i] = p + s->neg_lr * d;
    }
}
