/* muon.cl — Muon as torch.optim.Muon: m = lerp(m, d, 1 − momentum), u = lerp(d, m, momentum)
 * with NESTEROV (else m); per tensor X = u / max(‖u‖, eps), orthogonalised by the
 * Newton–Schulz iteration (host/orthogonal.h: batched SGEMMs between the pack and the step
 * kernels); then p = p·(1 − lr·wd) − lr·ratio·X. Four kernels around the products
 * (host/segments.h): sums (‖u‖² per block, nothing stored), totals (max(‖u‖, eps) per
 * tensor), pack (u / max(‖u‖, eps) written into the workspace, as the tensor lies) and the
 * step, which computes the momentum again, the same bits, and stores it. Only the step, the
 * last launch, writes the state, so a step whose later launch (a product, the step itself)
 * fails to enqueue leaves it as it was. Read side by side with host/reference/muon.c and
 * host/rules/muon.c. */

#ifndef NESTEROV
#define NESTEROV 0
#endif
#define MOMENTUM s.rule[0]
#define ONE_MINUS_MOMENTUM s.rule[1]
#define EPS s.rule[2]

/* Per segment, host/reference/reference.h's OPTCL__ORTHO_* (the same order). */
#define ORTHO_OFFSET 0      /* its matrix's first float in the workspace */
#define ORTHO_ROWS 1        /* R */
#define ORTHO_COLS 2        /* C */
#define ORTHO_FIRST_BLOCK 3 /* its offset / 256 */
#define ORTHO_FIELDS 4

/* The tables and the workspace (host/orthogonal.c binds them). */
#define OPTCL_ORTHOGONAL_ARG                                                                      \
    , __global const uint *restrict ortho_info, __global float *restrict work,                    \
        __global const float *restrict lr_ratio

/* The new momentum of direction d at vector i, and the update of new momentum m. */
#define MUON_MOMENTUM(i, d) optcl_lerp(LOAD_STATE(momentum_buffer, i), d, ONE_MINUS_MOMENTUM)
#define MUON_UPDATE(m, d) (NESTEROV ? optcl_lerp(d, m, MOMENTUM) : (m))

__kernel void optcl_muon_sums_f32(__global param_t *param, __global grad_t *grad,
                                  __global state_t *momentum_buffer,
                                  OPTCL_STEP_ARGS OPTCL_SUMS_ARG)
{
    OPTCL_STEP_BEGIN;
    (void)param;
    OPTCL_SUMS_BEGIN(1);
    OPTCL_FOR_EACH_BLOCK_VECTOR(i, k) {
        floatv d = optcl_direction(OPTCL_GRAD_PEEK(grad, i));
        floatv u = MUON_UPDATE(MUON_MOMENTUM(i, d), d);
        OPTCL_SUM(0, k, u * u);
    }
    OPTCL_SUMS_END(1);
}

/* max(‖u‖, eps), NaN kept (torch's clamp) */
__kernel void optcl_muon_totals_f32(__global param_t *param, __global grad_t *grad,
                                    __global state_t *momentum_buffer,
                                    OPTCL_STEP_ARGS OPTCL_TOTALS_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_TOTALS_BEGIN(t);
    float norm = sqrt(OPTCL_TOTAL(t, 1, 0));
    OPTCL_TOTALS_WRITE(t, norm > EPS || norm != norm ? norm : EPS);
}

#define MUON_INFO(i) (ortho_info + (size_t)block_segment[(i) * VEC / OPTCL_BLOCK] * ORTHO_FIELDS)

/* X = u / max(‖u‖, eps) written to its place (the momentum is not stored here). */
__kernel void optcl_muon_pack_f32(__global param_t *param, __global grad_t *grad,
                                  __global state_t *momentum_buffer,
                                  OPTCL_STEP_ARGS OPTCL_TENSOR_VALUES_ARG OPTCL_ORTHOGONAL_ARG)
{
    OPTCL_STEP_BEGIN;
    (void)param;
    OPTCL_FOR_EACH_VECTOR(i) {
        __global const uint *info = MUON_INFO(i);
        floatv d = optcl_direction(OPTCL_GRAD_PEEK(grad, i));
        floatv u = MUON_UPDATE(MUON_MOMENTUM(i, d), d);
        floatv x = u / OPTCL_TENSOR_VALUE(i, 1, 0);
        const uint n = info[ORTHO_ROWS] * info[ORTHO_COLS];
        const uint e0 = (uint)(i * VEC - (size_t)info[ORTHO_FIRST_BLOCK] * OPTCL_BLOCK);
        __global float *to = work + info[ORTHO_OFFSET] + e0;
        if (e0 + VEC <= n) {
#if VEC == 1
            *to = x;
#else
            OPTCL_V(vstore)(x, 0, to);
#endif
        } else { /* the tensor's last elements, then padding */
            float lane[VEC];
#if VEC == 1
            lane[0] = x;
#else
            OPTCL_V(vstore)(x, 0, lane);
#endif
            for (uint l = 0; e0 + l < n; l++)
                to[l] = lane[l];
        }
    }
}

/* The momentum stored (the last reader of the gradient: it stores the unscaled one,
 * WRITE_UNSCALED), and p·(1 − lr·wd) + (−lr·ratio)·X, fused as torch's add_ with alpha. */
__kernel void optcl_muon_f32(__global param_t *param, __global grad_t *grad,
                             __global state_t *momentum_buffer,
                             OPTCL_STEP_ARGS OPTCL_TENSOR_VALUES_ARG OPTCL_ORTHOGONAL_ARG)
{
    OPTCL_STEP_BEGIN;
    OPTCL_FOR_EACH_VECTOR(i) {
        floatv d = optcl_direction(OPTCL_GRAD_AT(grad, i));
        STORE_STATE(momentum_buffer, i, MUON_MOMENTUM(i, d));
        __global const uint *info = MUON_INFO(i);
        const uint n = info[ORTHO_ROWS] * info[ORTHO_COLS];
        const uint e0 = (uint)(i * VEC - (size_t)info[ORTHO_FIRST_BLOCK] * OPTCL_BLOCK);
        __global const float *from = work + info[ORTHO_OFFSET] + e0;
        floatv update;
        if (e0 + VEC <= n) {
#if VEC == 1
            update = *from;
#else
            update = OPTCL_V(vload)(0, from);
#endif
        } else { /* the tensor's last elements, then padding (0: the parameters stay 0) */
            float x[VEC];
            for (uint l = 0; l < VEC; l++)
                x[l] = e0 + l < n ? from[l] : 0.0f;
#if VEC == 1
            update = x[0];
#else
            update = OPTCL_V(vload)(0, x);
#endif
        }
        floatv p = LOAD_WEIGHT(param, i);
        if (s.weight_decay != 0.0f)
            p = p * s.decay_factor;
        float step = s.neg_lr * lr_ratio[block_segment[i * VEC / OPTCL_BLOCK]];
        STORE_WEIGHT(param, i, OPTCL_FMA(step, update, p)); /* p.add_(X, alpha=…) */
    }
}
