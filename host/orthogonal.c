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
/* m = min(R, C): the side of a class's products A and B (orthogonal.h). */
static size_t short_side(const optcl__shape_class *c)
{
    return c->rows < c->cols ? c->rows : c->cols;
}

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
            size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1], k = o->first_class[r];
            while (k < o->class_count &&
                   (o->classes[k].rows != rows || o->classes[k].cols != cols))
                k++;
            if (k == o->class_count)
                o->classes[o->class_count++] = (optcl__shape_class){rows, cols, 0, 0};
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
        size_t m = short_side(c);
        o->floats += c->count * 2 * (c->rows * c->cols + m * m);
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
    ctx->clblast_used = true; /* its programs go with the context (release_cache) */
    char name[64];
    snprintf(name, sizeof name, "optcl_%s_pack_f32", opt->rule->family);
    o->pack_kernel = optcl__kernel_create(ctx, program, name, &err);
    cl_uint next = 0;
    if (err == CL_SUCCESS)
        err = optcl__bind_step_arguments(opt, o->pack_kernel, &next);
    if (err == CL_SUCCESS)
        err = optcl__segments_bind_values(opt, o->pack_kernel, &next);
    if (err == CL_SUCCESS)
        err = optcl__orthogonal_bind(opt, o->pack_kernel, next);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s", name,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
#endif
}

void optcl__orthogonal_free(optcl_context *ctx, optcl__orthogonal *o)
{
    if (!o)
        return;
    cl_mem mems[] = {o->info_mem, o->ratio_mem, o->work_mem};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    optcl__kernel_release(ctx, o->pack_kernel);
    free(o->info);
    free(o->ratio);
    free(o->classes);
    free(o->work);
    free(o);
}

/* One class's Newton–Schulz iteration on its R×C matrices X, in place (no transposes): with
 * m = min(R, C), a wide X (R ≤ C) takes A = X·Xᵀ and X = a·X + B·X, a tall one A = Xᵀ·X and
 * X = a·X + X·B — torch's iteration on Xᵀ, transposed back (B is symmetric), the same up to
 * rounding. x, y, a, b: the offsets of the class's four parts; the result ends in X. */
typedef struct ns_plan {
    size_t rows, cols, m, count, x, y, a, b;
    bool tall;
    optcl__newton_schulz ns;
} ns_plan;

static ns_plan plan_of(const optcl_optimizer *opt, const optcl__shape_class *c)
{
    ns_plan p = {.rows = c->rows, .cols = c->cols, .count = c->count, .x = c->base};
    p.tall = p.rows > p.cols;
    p.m = short_side(c);
    p.y = p.x + p.count * p.rows * p.cols;
    p.a = p.y + p.count * p.rows * p.cols;
    p.b = p.a + p.count * p.m * p.m;
    opt->rule->newton_schulz(&opt->config, &p.ns);
    return p;
}

/* One product of the iteration: C = α·op(A)·op(B) + β·C, M×N, inner K, row-major, each
 * operand stored whole (op(A) = Aᵀ: A stored K×M). */
typedef struct product {
    bool ta, tb;
    size_t m, n, k;
    float alpha, beta;
    size_t a, b, c;
} product;

/* The three products of an iteration, in order, over x (the current X) into y. */
static void products(const ns_plan *p, size_t x, size_t y, product out[3])
{
    size_t m = p->m, r = p->rows, c = p->cols;
    out[0] = p->tall ? (product){true, false, m, m, r, 1.0f, 0.0f, x, x, p->a}   /* A = XᵀX */
                     : (product){false, true, m, m, c, 1.0f, 0.0f, x, x, p->a};  /* A = XXᵀ */
    out[1] = (product){false, false, m, m, m, p->ns.c, p->ns.b, p->a, p->a, p->b}; /* B */
    out[2] = p->tall ? (product){false, false, r, c, c, 1.0f, p->ns.a, x, p->b, y}  /* aX + XB */
                     : (product){false, false, r, c, r, 1.0f, p->ns.a, p->b, x, y}; /* aX + BX */
}

#ifdef OPTCL_HAVE_CLBLAST
/* A product over the class's count matrices, as CLBlast's strided batched SGEMM; a failure's
 * status in *err (CLBlast's codes include OpenCL's). */
static void gemm(optcl_optimizer *opt, const product *g, size_t count, CLBlastStatusCode *err)
{
    if (*err != CLBlastSuccess)
        return;
    cl_mem w = opt->segments->orthogonal->work_mem;
    *err = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, g->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        g->tb ? CLBlastTransposeYes : CLBlastTransposeNo, g->m, g->n, g->k, g->alpha, w, g->a,
        g->ta ? g->m : g->k, g->m * g->k, w, g->b, g->tb ? g->k : g->n, g->k * g->n, g->beta, w,
        g->c, g->n, g->m * g->n, count, &opt->params->ctx->queue, NULL);
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

/* Each product's β term is copied into its output first; X and Y swap each iteration. */
static CLBlastStatusCode iterate(optcl_optimizer *opt, const ns_plan *p)
{
    CLBlastStatusCode err = CLBlastSuccess;
    size_t x = p->x, y = p->y, rc = p->count * p->rows * p->cols, mm = p->count * p->m * p->m;
    for (unsigned i = 0; i < p->ns.steps; i++) {
        product g[3];
        products(p, x, y, g);
        gemm(opt, &g[0], p->count, &err);
        copy(opt, p->a, p->b, mm, &err);
        gemm(opt, &g[1], p->count, &err);
        copy(opt, x, y, rc, &err);
        gemm(opt, &g[2], p->count, &err);
        size_t t = x; /* the new X is in y */
        x = y;
        y = t;
    }
    if (x != p->x)
        copy(opt, x, p->x, rc, &err);
    return err;
}
#endif

cl_int optcl__orthogonal_enqueue(optcl_optimizer *opt, size_t r, const optcl__step_scalars *scalars)
{
    optcl_params *p = opt->params;
    optcl__orthogonal *o = opt->segments->orthogonal;
    size_t begin = p->ranges[r].begin, end = p->ranges[r].end;
    cl_int err = optcl__set_step_scalars(opt, o->pack_kernel, r, scalars);
    if (err == CL_SUCCESS)
        err = optcl__enqueue(p->ctx, o->pack_kernel, begin, end - begin, 0, NULL, NULL);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS) {
        optcl__fail(opt->message, (optcl_status)err, "enqueueing %s's pack kernel failed: %s",
                    opt->rule->name, optcl_status_name((optcl_status)err));
        return err;
    }
#ifdef OPTCL_HAVE_CLBLAST
    for (size_t k = o->first_class[r]; k < o->end_class[r]; k++) {
        ns_plan plan = plan_of(opt, &o->classes[k]);
        CLBlastStatusCode st = iterate(opt, &plan);
        if (st != CLBlastSuccess) {
            optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                        "%s's Newton-Schulz products (%zu matrices of %zux%zu) failed to "
                        "enqueue (CLBlast or a copy between them), status %d",
                        opt->rule->name, plan.count, plan.rows, plan.cols, (int)st);
            return st > -1000 ? (cl_int)st : CL_INVALID_OPERATION;
        }
    }
#endif
    return CL_SUCCESS;
}

/* The reference's product for one matrix: each sum over k in order. */
static void host_gemm(const product *g, float *w, size_t q)
{
    const float *a = w + g->a + q * g->m * g->k, *b = w + g->b + q * g->k * g->n;
    float *c = w + g->c + q * g->m * g->n;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            float acc = 0.0f;
            for (size_t l = 0; l < g->k; l++)
                acc += (g->ta ? a[l * g->m + i] : a[i * g->k + l]) *
                       (g->tb ? b[j * g->k + l] : b[l * g->n + j]);
            c[i * g->n + j] = g->alpha * acc + g->beta * c[i * g->n + j];
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
        size_t rc = pl.rows * pl.cols, mm = pl.m * pl.m;
        product g[3];
        products(&pl, pl.x, pl.y, g);
        for (size_t q = 0; q < pl.count; q++)
            for (unsigned i = 0; i < pl.ns.steps; i++) {
                host_gemm(&g[0], o->work, q);
                memcpy(o->work + pl.b + q * mm, o->work + pl.a + q * mm, mm * sizeof(float));
                host_gemm(&g[1], o->work, q);
                memcpy(o->work + pl.y + q * rc, o->work + pl.x + q * rc, rc * sizeof(float));
                host_gemm(&g[2], o->work, q);
                memcpy(o->work + pl.x + q * rc, o->work + pl.y + q * rc, rc * sizeof(float));
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
        const optcl__shape_class *c = &o->classes[k];
        double m = (double)short_side(c), n = (double)(c->rows * c->cols) / m;
        flops += (double)c->count * (4.0 * m * m * n + 2.0 * m * m * m);
    }
    return flops * ns.steps;
}

double optcl__orthogonal_extra_bytes(const optcl_optimizer *opt)
{
    if (!opt->segments || !opt->segments->orthogonal)
        return 0.0;
    const optcl__orthogonal *o = opt->segments->orthogonal;
    double elements = 0.0;
    for (size_t k = 0; k < o->class_count; k++)
        elements += (double)(o->classes[k].count * o->classes[k].rows * o->classes[k].cols);
    /* X written by the pack kernel and read by the step, which reads the gradient and the
     * momentum again to store the momentum (it is the last launch: host/step.c) */
    size_t flat = opt->params->flat ? opt->params->flat : 1;
    double again = (double)optcl_dtype_size(opt->params->dtype) +
                   (double)optcl_optimizer_state_bytes(opt) / (double)flat;
    return (2.0 * sizeof(float) + again) * elements;
}

void optcl__orthogonal_release_cache(optcl_context *ctx)
{
    /* CLBlast keeps the programs it builds in a process-wide cache and would release them at
     * exit, after their context is gone (Oclgrind's runtime then frees them twice) */
#ifdef OPTCL_HAVE_CLBLAST
    if (ctx->clblast_used)
        CLBlastClearCache();
#endif
    ctx->clblast_used = false;
}
