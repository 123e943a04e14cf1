"""What a kernel's arguments cost per launch on an OpenCL device: the same element-wise kernel
with 4 buffer arguments, with 6 (two it barely touches), and with 4 plus a 64-byte by-value
struct (float16), launched back to back on an in-order queue (n = 1024, 64 work-items of 16
floats... as optcl's small steps are). Medians of 7 rounds of 3000 launches each, the variants
interleaved within each round.

    /usr/bin/python3 bench/launch_args.py        # Debian's python3-pyopencl, the default device

Not CI. Written to test the guess that each buffer argument costs PoCL ~0.4 µs per launch
(docs/PERFORMANCE.md, "The gradient guard's cost")."""
import time

import numpy as np
import pyopencl as cl

N = 1024
SRC = """
__kernel void k4(__global float *a, __global float *b, __global float *c, __global float *d,
                 float s)
{ size_t i = get_global_id(0); a[i] = a[i] * s + b[i] + c[i] * d[i]; }
__kernel void k6(__global float *a, __global float *b, __global float *c, __global float *d,
                 __global float *e, __global float *f, float s)
{ size_t i = get_global_id(0); a[i] = a[i] * s + b[i] + c[i] * d[i]; if (i == 0 && s < 0) e[0] = f[0]; }
__kernel void k4s(__global float *a, __global float *b, __global float *c, __global float *d,
                  float16 s)
{ size_t i = get_global_id(0); a[i] = a[i] * s.s0 + b[i] + c[i] * d[i]; }
"""


def main():
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    bufs = [cl.Buffer(ctx, cl.mem_flags.READ_WRITE, N * 4) for _ in range(6)]
    prg = cl.Program(ctx, SRC).build()
    kernels = {"4 buffers": prg.k4, "6 buffers": prg.k6, "4 buffers + float16": prg.k4s}
    kernels["4 buffers"].set_args(*bufs[:4], np.float32(1.0))
    kernels["6 buffers"].set_args(*bufs[:6], np.float32(1.0))
    kernels["4 buffers + float16"].set_args(*bufs[:4], np.ones(16, np.float32))

    def per_launch(kernel, reps=3000):
        queue.finish()
        t = time.perf_counter()
        for _ in range(reps):
            cl.enqueue_nd_range_kernel(queue, kernel, (N // 16,), (64,))
        queue.finish()
        return (time.perf_counter() - t) / reps * 1e6

    for kernel in kernels.values():
        per_launch(kernel, 300)
    times = {name: [] for name in kernels}
    for _ in range(7):
        for name, kernel in kernels.items():
            times[name].append(per_launch(kernel))
    print(f"device: {ctx.devices[0].name}")
    for name, values in times.items():
        print(f"{name:22s} {sorted(values)[3]:.2f} us per launch")


if __name__ == "__main__":
    main()
