/* adafactor.cl — Adafactor (Shazeer & Stern 2018) as torch.optim.Adafactor. For a tensor of
 * two or more dims, shape (B…, R, C): per matrix b the row means r and column means c of g²
 * update row_var R and col_var C by lerp with weight w = t^beta2_decay, and
 * V = R_i·C_j / max(mean_i R_i, eps1); a tensor of at most one dim keeps variance
 * v = lerp(v, g², w) and V = v. Then U = g / max(√V, eps1) (as torch: g·rsqrt(max(V, eps1²))),
 * and p = p·(1 − lr·wd) − α/max(1, RMS(U)/d)·U with α = max(eps2, RMS(p))·min(lr, 1/√t),
 * RMS(p) before the weight decay. Five kernels (host/factored.h, host/segments.h): factors
 * (row and column means, into `pending`), means (of each matrix's rows), sums (‖p‖², ‖U‖² per
 * block, U computed and not stored), totals (−α/max(1, RMS(U)/d) per tensor), and the step,
 * which computes U again, the same bits, stores the vectors' variance and the matrices' new
 * row and column means into the state, and steps. A tensor small enough to stay in cache is
 * stepped whole by the totals kernel's work-group, all five stages in turn (host/segments.h),
 * which reads it from memory once; the other kernels pass over it. Only the step and the totals
 * kernel (for those tensors) write the state, so a step whose later launch fails to enqueue
 * leaves the other tensors as they were. Read side by side with host/reference/adafactor.c and
 * host/rules/adafactor.c. */

#define W s.rule[0]            /* t^beta2_decay: the weight of the new row, column or g² */
#define RHO s.rule[1]          /* min(lr, 1/√t) */
#define EPS1 s.rule[2]
#define EPS1_SQUARED s.rule[3] /* eps1², rounded once from double, as torch's clamp */
#define EPS2 s.rule[4]
#define CLIP_D s.rule[5]

/* Per segment, host/reference/reference.h's OPTCL__FACTOR_* (the same order). */
#define FACTOR_SLOT 0        /* its first float of the state */
#define FACTOR_BATCHES 1     /* B; 0: at most one dim */
#define FACTOR_ROWS 2        /* R */
#define FACTOR_COLS 3        /* C */
#define FACTOR_FIRST_BATCH 4 /* its first mean of rows */
#define FACTOR_COUNT 5       /* its elements */
#define FACTOR_FIRST_UNIT 6  /* its first work-item of the factors kernel */
#define FACTOR_FIRST_BLOCK 7 /* its offset / 256 */
#define FACTOR_FIRST_MEAN 8  /* its first work-item of the means kernel */
#define FACTOR_WHOLE 9       /* small matrices: a factors work-item's count of them; 0 */
#define FACTOR_UNITS 10      /* its work-items of the factors kernel */
#define FACTOR_MEANS 11      /* its work-items of the means kernel */
#define FACTOR_FIELDS 12

/* The tables and state, after each kernel's own arguments (host/factored.c binds them):
 * factored holds the state as of the last step, pending this step's row and column means in
 * the same places until the step kernel stores them. */
#define OPTCL_FACTORED_ARG                                                                        \
    , __global const uint *restrict factor_info, __global float *restrict factored,               \
        __global float *restrict pending, __global float *restrict batch_means,                   \
        __global const uint *restrict segment_of_block

/* torch.lerp for one float (common.cl's optcl_lerp is for vectors), fused as there. */
static inline float adafactor_lerp(float a, float b, float w)
{
    return fabs(w) < 0.5f ? fma(w, b - a, a) : fma(w - 1.0f, b - a, b);
}

/* Gradient element e as OPTCL_GRAD_PEEK sees it (common.cl's loads are for vectors; its
 * OPTCL_UNSCALED and OPTCL_CLIPPED are for any float type). */
static inline float adafactor_grad(__global grad_t *grad, size_t e, float inv_loss_scale,
                                   float clip_coef)
{
#if PARAM_DTYPE == 0
    float g = ((__global const float *)grad)[e];
#elif PARAM_DTYPE == 1
    float g = as_float((uint)((__global const ushort *)grad)[e] << 16);
#else
    float g = vload_half(e, (__global const half *)grad);
#endif
    return OPTCL_CLIPPED(OPTCL_UNSCALED(g));
}

#if PARAM_DTYPE == 0 && VEC > 1
/* Adds the squares of gradient elements e … e + 15, as adafactor_grad sees them (float32
 * gradients), to *acc. Loaded and stored as halves, and taken by pointer: a float16 passed by
 * value (vload16, vstore16, a return) makes PoCL's compiler warn on CPUs without AVX-512. */
static inline void adafactor_add_squares16(float16 *acc, __global grad_t *grad, size_t e,
                                           float inv_loss_scale, float clip_coef)
{
    __global const float *g8 = (__global const float *)grad + e;
    float16 g = (float16)(vload8(0, g8), vload8(1, g8));
    g = OPTCL_CLIPPED(OPTCL_UNSCALED(g));
    *acc += g * g;
}

/* The 16 sums into sum[0 … 15]. */
static inline void adafactor_store16(const float16 *acc, float *sum)
{
    vstore8(acc->lo, 0, sum);
    vstore8(acc->hi, 1, sum);
}
#endif

/* g² of element start + k of a row, +0 at or past cols (a lane the row does not reach). */
static inline float adafactor_square(__global grad_t *grad, size_t start, uint k, uint cols,
                                     float inv_loss_scale, float clip_coef)
{
    if (k >= cols)
        return 0.0f;
    float g = adafactor_grad(grad, start + k, inv_loss_scale, clip_coef);
    return g * g;
}

/* The mean of g² along the row of cols elements from start: element k into lane k % 16, each
 * lane in order, then common.cl's tree (whole aligned vectors of 16 where they fit). */
static inline float adafactor_row_mean(__global grad_t *grad, size_t start, uint cols,
                                       float inv_loss_scale, float clip_coef)
{
    /* The tree from the first w that adds a lane that can be nonzero: a short row's other
     * lanes would hold +0, and g² + 0 is g² (a 1×1 matrix's row mean is g² with no add). */
    uint w = 8;
    while (w >= cols && w >= 1)
        w /= 2;
    float lane[16];
    for (uint l = 0; l < max(2 * w, 1u); l++) /* the lanes the tree reads */
        lane[l] = 0.0f;
    uint k = 0;
#if PARAM_DTYPE == 0 && VEC > 1
    if (start % 16 == 0 && cols >= 16) {
        float16 acc = (float16)0.0f;
        for (; k + 16 <= cols; k += 16)
            adafactor_add_squares16(&acc, grad, start + k, inv_loss_scale, clip_coef);
        adafactor_store16(&acc, lane);
    }
#endif
    for (; k < cols; k++) {
        float g = adafactor_grad(grad, start + k, inv_loss_scale, clip_coef);
        lane[k % 16] += g * g;
    }
    for (; w >= 1; w /= 2)
        for (uint l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return lane[0] / (float)cols;
}

/* The sums of g² down `lanes` (≤ 16) columns from start, rows of cols elements: each column
 * in order, the 16 side by side so that each row's read is one run of memory. */
static inline void adafactor_column_sums(__global grad_t *grad, size_t start, uint rows,
                                         uint cols, uint lanes, float inv_loss_scale,
                                         float clip_coef, float *sum)
{
    for (uint l = 0; l < lanes; l++)
        sum[l] = 0.0f;
#if PARAM_DTYPE == 0 && VEC > 1
    if (lanes == 16) { /* each lane adds its column in order, as one scalar would */
        float16 acc = (float16)0.0f;
        for (uint i = 0; i < rows; i++)
            adafactor_add_squares16(&acc, grad, start + (size_t)i * cols, inv_loss_scale,
                                    clip_coef);
        adafactor_store16(&acc, sum);
        return;
    }
#endif
    for (uint i = 0; i < rows; i++)
        for (uint l = 0; l < lanes; l++) {
            float g = adafactor_grad(grad, start + (size_t)i * cols + l, inv_loss_scale, clip_coef);
            sum[l] += g * g;
        }
}

/* Columns j … j + lanes − 1 of the matrix from start: their means of g², lerped from
 * col_var[j …] into next[j …]. */
static inline void adafactor_columns(__global grad_t *grad, size_t start, uint rows, uint cols,
                                     uint j, __global const float *col_var,
                                     __global float *next, float w, float inv_loss_scale,
                                     float clip_coef)
{
    float sum[16];
    uint lanes = min(16u, cols - j);
    adafactor_column_sums(grad, start + j, rows, cols, lanes, inv_loss_scale, clip_coef, sum);
    for (uint l = 0; l < lanes; l++)
        next[j + l] = adafactor_lerp(col_var[j + l], sum[l] / (float)rows, w);
}

/* sum / rows clamped below at eps1 (NaN stays, as torch's clamp): a matrix's mean of rows. */
static inline float adafactor_clamped_mean(float sum, uint rows, float eps1)
{
    float mean = sum / (float)rows;
    return mean > eps1 || mean != mean ? mean : eps1;
}

/* A short row's mean of g² (cols ≤ 16): element k alone in lane k, so adafactor_row_mean's
 * tree is a fixed sum of the squares, written out: a private array indexed at run time lives
 * in memory, which made a 3×3 or 1×1 convolution's factors 2–3× slower on PoCL. Lanes past
 * cols would add +0. */
static inline float adafactor_short_row_mean(__global grad_t *grad, size_t start, uint cols,
                                             float inv_loss_scale, float clip_coef)
{
#define SQ(k) adafactor_square(grad, start, k, cols, inv_loss_scale, clip_coef)
    float sum;
    if (cols == 1)
        sum = SQ(0);
    else if (cols == 2)
        sum = SQ(0) + SQ(1);
    else if (cols <= 4)
        sum = (SQ(0) + SQ(2)) + (SQ(1) + SQ(3));
    else if (cols <= 8)
        sum = ((SQ(0) + SQ(4)) + (SQ(2) + SQ(6))) + ((SQ(1) + SQ(5)) + (SQ(3) + SQ(7)));
    else
        sum = (((SQ(0) + SQ(8)) + (SQ(4) + SQ(12))) + ((SQ(2) + SQ(10)) + (SQ(6) + SQ(14)))) +
              (((SQ(1) + SQ(9)) + (SQ(5) + SQ(13))) + ((SQ(3) + SQ(11)) + (SQ(7) + SQ(15))));
#undef SQ
    return sum / (float)cols;
}

/* A small matrix (of a group, FACTOR_WHOLE): its row and column means of g², lerped from
 * row_var and col_var into next_row and next_col (the matrix's own), and its mean of rows. */
static inline float adafactor_small_matrix(__global grad_t *grad, size_t start, uint rows,
                                           uint cols, __global const float *row_var,
                                           __global const float *col_var, __global float *next_row,
                                           __global float *next_col, float w, float eps1,
                                           float inv_loss_scale, float clip_coef)
{
    float sum = 0.0f;
    for (uint i = 0; i < rows; i++) {
        const size_t line = start + (size_t)i * cols;
        float mean = cols <= 16
                         ? adafactor_short_row_mean(grad, line, cols, inv_loss_scale, clip_coef)
                         : adafactor_row_mean(grad, line, cols, inv_loss_scale, clip_coef);
        float next = adafactor_lerp(row_var[i], mean, w);
        next_row[i] = next;
        sum += next; /* adafactor_mean_of_rows, in the same order */
    }
    for (uint j = 0; j < cols; j++) { /* each column in order down the rows */
        float column = 0.0f;
        for (uint i = 0; i < rows; i++) {
            float g = adafactor_grad(grad, start + (size_t)i * cols + j, inv_loss_scale, clip_coef);
            column += g * g;
        }
        next_col[j] = adafactor_lerp(col_var[j], column / (float)rows, w);
    }
    return adafactor_clamped_mean(sum, rows, eps1);
}

#if VEC > 1
/* VEC 1×1 matrices from gradient vector i: adafactor_small_matrix's ops with rows = cols = 1,
 * lane by lane (row mean g²/1, column mean (0 + g²)/1, mean of rows (0 + row)/1). */
static inline void adafactor_unit_matrices(__global grad_t *grad, size_t i,
                                           __global const float *row_var,
                                           __global const float *col_var, __global float *next_row,
                                           __global float *next_col, __global float *means, float w,
                                           float eps1, float inv_loss_scale, float clip_coef)
{
    floatv g = OPTCL_GRAD_PEEK(grad, i);
    floatv square = g * g;
    floatv row = optcl_lerp(OPTCL_V(vload)(0, row_var), square / 1.0f, w);
    floatv column = optcl_lerp(OPTCL_V(vload)(0, col_var), (0.0f + square) / 1.0f, w);
    floatv mean = (0.0f + row) / 1.0f;
    OPTCL_V(vstore)(row, 0, next_row);
    OPTCL_V(vstore)(column, 0, next_col);
    OPTCL_V(vstore)(select((floatv)eps1, mean, mean > eps1 || mean != mean), 0, means);
}
#endif

/* The mean of a matrix's rows' means, in order, clamped below at eps1. */
static inline float adafactor_mean_of_rows(__global const float *row_var, uint rows, float eps1)
{
    float sum = 0.0f;
    for (uint i = 0; i < rows; i++)
        sum += row_var[i];
    return adafactor_clamped_mean(sum, rows, eps1);
}

/* Work-item `index` of the factors kernel within the matrices of info's tensor: a group of small
 * matrices (FACTOR_WHOLE of them, about 1024 elements: their rows, columns and means of rows),
 * or else one row or sixteen columns of a larger one (its B·R rows, then B·⌈C/16⌉ strips of
 * columns, which read whole runs of memory down the rows; each column still adds in order).
 * Their row and column means of g², lerped from the state into pending. A matrix's state holds
 * its B·R row means, then its B·C column means, from its slot. */
static inline void adafactor_factor_unit(__global grad_t *grad, __global const uint *info,
                                         uint index, __global const float *factored,
                                         __global float *pending, __global float *batch_means,
                                         float w, float eps1, float inv_loss_scale, float clip_coef)
{
    const uint rows = info[FACTOR_ROWS], cols = info[FACTOR_COLS];
    const uint row_lines = info[FACTOR_BATCHES] * rows;
    const size_t base = (size_t)info[FACTOR_FIRST_BLOCK] * OPTCL_BLOCK;
    __global const float *row_var = factored + info[FACTOR_SLOT], *col_var = row_var + row_lines;
    __global float *next_row = pending + info[FACTOR_SLOT], *next_col = next_row + row_lines;
    const uint group = info[FACTOR_WHOLE];
    if (group) { /* matrices group·index …, a whole group of small ones */
        uint b = group * index;
        const uint end = min(b + group, info[FACTOR_BATCHES]);
#if VEC > 1
        if (rows == 1 && cols == 1) /* 1×1 (a 1×1 convolution's): VEC at a time, the same ops */
            for (; b + VEC <= end; b += VEC)
                adafactor_unit_matrices(
                    grad, (base + b) / VEC, row_var + b, col_var + b, next_row + b, next_col + b,
                    batch_means + info[FACTOR_FIRST_BATCH] + b, w, eps1, inv_loss_scale, clip_coef);
#endif
        for (; b < end; b++)
            batch_means[info[FACTOR_FIRST_BATCH] + b] =
                adafactor_small_matrix(grad, base + (size_t)b * rows * cols, rows, cols,
                                       row_var + b * rows, col_var + b * cols, next_row + b * rows,
                                       next_col + b * cols, w, eps1, inv_loss_scale, clip_coef);
    } else if (index < row_lines) {
        next_row[index] = adafactor_lerp(
            row_var[index],
            adafactor_row_mean(grad, base + (size_t)index * cols, cols, inv_loss_scale, clip_coef),
            w);
    } else { /* columns 16·k … 16·k + 15 of matrix b */
        const uint strips = (cols + 15) / 16, b = (index - row_lines) / strips;
        adafactor_columns(grad, base + (size_t)b * rows * cols, rows, cols,
                          (index - row_lines - b * strips) * 16, col_var + b * cols,
                          next_col + b * cols, w, inv_loss_scale, clip_coef);
    }
}

/* Matrix b of info's tensor (a larger one: the means kernel's): its mean of rows. */
static inline void adafactor_matrix_mean(__global const uint *info, uint b,
                                         __global const float *pending, __global float *batch_means,
                                         float eps1)
{
    const uint rows = info[FACTOR_ROWS];
    batch_means[info[FACTOR_FIRST_BATCH] + b] =
        adafactor_mean_of_rows(pending + info[FACTOR_SLOT] + (size_t)b * rows, rows, eps1);
}

/* The factors and means kernels pass over the tensors that the totals kernel steps whole
 * (block_whole of a tensor's first block): it does their work itself. */
#define ADAFACTOR_STEPPED_WHOLE(info) (block_whole[(info)[FACTOR_FIRST_BLOCK]] != 0)

/* 1. adafactor_factor_unit of each work-item. */
__kernel void optcl_adafactor_factors_f32(__global param_t *param, __global grad_t *grad,
                                          OPTCL_STEP_ARGS OPTCL_FACTORED_ARG,
                                          __global const uint *restrict unit_segment,
                                          uint first_unit, uint end_unit,
                                          __global const uchar *restrict block_whole)
{
    OPTCL_STEP_BEGIN;
    (void)param;
    const uint unit = first_unit + (uint)get_global_id(0);
    if (unit >= end_unit)
        return;
    __global const uint *info = factor_info + (size_t)unit_segment[unit] * FACTOR_FIELDS;
    if (ADAFACTOR_STEPPED_WHOLE(info))
        return;
    adafactor_factor_unit(grad, info, unit - info[FACTOR_FIRST_UNIT], factored, pending,
                          batch_means, W, EPS1, inv_loss_scale, clip_coef);
}

/* 2. One work-item per matrix of the larger ones: its mean of rows. */
__kernel void optcl_adafactor_means_f32(__global param_t *param, __global grad_t *grad,
                                        OPTCL_STEP_ARGS OPTCL_FACTORED_ARG,
                                        __global const uint *restrict mean_segment, uint first_mean,
                                        uint end_mean, __global const uchar *restrict block_whole)
{
    OPTCL_STEP_BEGIN;
    (void)param;
    (void)grad;
    const uint q = first_mean + (uint)get_global_id(0);
    if (q >= end_mean)
        return;
    __global const uint *info = factor_info + (size_t)mean_segment[q] * FACTOR_FIELDS;
    if (!ADAFACTOR_STEPPED_WHOLE(info))
        adafactor_matrix_mean(info, q - info[FACTOR_FIRST_MEAN], pending, batch_means, EPS1);
}

/* V of the VEC elements from element e0 of a matrix, element by element (a vector may cross
 * rows): R_i·C_j / mean from this step's pending row and column means; 1 past the tensor's
 * end. With a commit (the step kernel) the row and column means that these elements begin
 * (column 0 of a row, row 0 of a matrix) are stored into the state, so each is stored once. */
static inline floatv adafactor_factored_v(__global const uint *info,
                                          __global const float *pending,
                                          __global const float *batch_means, uint e0,
                                          __global float *factored, bool commit)
{
    const uint rows = info[FACTOR_ROWS], cols = info[FACTOR_COLS], n = info[FACTOR_COUNT];
    const uint row_lines = info[FACTOR_BATCHES] * rows;
    __global const float *row_var = pending + info[FACTOR_SLOT], *col_var = row_var + row_lines;
    __global float *kept_row = factored + info[FACTOR_SLOT], *kept_col = kept_row + row_lines;
    uint row = e0 / cols, j = e0 - row * cols, b = row / rows; /* row counts over all b */
    if (e0 < n && j + VEC <= cols) { /* within one row: a vector of columns */
        float r = row_var[row], mean = batch_means[info[FACTOR_FIRST_BATCH] + b];
#if VEC == 1
        floatv c = col_var[b * cols + j];
#else
        floatv c = OPTCL_V(vload)(0, col_var + b * cols + j);
#endif
        if (commit && j == 0)
            kept_row[row] = r;
        if (commit && row == b * rows)
            for (uint l = 0; l < VEC; l++)
                kept_col[b * cols + j + l] = col_var[b * cols + j + l];
        return r * c / mean;
    }
#if VEC > 1
    if (rows == 1 && cols == 1 && e0 + VEC <= n) { /* 1×1 matrices: each element its own */
        __global const float *means = batch_means + info[FACTOR_FIRST_BATCH] + e0;
        floatv r = OPTCL_V(vload)(0, row_var + e0), c = OPTCL_V(vload)(0, col_var + e0);
        if (commit) {
            OPTCL_V(vstore)(r, 0, kept_row + e0);
            OPTCL_V(vstore)(c, 0, kept_col + e0);
        }
        return r * c / OPTCL_V(vload)(0, means);
    }
#endif
    /* small matrices: each element's row, column and mean (1 past the tensor's end); a row's
     * mean and a matrix's mean of rows are read when the lanes reach them */
    const uint first = info[FACTOR_FIRST_BATCH];
    float r = e0 < n ? row_var[row] : 1.0f, m = e0 < n ? batch_means[first + b] : 1.0f;
    float v[VEC];
    for (uint l = 0; l < VEC; l++)
        v[l] = 1.0f;
    for (uint l = 0; l < VEC && e0 + l < n; l++) { /* the lanes in the tensor */
        float c = col_var[b * cols + j];
        v[l] = r * c / m;
        if (commit && j == 0)
            kept_row[row] = r;
        if (commit && row == b * rows)
            kept_col[b * cols + j] = c;
        if (++j == cols) {
            j = 0;
            if (++row == (b + 1) * rows) {
                b++;
                if (e0 + l + 1 < n)
                    m = batch_means[first + b];
            }
            if (e0 + l + 1 < n)
                r = row_var[row];
        }
    }
#if VEC == 1
    return v[0];
#else
    return OPTCL_V(vload)(0, v);
#endif
}

/* U of direction d at vector i, and a vector's new variance (*variance; not stored here). With
 * commit, a matrix's row and column means go from pending into the state (factored_v). Always
 * inlined: the totals kernel calls it twice, and PoCL's compiler then made it a call that
 * passes the vectors through memory (a 1-D tensor stepped whole took 3× the time). */
__attribute__((always_inline)) static inline floatv
adafactor_update(__global const uint *info, __global float *factored, __global const float *pending,
                 __global const float *batch_means, size_t i, floatv d, const optcl_scalars s,
                 floatv *variance, bool commit)
{
    const uint e0 = (uint)(i * VEC - (size_t)info[FACTOR_FIRST_BLOCK] * OPTCL_BLOCK);
    const uint n = info[FACTOR_COUNT];
    floatv v = (floatv)1.0f;
    if (info[FACTOR_BATCHES] != 0) {
        v = adafactor_factored_v(info, pending, batch_means, e0, factored, commit);
    } else if (e0 < n) { /* the region covers the tensor's whole blocks */
        *variance = optcl_lerp(LOAD(factored + info[FACTOR_SLOT], e0 / VEC), d * d, W);
        v = *variance;
    }
    floatv u = (1.0f / sqrt(optcl_maximum(v, (floatv)EPS1_SQUARED))) * d;
    /* past the tensor's end U is 0 (the padding's gradient is 0, but 0·∞ is not, eps1 = 0) */
    return select(u, (floatv)0.0f, OPTCL_V(convert_int)(OPTCL_ELEMENTS(0) + e0 >= n));
}

#define ADAFACTOR_INFO(i)                                                                         \
    (factor_info + (size_t)segment_of_block[(i) * VEC / OPTCL_BLOCK] * FACTOR_FIELDS)

/* ‖p‖² (before the weight decay) and ‖U‖² of vector i of info's tensor, into lane vector k */
#define ADAFACTOR_SUMS(info, i, k)                                                                \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    floatv d = optcl_direction(OPTCL_GRAD_PEEK(grad, i));                                         \
    floatv variance = (floatv)0.0f;                                                               \
    floatv u = adafactor_update(info, factored, pending, batch_means, i, d, s, &variance, false); \
    OPTCL_SUM(0, k, p * p);                                                                       \
    OPTCL_SUM(1, k, u * u)
/* vector i's step, its tensor's value known: U again, the state stored (a vector's variance,
 * a matrix's pending means), p·(1 − lr·wd) + value·U */
#define ADAFACTOR_STEP(info, i, value)                                                            \
    floatv p = LOAD_WEIGHT(param, i);                                                             \
    floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));                                           \
    floatv variance = (floatv)0.0f;                                                               \
    floatv u = adafactor_update(info, factored, pending, batch_means, i, d, s, &variance, true);  \
    uint e0 = (uint)(i * VEC - (size_t)(info)[FACTOR_FIRST_BLOCK] * OPTCL_BLOCK);                 \
    if ((info)[FACTOR_BATCHES] == 0 && e0 < (info)[FACTOR_COUNT])                                 \
        STORE(factored + (info)[FACTOR_SLOT], e0 / VEC, variance);                                \
    if (s.weight_decay != 0.0f)                                                                   \
        p = p * s.decay_factor;                                                                   \
    STORE_WEIGHT(param, i, p + (value) * u)

/* the same, of the totals kernel's tensor (info) */
#define ADAFACTOR_TENSOR_SUMS(i, k) ADAFACTOR_SUMS(info, i, k)

/* 3. ‖p‖² and ‖U‖² per block. */
__kernel void optcl_adafactor_sums_f32(__global param_t *param, __global grad_t *grad,
                                       OPTCL_STEP_ARGS OPTCL_SUMS_ARG OPTCL_FACTORED_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_SUMS_BEGIN(2);
    __global const uint *info = ADAFACTOR_INFO(get_global_id(0) * (OPTCL_BLOCK / VEC));
    OPTCL_FOR_EACH_BLOCK_VECTOR(i, k) {
        ADAFACTOR_SUMS(info, i, k);
    }
    OPTCL_SUMS_END(2);
}

/* 4. Per tensor: −α / max(1, RMS(U) / d), α = max(eps2, RMS(p))·ρ (Python's max(a, x): x only
 * when x > a). A small tensor (common.cl's OPTCL_TENSOR_BEGIN) gets all five launches' work in
 * its work-group: its row and column means and means of rows, its sums, its value and its
 * step, each stage waiting for the one before, while the tensor is still in cache. */
__kernel void optcl_adafactor_totals_f32(__global param_t *param, __global grad_t *grad,
                                         OPTCL_STEP_ARGS OPTCL_TOTALS_ARG OPTCL_FACTORED_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_TENSOR_BEGIN(t);
    __global const uint *info = factor_info + (size_t)(t < end ? t : end) * FACTOR_FIELDS;
    OPTCL_FOR_EACH_WHOLE_ITEM(t, u, info[FACTOR_UNITS]) {
        adafactor_factor_unit(grad, info, (uint)u, factored, pending, batch_means, W, EPS1,
                              inv_loss_scale, clip_coef);
    }
    OPTCL_WHOLE_STAGE_DONE;
    OPTCL_FOR_EACH_WHOLE_ITEM(t, b, info[FACTOR_MEANS]) {
        adafactor_matrix_mean(info, (uint)b, pending, batch_means, EPS1);
    }
    OPTCL_WHOLE_STAGE_DONE;
    OPTCL_WHOLE_SUMS(t, 2, ADAFACTOR_TENSOR_SUMS);
    float p_norm = sqrt(OPTCL_TOTAL(t, 2, 0)), u_norm = sqrt(OPTCL_TOTAL(t, 2, 1));
    float root_n = sqrt((float)info[FACTOR_COUNT]);
    float p_rms = p_norm / root_n, u_rms = u_norm / (root_n * CLIP_D);
    float alpha = (p_rms > EPS2 ? p_rms : EPS2) * RHO;
    float value = -alpha / (u_rms > 1.0f ? u_rms : 1.0f);
    OPTCL_TENSOR_WRITE(t, value);
    OPTCL_FOR_EACH_WHOLE_VECTOR(t, i) {
        ADAFACTOR_STEP(info, i, value);
    }
}

/* 5. The step of the tensors not stepped whole. */
__kernel void optcl_adafactor_f32(__global param_t *param, __global grad_t *grad,
                                  OPTCL_STEP_ARGS OPTCL_TENSOR_VALUES_ARG OPTCL_FACTORED_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) {
        if (OPTCL_STEPPED_WHOLE(i))
            continue;
        __global const uint *info = ADAFACTOR_INFO(i);
        ADAFACTOR_STEP(info, i, OPTCL_TENSOR_VALUE(i, 1, 0));
    }
}
