/* launch.c — the geometry of optcl's 1-D kernel launches. Every launch runs whole work-groups of
 * ctx->local_size items, or one work-group of a power of two of items for a small set: group
 * ranges, and so the whole flat buffer, are padded to that shape (optcl__group_length), so no
 * launch ever needs a smaller group (an odd item count used to give groups of one item, a
 * 32–64× loss on GPUs). The per-step path is argument setting and one enqueue. */
#include "internal.h"

size_t optcl__group_length(size_t length, size_t alignment, bool only_group)
{
    size_t padded = only_group ? OPTCL_GROUP_MIN : OPTCL_GROUP_GRANULE;
    while (padded < length && padded < OPTCL_GROUP_GRANULE)
        padded *= 2;
    if (length > padded)
        padded = optcl__round_up(length, OPTCL_GROUP_GRANULE);
    return optcl__round_up(padded, alignment); /* alignments are powers of two: no change */
}

size_t optcl__local_size(const optcl_context *ctx, size_t items)
{
    size_t local = ctx->local_size;
    while (local > 1 && items % local != 0) /* a short range: one work-group */
        local /= 2;
    return local;
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
    return optcl__enqueue_groups(ctx, kernel, offset, items, optcl__local_size(ctx, items),
                                 num_events, wait_list, event);
}

cl_int optcl__enqueue_padded(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t items,
                            cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    size_t small = ctx->local_size < 64 ? ctx->local_size : 64;
    size_t padded = optcl__round_up(items, items < ctx->local_size ? small : ctx->local_size);
    return optcl__enqueue_items(ctx, kernel, offset, padded, num_events, wait_list, event);
}

cl_int optcl__enqueue(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t size,
                      cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    /* group ranges are padded to whole work-groups of VEC-float work-items */
    return optcl__enqueue_items(ctx, kernel, offset / ctx->vector_width, size / ctx->vector_width,
                                num_events, wait_list, event);
}
