/* params.c — parameter sets: named tensors laid out in one flat parameter buffer and one flat
 * gradient buffer, grouped by parameter group, offsets aligned so each tensor is a sub-buffer. */
#include "internal.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* ---- layout ---------------------------------------------------------------------------- */

/* A name every checkpoint can hold (a safetensors header is JSON, its tensor names keys): UTF-8,
 * and not the metadata's key. Refused here, where the set is made, rather than at every
 * later save. */
static optcl_status check_name(const char *name, size_t i, char *message)
{
    if (!optcl__json_valid_utf8(name, strlen(name))) {
        char quoted[OPTCL__JSON_QUOTE_SIZE];
        optcl__json_quote(quoted, sizeof quoted, name, strlen(name));
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "tensor %zu: the name '%s' is not valid UTF-8 (a checkpoint's header "
                           "is JSON)",
                           i, quoted);
    }
    if (strcmp(name, "__metadata__") == 0)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "tensor %zu: the name '__metadata__' is the key of a checkpoint's "
                           "metadata",
                           i);
    return OPTCL_SUCCESS;
}

static optcl_status validate_specs(const optcl_tensor_spec *specs, size_t count, size_t *counts,
                                   char *message)
{
    if (!specs && count > 0)
        return optcl__fail(message, OPTCL_ERROR_NULL_POINTER, "specs is NULL");
    if (count == 0)
        return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "a parameter set needs at least one tensor (count is 0)");
    for (size_t i = 0; i < count; i++) {
        const optcl_tensor_spec *s = &specs[i];
        if (!s->name || !*s->name || strlen(s->name) > OPTCL__NAME_MAX)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "tensor %zu: the name must be 1 to %d bytes", i, OPTCL__NAME_MAX);
        optcl_status named = check_name(s->name, i, message);
        if (named != OPTCL_SUCCESS)
            return named;
        if (s->ndim < 0 || s->ndim > OPTCL_MAX_DIMS)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "tensor '%s': ndim %d is outside 0..%d", s->name, s->ndim,
                               OPTCL_MAX_DIMS);
        if (s->group < 0 || s->group >= OPTCL_MAX_GROUPS)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "tensor '%s': group %d is outside 0..%d", s->name, s->group,
                               OPTCL_MAX_GROUPS - 1);
        if (s->state_bits != 0 && s->state_bits != 8 && s->state_bits != 32)
            return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "tensor '%s': state_bits %d is not 0 (by size), 8 or 32", s->name,
                               s->state_bits);
        size_t n = 1;
        for (int d = 0; d < s->ndim; d++) {
            int64_t dim = s->shape[d];
            if (dim < 1)
                return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                                   "tensor '%s': dimension %d is %lld (must be >= 1)", s->name, d,
                                   (long long)dim);
            if ((uint64_t)dim > (SIZE_MAX / 8) / n)
                return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                                   "tensor '%s': too many elements", s->name);
            n *= (size_t)dim;
        }
        counts[i] = n;
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].name, s->name) == 0)
                return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                                   "tensor name '%s' appears twice (tensors %zu and %zu)", s->name,
                                   j, i);
    }
    return OPTCL_SUCCESS;
}

/* Groups in ascending order, tensors of a group in creation order, each tensor's end rounded
 * up to the alignment — so every offset is aligned — and each group's range padded to the
 * shape of whole work-groups (optcl__group_length), and so is the whole set. */
static optcl_status compute_layout(const optcl_tensor_spec *specs, size_t count,
                                   const size_t *counts, size_t align, size_t *offsets,
                                   size_t *total, optcl__group_range *ranges, size_t *range_count,
                                   char *message)
{
    bool used[OPTCL_MAX_GROUPS] = {false};
    size_t groups = 0;
    for (size_t i = 0; i < count; i++) {
        groups += !used[specs[i].group];
        used[specs[i].group] = true;
    }
    size_t cursor = 0, nr = 0;
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        size_t begin = cursor;
        for (size_t i = 0; i < count; i++) {
            if (specs[i].group != g)
                continue;
            if (counts[i] > SIZE_MAX / 8 - cursor - align - OPTCL_GROUP_GRANULE)
                return optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                                   "the parameter set is too large for this host");
            offsets[i] = cursor;
            cursor = optcl__round_up(cursor + counts[i], align);
        }
        if (cursor > begin)
            cursor = begin + optcl__group_length(cursor - begin, align, groups == 1);
        if (cursor > begin && ranges) {
            ranges[nr].group = g;
            ranges[nr].begin = begin;
            ranges[nr].end = cursor;
        }
        nr += cursor > begin;
    }
    *total = cursor;
    if (range_count)
        *range_count = nr;
    return OPTCL_SUCCESS;
}

static optcl_status check_dtype(optcl_context *ctx, optcl_dtype dtype)
{
    if (!optcl_dtype_name(dtype))
        return optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid dtype: %d (F32, BF16 or F16)", (int)dtype);
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_layout(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                                 size_t *offsets, size_t *total)
{
    if (!ctx)
        return OPTCL_ERROR_NULL_POINTER;
    if (!total)
        return optcl__fail(ctx->message, OPTCL_ERROR_NULL_POINTER, "total is NULL");
    size_t *counts = calloc(count ? count : 1, sizeof *counts);
    size_t *offs = calloc(count ? count : 1, sizeof *offs);
    optcl_status st = counts && offs ? OPTCL_SUCCESS
                                     : optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                                   "out of host memory");
    if (st == OPTCL_SUCCESS)
        st = validate_specs(specs, count, counts, ctx->message);
    if (st == OPTCL_SUCCESS)
        st = compute_layout(specs, count, counts, ctx->alignment, offs, total, NULL, NULL,
                            ctx->message);
    if (st == OPTCL_SUCCESS && offsets)
        memcpy(offsets, offs, count * sizeof *offs);
    free(counts);
    free(offs);
    return st;
}

/* ---- create / wrap / destroy ------------------------------------------------------------ */

static void params_free(optcl_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->tensors && i < p->count; i++) {
        for (int r = 0; r < OPTCL_ROLE_COUNT; r++)
            if (p->tensors[i].view[r])
                clReleaseMemObject(p->tensors[i].view[r]);
        free(p->tensors[i].name);
    }
    free(p->tensors);
    for (int r = 0; r < OPTCL_ROLE_COUNT; r++) {
        if (p->buffer[r])
            clReleaseMemObject(p->buffer[r]);
        optcl__host_free(p->host[r]);
    }
    free(p);
}

/* Validates, lays out and fills in everything but the buffers. */
static optcl_status params_new(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                               optcl_dtype dtype, optcl_params **out)
{
    if (check_dtype(ctx, dtype) != OPTCL_SUCCESS)
        return OPTCL_ERROR_INVALID_ARGUMENT;
    optcl_params *p = calloc(1, sizeof *p);
    size_t *counts = calloc(count ? count : 1, sizeof *counts);
    size_t *offsets = calloc(count ? count : 1, sizeof *offsets);
    if (p)
        p->tensors = calloc(count ? count : 1, sizeof *p->tensors);
    optcl_status st = OPTCL_SUCCESS;
    if (!p || !counts || !offsets || !p->tensors)
        st = optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == OPTCL_SUCCESS)
        st = validate_specs(specs, count, counts, ctx->message);
    if (st == OPTCL_SUCCESS)
        st = compute_layout(specs, count, counts, ctx->alignment, offsets, &p->flat, p->ranges,
                            &p->range_count, ctx->message);
    size_t elem = optcl_dtype_size(dtype);
    if (st == OPTCL_SUCCESS && (cl_ulong)p->flat * elem > ctx->max_alloc)
        st = optcl__fail(ctx->message, OPTCL_ERROR_DEVICE_MEMORY,
                         "the flat buffers need %zu bytes each; %s allows at most %llu per "
                         "buffer",
                         p->flat * elem, ctx->device_name,
                         (unsigned long long)ctx->max_alloc);
    for (size_t i = 0; st == OPTCL_SUCCESS && i < count; i++) {
        optcl__tensor *t = &p->tensors[i];
        t->name = strdup(specs[i].name);
        if (!t->name) {
            st = optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
            break;
        }
        p->count = i + 1;
        t->ndim = specs[i].ndim;
        memcpy(t->shape, specs[i].shape, sizeof t->shape);
        for (int d = t->ndim; d < OPTCL_MAX_DIMS; d++)
            t->shape[d] = 0;
        t->group = specs[i].group;
        t->state_bits = specs[i].state_bits;
        t->offset = offsets[i];
        t->count = counts[i];
        p->numel += counts[i];
    }
    free(counts);
    free(offsets);
    if (st != OPTCL_SUCCESS) {
        params_free(p);
        return st;
    }
    p->ctx = ctx;
    p->dtype = dtype;
    *out = p;
    return OPTCL_SUCCESS;
}

/* Bytes per element of the parameters and gradients. */
static size_t elem_size(const optcl_params *p)
{
    return optcl_dtype_size(p->dtype);
}

/* Fills bytes [begin, begin + size) of buf with zeros, in elements of the set's type. */
static cl_int fill_zero(optcl_params *p, cl_mem buf, size_t begin, size_t size, cl_uint num_events,
                        const cl_event *wait_list, cl_event *event)
{
    const float zero = 0.0f; /* all-zero bits: +0 in every type */
    return clEnqueueFillBuffer(p->ctx->queue, buf, &zero, elem_size(p), begin, size, num_events,
                               wait_list, event);
}

static optcl_status create_views(optcl_params *p)
{
    for (size_t i = 0; i < p->count; i++) {
        for (int r = 0; r < OPTCL_ROLE_COUNT; r++) {
            cl_buffer_region region = {p->tensors[i].offset * elem_size(p),
                                       p->tensors[i].count * elem_size(p)};
            cl_int err = CL_SUCCESS;
            p->tensors[i].view[r] = clCreateSubBuffer(p->buffer[r], CL_MEM_READ_WRITE,
                                                      CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
            if (err != CL_SUCCESS) {
                p->tensors[i].view[r] = NULL;
                return optcl__fail(p->ctx->message, (optcl_status)err,
                                   "clCreateSubBuffer for tensor '%s' failed: %s",
                                   p->tensors[i].name, optcl_status_name((optcl_status)err));
            }
        }
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_create(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                                 optcl_params **out)
{
    return optcl_params_create_typed(ctx, specs, count, OPTCL_DTYPE_F32, out);
}

optcl_status optcl_params_create_typed(optcl_context *ctx, const optcl_tensor_spec *specs,
                                       size_t count, optcl_dtype dtype, optcl_params **out)
{
    if (!ctx || !out)
        return ctx ? optcl__fail(ctx->message, OPTCL_ERROR_NULL_POINTER, "out is NULL")
                   : OPTCL_ERROR_NULL_POINTER;
    *out = NULL;
    optcl_params *p = NULL;
    optcl_status st = params_new(ctx, specs, count, dtype, &p);
    if (st != OPTCL_SUCCESS)
        return st;
    if (ctx->backend == OPTCL_BACKEND_REFERENCE) {
        for (int r = 0; r < OPTCL_ROLE_COUNT && st == OPTCL_SUCCESS; r++) {
            p->host[r] = optcl__host_alloc(p->flat);
            if (!p->host[r])
                st = optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                 "cannot allocate %zu floats on the host", p->flat);
        }
    } else {
        for (int r = 0; r < OPTCL_ROLE_COUNT && st == OPTCL_SUCCESS; r++) {
            cl_int err = CL_SUCCESS;
            size_t bytes = p->flat * elem_size(p);
            p->buffer[r] = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
            if (err == CL_SUCCESS)
                err = fill_zero(p, p->buffer[r], 0, bytes, 0, NULL, NULL);
            if (err != CL_SUCCESS) {
                if (err == CL_INVALID_BUFFER_SIZE)
                    err = (cl_int)OPTCL_ERROR_DEVICE_MEMORY;
                st = optcl__fail(ctx->message, (optcl_status)err,
                                 "allocating %zu bytes on %s failed: %s", p->flat * elem_size(p),
                                 ctx->device_name, optcl_status_name((optcl_status)err));
            }
        }
        if (st == OPTCL_SUCCESS)
            st = create_views(p);
        if (st == OPTCL_SUCCESS) {
            cl_int err = clFinish(ctx->queue); /* surfaces a failed allocation now */
            if (err != CL_SUCCESS)
                st = optcl__fail(ctx->message, (optcl_status)err,
                                 "zeroing the new buffers failed: %s",
                                 optcl_status_name((optcl_status)err));
        }
    }
    if (st != OPTCL_SUCCESS) {
        params_free(p);
        return st;
    }
    ctx->live_params++;
    *out = p;
    return OPTCL_SUCCESS;
}

static optcl_status check_wrapped_buffer(optcl_context *ctx, cl_mem buf, const char *what,
                                         size_t bytes)
{
    if (!buf)
        return optcl__fail(ctx->message, OPTCL_ERROR_NULL_POINTER, "%s buffer is NULL", what);
    cl_context owner = NULL;
    size_t size = 0;
    cl_mem parent = NULL;
    cl_mem_flags flags = 0;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(buf, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(buf, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "the %s buffer is not valid: %s", what,
                           optcl_status_name((optcl_status)err));
    if (owner != ctx->cl_ctx)
        return optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "the %s buffer belongs to another cl_context", what);
    if (parent)
        return optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "the %s buffer is a sub-buffer: wrap its parent (OpenCL makes no "
                           "sub-buffers of sub-buffers, and each tensor is one)",
                           what);
    if (flags & (CL_MEM_READ_ONLY | CL_MEM_WRITE_ONLY))
        return optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "the %s buffer is %s: optcl's kernels read and write it "
                           "(CL_MEM_READ_WRITE)",
                           what,
                           flags & CL_MEM_READ_ONLY ? "CL_MEM_READ_ONLY" : "CL_MEM_WRITE_ONLY");
    if (flags & (CL_MEM_HOST_NO_ACCESS | CL_MEM_HOST_READ_ONLY | CL_MEM_HOST_WRITE_ONLY))
        return optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "the %s buffer limits the host's access (CL_MEM_HOST_*): reading, "
                           "writing and checkpoints need both",
                           what);
    if (size < bytes)
        return optcl__fail(ctx->message, OPTCL_ERROR_SIZE_MISMATCH,
                           "the %s buffer holds %zu bytes; the layout needs %zu", what, size,
                           bytes);
    return OPTCL_SUCCESS;
}

static int by_offset(const void *a, const void *b)
{
    size_t x = (*(const optcl__tensor *const *)a)->offset;
    size_t y = (*(const optcl__tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

/* Zeroes every element of both wrapped buffers that no tensor covers: the update kernels and
 * the gradient guard sweep the whole flat range, and whatever the caller's allocation held
 * there (a NaN) would reach the guard's norm. Blocks. */
static optcl_status zero_padding(optcl_params *p)
{
    optcl__tensor **order = malloc(p->count * sizeof *order);
    if (!order)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < p->count; i++)
        order[i] = &p->tensors[i];
    qsort(order, p->count, sizeof *order, by_offset);
    cl_int err = CL_SUCCESS;
    for (size_t i = 0; i <= p->count && err == CL_SUCCESS; i++) {
        size_t begin = i == 0 ? 0 : order[i - 1]->offset + order[i - 1]->count;
        size_t end = i == p->count ? p->flat : order[i]->offset;
        for (int r = 0; r < OPTCL_ROLE_COUNT && err == CL_SUCCESS && end > begin; r++)
            err = fill_zero(p, p->buffer[r], begin * elem_size(p), (end - begin) * elem_size(p), 0,
                            NULL, NULL);
    }
    free(order);
    cl_int done = clFinish(p->ctx->queue);
    if (err == CL_SUCCESS)
        err = done;
    if (err != CL_SUCCESS)
        return optcl__fail(p->ctx->message, (optcl_status)err,
                           "zeroing the wrapped buffers' padding failed: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_wrap(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count,
                               cl_mem params, cl_mem grads, optcl_params **out)
{
    return optcl_params_wrap_typed(ctx, specs, count, OPTCL_DTYPE_F32, params, grads, out);
}

optcl_status optcl_params_wrap_typed(optcl_context *ctx, const optcl_tensor_spec *specs,
                                     size_t count, optcl_dtype dtype, cl_mem params, cl_mem grads,
                                     optcl_params **out)
{
    if (!ctx || !out)
        return ctx ? optcl__fail(ctx->message, OPTCL_ERROR_NULL_POINTER, "out is NULL")
                   : OPTCL_ERROR_NULL_POINTER;
    *out = NULL;
    if (ctx->backend != OPTCL_BACKEND_OPENCL)
        return optcl__fail(ctx->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_params_wrap needs an OpenCL context");
    optcl_params *p = NULL;
    optcl_status st = params_new(ctx, specs, count, dtype, &p);
    if (st != OPTCL_SUCCESS)
        return st;
    st = check_wrapped_buffer(ctx, params, "params", p->flat * elem_size(p));
    if (st == OPTCL_SUCCESS)
        st = check_wrapped_buffer(ctx, grads, "grads", p->flat * elem_size(p));
    if (st == OPTCL_SUCCESS && params == grads)
        st = optcl__fail(ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                         "params and grads are the same buffer");
    if (st == OPTCL_SUCCESS) {
        clRetainMemObject(params);
        clRetainMemObject(grads);
        p->buffer[OPTCL_ROLE_PARAMS] = params;
        p->buffer[OPTCL_ROLE_GRADS] = grads;
        st = create_views(p);
    }
    if (st == OPTCL_SUCCESS)
        st = zero_padding(p);
    if (st != OPTCL_SUCCESS) {
        params_free(p);
        return st;
    }
    ctx->live_params++;
    *out = p;
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_destroy(optcl_params *p)
{
    if (!p)
        return OPTCL_SUCCESS;
    if (p->live_optimizers > 0 || p->live_dependants > 0)
        return optcl__fail(p->message, OPTCL_ERROR_IN_USE,
                           "optcl_params_destroy: %zu optimizer(s) and %zu other dependant(s) "
                           "(optcl_params_add_dependant) still use this parameter set",
                           p->live_optimizers, p->live_dependants);
    if (p->ctx->queue)
        clFinish(p->ctx->queue);
    p->ctx->live_params--;
    params_free(p);
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_add_dependant(optcl_params *p)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    p->live_dependants++;
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_remove_dependant(optcl_params *p)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    if (p->live_dependants == 0) /* a count gone below zero would let destroy free too early */
        return optcl__fail(p->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_params_remove_dependant: the set has no dependant to remove");
    p->live_dependants--;
    return OPTCL_SUCCESS;
}

/* ---- queries ------------------------------------------------------------------------------ */

optcl_context *optcl_params_context(const optcl_params *p)
{
    return p ? p->ctx : NULL;
}

size_t optcl_params_count(const optcl_params *p)
{
    return p ? p->count : 0;
}

size_t optcl_params_numel(const optcl_params *p)
{
    return p ? p->numel : 0;
}

size_t optcl_params_flat_size(const optcl_params *p)
{
    return p ? p->flat : 0;
}

optcl_dtype optcl_params_dtype(const optcl_params *p)
{
    return p ? p->dtype : OPTCL_DTYPE_F32;
}

optcl_status optcl_params_info(const optcl_params *cp, size_t index, optcl_tensor_info *info)
{
    optcl_params *p = (optcl_params *)cp; /* only the message is written */
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    if (!info)
        return optcl__fail(p->message, OPTCL_ERROR_NULL_POINTER, "optcl_params_info: info is NULL");
    if (index >= p->count)
        return optcl__fail(p->message, OPTCL_ERROR_NOT_FOUND,
                           "optcl_params_info: no tensor %zu (the set has %zu)", index, p->count);
    const optcl__tensor *t = &p->tensors[index];
    info->name = t->name;
    info->ndim = t->ndim;
    memcpy(info->shape, t->shape, sizeof info->shape);
    info->group = t->group;
    info->offset = t->offset;
    info->count = t->count;
    info->state_bits = t->state_bits;
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_find(const optcl_params *cp, const char *name, size_t *index)
{
    optcl_params *p = (optcl_params *)cp; /* only the message is written */
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    if (!name || !index)
        return optcl__fail(p->message, OPTCL_ERROR_NULL_POINTER, "optcl_params_find: %s is NULL",
                           name ? "index" : "name");
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->tensors[i].name, name) == 0) {
            *index = i;
            return OPTCL_SUCCESS;
        }
    }
    return optcl__fail(p->message, OPTCL_ERROR_NOT_FOUND, "optcl_params_find: no tensor '%s'",
                       name);
}

static optcl_status check_role_index(optcl_params *p, optcl_role role, size_t index)
{
    if ((int)role < 0 || role >= OPTCL_ROLE_COUNT)
        return optcl__fail(p->message, OPTCL_ERROR_INVALID_ARGUMENT, "invalid role %d", (int)role);
    if (index != OPTCL_ALL && index >= p->count)
        return optcl__fail(p->message, OPTCL_ERROR_NOT_FOUND,
                           "tensor index %zu is out of range (the set has %zu tensors)", index,
                           p->count);
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_buffer(const optcl_params *cp, optcl_role role, size_t index, cl_mem *out)
{
    optcl_params *p = (optcl_params *)cp; /* only the message is written */
    if (!p || !out)
        return p ? optcl__fail(p->message, OPTCL_ERROR_NULL_POINTER, "out is NULL")
                 : OPTCL_ERROR_NULL_POINTER;
    optcl_status st = check_role_index(p, role, index);
    if (st != OPTCL_SUCCESS)
        return st;
    if (p->ctx->backend != OPTCL_BACKEND_OPENCL)
        return optcl__fail(p->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_params_buffer: the reference backend has no cl_mem; use "
                           "optcl_params_host");
    *out = index == OPTCL_ALL ? p->buffer[role] : p->tensors[index].view[role];
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_host(optcl_params *p, optcl_role role, size_t index, float **out)
{
    if (!p || !out)
        return p ? optcl__fail(p->message, OPTCL_ERROR_NULL_POINTER, "out is NULL")
                 : OPTCL_ERROR_NULL_POINTER;
    optcl_status st = check_role_index(p, role, index);
    if (st != OPTCL_SUCCESS)
        return st;
    if (p->ctx->backend != OPTCL_BACKEND_REFERENCE)
        return optcl__fail(p->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_params_host: an OpenCL parameter set lives on the device; use "
                           "optcl_params_buffer or optcl_params_read");
    *out = p->host[role] + (index == OPTCL_ALL ? 0 : p->tensors[index].offset);
    return OPTCL_SUCCESS;
}

/* ---- transfers ---------------------------------------------------------------------------- */

optcl_status optcl__transfer_check(const optcl_params *p, size_t index, const void *data,
                                   size_t count, char *message, const char *what)
{
    if (!data)
        return optcl__fail(message, OPTCL_ERROR_NULL_POINTER, "data is NULL");
    size_t expected = index == OPTCL_ALL ? p->numel : p->tensors[index].count;
    if (count != expected)
        return optcl__fail(message, OPTCL_ERROR_SIZE_MISMATCH,
                           "%s: count is %zu but %s holds %zu elements", what, count,
                           index == OPTCL_ALL ? "the whole set" : p->tensors[index].name, expected);
    return OPTCL_SUCCESS;
}

optcl_status optcl__transfer_device(optcl_params *p, cl_mem buffer, size_t index, void *data,
                                    size_t elem_size, bool to_device, char *message,
                                    const char *what)
{
    size_t first = index == OPTCL_ALL ? 0 : index;
    size_t last = index == OPTCL_ALL ? p->count : index + 1;
    char *bytes = data;
    cl_int err = CL_SUCCESS;
    for (size_t i = first; i < last && err == CL_SUCCESS; i++) {
        const optcl__tensor *t = &p->tensors[i];
        /* The last copy blocks: on the in-order queue it returns when every copy before it is
         * done too, so the caller's memory is free again even if clFinish fails below (a
         * failing clFinish does not promise to have waited). */
        cl_bool blocking = i + 1 == last ? CL_TRUE : CL_FALSE;
        size_t offset = t->offset * elem_size, size = t->count * elem_size;
        if (to_device)
            err = clEnqueueWriteBuffer(p->ctx->queue, buffer, blocking, offset, size, bytes, 0,
                                       NULL, NULL);
        else
            err = clEnqueueReadBuffer(p->ctx->queue, buffer, blocking, offset, size, bytes, 0,
                                      NULL, NULL);
        bytes += size;
    }
    /* Always wait: after a failed enqueue, earlier copies still use the caller's memory. */
    cl_int fin = clFinish(p->ctx->queue);
    if (err == CL_SUCCESS)
        err = fin;
    if (err != CL_SUCCESS)
        return optcl__fail(message, (optcl_status)err, "%s: OpenCL transfer failed: %s", what,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl__transfer(optcl_params *p, cl_mem buffer, float *host_base, optcl_dtype dtype,
                             size_t index, float *data, size_t count, bool to_device,
                             char *message, const char *what)
{
    optcl_status st = optcl__transfer_check(p, index, data, count, message, what);
    if (st != OPTCL_SUCCESS)
        return st;
    if (!buffer) {
        size_t first = index == OPTCL_ALL ? 0 : index;
        size_t last = index == OPTCL_ALL ? p->count : index + 1;
        for (size_t i = first, packed = 0; i < last; packed += p->tensors[i].count, i++) {
            const optcl__tensor *t = &p->tensors[i];
            float *dev = host_base + t->offset;
            if (to_device) {
                memcpy(dev, data + packed, t->count * sizeof(float));
                optcl__round_floats(dev, t->count, dtype);
            } else {
                memcpy(data + packed, dev, t->count * sizeof(float));
            }
        }
        return OPTCL_SUCCESS;
    }
    if (dtype == OPTCL_DTYPE_F32)
        return optcl__transfer_device(p, buffer, index, data, sizeof(float), to_device, message,
                                      what);
    /* a staging copy: narrowed on the way in, widened on the way out */
    size_t elem = optcl_dtype_size(dtype);
    void *staging = malloc((count ? count : 1) * elem);
    if (!staging)
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory",
                           what);
    if (to_device)
        optcl__narrow(data, staging, count, dtype);
    st = optcl__transfer_device(p, buffer, index, staging, elem, to_device, message, what);
    if (st == OPTCL_SUCCESS && !to_device)
        optcl__widen(staging, data, count, dtype);
    free(staging);
    return st;
}

/* The elements as stored: on the reference backend, narrowed from (widened into) its float32
 * values. */
static optcl_status transfer_raw(optcl_params *p, optcl_role role, size_t index, void *data,
                                 size_t count, bool to_device, const char *what)
{
    optcl_status st = check_role_index(p, role, index);
    if (st == OPTCL_SUCCESS)
        st = optcl__transfer_check(p, index, data, count, p->message, what);
    if (st != OPTCL_SUCCESS)
        return st;
    if (p->buffer[role])
        return optcl__transfer_device(p, p->buffer[role], index, data, elem_size(p), to_device,
                                      p->message, what);
    char *bytes = data;
    size_t first = index == OPTCL_ALL ? 0 : index;
    size_t last = index == OPTCL_ALL ? p->count : index + 1;
    for (size_t i = first; i < last; i++) {
        const optcl__tensor *t = &p->tensors[i];
        float *dev = p->host[role] + t->offset;
        if (to_device)
            optcl__widen(bytes, dev, t->count, p->dtype);
        else
            optcl__narrow(dev, bytes, t->count, p->dtype);
        bytes += t->count * elem_size(p);
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_params_write(optcl_params *p, optcl_role role, size_t index, const float *data,
                                size_t count)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = check_role_index(p, role, index);
    if (st != OPTCL_SUCCESS)
        return st;
    return optcl__transfer(p, p->buffer[role], p->host[role], p->dtype, index, (float *)data,
                           count, true, p->message, "optcl_params_write");
}

optcl_status optcl_params_read(optcl_params *p, optcl_role role, size_t index, float *data,
                               size_t count)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = check_role_index(p, role, index);
    if (st != OPTCL_SUCCESS)
        return st;
    return optcl__transfer(p, p->buffer[role], p->host[role], p->dtype, index, data, count, false,
                           p->message, "optcl_params_read");
}

optcl_status optcl_params_write_raw(optcl_params *p, optcl_role role, size_t index,
                                    const void *data, size_t count)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    return transfer_raw(p, role, index, (void *)data, count, true, "optcl_params_write_raw");
}

optcl_status optcl_params_read_raw(optcl_params *p, optcl_role role, size_t index, void *data,
                                   size_t count)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    return transfer_raw(p, role, index, data, count, false, "optcl_params_read_raw");
}

optcl_status optcl_params_zero_grad(optcl_params *p, cl_uint num_events, const cl_event *wait_list,
                                    cl_event *event)
{
    if (!p)
        return OPTCL_ERROR_NULL_POINTER;
    if (event)
        *event = NULL; /* also when refused: the caller may release whatever is not NULL */
    if (p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        if (num_events > 0 || wait_list)
            return optcl__fail(p->message, OPTCL_ERROR_WRONG_BACKEND,
                               "optcl_params_zero_grad: the reference backend takes no events");
        memset(p->host[OPTCL_ROLE_GRADS], 0, p->flat * sizeof(float));
        return OPTCL_SUCCESS;
    }
    cl_int err = fill_zero(p, p->buffer[OPTCL_ROLE_GRADS], 0, p->flat * elem_size(p), num_events,
                           wait_list, event);
    if (err != CL_SUCCESS)
        return optcl__fail(p->message, (optcl_status)err, "clEnqueueFillBuffer failed: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

const char *optcl_params_message(const optcl_params *p)
{
    return p ? p->message : "";
}
