/* clblast_sgemm.c — CLBlast's own SGEMM rate for the products of one Muon Newton–Schulz
 * iteration, the yardstick of `optcl bench muon` (docs/PERFORMANCE.md):
 *
 *     clblast_sgemm R C [COUNT] [ITERATIONS]
 *
 * For COUNT (default 1) matrices X of R×C, as Muon holds them (m = min(R, C) rows, n = max),
 * it times ITERATIONS (default 5) of A = X·Xᵀ (m×m×n), B = A·A (m×m×m) and Y = B·X (m×n×m) with
 * plain CLBlastSgemm calls per matrix, on the default OpenCL device, after one untimed round
 * (CLBlast compiles its kernels on first use), and prints the median of 5 rounds: ms and
 * GFLOP/s (4m²n + 2m³ per matrix and iteration, the count optcl_optimizer_flops_per_step
 * uses). No copies and no batching: what CLBlast does for these shapes on its own. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: clblast_sgemm R C [COUNT] [ITERATIONS]\n");
        return 2;
    }
    size_t r = strtoul(argv[1], NULL, 10), c = strtoul(argv[2], NULL, 10);
    size_t count = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
    size_t iterations = argc > 4 ? strtoul(argv[4], NULL, 10) : 5;
    size_t m = r < c ? r : c, n = r < c ? c : r;
    if (!m || !count || !iterations)
        return fprintf(stderr, "clblast_sgemm: sizes must be positive\n"), 2;
    cl_platform_id platform;
    cl_device_id device;
    cl_int err = clGetPlatformIDs(1, &platform, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_DEFAULT, 1, &device, NULL);
    cl_context ctx = err == CL_SUCCESS ? clCreateContext(NULL, 1, &device, NULL, NULL, &err) : NULL;
    cl_command_queue q = err == CL_SUCCESS ? clCreateCommandQueue(ctx, device, 0, &err) : NULL;
    size_t x = 0, a = count * m * n, b = a + count * m * m, y = b + count * m * m;
    size_t floats = y + count * m * n;
    float *host = calloc(floats, sizeof *host);
    for (size_t i = 0; host && i < a; i++)
        host[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    cl_mem w = err == CL_SUCCESS && host
                   ? clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                    floats * sizeof(float), host, &err)
                   : NULL;
    if (err != CL_SUCCESS || !host)
        return fprintf(stderr, "clblast_sgemm: OpenCL setup failed (%d)\n", (int)err), 1;
    double times[6];
    for (int round = 0; round < 6; round++) {
        double t = now();
        CLBlastStatusCode st = CLBlastSuccess;
        for (size_t it = 0; it < iterations; it++)
            for (size_t k = 0; k < count && st == CLBlastSuccess; k++) {
                size_t xo = x + k * m * n, ao = a + k * m * m, bo = b + k * m * m;
                st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes,
                                  m, m, n, 1.0f, w, xo, n, w, xo, n, 0.0f, w, ao, m, &q, NULL);
                if (st == CLBlastSuccess)
                    st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                      CLBlastTransposeNo, m, m, m, 1.0f, w, ao, m, w, ao, m, 0.0f,
                                      w, bo, m, &q, NULL);
                if (st == CLBlastSuccess)
                    st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                      CLBlastTransposeNo, m, n, m, 1.0f, w, bo, m, w, xo, n, 0.0f,
                                      w, y + k * m * n, n, &q, NULL);
            }
        clFinish(q);
        if (st != CLBlastSuccess)
            return fprintf(stderr, "clblast_sgemm: CLBlast status %d\n", (int)st), 1;
        times[round] = now() - t;
    }
    qsort(times + 1, 5, sizeof(double), cmp); /* round 0 compiled the kernels */
    double sec = times[3], flops = (double)count * (double)iterations *
                                   (4.0 * (double)m * m * n + 2.0 * (double)m * m * m);
    printf("{\"what\": \"clblast_sgemm\", \"rows\": %zu, \"cols\": %zu, \"count\": %zu, "
           "\"iterations\": %zu, \"seconds\": %.6g, \"gflops_per_s\": %.4g}\n",
           r, c, count, iterations, sec, flops / sec / 1e9);
    clReleaseMemObject(w);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    free(host);
    return 0;
}
