/* segments.h — per-tensor sums for the rules that look at whole tensors (rule.h's
 * tensor_sums: LAMB's and LARS's norms). A tensor is a segment of the flat buffers: whole
 * 256-element blocks from its offset (offsets are multiples of 256, so no block holds two
 * tensors; the padding after a tensor is zero and adds nothing). A group's step is three
 * launches whatever its tensor count:
 *   1. the rule's sums kernel: each work-item one block, its n sums into block_sums;
 *   2. the rule's totals kernel: each work-item one segment, its blocks' sums added in a fixed
 *      order, and what the step needs of the tensor (a trust ratio) into values;
 *      (both launches padded to whole work-groups, the extra work-items returning at once)
 *   3. the rule's step kernel, which finds its block's segment and reads its values.
 * The reference backend runs the same three in the same order of addition (reference_sums,
 * reference_totals, reference_apply), so both give the same bits. */
#ifndef OPTCL_SEGMENTS_H
#define OPTCL_SEGMENTS_H

#include "internal.h"

#include <stdint.h>

/* Segments are the set's tensors in offset order (params->count of them); blocks are the flat
 * buffer's (params->flat / 256); n sums per block and m values per segment are the rule's
 * tensor_sums and tensor_values. */
typedef struct optcl__segments {
    uint32_t *block_segment;  /* per block: its segment, or count (no tensor: values are 0) */
    uint32_t *segment_blocks; /* per segment: its first and end block */
    uint32_t *segment_tensor; /* per segment: its tensor's index in the set */
    size_t first[OPTCL_MAX_GROUPS], end[OPTCL_MAX_GROUPS]; /* each group range's segments */
    float *block_sums, *values; /* reference backend: n per block; m per segment (+ a zero row) */
    cl_mem block_segment_mem, segment_blocks_mem, block_sums_mem, values_mem;
    cl_kernel sums_kernel, totals_kernel;
    cl_uint sums_end_arg;    /* the sums kernel's last argument: the range's end block */
    cl_uint totals_first_arg; /* the totals kernel's first and end segment */
    struct optcl__factored *factored; /* factored rules' state (factored.h); NULL otherwise */
    struct optcl__orthogonal *orthogonal; /* orthogonalised rules' (orthogonal.h); NULL otherwise */
} optcl__segments;

/* The tables, and on the reference backend the sums (optimizer create; message on failure). */
optcl_status optcl__segments_create(optcl_optimizer *opt);
/* OpenCL: the buffers, the sums and totals kernels from the rule's program; the step kernel's
 * two extra arguments from index next (the argument after those optcl__bind_step_arguments
 * bound). */
optcl_status optcl__segments_create_device(optcl_optimizer *opt, cl_program program,
                                           cl_uint next);
void optcl__segments_free(optcl_optimizer *opt);
/* A device buffer of the per-tensor tables (factored.c, orthogonal.c too): a copy of data,
 * read-only, or with data NULL zero-filled; nothing when *err is already set. */
cl_mem optcl__segments_buffer(optcl_context *ctx, size_t bytes, void *data, cl_int *err);
/* OpenCL: launches 1 and 2 for group range r; scalars is the step's row (NULL when the device
 * counts: the range index is set instead). The first launch carries the wait list. Fails with
 * a message on opt. */
cl_int optcl__segments_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars,
                               cl_uint num_events, const cl_event *wait_list);
/* Reference: the rule's three stages on range r's weights. */
void optcl__segments_reference(optcl_optimizer *opt, size_t r, float *weights, const float *grads,
                               const optcl__step_scalars *s);

#endif
