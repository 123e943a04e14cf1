/* launch.c — how optcl enqueues its 1-D kernels: the work-group size comes from the device
 * (set once per context), so the per-step path is only argument setting and one enqueue. */
#include "internal.h"

cl_int optcl__enqueue(optcl_context *ctx, cl_kernel kernel, size_t offset, size_t size,
                      cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    /* Ranges are multiples of the alignment, so a power of two up to local_size divides
     * them; a range that is not gets the runtime's choice. */
    offset /= ctx->vector_width; /* ranges are multiples of the alignment, hence of VEC */
    size /= ctx->vector_width;
    size_t local = ctx->local_size;
    while (local > 1 && size % local != 0)
        local /= 2;
    return clEnqueueNDRangeKernel(ctx->queue, kernel, 1, &offset, &size, local > 1 ? &local : NULL,
                                  num_events, wait_list, event);
}
