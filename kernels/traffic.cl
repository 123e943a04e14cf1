/* traffic.cl — the yardstick for an update kernel: it reads BUFFERS buffers and writes all of
 * them but the gradient (b1), like a step, with one add per element and no other math. The
 * benchmark times it beside the real step: their ratio is how close the step is to the
 * memory's limit. */

#ifndef BUFFERS
#define BUFFERS 2
#endif

__kernel void optcl_traffic_f32(__global float *b0, __global const float *b1,
                                __global float *b2, __global float *b3, __global float *b4,
                                ulong end)
{
    size_t i = get_global_id(0);
    if (i >= end)
        return;
    float s = b0[i] + b1[i];
#if BUFFERS > 2
    float v2 = b2[i];
    s += v2;
#endif
#if BUFFERS > 3
    float v3 = b3[i];
    s += v3;
#endif
#if BUFFERS > 4
    float v4 = b4[i];
    s += v4;
#endif
    b0[i] = s;
#if BUFFERS > 2
    b2[i] = s;
#endif
#if BUFFERS > 3
    b3[i] = s;
#endif
#if BUFFERS > 4
    b4[i] = s;
#endif
}
