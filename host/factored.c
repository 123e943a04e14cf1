/* factored.c — the factored second moments' state, tables and launches (factored.h). */
#include "factored.h"
#include "rules/rule.h"
#include "segments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS OPTCL__FACTOR_FIELDS
#define REGION_ALIGN 16              /* floats: the widest VEC */
enum { ROW_VAR, COL_VAR, VARIANCE }; /* rule->factored_states' order */

/* A tensor's matrices: B (the product of the leading dims), R and C; false for at most one
 * dim. */
static bool matrices(const optcl__tensor *t, size_t *b, size_t *r, size_t *c)
{
    if (t->ndim < 2)
        return false;
    *r = (size_t)t->shape[t->ndim - 2];
    *c = (size_t)t->shape[t->ndim - 1];
    *b = t->count / (*r * *c); /* dims are ≥ 1 */
    return true;
}

/* A larger matrix's work-items per C columns: strips of 16 (kernels/adafactor.cl). */
static size_t strips(size_t c)
{
    return (c + 15) / 16;
}

/* Each segment's row of the table; false when a count passes the tables' 32 bits (message).
 * Matrices of at most OPTCL__FACTOR_WHOLE_MAX elements go to the factors kernel in groups of
 * about that many elements, one work-item each (their rows, columns and means of rows: a 3×3
 * or 1×1 convolution weight is thousands of matrices); a larger one is a work-item per row and
 * per strip of 16 columns, and one per batch in the means kernel. */
static bool fill_info(optcl__factored *f, const optcl__segments *seg, const optcl_params *p,
                      char *message)
{
    size_t slot = 0, units = 0, batches = 0, means = 0;
    for (size_t j = 0; j < p->count; j++) {
        const optcl__tensor *t = &p->tensors[seg->segment_tensor[j]];
        size_t b = 0, r = 0, c = 0, floats = optcl__round_up(t->count, OPTCL__BLOCK);
        bool factored = matrices(t, &b, &r, &c);
        size_t whole = factored && r * c <= OPTCL__FACTOR_WHOLE_MAX
                           ? OPTCL__FACTOR_WHOLE_MAX / (r * c) /* matrices per work-item */
                           : 0;
        if (factored)
            floats = optcl__round_up(b * (r + c), REGION_ALIGN);
        size_t my_units = whole ? (b + whole - 1) / whole : b * (r + strips(c));
        size_t my_means = whole ? 0 : b;
        if (t->count >= INT32_MAX || slot + floats >= UINT32_MAX ||
            units + my_units >= UINT32_MAX) {
            optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                        "tensor '%s' (%zu elements): adafactor's tables count in 32 bits: at "
                        "most 2^31 - 1 elements per tensor and 2^32 - 1 floats of state, rows "
                        "and columns in the set",
                        t->name, t->count);
            return false;
        }
        uint32_t *row = f->info + j * FIELDS;
        row[OPTCL__FACTOR_SLOT] = (uint32_t)slot;
        row[OPTCL__FACTOR_BATCHES] = (uint32_t)b;
        row[OPTCL__FACTOR_ROWS] = (uint32_t)r;
        row[OPTCL__FACTOR_COLS] = (uint32_t)c;
        row[OPTCL__FACTOR_FIRST_BATCH] = (uint32_t)batches;
        row[OPTCL__FACTOR_COUNT] = (uint32_t)t->count;
        row[OPTCL__FACTOR_FIRST_UNIT] = (uint32_t)units;
        row[OPTCL__FACTOR_FIRST_BLOCK] = (uint32_t)(t->offset / OPTCL__BLOCK);
        row[OPTCL__FACTOR_FIRST_MEAN] = (uint32_t)means;
        row[OPTCL__FACTOR_WHOLE] = (uint32_t)whole;
        row[OPTCL__FACTOR_UNITS] = (uint32_t)my_units;
        row[OPTCL__FACTOR_MEANS] = (uint32_t)my_means;
        f->tensor_segment[seg->segment_tensor[j]] = (uint32_t)j;
        slot += floats;
        units += my_units;
        batches += b;
        means += my_means;
    }
    f->floats = slot;
    f->units = units;
    f->batches = batches;
    f->mean_items = means;
    return true;
}

/* Each factors and means work-item's segment. */
static void fill_segments(optcl__factored *f, const optcl_params *p)
{
    for (size_t j = 0; j < p->count; j++) {
        const uint32_t *row = f->info + j * FIELDS;
        for (size_t u = 0; u < row[OPTCL__FACTOR_UNITS]; u++)
            f->unit_segment[row[OPTCL__FACTOR_FIRST_UNIT] + u] = (uint32_t)j;
        for (size_t q = 0; q < row[OPTCL__FACTOR_MEANS]; q++)
            f->mean_segment[row[OPTCL__FACTOR_FIRST_MEAN] + q] = (uint32_t)j;
    }
}

/* OpenCL: each group range's work-items of both launches, from its first tensor's to its last's
 * (a range's segments are consecutive, so are their work-items) — of the tensors that the
 * totals kernel does not step whole (segments.h's block_whole; those of whole tensors between
 * them return), and no launch when every tensor of the range is whole. */
static void fill_ranges(optcl__factored *f, const optcl__segments *seg, const optcl_params *p)
{
    for (size_t r = 0; r < p->range_count; r++) {
        f->launched[r] = false;
        for (size_t j = seg->first[r]; j < seg->end[r]; j++) {
            const uint32_t *row = f->info + j * FIELDS;
            if (optcl__segment_whole(seg, j))
                continue;
            if (!f->launched[r]) {
                f->first_unit[r] = row[OPTCL__FACTOR_FIRST_UNIT];
                f->first_mean[r] = row[OPTCL__FACTOR_FIRST_MEAN];
                f->launched[r] = true;
            }
            f->end_unit[r] = row[OPTCL__FACTOR_FIRST_UNIT] + row[OPTCL__FACTOR_UNITS];
            f->end_mean[r] = row[OPTCL__FACTOR_FIRST_MEAN] + row[OPTCL__FACTOR_MEANS];
        }
    }
}

optcl_status optcl__factored_create(optcl_optimizer *opt)
{
    const optcl_params *p = opt->params;
    optcl__segments *seg = opt->segments;
    char *message = p->ctx->message;
    optcl__factored *f = calloc(1, sizeof *f);
    if (!f)
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    seg->factored = f;
    f->info = calloc((p->count + 1) * FIELDS, sizeof *f->info); /* + the zero row */
    f->tensor_segment = malloc(p->count * sizeof *f->tensor_segment);
    if (!f->info || !f->tensor_segment)
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (!fill_info(f, seg, p, message))
        return OPTCL_ERROR_INVALID_ARGUMENT;
    f->unit_segment = malloc((f->units ? f->units : 1) * sizeof *f->unit_segment);
    f->mean_segment = malloc((f->mean_items ? f->mean_items : 1) * sizeof *f->mean_segment);
    bool ok = f->unit_segment && f->mean_segment;
    if (ok)
        fill_segments(f, p);
    if (ok && p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        f->state = calloc(f->floats ? f->floats : 1, sizeof *f->state);
        f->means = calloc(f->batches ? f->batches : 1, sizeof *f->means);
        ok = f->state && f->means;
    }
    if (!ok)
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory for %s's state of %zu tensors", opt->rule->name,
                           p->count);
    return OPTCL_SUCCESS;
}

cl_int optcl__factored_bind(const optcl_optimizer *opt, cl_kernel kernel, cl_uint index)
{
    const optcl__factored *f = opt->segments->factored;
    cl_int err = CL_SUCCESS;
    OPTCL__ARG(kernel, index, f->info_mem);
    OPTCL__ARG(kernel, index + 1, f->state_mem);
    OPTCL__ARG(kernel, index + 2, f->pending_mem);
    OPTCL__ARG(kernel, index + 3, f->means_mem);
    OPTCL__ARG(kernel, index + 4, opt->segments->block_segment_mem);
    return err;
}

/* The factors or means kernel: the step's arguments, OPTCL_FACTORED_ARG, its table; the index
 * of its range arguments in range_arg. */
static cl_int make_kernel(optcl_optimizer *opt, cl_program program, const char *stage, cl_mem table,
                          cl_kernel *kernel, cl_uint *range_arg, char *name, size_t size)
{
    cl_int err = CL_SUCCESS;
    cl_uint next = 0;
    snprintf(name, size, "optcl_%s_%s_f32", opt->rule->family, stage);
    *kernel = optcl__kernel_create(opt->params->ctx, program, name, &err);
    if (err == CL_SUCCESS)
        err = optcl__bind_step_arguments(opt, *kernel, &next);
    if (err == CL_SUCCESS)
        err = optcl__factored_bind(opt, *kernel, next);
    OPTCL__ARG(*kernel, next + OPTCL__FACTORED_ARGS, table);
    *range_arg = next + OPTCL__FACTORED_ARGS + 1;
    OPTCL__ARG(*kernel, *range_arg + 2, opt->segments->block_whole_mem);
    return err;
}

optcl_status optcl__factored_create_device(optcl_optimizer *opt, cl_program program)
{
    optcl_context *ctx = opt->params->ctx;
    optcl__factored *f = opt->segments->factored;
    cl_int err = CL_SUCCESS;
    size_t rows = opt->params->count + 1;
    fill_ranges(f, opt->segments, opt->params);
    f->info_mem = optcl__segments_buffer(ctx, rows * FIELDS * sizeof(uint32_t), f->info, &err);
    f->unit_segment_mem = optcl__segments_buffer(ctx, (f->units ? f->units : 1) * sizeof(uint32_t),
                                                 f->unit_segment, &err);
    f->mean_segment_mem = optcl__segments_buffer(
        ctx, (f->mean_items ? f->mean_items : 1) * sizeof(uint32_t), f->mean_segment, &err);
    f->state_mem =
        optcl__segments_buffer(ctx, (f->floats ? f->floats : 1) * sizeof(float), NULL, &err);
    f->pending_mem =
        optcl__segments_buffer(ctx, (f->floats ? f->floats : 1) * sizeof(float), NULL, &err);
    f->means_mem =
        optcl__segments_buffer(ctx, (f->batches ? f->batches : 1) * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(
            ctx->message, (optcl_status)err,
            "allocating %s's state (%zu floats, %zu rows, columns and matrices) on %s "
            "failed: %s",
            opt->rule->name, f->floats, f->units, ctx->device_name,
            optcl_status_name((optcl_status)err));
    char name[64] = "";
    err = make_kernel(opt, program, "factors", f->unit_segment_mem, &f->factors_kernel,
                      &f->factors_range_arg, name, sizeof name);
    if (err == CL_SUCCESS)
        err = make_kernel(opt, program, "means", f->mean_segment_mem, &f->means_kernel,
                          &f->means_range_arg, name, sizeof name);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s", name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

void optcl__factored_free(optcl_context *ctx, optcl__factored *f)
{
    if (!f)
        return;
    cl_mem mems[] = {f->info_mem,  f->unit_segment_mem, f->mean_segment_mem,
                     f->state_mem, f->pending_mem,      f->means_mem};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    optcl__kernel_release(ctx, f->factors_kernel);
    optcl__kernel_release(ctx, f->means_kernel);
    free(f->info);
    free(f->unit_segment);
    free(f->mean_segment);
    free(f->tensor_segment);
    free(f->state);
    free(f->means);
    free(f);
}

/* One of the two launches over [first, end): a group without matrices still launches (one
 * work-item, which returns), so that a step's launch count is fixed. */
static cl_int enqueue_stage(optcl_optimizer *opt, cl_kernel kernel, cl_uint range_arg, size_t r,
                            const optcl__step_scalars *scalars, size_t first, size_t end,
                            cl_uint num_events, const cl_event *wait_list)
{
    cl_uint a = (cl_uint)first, z = (cl_uint)end;
    cl_int err = optcl__set_step_scalars(opt, kernel, r, scalars);
    OPTCL__ARG(kernel, range_arg, a);
    OPTCL__ARG(kernel, range_arg + 1, z);
    if (err == CL_SUCCESS)
        err = optcl__enqueue_padded(opt->params->ctx, kernel, 0, end > first ? end - first : 1,
                                    num_events, wait_list, NULL);
    opt->launches += err == CL_SUCCESS;
    return err;
}

cl_int optcl__factored_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars,
                               cl_uint *num_events, const cl_event **wait_list)
{
    optcl__factored *f = opt->segments->factored;
    if (!f->launched[r])
        return CL_SUCCESS;
    cl_int err = enqueue_stage(opt, f->factors_kernel, f->factors_range_arg, r, scalars,
                               f->first_unit[r], f->end_unit[r], *num_events, *wait_list);
    *num_events = 0;
    *wait_list = NULL;
    if (err == CL_SUCCESS)
        err = enqueue_stage(opt, f->means_kernel, f->means_range_arg, r, scalars, f->first_mean[r],
                            f->end_mean[r], 0, NULL);
    return err;
}

optcl__factors optcl__factored_view(const optcl_optimizer *opt)
{
    const optcl__factored *f = opt->segments->factored;
    return (optcl__factors){f->info, f->state, f->means};
}

void optcl__factored_reference(optcl_optimizer *opt, size_t r, const float *grads,
                               const optcl__step_scalars *s)
{
    optcl__factors view = optcl__factored_view(opt);
    opt->rule->reference_factors(s, grads, &view, opt->segments->first[r], opt->segments->end[r]);
}

bool optcl__factored_part(const optcl_optimizer *opt, size_t k, size_t i, int *ndim,
                          int64_t shape[OPTCL_MAX_DIMS], size_t *slot, size_t *count)
{
    const optcl__factored *f = opt->segments->factored;
    const optcl__tensor *t = &opt->params->tensors[i];
    const uint32_t *row = f->info + (size_t)f->tensor_segment[i] * FIELDS;
    size_t b = 0, rows = 0, cols = 0;
    bool factored = matrices(t, &b, &rows, &cols);
    if (factored != (k == ROW_VAR || k == COL_VAR))
        return false;
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof t->shape);
    *slot = row[OPTCL__FACTOR_SLOT];
    *count = t->count;
    if (k == ROW_VAR) {
        shape[t->ndim - 1] = 1;
        *count = b * rows;
    } else if (k == COL_VAR) {
        shape[t->ndim - 2] = 1;
        *slot += b * rows;
        *count = b * cols;
    }
    return true;
}

optcl_status optcl__factored_transfer(optcl_optimizer *opt, size_t slot, float *data, size_t count,
                                      bool to_device, char *message, const char *what)
{
    optcl__factored *f = opt->segments->factored;
    optcl_context *ctx = opt->params->ctx;
    if (ctx->backend == OPTCL_BACKEND_REFERENCE) {
        if (to_device)
            memcpy(f->state + slot, data, count * sizeof *data);
        else
            memcpy(data, f->state + slot, count * sizeof *data);
        return OPTCL_SUCCESS;
    }
    size_t offset = slot * sizeof(float), bytes = count * sizeof(float);
    cl_int err = to_device ? clEnqueueWriteBuffer(ctx->queue, f->state_mem, CL_TRUE, offset, bytes,
                                                  data, 0, NULL, NULL)
                           : clEnqueueReadBuffer(ctx->queue, f->state_mem, CL_TRUE, offset, bytes,
                                                 data, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return optcl__fail(message, (optcl_status)err, "%s: %s %s's state failed: %s", what,
                           to_device ? "writing" : "reading", opt->rule->name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

size_t optcl__factored_floats(const optcl_optimizer *opt)
{
    return opt->segments && opt->segments->factored ? opt->segments->factored->floats : 0;
}

double optcl__factored_extra_bytes(const optcl_optimizer *opt)
{
    if (!opt->segments || !opt->segments->factored)
        return 0.0;
    const optcl__segments *seg = opt->segments;
    const optcl__factored *f = seg->factored;
    double matrix_elements = 0.0, vector_floats = 0.0; /* of the tensors not stepped whole */
    for (size_t j = 0; j < opt->params->count; j++) {
        const uint32_t *row = f->info + j * FIELDS;
        if (optcl__segment_whole(seg, j))
            continue;
        if (row[OPTCL__FACTOR_BATCHES])
            matrix_elements += row[OPTCL__FACTOR_COUNT];
        else
            vector_floats += (double)optcl__round_up(row[OPTCL__FACTOR_COUNT], OPTCL__BLOCK);
    }
    return 2.0 * matrix_elements * (double)optcl_dtype_size(opt->params->dtype) +
           vector_floats * sizeof(float);
}
