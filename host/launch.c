/* launch.c — the geometry of optcl's 1-D kernel launches. Every launch runs whole work-groups of
 * ctx->local_size items (or of the kernel's own limit, when that is lower), or one work-group of
 * a power of two of items for a small set: group ranges, and so the whole flat buffer, are
 * padded to that shape (optcl__group_length), so no launch ever needs a smaller group (an odd
 * item count used to give groups of one item, a 32–64× loss on GPUs). The per-step path is
 * argument setting, a binary search among the context's kernels and one enqueue. */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t optcl__group_length(size_t length, size_t alignment, bool only_group)
{
    size_t padded = only_group ? OPTCL_GROUP_MIN : OPTCL_GROUP_GRANULE;
    while (padded < length && padded < OPTCL_GROUP_GRANULE)
        padded *= 2;
    if (length > padded)
        padded = optcl__round_up(length, OPTCL_GROUP_GRANULE);
    return optcl__round_up(padded, alignment); /* alignments are powers of two: no change */
}

/* The context's kernels are kept in the order of their handles: every launch looks its
 * kernel's limit up, and one context may hold thousands (an optimizer per layer), so a binary
 * search, not a scan of the list. The index of kernel, or where it would go. */
static size_t kernel_index(const optcl_context *ctx, cl_kernel kernel)
{
    uintptr_t key = (uintptr_t)kernel; /* handles of unrelated objects: compared as integers */
    size_t low = 0, high = ctx->kernel_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if ((uintptr_t)ctx->kernels[mid].kernel < key)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static bool kernel_at(const optcl_context *ctx, size_t i, cl_kernel kernel)
{
    return i < ctx->kernel_count && ctx->kernels[i].kernel == kernel;
}

cl_int optcl__kernel_remember(optcl_context *ctx, cl_kernel kernel, size_t most)
{
    if (ctx->kernel_count == ctx->kernel_capacity) {
        size_t capacity = ctx->kernel_capacity ? 2 * ctx->kernel_capacity : 16;
        optcl__kernel_limit *grown = realloc(ctx->kernels, capacity * sizeof *grown);
        if (!grown)
            return CL_OUT_OF_HOST_MEMORY;
        ctx->kernels = grown;
        ctx->kernel_capacity = capacity;
    }
    size_t i = kernel_index(ctx, kernel);
    memmove(&ctx->kernels[i + 1], &ctx->kernels[i],
            (ctx->kernel_count - i) * sizeof ctx->kernels[0]);
    ctx->kernels[i] = (optcl__kernel_limit){kernel, most};
    ctx->kernel_count++;
    return CL_SUCCESS;
}

cl_kernel optcl__kernel_create(optcl_context *ctx, cl_program program, const char *name,
                               cl_int *err)
{
    cl_kernel kernel = clCreateKernel(program, name, err);
    if (*err != CL_SUCCESS)
        return NULL;
    size_t most = 0;
    *err = clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof most,
                                    &most, NULL);
    if (*err == CL_SUCCESS)
        *err = optcl__kernel_remember(ctx, kernel, most);
    if (*err != CL_SUCCESS) {
        clReleaseKernel(kernel);
        return NULL;
    }
    return kernel;
}

void optcl__kernel_forget(optcl_context *ctx, cl_kernel kernel)
{
    size_t i = kernel_index(ctx, kernel);
    if (!kernel_at(ctx, i, kernel))
        return;
    ctx->kernel_count--;
    memmove(&ctx->kernels[i], &ctx->kernels[i + 1],
            (ctx->kernel_count - i) * sizeof ctx->kernels[0]);
}

void optcl__kernel_release(optcl_context *ctx, cl_kernel kernel)
{
    if (!kernel)
        return;
    optcl__kernel_forget(ctx, kernel);
    clReleaseKernel(kernel);
}

size_t optcl__kernel_most(const optcl_context *ctx, cl_kernel kernel)
{
    size_t i = kernel_index(ctx, kernel);
    return kernel_at(ctx, i, kernel) ? ctx->kernels[i].most : SIZE_MAX;
}

size_t optcl__kernel_local(const optcl_context *ctx, cl_kernel kernel)
{
    size_t local = ctx->local_size, most = kernel ? optcl__kernel_most(ctx, kernel) : SIZE_MAX;
    while (local > most && local > 1)
        local /= 2;
    return local;
}

/* local halved until it divides items (a short range: one work-group). */
static size_t dividing(size_t local, size_t items)
{
    while (local > 1 && items % local != 0)
        local /= 2;
    return local;
}

size_t optcl__local_size(const optcl_context *ctx, cl_kernel kernel, size_t items)
{
    return dividing(optcl__kernel_local(ctx, kernel), items);
}

cl_int optcl__enqueue_groups(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                             size_t local, cl_uint num_events, const cl_event *wait_list,
                             cl_event *event)
{
    return clEnqueueNDRangeKernel(ctx->queue, kernel, 1, offset ? &offset : NULL, &items, &local,
                                  num_events, wait_list, event);
}

cl_int optcl__enqueue_items(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                            cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    return optcl__enqueue_groups(ctx, kernel, offset, items, optcl__local_size(ctx, kernel, items),
                                 num_events, wait_list, event);
}

cl_int optcl__enqueue_padded(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                            cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    size_t full = optcl__kernel_local(ctx, kernel), small = full < 64 ? full : 64;
    size_t padded = optcl__round_up(items, items < full ? small : full);
    return optcl__enqueue_groups(ctx, kernel, offset, padded, dividing(full, padded), num_events,
                                 wait_list, event);
}

cl_int optcl__enqueue(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t size,
                      cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    /* group ranges are padded to whole work-groups of VEC-float work-items */
    return optcl__enqueue_items(ctx, kernel, offset / ctx->vector_width, size / ctx->vector_width,
                                num_events, wait_list, event);
}
