/* orthogonal.c — orthogonalised updates: shape classes, workspace and the Newton–Schulz
 * iteration (orthogonal.h). */
#include "orthogonal.h"
#include "rules/rule.h"
#include "segments.h"

#ifdef OPTCL_HAVE_CLBLAST
#include <clblast_c.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS OPTCL__ORTHO_FIELDS

/* Every tensor 2-D; each group range's classes of one shape, and each segment's place. */
static optcl_status build(optcl_optimizer *opt, optcl__orthogonal *o)
{
    const optcl_params *p = opt->params;
    const optcl__segments *seg = opt->segments;
    for (size_t j = 0; j < p->count; j++) {
        const optcl__tensor *t = &p->tensors[seg->segment_tensor[j]];
        if (t->ndim != 2)
            return optcl__fail(p->ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "%s steps 2-D matrices only; tensor '%s' has %d dimension(s) "
                               "(give such tensors to another optimizer, e.g. AdamW, on a "
                               "parameter set of their own)",
                               opt->rule->name, t->name, t->ndim);
    }
    size_t *of = malloc(p->count * sizeof *of); /* each segment's class */
    o->classes = calloc(p->count, sizeof *o->classes);
    if (!of || !o->classes) {
        free(of);
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    for (size_t r = 0; r < p->range_count; r++) {
        o->first_class[r] = o->class_count;
        for (size_t j = seg->first[r]; j < seg->end[r]; j++) {
            const optcl__tensor *t = &p->tensors[seg->segment_tensor[j]];
            size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
            size_t m = rows < cols ? rows : cols, n = rows < cols ? cols : rows,
                   k = o->first_class[r];
            while (k < o->class_count && (o->classes[k].rows != m || o->classes[k].cols != n))
                k++;
            if (k == o->class_count)
                o->classes[o->class_count++] = (optcl__shape_class){m, n, 0, 0};
            of[j] = k;
            uint32_t *row = o->info + j * FIELDS;
            row[OPTCL__ORTHO_OFFSET] = (uint32_t)o->classes[k].count++; /* its index, for now */
            row[OPTCL__ORTHO_ROWS] = (uint32_t)rows;
            row[OPTCL__ORTHO_COLS] = (uint32_t)cols;
            row[OPTCL__ORTHO_FIRST_BLOCK] = (uint32_t)(t->offset / OPTCL__BLOCK);
            o->ratio[j] = (float)opt->rule->lr_ratio(&opt->config, (double)rows, (double)cols);
        }
        o->end_class[r] = o->class_count;
    }
    for (size_t k = 0; k < o->class_count; k++) {
        optcl__shape_class *c = &o->classes[k];
        c->base = o->floats;
        o->floats += c->count * 2 * (c->rows * c->cols + c->rows * c->rows);
    }
    for (size_t j = 0; j < p->count; j++) {
        const optcl__shape_class *c = &o->classes[of[j]];
        uint32_t *offset = &o->info[j * FIELDS + OPTCL__ORTHO_OFFSET];
        *offset = (uint32_t)(c->base + *offset * c->rows * c->cols);
    }
    free(of);
    if (o->floats >= UINT32_MAX)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "%s's workspace would hold %zu floats; its tables count in 32 bits",
                           opt->rule->name, o->floats);
    return OPTCL_SUCCESS;
}

optcl_status optcl__orthogonal_create(optcl_optimizer *opt)
{
    const optcl_params *p = opt->params;
    optcl__orthogonal *o = calloc(1, sizeof *o);
    if (!o)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    opt->segments->orthogonal = o;
    o->info = calloc((p->count + 1) * FIELDS, sizeof *o->info); /* + the zero row */
    o->ratio = calloc(p->count + 1, sizeof *o->ratio);
    if (!o->info || !o->ratio)
        return optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    optcl_status st = build(opt, o);
    if (st == OPTCL_SUCCESS && p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        o->work = calloc(o->floats ? o->floats : 1, sizeof *o->work);
        if (!o->work)
            st = optcl__fail(p->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                             "out of host memory for %s's workspace of %zu floats", opt->rule->name,
                             o->floats);
    }
    return st;
}

cl_int optcl__orthogonal_bind(const optcl_optimizer *opt, cl_kernel kernel, cl_uint index)
{
    const optcl__orthogonal *o = opt->segments->orthogonal;
    cl_int err = CL_SUCCESS;
    OPTCL__ARG(kernel, index, o->info_mem);
    OPTCL__ARG(kernel, index + 1, o->work_mem);
    OPTCL__ARG(kernel, index + 2, o->ratio_mem);
    return err;
}

optcl_status optcl__orthogonal_create_device(optcl_optimizer *opt, cl_program program)
{
    optcl_context *ctx = opt->params->ctx;
    optcl__orthogonal *o = opt->segments->orthogonal;
#ifndef OPTCL_HAVE_CLBLAST
    (void)o;
    (void)program;
    return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                       "%s's matrix products need CLBlast on OpenCL, and this optcl was built "
                       "without it (install libclblast-dev and rebuild; the reference backend "
                       "runs %s without it)",
                       opt->rule->name, opt->rule->name);
#else
    size_t rows = opt->params->count + 1;
    cl_int err = CL_SUCCESS;
    o->info_mem = optcl__segments_buffer(ctx, rows * FIELDS * sizeof(uint32_t), o->info, &err);
    o->ratio_mem = optcl__segments_buffer(ctx, rows * sizeof(float), o->ratio, &err);
    /* zero-filled: β = 0 products must not meet NaN garbage */
    o->work_mem =
        optcl__segments_buffer(ctx, (o->floats ? o->floats : 1) * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err,
                           "allocating %s's workspace (%zu floats) on %s failed: %s",
                           opt->rule->name, o->floats, ctx->device_name,
                           optcl_status_name((optcl_status)err));
    char name[64];
    snprintf(name, sizeof name, "optcl_%s_pack_f32", opt->rule->family);
    o->pack_kernel = clCreateKernel(program, name, &err);
    cl_uint next = 0;
    if (err == CL_SUCCESS)
        err = optcl__bind_step_arguments(opt, o->pack_kernel, &next);
    OPTCL__ARG(o->pack_kernel, next, opt->segments->block_segment_mem);
    OPTCL__ARG(o->pack_kernel, next + 1, opt->segments->values_mem);
    if (err == CL_SUCCESS)
        err = optcl__orthogonal_bind(opt, o->pack_kernel, next + 2);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s", name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
#endif
}

void optcl__orthogonal_free(optcl__orthogonal *o)
{
    if (!o)
        return;
    cl_mem mems[] = {o->info_mem, o->ratio_mem, o->work_mem};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    if (o->pack_kernel)
        clReleaseKernel(o->pack_kernel);
    free(o->info);
    free(o->ratio);
    free(o->classes);
    free(o->work);
    free(o);
}

/* One class's Newton–Schulz iteration; x, y, a, b: the offsets of its four parts. The result
 * ends in X. */
typedef struct ns_plan {
    size_t m, n, count, x, y, a, b;
    optcl__newton_schulz ns;
} ns_plan;

static ns_plan plan_of(const optcl_optimizer *opt, const optcl__shape_class *c)
{
    ns_plan p = {.m = c->rows, .n = c->cols, .count = c->count, .x = c->base};
    p.y = p.x + p.count * p.m * p.n;
    p.a = p.y + p.count * p.m * p.n;
    p.b = p.a + p.count * p.m * p.m;
    opt->rule->newton_schulz(&opt->config, &p.ns);
    return p;
}

#ifdef OPTCL_HAVE_CLBLAST
/* C = α·op(A)·op(B) + β·C over the class's count matrices (row-major), as CLBlast's strided
 * batched SGEMM; a failure's status in *err (CLBlast's codes include OpenCL's). */
static void gemm(optcl_optimizer *opt, bool b_transposed, size_t m, size_t n, size_t k, float alpha,
                 size_t a, size_t b, float beta, size_t c, size_t count, CLBlastStatusCode *err)
{
    if (*err != CLBlastSuccess)
        return;
    cl_mem w = opt->segments->orthogonal->work_mem;
    *err = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                      b_transposed ? CLBlastTransposeYes : CLBlastTransposeNo, m, n,
                                      k, alpha, w, a, k, m * k, w, b, b_transposed ? k : n, k * n,
                                      beta, w, c, n, m * n, count, &opt->params->ctx->queue, NULL);
    opt->launches += *err == CLBlastSuccess;
}

static void copy(optcl_optimizer *opt, size_t from, size_t to, size_t floats,
                 CLBlastStatusCode *err)
{
    if (*err != CLBlastSuccess)
        return;
    cl_mem w = opt->segments->orthogonal->work_mem;
    *err = (CLBlastStatusCode)clEnqueueCopyBuffer(opt->params->ctx->queue, w, w,
                                                  from * sizeof(float), to * sizeof(float),
                                                  floats * sizeof(float), 0, NULL, NULL);
}

static CLBlastStatusCode iterate(optcl_optimizer *opt, const ns_plan *p)
{
    CLBlastStatusCode err = CLBlastSuccess;
    size_t x = p->x, y = p->y, mn = p->count * p->m * p->n, mm = p->count * p->m * p->m;
    for (unsigned i = 0; i < p->ns.steps; i++) {
        gemm(opt, true, p->m, p->m, p->n, 1.0f, x, x, 0.0f, p->a, p->count, &err); /* A = XXᵀ */
        copy(opt, p->a, p->b, mm, &err);
        gemm(opt, false, p->m, p->m, p->m, p->ns.c, p->a, p->a, p->ns.b, p->b, p->count, &err);
        copy(opt, x, y, mn, &err);
        gemm(opt, false, p->m, p->n, p->m, 1.0f, p->b, x, p->ns.a, y, p->count, &err);
        size_t t = x; /* the new X is in y */
        x = y;
        y = t;
    }
    if (x != p->x)
        copy(opt, x, p->x, mn, &err);
    return err;
}
#endif

cl_int optcl__orthogonal_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars)
{
    optcl_params *p = opt->params;
    optcl__orthogonal *o = opt->segments->orthogonal;
    size_t per = 1, begin = p->ranges[r].begin, end = p->ranges[r].end;
    cl_int err = optcl__set_step_scalars(opt, o->pack_kernel, r, scalars);
    if (err == CL_SUCCESS)
        err = optcl__enqueue_items(p->ctx, o->pack_kernel, begin / (per * p->ctx->vector_width),
                                   (end - begin) / (per * p->ctx->vector_width), 0, NULL, NULL);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS)
        return err;
#ifdef OPTCL_HAVE_CLBLAST
    for (size_t k = o->first_class[r]; k < o->end_class[r]; k++) {
        ns_plan plan = plan_of(opt, &o->classes[k]);
        CLBlastStatusCode st = iterate(opt, &plan);
        if (st != CLBlastSuccess) {
            optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                        "%s's Newton-Schulz products (%zu matrices of %zux%zu) failed in "
                        "CLBlast with status %d",
                        opt->rule->name, plan.count, plan.m, plan.n, (int)st);
            return st > -1000 ? (cl_int)st : CL_INVALID_OPERATION;
        }
    }
#endif
    return CL_SUCCESS;
}

/* The reference's GEMM: C = α·A·op(B) + β·C for one m×k A, row-major, each sum over k in
 * order. */
static void host_gemm(bool b_transposed, size_t m, size_t n, size_t k, float alpha, const float *a,
                      const float *b, float beta, float *c)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (size_t l = 0; l < k; l++)
                acc += a[i * k + l] * (b_transposed ? b[j * k + l] : b[l * n + j]);
            c[i * n + j] = alpha * acc + beta * c[i * n + j];
        }
}

void optcl__orthogonal_reference(optcl_optimizer *opt, size_t r, const float *grads,
                                 const optcl__step_scalars *s, const optcl__tensor_values *tables)
{
    const optcl_params *p = opt->params;
    optcl__orthogonal *o = opt->segments->orthogonal;
    opt->rule->reference_pack(&opt->config, grads, opt->host_state, p->ranges[r].begin,
                              p->ranges[r].end, s, tables);
    for (size_t k = o->first_class[r]; k < o->end_class[r]; k++) {
        ns_plan pl = plan_of(opt, &o->classes[k]);
        size_t mn = pl.m * pl.n, mm = pl.m * pl.m;
        for (size_t q = 0; q < pl.count; q++) {
            float *x = o->work + pl.x + q * mn, *y = o->work + pl.y + q * mn;
            float *a = o->work + pl.a + q * mm, *b = o->work + pl.b + q * mm;
            for (unsigned i = 0; i < pl.ns.steps; i++) {
                host_gemm(true, pl.m, pl.m, pl.n, 1.0f, x, x, 0.0f, a);
                memcpy(b, a, mm * sizeof *b);
                host_gemm(false, pl.m, pl.m, pl.m, pl.ns.c, a, a, pl.ns.b, b);
                memcpy(y, x, mn * sizeof *y);
                host_gemm(false, pl.m, pl.n, pl.m, 1.0f, b, x, pl.ns.a, y);
                memcpy(x, y, mn * sizeof *x);
            }
        }
    }
}

optcl__orthogonal_view optcl__orthogonal_view_of(const optcl_optimizer *opt)
{
    const optcl__orthogonal *o = opt->segments->orthogonal;
    return (optcl__orthogonal_view){o->info, o->work, o->ratio};
}

double optcl_optimizer_flops_per_step(const optcl_optimizer *opt)
{
    if (!opt || !opt->segments || !opt->segments->orthogonal)
        return 0.0;
    const optcl__orthogonal *o = opt->segments->orthogonal;
    optcl__newton_schulz ns;
    opt->rule->newton_schulz(&opt->config, &ns);
    double flops = 0.0;
    for (size_t k = 0; k < o->class_count; k++) {
        double m = (double)o->classes[k].rows, n = (double)o->classes[k].cols;
        flops += (double)o->classes[k].count * (4.0 * m * m * n + 2.0 * m * m * m);
    }
    return flops * ns.steps;
}
