/* sgd.c — reference torch.optim.SGD and the lecture's EMA momentum; mirrors kernels/sgd.cl. */
#include "reference.h"

OPTCL__REFERENCE_LOOP static void sgd_cloned(float *param, const float *grad,
                                             float *momentum_buffer, const optcl__step_scalars *s,
                                             optcl__sgd_flags f, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], f.maximize);
        optcl__weight_decay(&p, &d, s, false);
        if (f.has_momentum) {
            float buf = momentum_buffer[i];
            if (f.ema)
                buf = fmaf(s->one_minus_dampening, d, buf * s->momentum);
            else
                buf = s->first_step ? d : fmaf(s->one_minus_dampening, d, buf * s->momentum);
            momentum_buffer[i] = buf;
            if (f.nesterov)
                d = fmaf(s->momentum, buf, d);
            else
                d = buf;
        }
        param[i] = fmaf(s->neg_lr, d, p);
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_sgd(float *param, const float *grad, float *momentum_buffer,
                          const optcl__step_scalars *s, optcl__sgd_flags f, size_t begin,
                          size_t end)
{
    sgd_cloned(param, grad, momentum_buffer, s, f, begin, end);
}
