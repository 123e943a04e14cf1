"""bench/q8_floor.py — how fast 8-bit block-wise Adam state could be on this OpenCL device, with
the bytes taken out of the question: the same Adam step over float32 state and over 8-bit
blocks (one work-item per block of 256, as kernels/q8.cl), the latter with its two table
lookups per element and state (the dequantization's map, the quantizer's lookup row) or with
either replaced by arithmetic of the same shape. The tables have the sizes of
host/q8.h's but random sorted contents: the figures are timing only, no kernel here is
optcl's rule. Run at n = 2^20 (LOGN=20: the buffers stay in the CPU's caches, so the time is
the arithmetic's) and at 2^24 (memory). Interleaved rounds; medians of each case's time over
the rounds and of its ratio to float32 Adam's in the same round.

    LOGN=20 /usr/bin/python3 bench/q8_floor.py [ROUNDS]     # PyOpenCL, the default device
"""
import os
import sys
import time

import numpy as np
import pyopencl as cl

SOURCE = r"""
#define SCALARS float b1, float omb1, float b2, float omb2, float nstep, float bc2s, float eps
#define GATHER(T, t, c) ((T##16)((t)[(c).s0], (t)[(c).s1], (t)[(c).s2], (t)[(c).s3], \
    (t)[(c).s4], (t)[(c).s5], (t)[(c).s6], (t)[(c).s7], (t)[(c).s8], (t)[(c).s9], \
    (t)[(c).sa], (t)[(c).sb], (t)[(c).sc], (t)[(c).sd], (t)[(c).se], (t)[(c).sf]))

__kernel void adam_f32(__global float *p, __global const float *g, __global float *m,
                       __global float *v, SCALARS)
{
    size_t i = get_global_id(0);
    float16 gg = vload16(i, g), mm = vload16(i, m) * b1 + omb1 * gg;
    float16 vv = vload16(i, v) * b2 + omb2 * gg * gg;
    vstore16(mm, i, m);
    vstore16(vv, i, v);
    vstore16(vload16(i, p) + nstep * mm / (sqrt(vv) / bc2s + eps), i, p);
}

/* LOOKUP bit 0: the dequantization looks its map up (else code / 255); bit 1: the quantizer
 * looks its row up (else a rounding of |x| * 255). */
static inline float16 decode(__global const float *map, uchar16 c)
{
#if LOOKUP & 1
    return GATHER(float, map, c);
#else
    return convert_float16(c) * (1.0f / 255.0f);
#endif
}

static inline uchar16 encode(float16 x, __global const int *row)
{
#if LOOKUP & 2
    uint16 a = as_uint16(fabs(x));
    uint16 first = clamp(a, 0x33800000u, 0x3F800000u) & 0xFFFF8000u;
    int16 entry = GATHER(int, row, (first - 0x33800000u) >> 15);
    int16 c = (entry >> 16) - (a > first + as_uint16(entry & 0xFFFF));
    return convert_uchar16(select(127 + c, 127 - c, x < 0));
#else
    return convert_uchar16(min(fabs(x), 1.0f) * 255.0f);
#endif
}

__kernel void adam_q8(__global float *p, __global const float *g, __global uchar *cm,
                      __global uchar *cv, __global float *am, __global float *av,
                      __global const float *maps, __global const int *rows, SCALARS)
{
    size_t b = get_global_id(0);
    float16 M[16], V[16], mx = 0.0f, vx = 0.0f;
    float a0 = am[b], a1 = av[b];
    for (int k = 0; k < 16; k++) {
        size_t i = b * 16 + k;
        float16 gg = vload16(i, g);
        float16 mm = decode(maps, ((__global uchar16 *)cm)[i]) * a0 * b1 + omb1 * gg;
        float16 vv = decode(maps + 256, ((__global uchar16 *)cv)[i]) * a1 * b2 + omb2 * gg * gg;
        vstore16(vload16(i, p) + nstep * mm / (sqrt(vv) / bc2s + eps), i, p);
        M[k] = mm;
        V[k] = vv;
        mx = fmax(mx, fabs(mm));
        vx = fmax(vx, vv);
    }
    float8 m8 = fmax(mx.lo, mx.hi), v8 = fmax(vx.lo, vx.hi);
    float4 m4 = fmax(m8.lo, m8.hi), v4 = fmax(v8.lo, v8.hi);
    float2 m2 = fmax(m4.lo, m4.hi), v2 = fmax(v4.lo, v4.hi);
    float A0 = fmax(m2.x, m2.y), A1 = fmax(v2.x, v2.y);
    am[b] = A0;
    av[b] = A1;
    float i0 = 1.0f / A0, i1 = 1.0f / A1; /* as q8.cl: x · (1 / absmax) */
    for (int k = 0; k < 16; k++) {
        size_t i = b * 16 + k;
        ((__global uchar16 *)cm)[i] = encode(M[k] * i0, rows);
        ((__global uchar16 *)cv)[i] = encode(V[k] * i1, rows + KEYS);
    }
}
"""

CASES = [("8-bit, no lookups", 0), ("8-bit, map lookups only", 1),
         ("8-bit, quantizer lookups only", 2), ("8-bit, all lookups (as q8.cl)", 3)]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    n = 1 << int(os.environ.get("LOGN", "24"))
    keys = ((0x3F800000 - 0x33800000) >> 15) + 1
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    rng = np.random.default_rng(0)
    host = {
        "p": rng.standard_normal(n).astype(np.float32),
        "g": rng.standard_normal(n).astype(np.float32),
        "m": np.zeros(n, np.float32), "v": np.zeros(n, np.float32),
        "cm": rng.integers(0, 255, n).astype(np.uint8),
        "cv": rng.integers(0, 255, n).astype(np.uint8),
        "am": np.ones(n // 256, np.float32), "av": np.ones(n // 256, np.float32),
        "maps": np.sort(rng.random(512).astype(np.float32)),
        "rows": (np.sort(rng.integers(0, 127, 2 * keys)) << 16 |
                 rng.integers(0, 1 << 15, 2 * keys)).astype(np.int32),
    }
    buf = {k: cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=a)
           for k, a in host.items()}
    scalars = [np.float32(x) for x in (0.9, 0.1, 0.999, 0.001, -1e-3, 1.0, 1e-8)]
    f32 = cl.Program(ctx, SOURCE).build("-DKEYS=%d -DLOOKUP=0" % keys).adam_f32
    cases = [("float32 Adam", f32, (n // 16,), (256,),
              [buf[k] for k in "pgmv"] + scalars)]
    q8_args = [buf[k] for k in ("p", "g", "cm", "cv", "am", "av", "maps", "rows")]
    for label, lookup in CASES:
        kernel = cl.Program(ctx, SOURCE).build("-DKEYS=%d -DLOOKUP=%d" % (keys, lookup)).adam_q8
        cases.append((label, kernel, (n // 256,), (64,), q8_args + scalars))

    def seconds(kernel, gsize, lsize, args, reps=5):
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            kernel(queue, gsize, lsize, *args)
            queue.finish()
            best = min(best, time.perf_counter() - start)
        return best

    for case in cases:
        seconds(*case[1:], reps=2)
    times = {case[0]: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            times[case[0]].append(seconds(*case[1:]))
    base = np.array(times["float32 Adam"])
    print("n = %d, %d rounds (%s)" % (n, rounds, ctx.devices[0].name))
    print("%-32s %10s %12s %10s" % ("case", "ms", "ns/element", "× float32"))
    for label, t in times.items():
        ms = np.median(t) * 1e3
        print("%-32s %10.3f %12.3f %10.2f" % (label, ms, ms * 1e6 / n,
                                                np.median(np.array(t) / base)))


if __name__ == "__main__":
    main()
