/* reference.h — the CPU reference update rules, one per optimizer family. Each mirrors its
 * kernels/<family>.cl line by line (options as run-time flags instead of -D macros) and works on
 * the element range [begin, end) of the flat buffers. */
#ifndef OPTCL_REFERENCE_H
#define OPTCL_REFERENCE_H

#include "internal.h"

#include <math.h>

/* Each rule's loop is written once as an always-inlined function of its option flags and
 * instantiated per flag combination, so that every copy is branch-free and vectorises
 * (the same arithmetic in the same order: exactness is kept). */
#if defined(__GNUC__)
#define OPTCL__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define OPTCL__ALWAYS_INLINE static inline
#endif

/* fmaf (where a rule fuses as torch does) is one instruction only on targets with FMA. On
 * x86-64 each reference loop is therefore built twice, with FMA (AVX) and for the baseline,
 * and the loader picks one per machine: the loops vectorise where the instruction exists,
 * and both give the same bits (fmaf rounds once either way, and nothing else is contracted).
 * Only static functions are cloned, each behind a plain entry: GCC exports a clone's
 * dispatcher whatever the visibility, and clang 14 names it NAME.ifunc, which no other file
 * can call. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__)
#define OPTCL__REFERENCE_LOOP __attribute__((target_clones("fma", "default")))
#else
#define OPTCL__REFERENCE_LOOP
#endif

/* The gradient as the rule sees it: ascent when maximizing (PyTorch negates the gradient). */
static inline float optcl__direction(float g, bool maximize)
{
    return maximize ? -g : g;
}

/* torch.lerp(a, b, w) as PyTorch evaluates it for float: from whichever end is nearer, in one
 * fused multiply-add (kernels/common.cl's optcl_lerp). */
static inline float optcl__lerp(float a, float b, float w)
{
    return fabsf(w) < 0.5f ? fmaf(w, b - a, a) : fmaf(w - 1.0f, b - a, b);
}

/* kernels/common.cl's OPTCL_WEIGHT_DECAY: L2 into the direction, or decoupled on the weights
 * (selects, so that the loops stay branch-free). */
static inline void optcl__weight_decay(float *p, float *d, const optcl__step_scalars *s,
                                       bool decoupled)
{
    bool on = s->weight_decay != 0.0f;
    *p = on && decoupled ? *p * s->decay_factor : *p;
    *d = on && !decoupled ? fmaf(s->weight_decay, *p, *d) : *d;
}

/* kernels/common.cl's OPTCL_ADAM_MOMENTS: Adam's moments of d at element i, stored. */
static inline void optcl__adam_moments(float *exp_avg, float *exp_avg_sq, size_t i, float d,
                                       const optcl__step_scalars *s, float *m, float *v)
{
    *m = optcl__lerp(exp_avg[i], d, s->one_minus_beta1);
    *v = fmaf(s->one_minus_beta2 * d, d, exp_avg_sq[i] * s->beta2);
    exp_avg[i] = *m;
    exp_avg_sq[i] = *v;
}

/* torch.maximum: NaN wins (fmaxf would drop it). */
static inline float optcl__maximum(float a, float b)
{
    return a > b || a != a ? a : b;
}

/* A rule's entry as its descriptor calls it: over [begin, end) of the flat buffers, state[] in
 * the order of the descriptor's states(). The rules added since Lion define it in their
 * host/reference/<family>.c and declare it in their descriptor (optcl__reference_rule NAME;),
 * so that adding one touches no shared header. */
typedef void optcl__reference_rule(const optcl_optimizer_config *c, float *param,
                                   const float *grad, float **state, size_t begin, size_t end,
                                   const optcl__step_scalars *s);

/* Rules that look at whole tensors (rule.h's tensor_sums: n sums per block, tensor_values: m
 * values per tensor). The first pass over [begin, end) — whole 256-element blocks — stores
 * nothing but each block's sums, block_sums[b·n + k] for block b = element / 256, each added as
 * kernels/common.cl's OPTCL_SUM does (optcl__lanes_total). The totals add each tensor's blocks
 * (optcl__tensor_total) into its values, values[t·m + j] for the tensors [first, end) (segments
 * in offset order; segment_blocks[2t], [2t + 1]: its blocks). The step then reads its tensor's,
 * values->values[values->segment[element / 256]·m + j]. */
/* Factored state (rule.h's factored, host/factored.h; NULL for the other rules): per segment
 * OPTCL__FACTOR_FIELDS numbers (kernels/adafactor.cl's same names), the float32 state — a
 * matrix's B·R row means then its B·C column means from its slot, a vector's own from its slot
 * — and each matrix's mean of row means per batch. */
enum {
    OPTCL__FACTOR_SLOT,        /* the segment's first float of the state */
    OPTCL__FACTOR_BATCHES,     /* B, the product of the leading dims; 0: at most one dim */
    OPTCL__FACTOR_ROWS,        /* R */
    OPTCL__FACTOR_COLS,        /* C */
    OPTCL__FACTOR_FIRST_BATCH, /* its first mean of rows */
    OPTCL__FACTOR_COUNT,       /* its elements */
    OPTCL__FACTOR_FIRST_UNIT,  /* its first work-item of the factors kernel */
    OPTCL__FACTOR_FIRST_BLOCK, /* its offset / 256 */
    OPTCL__FACTOR_FIRST_MEAN,  /* its first work-item of the means kernel */
    OPTCL__FACTOR_WHOLE,       /* small matrices: a factors work-item's count of them; 0 */
    OPTCL__FACTOR_UNITS,       /* its work-items of the factors kernel */
    OPTCL__FACTOR_MEANS,       /* its work-items of the means kernel */
    OPTCL__FACTOR_FIELDS
};
#define OPTCL__FACTOR_WHOLE_MAX 1024
typedef struct optcl__factors {
    const uint32_t *info;
    float *state;
    float *means;
} optcl__factors;
/* Orthogonalised updates (rule.h's newton_schulz, host/orthogonal.h; NULL for the other
 * rules): per segment OPTCL__ORTHO_FIELDS numbers (kernels/muon.cl's same names), the float32
 * workspace in which each tensor's matrix X (R×C, row-major) starts at its offset, and each
 * segment's lr factor. */
enum {
    OPTCL__ORTHO_OFFSET,      /* its matrix's first float in the workspace */
    OPTCL__ORTHO_ROWS,        /* R */
    OPTCL__ORTHO_COLS,        /* C */
    OPTCL__ORTHO_FIRST_BLOCK, /* its offset / 256 */
    OPTCL__ORTHO_FIELDS
};
typedef struct optcl__orthogonal_view {
    const uint32_t *info;
    float *work;
    const float *ratio;
} optcl__orthogonal_view;
typedef struct optcl__newton_schulz {
    float a, b, c;
    unsigned steps;
} optcl__newton_schulz;
typedef struct optcl__tensor_values {
    const uint32_t *segment;                  /* of each block */
    const float *values;                      /* of each segment */
    const optcl__factors *factors;            /* factored rules' */
    const optcl__orthogonal_view *orthogonal; /* orthogonalised rules' */
} optcl__tensor_values;
/* Orthogonalised rules, after the totals: each element of [begin, end)'s normalised update
 * written to its place in the workspace (the state is read, not stored: the step stores it,
 * as the step kernel, the last launch, does). */
typedef void optcl__reference_pack(const optcl_optimizer_config *c, const float *grad,
                                   float *const *state, size_t begin, size_t end,
                                   const optcl__step_scalars *s,
                                   const optcl__tensor_values *tables);
typedef void optcl__reference_sums(const optcl_optimizer_config *c, const float *param,
                                   const float *grad, float *const *state, size_t begin, size_t end,
                                   const optcl__step_scalars *s, float *block_sums,
                                   const optcl__tensor_values *tables);
typedef void optcl__reference_totals(const optcl__step_scalars *s, const float *block_sums,
                                     const uint32_t *segment_blocks, size_t first, size_t end,
                                     float *values, const optcl__factors *factors);
/* Factored rules, before the sums: the row and column means of the segments [first, end), then
 * their means of rows. */
typedef void optcl__reference_factors(const optcl__step_scalars *s, const float *grad,
                                      const optcl__factors *factors, size_t first, size_t end);
typedef void optcl__reference_apply(const optcl_optimizer_config *c, float *param,
                                    const float *grad, float **state, size_t begin, size_t end,
                                    const optcl__step_scalars *s,
                                    const optcl__tensor_values *values);

/* The order of a block's sum (kernels/common.cl's OPTCL_SUM and optcl_lanes_total): element e
 * of the block goes into lane e % 16, each lane adds in order, then lane i += lane i + w for
 * w = 8, 4, 2, 1. */
#define OPTCL__BLOCK (OPTCL__LAYOUT_ALIGNMENT_BYTES / 2) /* tensor offsets are multiples of it */
#define OPTCL__LANES 16
static inline float optcl__lanes_total(float lane[OPTCL__LANES])
{
    for (int w = OPTCL__LANES / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            lane[i] += lane[i + w];
    return lane[0];
}

/* kernels/common.cl's optcl_tensor_total: sum k of segment t (n per block), its blocks in 64
 * lanes, block b into lane (b − b0) % 64, then lane i += lane i + w for w = 32, 16, …, 1. */
#define OPTCL__TOTALS_LANES 64
static inline float optcl__tensor_total(const float *block_sums, const uint32_t *segment_blocks,
                                        unsigned n, size_t t, unsigned k)
{
    uint32_t b0 = segment_blocks[2 * t], b1 = segment_blocks[2 * t + 1];
    float lane[OPTCL__TOTALS_LANES] = {0};
    for (uint32_t b = b0; b < b1; b++)
        lane[(b - b0) % OPTCL__TOTALS_LANES] += block_sums[(size_t)b * n + k];
    for (int w = OPTCL__TOTALS_LANES / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            lane[i] += lane[i + w];
    return lane[0];
}

typedef struct optcl__sgd_flags {
    bool maximize, has_momentum, nesterov, ema;
} optcl__sgd_flags;
void optcl__reference_sgd(float *param, const float *grad, float *momentum_buffer,
                          const optcl__step_scalars *s, optcl__sgd_flags f, size_t begin,
                          size_t end);

typedef struct optcl__adam_flags {
    bool maximize, decoupled, amsgrad, eps_root;
} optcl__adam_flags;
void optcl__reference_adam(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                           float *max_exp_avg_sq, const optcl__step_scalars *s, optcl__adam_flags f,
                           size_t begin, size_t end);

typedef struct optcl__rmsprop_flags {
    bool maximize, centered, has_momentum;
} optcl__rmsprop_flags;
void optcl__reference_rmsprop(float *param, const float *grad, float *square_avg, float *grad_avg,
                              float *momentum_buffer, const optcl__step_scalars *s,
                              optcl__rmsprop_flags f, size_t begin, size_t end);

typedef struct optcl__rprop_flags {
    bool maximize, classic;
} optcl__rprop_flags;
void optcl__reference_rprop(float *param, const float *grad, float *prev, float *step_size,
                            const optcl__step_scalars *s, optcl__rprop_flags f, size_t begin,
                            size_t end);

void optcl__reference_lion(float *param, const float *grad, float *exp_avg,
                           const optcl__step_scalars *s, bool maximize, size_t begin, size_t end);

void optcl__reference_lookahead(float *param, float *slow, const float *fast, float alpha,
                                bool commit, size_t end);

#endif
