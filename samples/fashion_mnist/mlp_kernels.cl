/* mlp_kernels.cl — the Fashion-MNIST sample's MLP on the device: batch gather, matrix products
 * with fused bias/ReLU epilogues (register-blocked, explicit vectors), softmax cross-entropy
 * and bias gradients. Embedded into the sample at build time (embed_kernel.cmake). */

/* Why register blocks of float16 and no local-memory tiles: on PoCL's CPU device (the one this
 * sample is measured on) a classic 2-D tile in __local memory with one work-item per output ran
 * at 5–15 GFLOP/s for the 128×784 · 784×256 product: every variable live across the tile
 * barriers goes to memory and the implicit vectoriser leaves most of it scalar. A work-item that
 * keeps an RM×RN (or BM×16·VN) block of outputs in float16 registers and walks k itself runs at
 * 60–120 GFLOP/s on the same two cores. On a CPU the "tile" that matters is the register block;
 * caches do the rest. Every fixed-length loop is unrolled so the blocks stay in registers. */
#ifndef RM
#define RM 4 /* forward: rows of x per work-item */
#endif
#ifndef RN
#define RN 4 /* forward: rows of w (outputs) per work-item */
#endif
#ifndef BM
#define BM 8 /* backward products: rows per work-item */
#endif
#ifndef VN
#define VN 2 /* backward products: float16 vectors of columns per work-item */
#endif
#define UNROLL _Pragma("unroll")

/* The weights, biases and their gradients are optcl's parameters and gradients, of the set's
 * type (PARAM_DTYPE as optcl_dtype: 0 float32, 1 bfloat16, 2 float16): loaded widened, stored
 * rounded to nearest even. So are the activations and their gradients (act_t): the forward and
 * backward passes run in the parameters' type, and every product accumulates in float32. */
#ifndef PARAM_DTYPE
#define PARAM_DTYPE 0
#endif
#if PARAM_DTYPE == 1
typedef ushort param_t;
#define P_LOAD(p, i) as_float((uint)(p)[i] << 16)
#define P_LOAD16(o, p) as_float16(convert_uint16(vload16(o, p)) << 16)
inline uint fm_bf16_bits(float f)
{
    const uint u = as_uint(f);
    return isnan(f) ? 0x7FC0u : (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}
#define P_STORE(p, i, v) ((p)[i] = (ushort)fm_bf16_bits(v))
#elif PARAM_DTYPE == 2
typedef half param_t;
#define P_LOAD(p, i) vload_half(i, p)
#define P_LOAD16(o, p) vload_half16(o, p)
#define P_STORE(p, i, v) vstore_half_rte(v, i, p)
#else
typedef float param_t;
#define P_LOAD(p, i) ((p)[i])
#define P_LOAD16(o, p) vload16(o, p)
#define P_STORE(p, i, v) ((p)[i] = (v))
#endif
typedef param_t act_t;
#define BW (16 * VN) /* backward products: columns per work-item */

/* x[r][k] = (pixel / 255 − mean) / std of the r-th image of the batch, which is image
 * index[first + r] of the uploaded set: batches are gathered on the device. */
__kernel void fm_gather(__global const uchar *images, __global const uint *index,
                        const uint first, const uint rows, const uint features,
                        const float mean, const float inv_std, __global act_t *x)
{
    const uint k = get_global_id(0);
    const uint r = get_global_id(1);
    if (k >= features || r >= rows)
        return;
    const size_t image = index[first + r];
    const float pixel = (float)images[image * features + k];
    P_STORE(x, (size_t)r * features + k, (pixel * (1.0f / 255.0f) - mean) * inv_std);
}

/* Forward of nn.Linear: y[m][n] = Σ_k x[m][k]·w[n][k] + bias[n] (w is [N][K] as in PyTorch),
 * then max(y, 0) when relu is set. Both operands run along k, so each work-item takes RM rows
 * of x and RN rows of w, multiplies them 16 k at a time into RM·RN vector accumulators and sums
 * each accumulator's lanes at the end. Rows past M or N are clamped to the last one (valid
 * memory) and never stored. */
__kernel void fm_linear_forward(__global const act_t *x, __global const param_t *w,
                                __global const param_t *bias, __global act_t *y, const uint M,
                                const uint N, const uint K, const int relu)
{
    const uint n0 = get_global_id(0) * RN, m0 = get_global_id(1) * RM;
    if (n0 >= N || m0 >= M)
        return;
    __global const act_t *xr[RM];
    __global const param_t *wr[RN];
    UNROLL for (uint r = 0; r < RM; r++)
        xr[r] = x + (size_t)min(m0 + r, M - 1) * K;
    UNROLL for (uint c = 0; c < RN; c++)
        wr[c] = w + (size_t)min(n0 + c, N - 1) * K;
    float16 acc[RM][RN];
    UNROLL for (uint r = 0; r < RM; r++)
        UNROLL for (uint c = 0; c < RN; c++)
            acc[r][c] = (float16)(0.0f);
    uint k = 0;
    for (; k + 16 <= K; k += 16) {
        float16 a[RM], b[RN];
        UNROLL for (uint r = 0; r < RM; r++)
            a[r] = P_LOAD16(0, xr[r] + k);
        UNROLL for (uint c = 0; c < RN; c++)
            b[c] = P_LOAD16(0, wr[c] + k);
        UNROLL for (uint r = 0; r < RM; r++)
            UNROLL for (uint c = 0; c < RN; c++)
                acc[r][c] = fma(a[r], b[c], acc[r][c]);
    }
    UNROLL for (uint r = 0; r < RM; r++)
        UNROLL for (uint c = 0; c < RN; c++) {
            const float16 v = acc[r][c];
            const float8 h8 = v.lo + v.hi;
            const float4 h4 = h8.lo + h8.hi;
            const float2 h2 = h4.lo + h4.hi;
            float s = h2.x + h2.y;
            for (uint kk = k; kk < K; kk++) /* the k % 16 tail */
                s = fma(P_LOAD(xr[r], kk), P_LOAD(wr[c], kk), s);
            const uint m = m0 + r, n = n0 + c;
            if (m < M && n < N) {
                const float o = s + P_LOAD(bias, n);
                P_STORE(y, (size_t)m * N + n, relu ? fmax(o, 0.0f) : o);
            }
        }
}

/* Stores a BM × BW block at (m0, n0) of the M × N matrix C, zeroing entries whose mask is not
 * positive when mask is given (ReLU's derivative). Whole blocks take the vector path. */
inline void fm_store_block(__global act_t *C, __global const act_t *mask, const uint M,
                           const uint N, float16 acc[BM][VN], const uint m0, const uint n0)
{
#if PARAM_DTYPE == 0
    if (m0 + BM <= M && n0 + BW <= N) {
        UNROLL for (uint r = 0; r < BM; r++)
            UNROLL for (uint c = 0; c < VN; c++) {
                const size_t at = (size_t)(m0 + r) * N + n0 + 16 * c;
                float16 v = acc[r][c];
                if (mask)
                    v = select((float16)(0.0f), v, vload16(0, mask + at) > (float16)(0.0f));
                vstore16(v, 0, C + at);
            }
        return;
    }
#endif
    for (uint r = 0; r < BM && m0 + r < M; r++) {
        float t[BW];
        UNROLL for (uint c = 0; c < VN; c++)
            vstore16(acc[r][c], c, t);
        for (uint i = 0; i < BW && n0 + i < N; i++) {
            const size_t at = (size_t)(m0 + r) * N + n0 + i;
            P_STORE(C, at, mask && !(P_LOAD(mask, at) > 0.0f) ? 0.0f : t[i]);
        }
    }
}

/* Stores the block into a gradient of the parameter set's type, element by element, rounded. */
inline void fm_store_block_param(__global param_t *C, const uint M, const uint N,
                                 float16 acc[BM][VN], const uint m0, const uint n0)
{
    for (uint r = 0; r < BM && m0 + r < M; r++) {
        float t[BW];
        UNROLL for (uint c = 0; c < VN; c++)
            vstore16(acc[r][c], c, t);
        for (uint i = 0; i < BW && n0 + i < N; i++)
            P_STORE(C, (size_t)(m0 + r) * N + n0 + i, t[i]);
    }
}

/* acc[r][·] += Σ_k A(m0 + r, k)·B[k][n0 … n0 + BW) for a B whose rows run along n; A_AT(r, k)
 * is the A element of block row r. The full-width case (all but the last column block) loads
 * B with vload16; the last block pads with zeros. */
#define FM_ROW_PRODUCT(A_AT, LOAD16, LOAD1)                                                    \
    if (n0 + BW <= N) {                                                                        \
        for (uint k = 0; k < K; k++) {                                                         \
            float16 b[VN];                                                                     \
            UNROLL for (uint c = 0; c < VN; c++)                                               \
                b[c] = LOAD16(c, B + (size_t)k * N + n0);                                      \
            UNROLL for (uint r = 0; r < BM; r++) {                                             \
                const float16 a = (float16)(A_AT(r, k));                                       \
                UNROLL for (uint c = 0; c < VN; c++)                                           \
                    acc[r][c] = fma(a, b[c], acc[r][c]);                                       \
            }                                                                                  \
        }                                                                                      \
    } else {                                                                                   \
        for (uint k = 0; k < K; k++) {                                                         \
            float t[BW];                                                                       \
            for (uint i = 0; i < BW; i++)                                                      \
                t[i] = n0 + i < N ? LOAD1(B, (size_t)k * N + n0 + i) : 0.0f;                   \
            float16 b[VN];                                                                     \
            UNROLL for (uint c = 0; c < VN; c++)                                               \
                b[c] = vload16(c, t);                                                          \
            UNROLL for (uint r = 0; r < BM; r++) {                                             \
                const float16 a = (float16)(A_AT(r, k));                                       \
                UNROLL for (uint c = 0; c < VN; c++)                                           \
                    acc[r][c] = fma(a, b[c], acc[r][c]);                                       \
            }                                                                                  \
        }                                                                                      \
    }

/* Backward to the layer's input: dx[m][n] = Σ_k dy[m][k]·w[k][n] (dy is [M][K], w is the
 * layer's [K][N] weight), times ReLU's derivative h[m][n] > 0, h being the layer's input (the
 * previous layer's output after ReLU). */
__kernel void fm_linear_backward_input(__global const act_t *dy, __global const param_t *w,
                                       __global const act_t *h, __global act_t *dx,
                                       const uint M, const uint N, const uint K)
{
    const uint n0 = get_global_id(0) * BW, m0 = get_global_id(1) * BM;
    if (n0 >= N || m0 >= M)
        return;
    __global const param_t *B = w;
    __global const act_t *ar[BM];
    UNROLL for (uint r = 0; r < BM; r++)
        ar[r] = dy + (size_t)min(m0 + r, M - 1) * K;
    float16 acc[BM][VN];
    UNROLL for (uint r = 0; r < BM; r++)
        UNROLL for (uint c = 0; c < VN; c++)
            acc[r][c] = (float16)(0.0f);
#define FM_DY_AT(r, k) P_LOAD(ar[r], k)
    FM_ROW_PRODUCT(FM_DY_AT, P_LOAD16, P_LOAD)
    fm_store_block(dx, h, M, N, acc, m0, n0);
}

/* Weight gradient: dw[m][n] = Σ_k dy[k][m]·x[k][n] over the K batch rows (dy is [K][M], x is
 * [K][N]), written straight into optcl's gradient sub-buffer of the weight. */
__kernel void fm_linear_backward_weight(__global const act_t *dy, __global const act_t *x,
                                        __global param_t *dw, const uint M, const uint N,
                                        const uint K)
{
    const uint n0 = get_global_id(0) * BW, m0 = get_global_id(1) * BM;
    if (n0 >= N || m0 >= M)
        return;
    __global const act_t *B = x;
    uint mr[BM];
    UNROLL for (uint r = 0; r < BM; r++)
        mr[r] = min(m0 + r, M - 1);
    float16 acc[BM][VN];
    UNROLL for (uint r = 0; r < BM; r++)
        UNROLL for (uint c = 0; c < VN; c++)
            acc[r][c] = (float16)(0.0f);
#define FM_DYT_AT(r, k) P_LOAD(dy, (size_t)(k) * M + mr[r])
    FM_ROW_PRODUCT(FM_DYT_AT, P_LOAD16, P_LOAD)
#if PARAM_DTYPE == 0
    fm_store_block(dw, 0, M, N, acc, m0, n0);
#else
    fm_store_block_param(dw, M, N, acc, m0, n0);
#endif
}

/* Bias gradient: db[n] = Σ_r dy[r][n]; one work-item per output, neighbours read neighbours. */
__kernel void fm_bias_grad(__global const act_t *dy, __global param_t *db, const uint rows,
                           const uint N)
{
    const uint n = get_global_id(0);
    if (n >= N)
        return;
    float sum = 0.0f;
    for (uint r = 0; r < rows; r++)
        sum += P_LOAD(dy, (size_t)r * N + n);
    P_STORE(db, n, sum);
}

/* Softmax cross-entropy of row r of the logits against labels[index[first + r]]: the loss
 * (logsumexp − the label's logit) and whether the first arg-max is the label go to per-sample
 * slots first + r, read back once per pass; with write_grad, dlogits = (softmax − onehot)·scale,
 * scale being 1/rows for the batch mean, times loss_scale[0] when loss_scale is given (the
 * optimizer's loss scale: the gradient of a scaled loss). */
__kernel void fm_softmax_xent(__global const act_t *logits, __global const uchar *labels,
                              __global const uint *index, const uint first, const uint rows,
                              const uint classes, const float scale, const int write_grad,
                              __global act_t *dlogits, __global float *loss,
                              __global uint *correct, __global const float *loss_scale)
{
    const uint r = get_global_id(0);
    if (r >= rows)
        return;
    __global const act_t *z = logits + (size_t)r * classes;
    const uint label = labels[index[first + r]];
    float top = P_LOAD(z, 0);
    uint arg = 0;
    for (uint c = 1; c < classes; c++)
        if (P_LOAD(z, c) > top) {
            top = P_LOAD(z, c);
            arg = c;
        }
    float sum = 0.0f;
    for (uint c = 0; c < classes; c++)
        sum += exp(P_LOAD(z, c) - top);
    loss[first + r] = top + log(sum) - P_LOAD(z, label);
    correct[first + r] = arg == label;
    if (write_grad) {
        const float inv = 1.0f / sum, times = loss_scale ? loss_scale[0] : 1.0f;
        for (uint c = 0; c < classes; c++) {
            const float p = exp(P_LOAD(z, c) - top) * inv;
            P_STORE(dlogits, (size_t)r * classes + c,
                    (p - (c == label ? 1.0f : 0.0f)) * scale * times);
        }
    }
}

/* The logits widened to float32, for the host (the activations are of the parameters' type). */
__kernel void fm_widen(__global const act_t *in, __global float *out, const uint n)
{
    const uint i = get_global_id(0);
    if (i < n)
        out[i] = P_LOAD(in, i);
}
