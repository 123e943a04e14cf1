/* launch_seam.c — test_geometry's and test_device_limits's seam: GNU ld's --wrap sends optcl's
 * clEnqueueNDRangeKernel calls here, which records each launch's kernel name and sizes and then
 * enqueues it as asked; and its clGetKernelWorkGroupInfo and clGetDeviceInfo calls, which answer
 * as the device does unless a test asked for a lesser one. The library is unchanged. */
#include "launch_seam.h"

#include <stdio.h>
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

/* ---- a lesser device --------------------------------------------------------------------- */

cl_int __real_clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                       cl_kernel_work_group_info what, size_t size, void *value,
                                       size_t *size_ret);
cl_int __wrap_clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                       cl_kernel_work_group_info what, size_t size, void *value,
                                       size_t *size_ret);
cl_int __real_clGetDeviceInfo(cl_device_id device, cl_device_info what, size_t size, void *value,
                              size_t *size_ret);
cl_int __wrap_clGetDeviceInfo(cl_device_id device, cl_device_info what, size_t size, void *value,
                              size_t *size_ret);

static struct {
    size_t kernel_most; /* 0: the device's own */
    char kernel_only[64];
    size_t device_most;
    cl_device_fp_config fp_dropped;
    bool unavailable, no_compiler;
} g_lesser;

void seam_limit_kernels(size_t most, const char *only)
{
    g_lesser.kernel_most = most;
    snprintf(g_lesser.kernel_only, sizeof g_lesser.kernel_only, "%s", only ? only : "");
}

void seam_limit_device(size_t most)
{
    g_lesser.device_most = most;
}

void seam_drop_fp(cl_device_fp_config bits)
{
    g_lesser.fp_dropped = bits;
}

void seam_availability(bool available, bool compiler)
{
    g_lesser.unavailable = !available;
    g_lesser.no_compiler = !compiler;
}

void seam_device_reset(void)
{
    memset(&g_lesser, 0, sizeof g_lesser);
}

/* Lowers the size_t at value to most (0: unchanged). */
static void cap(void *value, size_t size, size_t most)
{
    size_t v = 0;
    if (!value || size < sizeof v || most == 0)
        return;
    memcpy(&v, value, sizeof v);
    if (v > most)
        memcpy(value, &most, sizeof most);
}

cl_int __wrap_clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                       cl_kernel_work_group_info what, size_t size, void *value,
                                       size_t *size_ret)
{
    cl_int err = __real_clGetKernelWorkGroupInfo(kernel, device, what, size, value, size_ret);
    char name[64] = "";
    if (err != CL_SUCCESS || what != CL_KERNEL_WORK_GROUP_SIZE)
        return err;
    clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
    if (strstr(name, g_lesser.kernel_only))
        cap(value, size, g_lesser.kernel_most);
    return err;
}

cl_int __wrap_clGetDeviceInfo(cl_device_id device, cl_device_info what, size_t size, void *value,
                              size_t *size_ret)
{
    cl_int err = __real_clGetDeviceInfo(device, what, size, value, size_ret);
    if (err != CL_SUCCESS || !value)
        return err;
    if (what == CL_DEVICE_MAX_WORK_GROUP_SIZE)
        cap(value, size, g_lesser.device_most);
    if (what == CL_DEVICE_SINGLE_FP_CONFIG && size >= sizeof(cl_device_fp_config))
        *(cl_device_fp_config *)value &= ~g_lesser.fp_dropped;
    if (what == CL_DEVICE_AVAILABLE && size >= sizeof(cl_bool) && g_lesser.unavailable)
        *(cl_bool *)value = CL_FALSE;
    if (what == CL_DEVICE_COMPILER_AVAILABLE && size >= sizeof(cl_bool) && g_lesser.no_compiler)
        *(cl_bool *)value = CL_FALSE;
    return err;
}
