/* factored.h — the factored second moments of a rule like Adafactor (rule.h's factored): state
 * that is not one value per element. A tensor of two or more dims, shape (B…, R, C), is B
 * matrices R×C in row-major order, and keeps B·R row means then B·C column means of g² (the
 * states "row_var", shape (B…, R, 1), and "col_var", (B…, 1, C)); a tensor of at most one dim
 * keeps one value per element ("variance", its own shape), over whole 256-element blocks as in
 * the flat buffers. All of it is one float32 buffer, each tensor's region from a multiple of
 * 16 floats, so that a vector's values load as aligned vectors of any VEC.
 *
 * Per group, two launches come before the per-tensor sums (segments.h), whatever the tensor
 * count:
 *   1. factors: the mean of g² along each row and each column, lerped from the state into a
 *      pending buffer of the same layout; a matrix of at most OPTCL__FACTOR_WHOLE_MAX elements
 *      is one work-item, which also takes its mean of row means, a larger one a work-item per
 *      row and per 16 columns;
 *   2. means: one work-item per matrix of the larger ones: its mean of row means.
 * Either way the mean is clamped below at eps1, and the sums are added in the same order.
 * The sums, totals and step kernels read both (kernels/adafactor.cl's OPTCL_FACTORED_ARG). The
 * step kernel, the group's last launch, stores the vectors' values and copies the pending row
 * and column means into the state: a step whose later launch fails to enqueue has changed
 * nothing (host/step.c) — but for the tensors that the totals kernel steps whole
 * (segments.h), which it factors, steps and stores itself, and which the factors and means
 * launches pass over (none at all when every tensor of the group is whole). The reference
 * backend runs reference_factors in place (it cannot fail half-way), adding in the same order,
 * so both backends give the same bits. */
#ifndef OPTCL_FACTORED_H
#define OPTCL_FACTORED_H

#include "internal.h"
#include "reference/reference.h"

#include <stdint.h>

typedef struct optcl__factored {
    uint32_t *info; /* per segment, and a zero row for blocks of none: OPTCL__FACTOR_FIELDS */
    uint32_t *unit_segment, *mean_segment; /* per factors and per means work-item: its segment */
    uint32_t *tensor_segment;               /* per tensor of the set: its segment */
    size_t units, mean_items, batches, floats; /* work-items of both kernels, matrices, state */
    size_t first_unit[OPTCL_MAX_GROUPS], end_unit[OPTCL_MAX_GROUPS]; /* each group range's */
    size_t first_mean[OPTCL_MAX_GROUPS], end_mean[OPTCL_MAX_GROUPS];
    bool launched[OPTCL_MAX_GROUPS]; /* false: the totals kernel steps every tensor whole */
    float *state, *means; /* reference backend */
    cl_mem info_mem, unit_segment_mem, mean_segment_mem, state_mem, means_mem;
    cl_mem pending_mem; /* this step's row and column means, until the step kernel stores them */
    cl_kernel factors_kernel, means_kernel;
    cl_uint factors_range_arg, means_range_arg; /* each kernel's first and end work-item */
} optcl__factored;

/* The tables, and on the reference backend the state (after segments.h's tables). */
optcl_status optcl__factored_create(optcl_optimizer *opt);
/* OpenCL: the buffers and the two kernels from the rule's program (after segments.h's). */
optcl_status optcl__factored_create_device(optcl_optimizer *opt, cl_program program);
/* OPTCL_FACTORED_ARG's arguments of the sums, totals or step kernel, from index. */
#define OPTCL__FACTORED_ARGS 5
cl_int optcl__factored_bind(const optcl_optimizer *opt, cl_kernel kernel, cl_uint index);
void optcl__factored_free(optcl_context *ctx, optcl__factored *f);
/* OpenCL: launches 1 and 2 for group range r (scalars as optcl__segments_enqueue's); the
 * first carries the wait list, which is then emptied — unless the range's tensors are all
 * stepped whole, and nothing is launched. */
cl_int optcl__factored_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars,
                               cl_uint *num_events, const cl_event **wait_list);
/* Reference: the same for range r. */
void optcl__factored_reference(optcl_optimizer *opt, size_t r, const float *grads,
                               const optcl__step_scalars *s);
/* The reference rule's view of the state. */
optcl__factors optcl__factored_view(const optcl_optimizer *opt);

/* State k of rule->factored_states for tensor i: whether the tensor keeps it, and if so its
 * shape (ndim, shape), its first float in the buffer and its count. */
bool optcl__factored_part(const optcl_optimizer *opt, size_t k, size_t i, int *ndim,
                          int64_t shape[OPTCL_MAX_DIMS], size_t *slot, size_t *count);
/* Copies count floats from slot between the state and data. Blocks. */
optcl_status optcl__factored_transfer(optcl_optimizer *opt, size_t slot, float *data, size_t count,
                                      bool to_device, char *message, const char *what);
/* The whole state's floats (0 for a rule without it). */
size_t optcl__factored_floats(const optcl_optimizer *opt);
/* The bytes a step reads besides the element-wise buffers and the sums pass: the gradient of
 * every matrix twice (rows, columns), the vectors' variance once more (the sums pass). */
double optcl__factored_extra_bytes(const optcl_optimizer *opt);

#endif
