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
 * reference_totals, reference_apply), so both give the same bits.
 * Rules with whole_tensors (LAMB, LARS, Adafactor) step a tensor small enough to stay in cache
 * whole in launch 2, a work-group per tensor: its sums, its values, then its step (Adafactor:
 * its row and column means first, factored.h), reading it from memory once where the launches
 * read it two to four times (16M parameters in 1000 tensors on PoCL: LAMB 1.85× Adam's time →
 * 1.09×, docs/PERFORMANCE.md). Launches
 * 1 and 3 pass over its blocks (block_whole) and cover only the range's span of other blocks,
 * or are left out when there is none. The same arithmetic in the same order: the same bits.
 * "Small enough": its bytes (parameters, gradients and states) within the device's global
 * memory cache shared among its compute units; OPTCL_WHOLE_TENSORS = always or never overrides
 * it, for tests and benchmarks. */
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
    /* Tensors stepped whole (rule.h's whole_tensors; OpenCL only): per block 1 where its tensor
     * is one of them — or no tensor's, padding that only zeros fill — and per range the span of
     * the others' blocks, [part_first, part_end), empty when there are none; the totals
     * launch's work-items per tensor. */
    uint8_t *block_whole;
    cl_mem block_whole_mem;
    size_t part_first[OPTCL_MAX_GROUPS], part_end[OPTCL_MAX_GROUPS];
    size_t part_blocks; /* blocks of the others */
    size_t tensor_items;
    size_t totals_local; /* the work-group of a 64-item totals launch: a power of two ≥ 64 */
    struct optcl__factored *factored; /* factored rules' state (factored.h); NULL otherwise */
    struct optcl__orthogonal *orthogonal; /* orthogonalised rules' (orthogonal.h); NULL otherwise */
} optcl__segments;

/* The tables, and on the reference backend the sums (optimizer create; message on failure). */
optcl_status optcl__segments_create(optcl_optimizer *opt);
/* OpenCL: the buffers, the sums and totals kernels from the rule's program; the step kernel's
 * three extra arguments (optcl__segments_bind_values) from index next (the argument after
 * those optcl__bind_step_arguments bound). */
optcl_status optcl__segments_create_device(optcl_optimizer *opt, cl_program program,
                                           cl_uint next);
void optcl__segments_free(optcl_optimizer *opt);
/* A device buffer of the per-tensor tables (factored.c, orthogonal.c too): a copy of data,
 * read-only, or with data NULL zero-filled; nothing when *err is already set. */
cl_mem optcl__segments_buffer(optcl_context *ctx, size_t bytes, void *data, cl_int *err);
/* Whether the totals kernel steps segment j whole (OpenCL; never on the reference backend). */
static inline bool optcl__segment_whole(const optcl__segments *seg, size_t j)
{
    return seg->block_whole && seg->block_whole[seg->segment_blocks[2 * j]];
}
/* Binds the step kernel's (and Muon's pack kernel's) OPTCL_TENSOR_VALUES_ARG from index next;
 * the index after them into *next. */
cl_int optcl__segments_bind_values(optcl_optimizer *opt, cl_kernel kernel, cl_uint *next);
/* OpenCL: launches 1 and 2 for group range r; scalars is the step's row (NULL when the device
 * counts: the range index is set instead). The first launch carries the wait list.
 * [*step_first, *step_end): the elements the step kernel must cover, whole work-groups of the
 * range — or none, and then the last launch here gives event (when not NULL). Fails with a
 * message on opt. */
cl_int optcl__segments_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars,
                               cl_uint num_events, const cl_event *wait_list, cl_event *event,
                               size_t *step_first, size_t *step_end);
/* Reference: the rule's three stages on range r's weights. */
void optcl__segments_reference(optcl_optimizer *opt, size_t r, float *weights, const float *grads,
                               const optcl__step_scalars *s);

#endif
