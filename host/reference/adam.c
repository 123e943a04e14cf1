/* adam.c — reference torch.optim.Adam / AdamW with AMSGrad; mirrors kernels/adam.cl. */
#include "reference.h"

void optcl__reference_adam(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                           float *max_exp_avg_sq, const optcl__step_scalars *s,
                           optcl__adam_flags f, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float p = param[i];
        float d = optcl__direction(grad[i], f.maximize);
        if (f.decoupled) {
            if (s->weight_decay != 0.0f)
                p = p * s->decay_factor;
        } else if (s->weight_decay != 0.0f) {
            d = d + s->weight_decay * p;
        }
        float m = optcl__lerp(exp_avg[i], d, s->one_minus_beta1);
        float v = exp_avg_sq[i] * s->beta2 + s->one_minus_beta2 * d * d;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if (f.amsgrad) {
            v = fmaxf(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        float denom = sqrtf(v) / s->bias_correction2_sqrt + s->eps;
        param[i] = p + s->neg_step_size * m / denom;
    }
}
