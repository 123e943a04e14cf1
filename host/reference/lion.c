/* lion.c — reference of kernels/lion.cl, line by line. */
#include "reference.h"

OPTCL__ALWAYS_INLINE void lion_loop(float *param, const float *grad, float *exp_avg,
                                    const optcl__step_scalars *s, bool maximize, bool decay,
                                    size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float g = optcl__direction(grad[i], maximize);
        float m = exp_avg[i];
        float c = optcl__lerp(m, g, s->one_minus_beta1);
        float update = c > 0.0f ? 1.0f : c < 0.0f ? -1.0f : c; /* zeros and NaN kept */
        if (decay)
            p = p * s->decay_factor;
        param[i] = p + s->neg_lr * update;
        exp_avg[i] = optcl__lerp(m, g, s->one_minus_beta2);
    }
}

OPTCL__REFERENCE_LOOP static void lion_cloned(float *param, const float *grad, float *exp_avg,
                                              const optcl__step_scalars *s, bool maximize,
                                              size_t begin, size_t end)
{
    bool decay = s->weight_decay != 0.0f;
    if (maximize && decay)
        lion_loop(param, grad, exp_avg, s, true, true, begin, end);
    else if (maximize)
        lion_loop(param, grad, exp_avg, s, true, false, begin, end);
    else if (decay)
        lion_loop(param, grad, exp_avg, s, false, true, begin, end);
    else
        lion_loop(param, grad, exp_avg, s, false, false, begin, end);
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_lion(float *param, const float *grad, float *exp_avg,
                           const optcl__step_scalars *s, bool maximize, size_t begin, size_t end)
{
    lion_cloned(param, grad, exp_avg, s, maximize, begin, end);
}
