/* common.cl — prepended to every optimizer family's source: floating-point contract and the
 * small helpers the update rules share. Option macros default to 0 so every file builds alone. */

/* The reference backend rounds every operation separately; so do we, or the two would differ
 * in the last bit wherever the compiler fuses a multiply and an add. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef MAXIMIZE
#define MAXIMIZE 0
#endif

/* The gradient as the rule sees it: ascent when maximizing (PyTorch negates the gradient). */
static inline float optcl_direction(float g)
{
#if MAXIMIZE
    return -g;
#else
    return g;
#endif
}

/* torch.lerp(a, b, w) as PyTorch evaluates it for float: from whichever end is nearer. */
static inline float optcl_lerp(float a, float b, float w)
{
    return fabs(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

/* torch.maximum: NaN wins (fmax would drop it). */
static inline float optcl_maximum(float a, float b)
{
    return a > b || a != a ? a : b;
}
