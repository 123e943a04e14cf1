/* muon.c — reference of kernels/muon.cl, line by line; the Newton–Schulz iteration between
 * pack and apply is host/orthogonal.c's. */
#include "reference.h"

#include <math.h>
#include <stdint.h>

#define MOMENTUM(s) ((s)->rule[0])
#define ONE_MINUS_MOMENTUM(s) ((s)->rule[1])
#define EPS(s) ((s)->rule[2])

/* The new momentum of direction d at element i, and the update of new momentum m. */
static inline float muon_momentum(const float *momentum_buffer, size_t i, float d,
                                  const optcl__step_scalars *s)
{
    return optcl__lerp(momentum_buffer[i], d, ONE_MINUS_MOMENTUM(s));
}

static inline float muon_update(const optcl_optimizer_config *c, float m, float d,
                                const optcl__step_scalars *s)
{
    return c->muon.nesterov ? optcl__lerp(d, m, MOMENTUM(s)) : m;
}

OPTCL__REFERENCE_LOOP static void muon_sums_cloned(const optcl_optimizer_config *c,
                                                   const float *param, const float *grad,
                                                   float *const *state, size_t begin, size_t end,
                                                   const optcl__step_scalars *s, float *block_sums,
                                                   const optcl__tensor_values *tables)
{
    (void)param, (void)tables;
    bool maximize = c->maximize != 0;
    for (size_t b = begin / OPTCL__BLOCK; b < end / OPTCL__BLOCK; b++) {
        float lanes[OPTCL__LANES] = {0};
        for (size_t i = b * OPTCL__BLOCK; i < (b + 1) * OPTCL__BLOCK; i++) {
            float d = optcl__direction(grad[i], maximize);
            float u = muon_update(c, muon_momentum(state[0], i, d, s), d, s);
            lanes[i % OPTCL__LANES] += u * u;
        }
        block_sums[b] = optcl__lanes_total(lanes);
    }
}

void optcl__reference_muon_totals(const optcl__step_scalars *s, const float *block_sums,
                                  const uint32_t *segment_blocks, size_t first, size_t end,
                                  float *values, const optcl__factors *factors)
{
    (void)factors;
    for (size_t t = first; t < end; t++) {
        float norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 1, t, 0));
        values[t] = optcl__maximum(norm, EPS(s));
    }
}

static const uint32_t *info_of(const optcl__tensor_values *tables, size_t i)
{
    return tables->orthogonal->info +
           (size_t)tables->segment[i / OPTCL__BLOCK] * OPTCL__ORTHO_FIELDS;
}

OPTCL__REFERENCE_LOOP static void muon_pack_cloned(const optcl_optimizer_config *c,
                                                   const float *grad, float *const *state,
                                                   size_t begin, size_t end,
                                                   const optcl__step_scalars *s,
                                                   const optcl__tensor_values *tables)
{
    bool maximize = c->maximize != 0;
    for (size_t i = begin; i < end; i++) {
        const uint32_t *info = info_of(tables, i);
        float d = optcl__direction(grad[i], maximize);
        float u = muon_update(c, muon_momentum(state[0], i, d, s), d, s);
        size_t rows = info[OPTCL__ORTHO_ROWS], cols = info[OPTCL__ORTHO_COLS];
        size_t e = i - (size_t)info[OPTCL__ORTHO_FIRST_BLOCK] * OPTCL__BLOCK;
        if (e < rows * cols)
            tables->orthogonal->work[info[OPTCL__ORTHO_OFFSET] + e] =
                u / tables->values[tables->segment[i / OPTCL__BLOCK]];
    }
}

OPTCL__REFERENCE_LOOP static void muon_cloned(const optcl_optimizer_config *c, float *param,
                                              const float *grad, float **state, size_t begin,
                                              size_t end, const optcl__step_scalars *s,
                                              const optcl__tensor_values *tables)
{
    bool maximize = c->maximize != 0;
    for (size_t i = begin; i < end; i++) {
        state[0][i] = muon_momentum(state[0], i, optcl__direction(grad[i], maximize), s);
        const uint32_t *info = info_of(tables, i);
        size_t rows = info[OPTCL__ORTHO_ROWS], cols = info[OPTCL__ORTHO_COLS];
        size_t e = i - (size_t)info[OPTCL__ORTHO_FIRST_BLOCK] * OPTCL__BLOCK;
        float x = e < rows * cols ? tables->orthogonal->work[info[OPTCL__ORTHO_OFFSET] + e] : 0.0f;
        float p = param[i];
        if (s->weight_decay != 0.0f)
            p = p * s->decay_factor;
        float step = s->neg_lr * tables->orthogonal->ratio[tables->segment[i / OPTCL__BLOCK]];
        param[i] = fmaf(step, x, p);
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_muon_sums(const optcl_optimizer_config *c, const float *param,
                                const float *grad, float *const *state, size_t begin, size_t end,
                                const optcl__step_scalars *s, float *block_sums,
                                const optcl__tensor_values *tables)
{
    muon_sums_cloned(c, param, grad, state, begin, end, s, block_sums, tables);
}

void optcl__reference_muon_pack(const optcl_optimizer_config *c, const float *grad,
                                float *const *state, size_t begin, size_t end,
                                const optcl__step_scalars *s, const optcl__tensor_values *tables)
{
    muon_pack_cloned(c, grad, state, begin, end, s, tables);
}

void optcl__reference_muon(const optcl_optimizer_config *c, float *param, const float *grad,
                           float **state, size_t begin, size_t end, const optcl__step_scalars *s,
                           const optcl__tensor_values *tables)
{
    muon_cloned(c, param, grad, state, begin, end, s, tables);
}
