/* orthogonal.h — orthogonalised updates (rule.h's newton_schulz: Muon). Each tensor is an R×C
 * matrix; the rule's update u of it, normalised by its norm (one sum per tensor, segments.h),
 * is written by the pack kernel into a workspace as X, row-major, and the Newton–Schulz
 * iteration runs on X in place, with m = min(R, C):
 *     wide (R ≤ C): A = X·Xᵀ;  B = b·A + c·A·A;  X = a·X + B·X
 *     tall (R > C): A = Xᵀ·X;  B = b·A + c·A·A;  X = a·X + X·B
 * (steps times; the tall form is torch's iteration on Xᵀ, transposed back, which moves no
 * data), then the step kernel reads X back. The tensors of one group with one shape form a
 * class, and each product is one batched SGEMM over the class (CLBlast's strided batched
 * GEMM), so a step's launches grow with the shapes, not with the tensors. A class's workspace
 * is [X: count·R·C][Y: count·R·C][A: count·m·m][B: count·m·m]: products write Y and B after a
 * copy of the term their β scales, and X and Y swap each iteration.
 *
 * The reference backend runs the same products per matrix with a plain C GEMM (each sum over
 * k in order). The order of addition within CLBlast's GEMM is its own, so the two backends
 * agree within rounding here, not bit for bit. */
#ifndef OPTCL_ORTHOGONAL_H
#define OPTCL_ORTHOGONAL_H

#include "internal.h"
#include "reference/reference.h"

#include <stdint.h>

typedef struct optcl__shape_class {
    size_t rows, cols; /* R, C */
    size_t count;      /* its tensors */
    size_t base;       /* its X in the workspace */
} optcl__shape_class;

typedef struct optcl__orthogonal {
    uint32_t *info; /* per segment, and a zero row: OPTCL__ORTHO_FIELDS */
    float *ratio;   /* per segment: the lr factor of its shape */
    optcl__shape_class *classes;
    size_t class_count, floats;
    size_t first_class[OPTCL_MAX_GROUPS], end_class[OPTCL_MAX_GROUPS]; /* each group range's */
    float *work;                                                       /* reference backend */
    cl_mem info_mem, ratio_mem, work_mem;
    cl_kernel pack_kernel;
} optcl__orthogonal;

/* The tables (after segments.h's); refuses a tensor that is not 2-D. On the reference backend
 * the workspace too. */
optcl_status optcl__orthogonal_create(optcl_optimizer *opt);
/* OpenCL: the workspace and the pack kernel (CLBlast needed: OPTCL_ERROR_UNSUPPORTED
 * without). */
optcl_status optcl__orthogonal_create_device(optcl_optimizer *opt, cl_program program);
/* OPTCL_ORTHOGONAL_ARG's three arguments of the pack or step kernel, from index. */
cl_int optcl__orthogonal_bind(const optcl_optimizer *opt, cl_kernel kernel, cl_uint index);
void optcl__orthogonal_free(optcl_context *ctx, optcl__orthogonal *o);
/* OpenCL: the pack kernel and the iteration for group range r (scalars: as
 * optcl__segments_enqueue's). Fails with a message on opt. */
cl_int optcl__orthogonal_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars);
/* Reference: the same. */
void optcl__orthogonal_reference(optcl_optimizer *opt, size_t r, const float *grads,
                                 const optcl__step_scalars *s, const optcl__tensor_values *tables);
/* The bytes a step moves besides the element-wise buffers and the sums pass: X written and
 * read once, and the gradient and momentum read once more by the step kernel (the products'
 * traffic is not counted: optcl_optimizer_flops_per_step). */
double optcl__orthogonal_extra_bytes(const optcl_optimizer *opt);
/* At context destroy, before the queue and context go: CLBlast's programs for them (its cache
 * is the process's; cleared whole, as CLBlast offers, when this context used it). */
void optcl__orthogonal_release_cache(optcl_context *ctx);
/* The reference rule's view. */
optcl__orthogonal_view optcl__orthogonal_view_of(const optcl_optimizer *opt);

#endif
