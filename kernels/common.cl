/* common.cl — prepended to every optimizer family's source: floating-point contract and the
 * small helpers the update rules share. Option macros default to 0 so every file builds alone. */

/* The reference backend rounds every operation separately; so do we, or the two would differ
 * in the last bit wherever the compiler fuses a multiply and an add. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef MAXIMIZE
#define MAXIMIZE 0
#endif

/* VEC elements per work-item, chosen by the host per device: 1 on CPUs (PoCL vectorises across
 * work-items, and wider items measured 30 % slower), 4 on GPUs (16-byte loads). Work-item i
 * handles elements [VEC·i, VEC·i + VEC); ranges are multiples of the alignment, so of VEC. The
 * rules are written once for both: element-wise arithmetic, select() for per-element choices. */
#ifndef VEC
#define VEC 1
#endif
#if VEC == 4
typedef float4 floatv;
#define LOAD(p, i) vload4((i), (p))
#define STORE(p, i, v) vstore4((v), (i), (p))
#elif VEC == 1
typedef float floatv;
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#else
#error "VEC must be 1 or 4"
#endif

/* The gradient as the rule sees it: ascent when maximizing (PyTorch negates the gradient). */
static inline floatv optcl_direction(floatv g)
{
#if MAXIMIZE
    return -g;
#else
    return g;
#endif
}

/* torch.lerp(a, b, w) as PyTorch evaluates it for float: from whichever end is nearer. */
static inline floatv optcl_lerp(floatv a, floatv b, float w)
{
    return fabs(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

/* torch.maximum: NaN wins (fmax would drop it). */
static inline floatv optcl_maximum(floatv a, floatv b)
{
    return select(b, a, a > b || a != a);
}
