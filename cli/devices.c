/* devices.c — `optcl devices`: every OpenCL platform and device with what matters to optcl. */
#include "cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What the reference backend's bits need of the device's float32 (docs/PRECISION.md): divide
 * and sqrt correctly rounded, denormals kept. Without either the backends may differ in the
 * last bits. */
static void print_float32(cl_device_id d)
{
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    bool rounded = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0,
         denormals = (fp & CL_FP_DENORM) != 0;
    printf("    float32: correctly rounded divide/sqrt %s, denormals %s: %s\n",
           rounded ? "yes" : "no", denormals ? "yes" : "no",
           rounded && denormals ? "the reference backend's bits"
                                : "may differ from the reference backend in the last bits");
}

/* A device optcl cannot run on — not available, or without the OpenCL C compiler that builds
 * optcl's kernels — says so; the default choice skips it (host/device_select.h). */
static void print_usable(cl_device_id d)
{
    cl_bool available = CL_TRUE, compiler = CL_TRUE;
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL);
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL);
    if (!available || !compiler)
        printf("    %s: optcl cannot run here, and the default choice skips it\n",
               !available ? "not available" : "no OpenCL C compiler");
}

static void print_device(cl_device_id d, unsigned p, unsigned i)
{
    char name[256] = "", version[128] = "", c_version[128] = "";
    cl_device_type type = 0;
    cl_uint units = 0, align_bits = 0;
    cl_ulong global = 0, max_alloc = 0;
    size_t max_wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
    clGetDeviceInfo(d, CL_DEVICE_OPENCL_C_VERSION, sizeof c_version - 1, c_version, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);
    const char *kind = (type & CL_DEVICE_TYPE_GPU)           ? "GPU"
                       : (type & CL_DEVICE_TYPE_CPU)         ? "CPU"
                       : (type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                                             : "other";
    printf("  device %u:%u  %s\n", p, i, name);
    printf("    type %s, %u compute units, max work-group %zu\n", kind, units, max_wg);
    printf("    global memory %.1f MiB, max allocation %.1f MiB\n", (double)global / 1048576.0,
           (double)max_alloc / 1048576.0);
    printf("    %s; %s; base-address alignment %u bytes\n", version, c_version, align_bits / 8);
    print_float32(d);
    print_usable(d);
}

int optcl_cli_devices(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            printf("usage: optcl devices\n\nLists OpenCL platforms and devices; \"P:D\" is what "
                   "OPTCL_DEVICE accepts.\nThe default device is the GPU with the most global "
                   "memory x compute units (the first\nof equals), else the first device; a "
                   "device not available or without a compiler is\nnever chosen.\n");
            return 0;
        }
        fprintf(stderr, "optcl devices: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    cl_platform_id platforms[16];
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(16, platforms, &np);
    if (err != CL_SUCCESS || np == 0) {
        fprintf(stderr,
                "optcl devices: no OpenCL platform found (%s); is an ICD such as "
                "pocl-opencl-icd installed?\n",
                optcl_status_name((optcl_status)err));
        return 1;
    }
    for (cl_uint p = 0; p < np && p < 16; p++) {
        char name[256] = "", version[128] = "";
        clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof name - 1, name, NULL);
        clGetPlatformInfo(platforms[p], CL_PLATFORM_VERSION, sizeof version - 1, version, NULL);
        printf("platform %u: %s (%s)\n", p, name, version);
        cl_device_id devices[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 64, devices, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint i = 0; i < nd && i < 64; i++)
            print_device(devices[i], p, i);
    }
    optcl_context *ctx = NULL;
    char message[1024] = "";
    if (optcl_context_create(NULL, &ctx, message, sizeof message) == OPTCL_SUCCESS) {
        printf("default device: %s\n", optcl_context_device_name(ctx));
        optcl_context_destroy(ctx);
    } else {
        printf("default device: none (%s)\n", message);
    }
    return 0;
}
