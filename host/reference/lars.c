/* lars.c — reference of kernels/lars.cl, line by line. */
#include "reference.h"

#include <stdint.h>

void optcl__reference_lars_sums(const optcl_optimizer_config *c, const float *param,
                                const float *grad, float *const *state, size_t begin,
                                size_t end, const optcl__step_scalars *s, float *block_sums,
                                const optcl__tensor_values *tables)
{
    (void)tables; /* no factored state */
    (void)state;
    bool maximize = c->maximize != 0;
    for (size_t b = begin / OPTCL__BLOCK; b < end / OPTCL__BLOCK; b++) {
        float lanes[2][OPTCL__LANES] = {{0}};
        for (size_t i = b * OPTCL__BLOCK; i < (b + 1) * OPTCL__BLOCK; i++) {
            float p = param[i];
            float u = optcl__direction(grad[i], maximize) + s->weight_decay * p;
            lanes[0][i % OPTCL__LANES] += p * p;
            lanes[1][i % OPTCL__LANES] += u * u;
        }
        block_sums[2 * b] = optcl__lanes_total(lanes[0]);
        block_sums[2 * b + 1] = optcl__lanes_total(lanes[1]);
    }
}

void optcl__reference_lars_totals(const optcl__step_scalars *s, const float *block_sums,
                                  const uint32_t *segment_blocks, size_t first, size_t end,
                                  float *values, const optcl__factors *factors)
{
    (void)factors;
    for (size_t t = first; t < end; t++) {
        float p_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 0));
        float u_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 1));
        values[t] = s->rule[1] != 0.0f && p_norm != 0.0f && u_norm != 0.0f
                        ? s->rule[0] * p_norm / (u_norm + s->eps)
                        : 1.0f;
    }
}

void optcl__reference_lars(const optcl_optimizer_config *c, float *param, const float *grad,
                           float **state, size_t begin, size_t end, const optcl__step_scalars *s,
                           const optcl__tensor_values *values)
{
    float *momentum_buffer = state[0];
    bool maximize = c->maximize != 0, nesterov = c->lars.nesterov != 0;
    for (size_t i = begin; i < end; i++) {
        float ratio = values->values[values->segment[i / OPTCL__BLOCK]];
        float p = param[i];
        float u = optcl__direction(grad[i], maximize) + s->weight_decay * p;
        u = s->neg_lr * (u * ratio);
        float m = u + s->momentum * momentum_buffer[i];
        momentum_buffer[i] = m;
        param[i] = nesterov ? p + (u + s->momentum * m) : p + m;
    }
}
