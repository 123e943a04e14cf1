/* launch_seam.c — test_geometry's seam: GNU ld's --wrap sends optcl's clEnqueueNDRangeKernel
 * calls here, which records each launch's kernel name and sizes and then enqueues it as asked.
 * The library is unchanged. */
#include "launch_seam.h"

#include <string.h>

cl_int __real_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel kernel, cl_uint dims,
                                     const size_t *offset, const size_t *global,
                                     const size_t *local, cl_uint n, const cl_event *wait,
                                     cl_event *event);
cl_int __wrap_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel kernel, cl_uint dims,
                                     const size_t *offset, const size_t *global,
                                     const size_t *local, cl_uint n, const cl_event *wait,
                                     cl_event *event);

static seam_launch g_log[SEAM_MAX_LAUNCHES];
static size_t g_count;

cl_int __wrap_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel kernel, cl_uint dims,
                                     const size_t *offset, const size_t *global,
                                     const size_t *local, cl_uint n, const cl_event *wait,
                                     cl_event *event)
{
    if (g_count < SEAM_MAX_LAUNCHES) {
        seam_launch *l = &g_log[g_count++];
        memset(l, 0, sizeof *l);
        l->kernel = kernel;
        clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof l->name - 1, l->name, NULL);
        l->global = global ? global[0] : 0;
        l->local = local ? local[0] : 0;
        l->offset = offset ? offset[0] : 0;
    }
    return __real_clEnqueueNDRangeKernel(q, kernel, dims, offset, global, local, n, wait, event);
}

void seam_clear(void)
{
    g_count = 0;
}

size_t seam_count(void)
{
    return g_count;
}

const seam_launch *seam_get(size_t i)
{
    return i < g_count ? &g_log[i] : NULL;
}
