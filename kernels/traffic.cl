/* traffic.cl — the yardstick for an update kernel: it reads BUFFERS buffers and writes all of
 * them but the gradient (b1), like a step, with one add per element and no other math. With
 * MASTER it reads and writes the master (b5) instead of reading the parameters (b0), which it
 * only writes, as a step with master weights does. The
 * benchmark times it beside the real step: their ratio is how close the step is to the
 * memory's limit. */

#ifndef BUFFERS
#define BUFFERS 2
#endif

/* bfloat16 is stored truncated here, not rounded: the yardstick moves bytes and does as little
 * else as it can. */
#define OPTCL_TRUNCATE_BF16(p, i, v)                                                              \
    (((__global ushortv *)(p))[i] = OPTCL_V(convert_ushort)(OPTCL_V(as_uint)(v) >> 16))
#if STATE_DTYPE == 1
#undef STORE_STATE
#define STORE_STATE(p, i, v) OPTCL_TRUNCATE_BF16(p, i, v)
#endif
#if STATE_DTYPE == 3 /* 8-bit state: its codes, as bytes (absmaxes are 1/64 of its traffic) */
#undef LOAD_STATE
#undef STORE_STATE
#define LOAD_STATE(p, i) OPTCL_V(convert_float)(((__global ucharv *)(p))[i])
#define STORE_STATE(p, i, v)                                                                      \
    (((__global ucharv *)(p))[i] = OPTCL_CAT(OPTCL_V(convert_uchar), _sat)(v))
#endif
#if PARAM_DTYPE == 1
#undef STORE_PARAM
#define STORE_PARAM(p, i, v) OPTCL_TRUNCATE_BF16(p, i, v)
#endif

__kernel void optcl_traffic_f32(__global param_t *b0, __global const param_t *b1,
                                __global state_t *b2, __global state_t *b3, __global state_t *b4,
                                __global float *b5)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
#if MASTER
    floatv s = LOAD(b5, i) + LOAD_PARAM(b1, i);
    STORE(b5, i, s);
#else
    (void)b5;
    floatv s = LOAD_PARAM(b0, i) + LOAD_PARAM(b1, i);
#endif
#if BUFFERS > 2
    floatv v2 = LOAD_STATE(b2, i);
    s += v2;
#endif
#if BUFFERS > 3
    floatv v3 = LOAD_STATE(b3, i);
    s += v3;
#endif
#if BUFFERS > 4
    floatv v4 = LOAD_STATE(b4, i);
    s += v4;
#endif
    STORE_PARAM(b0, i, s);
#if BUFFERS > 2
    STORE_STATE(b2, i, s);
#endif
#if BUFFERS > 3
    STORE_STATE(b3, i, s);
#endif
#if BUFFERS > 4
    STORE_STATE(b4, i, s);
#endif
}
