/* traffic.cl — the yardstick for an update kernel: it reads BUFFERS buffers and writes all of
 * them but the gradient (b1), like a step, with one add per element and no other math. The
 * benchmark times it beside the real step: their ratio is how close the step is to the
 * memory's limit. */

#ifndef BUFFERS
#define BUFFERS 2
#endif

__kernel void optcl_traffic_f32(__global float *b0, __global const float *b1,
                                __global float *b2, __global float *b3, __global float *b4)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    floatv s = LOAD(b0, i) + LOAD(b1, i);
#if BUFFERS > 2
    floatv v2 = LOAD(b2, i);
    s += v2;
#endif
#if BUFFERS > 3
    floatv v3 = LOAD(b3, i);
    s += v3;
#endif
#if BUFFERS > 4
    floatv v4 = LOAD(b4, i);
    s += v4;
#endif
    STORE(b0, i, s);
#if BUFFERS > 2
    STORE(b2, i, s);
#endif
#if BUFFERS > 3
    STORE(b3, i, s);
#endif
#if BUFFERS > 4
    STORE(b4, i, s);
#endif
}
