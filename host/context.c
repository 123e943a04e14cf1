/* context.c — contexts: an OpenCL device with its in-order queue (created or wrapped), or the
 * host reference backend; device properties the layout and the kernels depend on. */
#include "orthogonal.h"
#include "device_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

optcl_context_config optcl_context_config_default(void)
{
    optcl_context_config c;
    memset(&c, 0, sizeof c);
    c.backend = OPTCL_BACKEND_OPENCL;
    c.platform_index = -1;
    c.device_index = -1;
    return c;
}

static optcl_context *context_new(optcl_backend backend)
{
    optcl_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->backend = backend;
    ctx->alignment = OPTCL__LAYOUT_ALIGNMENT_BYTES / 2;
    ctx->vector_width = 1;
    ctx->totals_items = 1;
    ctx->max_alloc = (cl_ulong)SIZE_MAX;
    strcpy(ctx->device_name, "reference (host)");
    return ctx;
}

/* Elements per work-item (the kernels' VEC): 4 on GPUs (16-byte loads reach more of the
 * memory bandwidth); elsewhere the device's preferred float vector width (PoCL: 16 with
 * AVX-512, 8 with AVX2), which on a 2-core AVX-512 machine ran Adam 25-35 % faster than one
 * element per work-item. OPTCL_VECTOR_WIDTH = 1, 2, 4, 8 or 16 overrides it, for tests and
 * kernel development. Either is capped at 16 and at the base-address alignment, since the
 * kernels load whole aligned vectors. */
static unsigned pick_vector_width(cl_device_id device, size_t base_align_bytes)
{
    const char *env = getenv("OPTCL_VECTOR_WIDTH");
    char *end = NULL;
    unsigned long want = env ? strtoul(env, &end, 10) : 0;
    if (!env || !*env || *end || want == 0 || want > 16 || (want & (want - 1)) != 0) {
        cl_device_type type = 0;
        cl_uint preferred = 1;
        clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        clGetDeviceInfo(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof preferred,
                        &preferred, NULL);
        want = (type & CL_DEVICE_TYPE_GPU) ? 4u : preferred;
    }
    unsigned w = 1;
    while (w * 2 <= want && w * 2 <= 16 && w * 2 * sizeof(float) <= base_align_bytes)
        w *= 2;
    return w;
}

/* Work-items per tensor in the per-tensor totals (segments.h): 64 on GPUs, which add a large
 * tensor's blocks in 64 lanes at once; 1 elsewhere, where one work-item adds the same 64 lanes
 * in turn — a CPU runs the barriers of a 64-item reduction per tensor slower than the adds
 * (1000 tensors: a LARS step 1.14× slower on PoCL). The same order either way, so the same bits.
 * OPTCL_TOTALS_ITEMS = 1 or 64 overrides it, for tests; 64 needs work-groups of 64. */
static unsigned pick_totals_items(cl_device_id device, size_t local_size)
{
    const char *env = getenv("OPTCL_TOTALS_ITEMS");
    if (env && (!strcmp(env, "1") || !strcmp(env, "64")))
        return local_size >= 64 ? (unsigned)atoi(env) : 1u;
    cl_device_type type = 0;
    clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    return (type & CL_DEVICE_TYPE_GPU) && local_size >= 64 ? 64u : 1u;
}

/* How the update kernels step 8-bit state's blocks of 256 elements (kernels/q8.cl): on a GPU a
 * work-group of 256 / VEC work-items per block, each reading its own vector, so that neighbours
 * read neighbouring memory, the block's absmax found in local memory; elsewhere one work-item
 * per block, which a CPU runs without the barriers (on PoCL a barrier costs more than the
 * step). The same codes either way. OPTCL_Q8_LAYOUT = group or item overrides it, for tests;
 * group needs work-groups of 256 / VEC. The work-items per block. */
static size_t pick_q8_block_items(cl_device_id device, size_t local_size, unsigned vector_width)
{
    size_t group = OPTCL_INT8_BLOCK / vector_width;
    bool fits = local_size >= group, wanted;
    const char *env = getenv("OPTCL_Q8_LAYOUT");
    if (env && (!strcmp(env, "group") || !strcmp(env, "item"))) {
        wanted = !strcmp(env, "group");
    } else {
        cl_device_type type = 0;
        clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        wanted = (type & CL_DEVICE_TYPE_GPU) != 0;
    }
    return fits && wanted ? group : 1;
}

/* Reads what optcl needs to know of the device; ctx->device must be set. */
static optcl_status query_device(optcl_context *ctx, char *message, size_t message_size)
{
    cl_uint align_bits = 0;
    cl_device_fp_config fp = 0;
    size_t max_group = 0;
    char pname[200] = "", dname[256] = "";
    cl_int err = clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits,
                                 &align_bits, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ctx->max_alloc,
                              &ctx->max_alloc, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_group,
                              &max_group, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
    if (err == CL_SUCCESS && !ctx->platform)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof ctx->platform, &ctx->platform,
                              NULL);
    if (err == CL_SUCCESS)
        err = clGetPlatformInfo(ctx->platform, CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
    if (err != CL_SUCCESS) {
        optcl__format(message, message_size, "querying the OpenCL device failed: %s",
                      optcl_status_name((optcl_status)err));
        return (optcl_status)err;
    }
    /* Offsets aligned to the device's base-address alignment make every tensor a valid
     * sub-buffer (and keep vector loads aligned); optcl's own alignment makes the layout the
     * reference backend's too. */
    size_t align_bytes = align_bits / 8 > OPTCL__LAYOUT_ALIGNMENT_BYTES
                             ? align_bits / 8
                             : OPTCL__LAYOUT_ALIGNMENT_BYTES;
    ctx->alignment = align_bytes / 2; /* elements of the smallest type */
    ctx->correctly_rounded = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    ctx->denormals = (fp & CL_FP_DENORM) != 0;
    /* 256 work-items fill a GPU's multiprocessor in a few groups; devices that allow fewer
     * get their maximum (rounded down to a power of two). */
    ctx->vector_width = pick_vector_width(ctx->device, align_bits / 8);
    ctx->local_size = 256;
    while (ctx->local_size > max_group && ctx->local_size > 1)
        ctx->local_size /= 2;
    ctx->totals_items = pick_totals_items(ctx->device, ctx->local_size);
    ctx->q8_block_items = pick_q8_block_items(ctx->device, ctx->local_size, ctx->vector_width);
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s / %s", pname, dname);
    return OPTCL_SUCCESS;
}

optcl_status optcl_context_create(const optcl_context_config *config, optcl_context **out,
                                  char *message, size_t message_size)
{
    char local[OPTCL__MESSAGE_MAX] = "";
    if (!out) {
        optcl__format(message, message_size, "optcl_context_create: out is NULL");
        return OPTCL_ERROR_NULL_POINTER;
    }
    *out = NULL;
    optcl_context_config cfg = config ? *config : optcl_context_config_default();
    if (cfg.backend != OPTCL_BACKEND_OPENCL && cfg.backend != OPTCL_BACKEND_REFERENCE) {
        optcl__format(message, message_size, "invalid backend: %d", (int)cfg.backend);
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }
    bool use_reference = cfg.backend == OPTCL_BACKEND_REFERENCE;
    cl_platform_id platform = NULL;
    cl_device_id device = NULL;
    if (!use_reference) {
        optcl_status st = optcl__select_device(&cfg, &platform, &device, &use_reference, local);
        if (st != OPTCL_SUCCESS) {
            optcl__format(message, message_size, "%s", local);
            return st;
        }
    }
    optcl_context *ctx =
        context_new(use_reference ? OPTCL_BACKEND_REFERENCE : OPTCL_BACKEND_OPENCL);
    if (!ctx) {
        optcl__format(message, message_size, "out of host memory creating a context");
        return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (use_reference) {
        *out = ctx;
        return OPTCL_SUCCESS;
    }
    ctx->platform = platform;
    ctx->device = device;
    optcl_status st = query_device(ctx, message, message_size);
    if (st != OPTCL_SUCCESS) {
        free(ctx);
        return st;
    }
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_int err = CL_SUCCESS;
    ctx->cl_ctx = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (err == CL_SUCCESS)
        ctx->queue = clCreateCommandQueue(ctx->cl_ctx, device, 0, &err);
    if (err != CL_SUCCESS) {
        optcl__format(message, message_size, "creating an OpenCL context on %s failed: %s",
                      ctx->device_name, optcl_status_name((optcl_status)err));
        if (ctx->cl_ctx)
            clReleaseContext(ctx->cl_ctx);
        free(ctx);
        return (optcl_status)err;
    }
    *out = ctx;
    return OPTCL_SUCCESS;
}

optcl_status optcl_context_wrap(cl_context cl_ctx, cl_device_id device, cl_command_queue queue,
                                optcl_context **out, char *message, size_t message_size)
{
    if (!out || !cl_ctx || !device || !queue) {
        optcl__format(message, message_size, "optcl_context_wrap: %s is NULL",
                      !out      ? "out"
                      : !cl_ctx ? "cl_ctx"
                      : !device ? "device"
                                : "queue");
        return OPTCL_ERROR_NULL_POINTER;
    }
    *out = NULL;
    cl_context q_ctx = NULL;
    cl_device_id q_dev = NULL;
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof q_ctx, &q_ctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof q_dev, &q_dev, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err != CL_SUCCESS) {
        optcl__format(message, message_size, "optcl_context_wrap: the queue is not valid: %s",
                      optcl_status_name((optcl_status)err));
        return (optcl_status)err;
    }
    if (q_ctx != cl_ctx || q_dev != device) {
        optcl__format(message, message_size, "optcl_context_wrap: the queue belongs to another %s",
                      q_ctx != cl_ctx ? "context" : "device");
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
        optcl__format(message, message_size,
                      "optcl_context_wrap: the queue is out-of-order; optcl needs an in-order "
                      "queue (one step may be several launches that must not overlap)");
        return OPTCL_ERROR_UNSUPPORTED;
    }
    optcl_context *ctx = context_new(OPTCL_BACKEND_OPENCL);
    if (!ctx) {
        optcl__format(message, message_size, "out of host memory creating a context");
        return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    ctx->device = device;
    optcl_status st = query_device(ctx, message, message_size);
    if (st != OPTCL_SUCCESS) {
        free(ctx);
        return st;
    }
    clRetainContext(cl_ctx);
    clRetainCommandQueue(queue);
    clRetainDevice(device);
    ctx->cl_ctx = cl_ctx;
    ctx->queue = queue;
    *out = ctx;
    return OPTCL_SUCCESS;
}

optcl_status optcl_context_destroy(optcl_context *ctx)
{
    if (!ctx)
        return OPTCL_SUCCESS;
    if (ctx->live_params > 0)
        return optcl__fail(ctx->message, OPTCL_ERROR_IN_USE,
                           "optcl_context_destroy: %zu parameter set(s) still use this context",
                           ctx->live_params);
    if (ctx->queue)
        clFinish(ctx->queue);
    optcl__release_programs(ctx);
    optcl__orthogonal_release_cache(ctx);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl_ctx)
        clReleaseContext(ctx->cl_ctx);
    if (ctx->device)
        clReleaseDevice(ctx->device); /* a no-op for root devices, balances wrap's retain */
    free(ctx->kernels);               /* empty: every optimizer, and so every kernel, is gone */
    free(ctx);
    return OPTCL_SUCCESS;
}

optcl_backend optcl_context_backend(const optcl_context *ctx)
{
    return ctx ? ctx->backend : OPTCL_BACKEND_REFERENCE;
}

const char *optcl_context_device_name(const optcl_context *ctx)
{
    return ctx ? ctx->device_name : "";
}

cl_context optcl_context_cl_context(const optcl_context *ctx)
{
    return ctx ? ctx->cl_ctx : NULL;
}

cl_device_id optcl_context_cl_device(const optcl_context *ctx)
{
    return ctx ? ctx->device : NULL;
}

cl_command_queue optcl_context_cl_queue(const optcl_context *ctx)
{
    return ctx ? ctx->queue : NULL;
}

size_t optcl_context_alignment(const optcl_context *ctx)
{
    return ctx ? ctx->alignment : 0;
}

size_t optcl_context_work_group_size(const optcl_context *ctx)
{
    return ctx && ctx->backend == OPTCL_BACKEND_OPENCL ? ctx->local_size : 0;
}

size_t optcl_context_int8_block_items(const optcl_context *ctx)
{
    return ctx ? ctx->q8_block_items : 0; /* 0 on the reference backend */
}

unsigned optcl_context_vector_width(const optcl_context *ctx)
{
    return ctx ? ctx->vector_width : 0;
}

optcl_status optcl_context_finish(optcl_context *ctx)
{
    if (!ctx)
        return OPTCL_ERROR_NULL_POINTER;
    if (!ctx->queue)
        return OPTCL_SUCCESS;
    cl_int err = clFinish(ctx->queue);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "clFinish failed: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

const char *optcl_context_message(const optcl_context *ctx)
{
    return ctx ? ctx->message : "";
}
