/* segments.c — per-tensor sums in a fixed number of launches (segments.h). */
#include "segments.h"
#include "factored.h"
#include "orthogonal.h"
#include "rules/rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK OPTCL__BLOCK
#define TOTALS_LANES OPTCL__TOTALS_LANES
_Static_assert(BLOCK == 256, "kernels/common.cl's OPTCL_BLOCK");

static int by_offset(const void *a, const void *b)
{
    size_t x = (*(const optcl__tensor *const *)a)->offset;
    size_t y = (*(const optcl__tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

/* The tables: segments in offset order, each block's segment, each range's segments. */
static bool build_tables(optcl__segments *seg, const optcl_params *p)
{
    size_t blocks = p->flat / BLOCK;
    const optcl__tensor **order = malloc((p->count ? p->count : 1) * sizeof *order);
    seg->block_segment = malloc((blocks ? blocks : 1) * sizeof *seg->block_segment);
    seg->segment_blocks = malloc(2 * (p->count ? p->count : 1) * sizeof *seg->segment_blocks);
    seg->segment_tensor = malloc((p->count ? p->count : 1) * sizeof *seg->segment_tensor);
    if (!order || !seg->block_segment || !seg->segment_blocks || !seg->segment_tensor) {
        free(order);
        return false;
    }
    for (size_t t = 0; t < p->count; t++)
        order[t] = &p->tensors[t];
    qsort(order, p->count, sizeof *order, by_offset);
    for (size_t b = 0; b < blocks; b++)
        seg->block_segment[b] = (uint32_t)p->count;
    for (size_t j = 0; j < p->count; j++) {
        seg->segment_tensor[j] = (uint32_t)(order[j] - p->tensors);
        size_t first = order[j]->offset / BLOCK;
        size_t end = first + (order[j]->count + BLOCK - 1) / BLOCK;
        seg->segment_blocks[2 * j] = (uint32_t)first;
        seg->segment_blocks[2 * j + 1] = (uint32_t)end;
        for (size_t b = first; b < end; b++)
            seg->block_segment[b] = (uint32_t)j;
    }
    for (size_t r = 0; r < p->range_count; r++) {
        size_t j = 0;
        while (j < p->count && order[j]->offset < p->ranges[r].begin)
            j++;
        seg->first[r] = j;
        while (j < p->count && order[j]->offset < p->ranges[r].end)
            j++;
        seg->end[r] = j;
    }
    free(order);
    return true;
}

/* The largest tensor, in blocks, that the totals kernel steps whole (segments.h): its bytes —
 * parameters (or the master), gradients and states — within the device's global memory cache
 * shared among its compute units. 0: none. OPTCL_WHOLE_TENSORS = always, never or a number of
 * blocks overrides it. */
static size_t whole_blocks(const optcl_optimizer *opt)
{
    const char *env = getenv("OPTCL_WHOLE_TENSORS");
    char *rest = NULL;
    unsigned long long blocks = env ? strtoull(env, &rest, 10) : 0;
    if (!opt->rule->whole_tensors || (env && !strcmp(env, "never")))
        return 0;
    if (env && !strcmp(env, "always"))
        return SIZE_MAX;
    if (env && *env >= '0' && *env <= '9' && *rest == '\0')
        return blocks < SIZE_MAX ? (size_t)blocks : SIZE_MAX;
    const optcl_params *p = opt->params;
    cl_ulong cache = 0;
    cl_uint units = 0;
    if (clGetDeviceInfo(p->ctx->device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof cache, &cache,
                        NULL) != CL_SUCCESS ||
        clGetDeviceInfo(p->ctx->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL) !=
            CL_SUCCESS ||
        units == 0 || p->flat == 0)
        return 0;
    double element =
        (double)optcl_dtype_size(p->dtype) +
        (double)(opt->config.master_weights ? sizeof(float) : optcl_dtype_size(p->dtype)) +
        (double)optcl_optimizer_state_bytes(opt) / (double)p->flat;
    return (size_t)((double)cache / units / element / BLOCK);
}

/* Which blocks the totals kernel steps (segments.h): a tensor's when it has at most limit
 * blocks, and then every block of no tensor too; each range's span of the others, rounded out
 * to whole work-groups (OPTCL_GROUP_GRANULE elements from the range's start). */
static bool mark_whole(optcl__segments *seg, const optcl_params *p, size_t limit)
{
    size_t blocks = p->flat / BLOCK;
    seg->block_whole = calloc(blocks ? blocks : 1, 1);
    if (!seg->block_whole)
        return false;
    size_t whole = 0; /* tensors stepped whole */
    for (size_t j = 0; j < p->count && limit > 0; j++) {
        size_t first = seg->segment_blocks[2 * j], end = seg->segment_blocks[2 * j + 1];
        if (end - first <= limit) {
            memset(seg->block_whole + first, 1, end - first);
            whole++;
        }
    }
    for (size_t b = 0; b < blocks; b++) {
        if (whole > 0)
            seg->block_whole[b] |= seg->block_segment[b] == p->count;
        seg->part_blocks += !seg->block_whole[b];
    }
    const size_t granule = OPTCL_GROUP_GRANULE / BLOCK;
    for (size_t r = 0; r < p->range_count; r++) {
        size_t begin = p->ranges[r].begin / BLOCK, end = p->ranges[r].end / BLOCK;
        size_t first = begin, last = end;
        while (first < end && seg->block_whole[first])
            first++;
        while (last > first && seg->block_whole[last - 1])
            last--;
        if (first < last) {
            first = begin + (first - begin) / granule * granule;
            last = begin + optcl__round_up(last - begin, granule);
        }
        seg->part_first[r] = first;
        seg->part_end[r] = last < end ? last : end;
    }
    return true;
}

optcl_status optcl__segments_create(optcl_optimizer *opt)
{
    const optcl_params *p = opt->params;
    optcl__segments *seg = calloc(1, sizeof *seg);
    if (!seg)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    opt->segments = seg;
    size_t blocks = p->flat / BLOCK;
    if (p->count >= UINT32_MAX || blocks >= UINT32_MAX)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "%s: the set has %zu tensors in %zu blocks (at most 2^32 - 1 each)",
                           opt->rule->name, p->count, blocks);
    bool ok = build_tables(seg, p);
    if (ok && p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        seg->block_sums = calloc(opt->rule->tensor_sums * (blocks ? blocks : 1), sizeof(float));
        seg->values = calloc(opt->rule->tensor_values * (p->count + 1), sizeof(float));
        ok = seg->block_sums && seg->values;
    }
    if (!ok)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory for %s's tables of %zu tensors", opt->rule->name,
                           p->count);
    if (opt->rule->newton_schulz)
        return optcl__orthogonal_create(opt);
    return opt->rule->factored ? optcl__factored_create(opt) : OPTCL_SUCCESS;
}

cl_mem optcl__segments_buffer(optcl_context *ctx, size_t bytes, void *data, cl_int *err)
{
    if (*err != CL_SUCCESS)
        return NULL;
    cl_mem_flags flags = data ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_READ_WRITE;
    cl_mem mem = clCreateBuffer(ctx->cl_ctx, flags, bytes, data, err);
    if (*err == CL_SUCCESS && !data) {
        const float zero = 0.0f;
        *err = clEnqueueFillBuffer(ctx->queue, mem, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    }
    return mem;
}

optcl_status optcl__segments_create_device(optcl_optimizer *opt, cl_program program, cl_uint next)
{
    const optcl_params *p = opt->params;
    optcl_context *ctx = p->ctx;
    optcl__segments *seg = opt->segments;
    cl_int err = CL_SUCCESS;
    size_t blocks = p->flat / BLOCK, count = p->count;
    size_t some_blocks = blocks ? blocks : 1, some_tensors = count ? count : 1;
    seg->block_segment_mem =
        optcl__segments_buffer(ctx, some_blocks * sizeof(uint32_t), seg->block_segment, &err);
    seg->segment_blocks_mem =
        optcl__segments_buffer(ctx, 2 * some_tensors * sizeof(uint32_t), seg->segment_blocks, &err);
    seg->block_sums_mem = optcl__segments_buffer(
        ctx, opt->rule->tensor_sums * some_blocks * sizeof(float), NULL, &err);
    seg->values_mem = optcl__segments_buffer(
        ctx, opt->rule->tensor_values * (count + 1) * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err,
                           "allocating %s's per-tensor sums (%zu blocks, %zu tensors) on %s "
                           "failed: %s",
                           opt->rule->name, blocks, count, ctx->device_name,
                           optcl_status_name((optcl_status)err));
    if (!mark_whole(seg, p, whole_blocks(opt)))
        return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory for %s's tables of %zu tensors", opt->rule->name,
                           count);
    seg->block_whole_mem = optcl__segments_buffer(ctx, some_blocks, seg->block_whole, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err,
                           "allocating %s's table of %zu blocks on %s failed: %s", opt->rule->name,
                           blocks, ctx->device_name, optcl_status_name((optcl_status)err));
    bool factored = opt->rule->factored, orthogonal = opt->rule->newton_schulz != NULL;
    optcl_status st = factored     ? optcl__factored_create_device(opt, program)
                      : orthogonal ? optcl__orthogonal_create_device(opt, program)
                                   : OPTCL_SUCCESS;
    if (st != OPTCL_SUCCESS)
        return st;
    char name[64];
    snprintf(name, sizeof name, "optcl_%s_sums_f32", opt->rule->family);
    seg->sums_kernel = optcl__kernel_create(ctx, program, name, &err);
    cl_uint sums_next = 0, totals_next = 0;
    if (err == CL_SUCCESS)
        err = optcl__bind_step_arguments(opt, seg->sums_kernel, &sums_next);
    OPTCL__ARG(seg->sums_kernel, sums_next, seg->block_sums_mem);
    seg->sums_end_arg = sums_next + 1;
    OPTCL__ARG(seg->sums_kernel, sums_next + 2, seg->block_whole_mem);
    if (err == CL_SUCCESS && factored)
        err = optcl__factored_bind(opt, seg->sums_kernel, sums_next + 3);
    if (err == CL_SUCCESS) {
        snprintf(name, sizeof name, "optcl_%s_totals_f32", opt->rule->family);
        seg->totals_kernel = optcl__kernel_create(ctx, program, name, &err);
    }
    if (err == CL_SUCCESS)
        err = optcl__bind_step_arguments(opt, seg->totals_kernel, &totals_next);
    OPTCL__ARG(seg->totals_kernel, totals_next, seg->block_sums_mem);
    OPTCL__ARG(seg->totals_kernel, totals_next + 1, seg->segment_blocks_mem);
    OPTCL__ARG(seg->totals_kernel, totals_next + 2, seg->values_mem);
    seg->totals_first_arg = totals_next + 3;
    /* the work-group of a 64-item totals launch with many tensors: the kernel's full one, at
     * least 64 (a kernel that allows fewer is refused below) */
    size_t local = err == CL_SUCCESS ? optcl__kernel_local(ctx, seg->totals_kernel) : 1;
    seg->totals_local = local > TOTALS_LANES ? local : TOTALS_LANES;
    /* totals_next + 5: the 64-item reduction's local memory, a float per item of the largest
     * work-group enqueue_totals launches (one float, unused, with one item per tensor) */
    size_t scratch = ctx->totals_items > 1 ? seg->totals_local : 1;
    if (err == CL_SUCCESS)
        err = clSetKernelArg(seg->totals_kernel, totals_next + 5, scratch * sizeof(float), NULL);
    OPTCL__ARG(seg->totals_kernel, totals_next + 6, seg->block_whole_mem);
    if (err == CL_SUCCESS && factored)
        err = optcl__factored_bind(opt, seg->totals_kernel, totals_next + 7);
    size_t most = optcl__kernel_most(ctx, seg->totals_kernel), preferred = 1;
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(seg->totals_kernel, ctx->device,
                                       CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                       sizeof preferred, &preferred, NULL);
    /* a work-group per tensor: 64 items, each a lane of the sums, or on CPUs the kernel's
     * preferred multiple, each adding all 64 lanes (kernels/common.cl's OPTCL_SHARE) */
    seg->tensor_items = ctx->totals_items > 1 ? TOTALS_LANES : preferred ? preferred : 1;
    if (seg->tensor_items > local)
        seg->tensor_items = local;
    size_t needed = ctx->totals_items > 1 ? TOTALS_LANES : 1; /* 64 lanes need 64 items */
    if (err == CL_SUCCESS && most < needed)
        return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                           "%s needs work-groups of %d items for its per-tensor sums; %s runs "
                           "%s in groups of at most %zu",
                           opt->rule->name, TOTALS_LANES, ctx->device_name, name, most);
    cl_uint values_next = next;
    if (err == CL_SUCCESS)
        err = optcl__segments_bind_values(opt, opt->kernel, &values_next);
    if (err == CL_SUCCESS && factored)
        err = optcl__factored_bind(opt, opt->kernel, values_next);
    if (err == CL_SUCCESS && orthogonal)
        err = optcl__orthogonal_bind(opt, opt->kernel, values_next);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s", name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

cl_int optcl__segments_bind_values(optcl_optimizer *opt, cl_kernel kernel, cl_uint *next)
{
    const optcl__segments *seg = opt->segments;
    cl_int err = CL_SUCCESS;
    OPTCL__ARG(kernel, *next, seg->block_segment_mem);
    OPTCL__ARG(kernel, *next + 1, seg->values_mem);
    OPTCL__ARG(kernel, *next + 2, seg->block_whole_mem);
    *next += 3;
    return err;
}

void optcl__segments_free(optcl_optimizer *opt)
{
    optcl__segments *seg = opt->segments;
    if (!seg)
        return;
    optcl_context *ctx = opt->params->ctx;
    optcl__factored_free(ctx, seg->factored);
    optcl__orthogonal_free(ctx, seg->orthogonal);
    cl_mem mems[] = {seg->block_segment_mem, seg->segment_blocks_mem, seg->block_sums_mem,
                     seg->values_mem, seg->block_whole_mem};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    optcl__kernel_release(ctx, seg->sums_kernel);
    optcl__kernel_release(ctx, seg->totals_kernel);
    free(seg->block_segment);
    free(seg->segment_blocks);
    free(seg->segment_tensor);
    free(seg->block_whole);
    free(seg->block_sums);
    free(seg->values);
    free(seg);
    opt->segments = NULL;
}

/* The totals launch: ctx->totals_items work-items per tensor (kernels/common.cl's
 * TOTALS_ITEMS). One: padded to whole work-groups as every launch. 64: in work-groups of
 * totals_local (a multiple of 64; create checks the kernel runs 64) — or, for fewer items, one
 * work-group of them all — so that a tensor's 64 items share a work-group. A rule with
 * whole_tensors: a work-group of tensor_items per tensor. */
static cl_int enqueue_totals(optcl_optimizer *opt, size_t tensors, cl_uint num_events,
                             const cl_event *wait_list, cl_event *event)
{
    optcl_context *ctx = opt->params->ctx;
    const optcl__segments *seg = opt->segments;
    size_t local = seg->tensor_items, items = tensors * local;
    if (!opt->rule->whole_tensors) {
        if (ctx->totals_items == 1)
            return optcl__enqueue_padded(ctx, seg->totals_kernel, 0, tensors, num_events, wait_list,
                                         event);
        items = tensors * TOTALS_LANES;
        local = seg->totals_local;
        if (items < local)
            local = items;
        items = optcl__round_up(items, local);
    }
    return clEnqueueNDRangeKernel(ctx->queue, seg->totals_kernel, 1, NULL, &items, &local,
                                  num_events, wait_list, event);
}

cl_int optcl__segments_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars,
                               cl_uint num_events, const cl_event *wait_list, cl_event *event,
                               size_t *step_first, size_t *step_end)
{
    optcl_params *p = opt->params;
    optcl__segments *seg = opt->segments;
    const optcl__group_range *range = &p->ranges[r];
    cl_uint first_block = (cl_uint)seg->part_first[r], end_block = (cl_uint)seg->part_end[r];
    cl_uint first = (cl_uint)seg->first[r], end = (cl_uint)seg->end[r];
    *step_first = (size_t)first_block * BLOCK;
    *step_end = (size_t)end_block * BLOCK;
    cl_int err = CL_SUCCESS;
    if (seg->factored) /* the row and column means first, with the wait list */
        err = optcl__factored_enqueue(opt, r, scalars, &num_events, &wait_list);
    if (err == CL_SUCCESS && first_block < end_block) { /* tensors not stepped whole */
        err = optcl__set_step_scalars(opt, seg->sums_kernel, r, scalars);
        OPTCL__ARG(seg->sums_kernel, seg->sums_end_arg, end_block);
        if (err == CL_SUCCESS)
            err = optcl__enqueue_padded(p->ctx, seg->sums_kernel, first_block,
                                        end_block - first_block, num_events, wait_list, NULL);
        opt->launches += err == CL_SUCCESS;
        num_events = 0;
        wait_list = NULL;
    }
    if (err == CL_SUCCESS)
        err = optcl__set_step_scalars(opt, seg->totals_kernel, r, scalars);
    OPTCL__ARG(seg->totals_kernel, seg->totals_first_arg, first);
    OPTCL__ARG(seg->totals_kernel, seg->totals_first_arg + 1, end);
    if (err == CL_SUCCESS)
        err = enqueue_totals(opt, end - first, num_events, wait_list,
                             first_block < end_block ? NULL : event);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS) {
        optcl__fail(opt->message, (optcl_status)err,
                    "enqueueing %s's per-tensor launches for group %d failed: %s", opt->rule->name,
                    range->group, optcl_status_name((optcl_status)err));
        return err;
    }
    if (seg->orthogonal) /* the Newton–Schulz iteration on the totals */
        err = optcl__orthogonal_enqueue(opt, r, scalars);
    return err;
}

void optcl__segments_reference(optcl_optimizer *opt, size_t r, float *weights, const float *grads,
                               const optcl__step_scalars *s)
{
    optcl__segments *seg = opt->segments;
    const optcl__group_range *range = &opt->params->ranges[r];
    optcl__factors factors = {0};
    if (seg->factored) {
        optcl__factored_reference(opt, r, grads, s);
        factors = optcl__factored_view(opt);
    }
    optcl__tensor_values values = {seg->block_segment, seg->values, seg->factored ? &factors : NULL,
                                   NULL};
    opt->rule->reference_sums(&opt->config, weights, grads, opt->host_state, range->begin,
                              range->end, s, seg->block_sums, &values);
    opt->rule->reference_totals(s, seg->block_sums, seg->segment_blocks, seg->first[r], seg->end[r],
                                seg->values, values.factors);
    optcl__orthogonal_view orthogonal;
    if (seg->orthogonal) {
        orthogonal = optcl__orthogonal_view_of(opt);
        values.orthogonal = &orthogonal;
        optcl__orthogonal_reference(opt, r, grads, s, &values);
    }
    opt->rule->reference_apply(&opt->config, weights, grads, opt->host_state, range->begin,
                               range->end, s, &values);
}
