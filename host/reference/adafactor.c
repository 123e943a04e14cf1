/* adafactor.c — reference of kernels/adafactor.cl, line by line. */
#include "reference.h"

#include <math.h>
#include <stdint.h>

#define W(s) ((s)->rule[0])
#define RHO(s) ((s)->rule[1])
#define EPS1(s) ((s)->rule[2])
#define EPS1_SQUARED(s) ((s)->rule[3])
#define EPS2(s) ((s)->rule[4])
#define CLIP_D(s) ((s)->rule[5])

/* The kernels' factors (row means of g² in 16 lanes, column means in order, lerped) and means (of each
 * matrix's rows, clamped below at eps1) for the segments [first, end). */
OPTCL__REFERENCE_LOOP static void adafactor_factors_cloned(const optcl__step_scalars *s,
                                                           const float *grad,
                                                           const optcl__factors *f, size_t first,
                                                           size_t end)
{
    for (size_t t = first; t < end; t++) {
        const uint32_t *info = f->info + t * OPTCL__FACTOR_FIELDS;
        size_t batches = info[OPTCL__FACTOR_BATCHES], rows = info[OPTCL__FACTOR_ROWS];
        size_t cols = info[OPTCL__FACTOR_COLS];
        const float *g = grad + (size_t)info[OPTCL__FACTOR_FIRST_BLOCK] * OPTCL__BLOCK;
        float *row_var = f->state + info[OPTCL__FACTOR_SLOT], *col_var = row_var + batches * rows;
        for (size_t line = 0; line < batches * rows; line++) {
            float lane[OPTCL__LANES] = {0};
            for (size_t k = 0; k < cols; k++)
                lane[k % OPTCL__LANES] += g[line * cols + k] * g[line * cols + k];
            row_var[line] = optcl__lerp(row_var[line], optcl__lanes_total(lane) / (float)cols, W(s));
        }
        for (size_t b = 0; b < batches; b++)
            for (size_t j = 0; j < cols; j++) {
                const float *column = g + b * rows * cols + j;
                float sum = 0.0f;
                for (size_t k = 0; k < rows; k++)
                    sum += column[k * cols] * column[k * cols];
                col_var[b * cols + j] = optcl__lerp(col_var[b * cols + j], sum / (float)rows, W(s));
            }
        for (size_t b = 0; b < batches; b++) {
            float sum = 0.0f;
            for (size_t i = 0; i < rows; i++)
                sum += row_var[b * rows + i];
            f->means[info[OPTCL__FACTOR_FIRST_BATCH] + b] =
                optcl__maximum(sum / (float)rows, EPS1(s));
        }
    }
}

/* U of direction d at element i (its block's segment t), and a vector's new variance. */
static inline float adafactor_update(const optcl__factors *f, const uint32_t *info, size_t i,
                                     float d, const optcl__step_scalars *s, float *variance)
{
    size_t e = i - (size_t)info[OPTCL__FACTOR_FIRST_BLOCK] * OPTCL__BLOCK;
    size_t n = info[OPTCL__FACTOR_COUNT], batches = info[OPTCL__FACTOR_BATCHES];
    if (e >= n)
        return 0.0f;
    const float *state = f->state + info[OPTCL__FACTOR_SLOT];
    float v;
    if (batches != 0) {
        size_t rows = info[OPTCL__FACTOR_ROWS], cols = info[OPTCL__FACTOR_COLS];
        size_t row = e / cols, b = row / rows;
        v = state[row] * state[batches * rows + b * cols + (e - row * cols)] /
            f->means[info[OPTCL__FACTOR_FIRST_BATCH] + b];
    } else {
        v = *variance = optcl__lerp(state[e], d * d, W(s));
    }
    return (1.0f / sqrtf(optcl__maximum(v, EPS1_SQUARED(s)))) * d;
}

static const uint32_t *info_of(const optcl__tensor_values *tables, size_t i)
{
    return tables->factors->info + (size_t)tables->segment[i / OPTCL__BLOCK] * OPTCL__FACTOR_FIELDS;
}

OPTCL__REFERENCE_LOOP static void
adafactor_sums_cloned(const optcl_optimizer_config *c, const float *param, const float *grad,
                      float *const *state, size_t begin, size_t end, const optcl__step_scalars *s,
                      float *block_sums, const optcl__tensor_values *tables)
{
    (void)state;
    bool maximize = c->maximize != 0;
    for (size_t b = begin / OPTCL__BLOCK; b < end / OPTCL__BLOCK; b++) {
        float lanes[2][OPTCL__LANES] = {{0}}, variance;
        const uint32_t *info = info_of(tables, b * OPTCL__BLOCK);
        for (size_t i = b * OPTCL__BLOCK; i < (b + 1) * OPTCL__BLOCK; i++) {
            float p = param[i];
            float u = adafactor_update(tables->factors, info, i,
                                       optcl__direction(grad[i], maximize), s, &variance);
            lanes[0][i % OPTCL__LANES] += p * p;
            lanes[1][i % OPTCL__LANES] += u * u;
        }
        block_sums[2 * b] = optcl__lanes_total(lanes[0]);
        block_sums[2 * b + 1] = optcl__lanes_total(lanes[1]);
    }
}

void optcl__reference_adafactor_totals(const optcl__step_scalars *s, const float *block_sums,
                                       const uint32_t *segment_blocks, size_t first, size_t end,
                                       float *values, const optcl__factors *factors)
{
    for (size_t t = first; t < end; t++) {
        float p_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 0));
        float u_norm = sqrtf(optcl__tensor_total(block_sums, segment_blocks, 2, t, 1));
        float root_n = sqrtf((float)factors->info[t * OPTCL__FACTOR_FIELDS + OPTCL__FACTOR_COUNT]);
        float p_rms = p_norm / root_n, u_rms = u_norm / (root_n * CLIP_D(s));
        float alpha = (p_rms > EPS2(s) ? p_rms : EPS2(s)) * RHO(s);
        values[t] = -alpha / (u_rms > 1.0f ? u_rms : 1.0f);
    }
}

OPTCL__REFERENCE_LOOP static void adafactor_cloned(const optcl_optimizer_config *c, float *param,
                                                   const float *grad, float **state, size_t begin,
                                                   size_t end, const optcl__step_scalars *s,
                                                   const optcl__tensor_values *tables)
{
    (void)state;
    bool maximize = c->maximize != 0;
    for (size_t i = begin; i < end; i++) {
        const uint32_t *info = info_of(tables, i);
        float step = tables->values[tables->segment[i / OPTCL__BLOCK]];
        float p = param[i], variance = 0.0f;
        float u = adafactor_update(tables->factors, info, i, optcl__direction(grad[i], maximize), s,
                                   &variance);
        size_t e = i - (size_t)info[OPTCL__FACTOR_FIRST_BLOCK] * OPTCL__BLOCK;
        if (info[OPTCL__FACTOR_BATCHES] == 0 && e < info[OPTCL__FACTOR_COUNT])
            tables->factors->state[info[OPTCL__FACTOR_SLOT] + e] = variance;
        if (s->weight_decay != 0.0f)
            p = p * s->decay_factor;
        param[i] = p + step * u;
    }
}

/* The entries, over their loops cloned for FMA (reference.h). */
void optcl__reference_adafactor_factors(const optcl__step_scalars *s, const float *grad,
                                        const optcl__factors *f, size_t first, size_t end)
{
    adafactor_factors_cloned(s, grad, f, first, end);
}

void optcl__reference_adafactor_sums(const optcl_optimizer_config *c, const float *param,
                                     const float *grad, float *const *state, size_t begin,
                                     size_t end, const optcl__step_scalars *s, float *block_sums,
                                     const optcl__tensor_values *tables)
{
    adafactor_sums_cloned(c, param, grad, state, begin, end, s, block_sums, tables);
}

void optcl__reference_adafactor(const optcl_optimizer_config *c, float *param, const float *grad,
                                float **state, size_t begin, size_t end,
                                const optcl__step_scalars *s, const optcl__tensor_values *tables)
{
    adafactor_cloned(c, param, grad, state, begin, end, s, tables);
}
