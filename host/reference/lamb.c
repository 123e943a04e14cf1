/* lamb.c — reference of kernels/lamb.cl, line by line. */
#include "reference.h"

#include <stdint.h>

/* the new moments of d at element i (not stored), and the update */
static inline void lamb_moments(float *const *state, size_t i, float d,
                                const optcl__step_scalars *s, float *m, float *v)
{
    *m = s->one_minus_beta1 * d + s->rule[0] * state[0][i];
    *v = s->one_minus_beta2 * (d * d) + s->beta2 * state[1][i];
}

static inline float lamb_update(float m, float v, float p, const optcl__step_scalars *s)
{
    return m * s->rule[1] / (sqrtf(v * s->rule[2] + s->rule[3]) + s->eps) + s->weight_decay * p;
}

void optcl__reference_lamb_sums(const optcl_optimizer_config *c, const float *param,
                                const float *grad, float *const *state, size_t begin,
                                size_t end, const optcl__step_scalars *s, float *block_sums,
                                const optcl__tensor_values *tables)
{
    (void)tables; /* no factored state */
    bool maximize = c->maximize != 0;
    for (size_t b = begin / OPTCL__BLOCK; b < end / OPTCL__BLOCK; b++) {
        float lanes[2][OPTCL__LANES] = {{0}};
        for (size_t i = b * OPTCL__BLOCK; i < (b + 1) * OPTCL__BLOCK; i++) {
            float p = param[i], m, v;
            lamb_moments(state, i, optcl__direction(grad[i], maximize), s,
                         &m, &v);
            float u = lamb_update(m, v, p, s);
            lanes[0][i % OPTCL__LANES] += p * p;
            lanes[1][i % OPTCL__LANES] += u * u;
        }
        block_sums[2 * b] = optcl__lanes_total(lanes[0]);
        block_sums[2 * b + 1] = optcl__lanes_total(lanes[1]);
    }
}

void optcl__reference_lamb_totals(const optcl__step_scalars *s, const float *block_sums,
                                  const uint32_t *segment_blocks, size_t first, size_t end,
                                  float *values, const optcl__factors *factors)
{
    (void)factors;
    for (size_t t = first; t < end; t++) {
        float p_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 0));
        float u_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 1));
        values[t] =
            s->rule[4] != 0.0f && p_norm != 0.0f && u_norm != 0.0f ? p_norm / u_norm : 1.0f;
    }
}

void optcl__reference_lamb(const optcl_optimizer_config *c, float *param, const float *grad,
                           float **state, size_t begin, size_t end, const optcl__step_scalars *s,
                           const optcl__tensor_values *values)
{
    bool maximize = c->maximize != 0;
    for (size_t i = begin; i < end; i++) {
        float ratio = values->values[values->segment[i / OPTCL__BLOCK]];
        float p = param[i], m, v;
        lamb_moments(state, i, optcl__direction(grad[i], maximize), s, &m,
                     &v);
        state[0][i] = m;
        state[1][i] = v;
        param[i] = p + s->neg_lr * (lamb_update(m, v, p, s) * ratio);
    }
}
