/* guard.c — the gradient guard: global-norm clipping (max_norm) and skipping steps whose
 * gradient holds a NaN or ±Inf (nonfinite = SKIP), decided on the device without a host round
 * trip. A guarded step enqueues the stats and finalize reductions (kernels/guard.cl; one fused
 * launch for small gradients), then the update kernel, which reads the decision from the
 * record; for a set that one work-group steps the update kernel reduces and decides itself
 * first (kernels/guard_decide.cl's GUARD_FUSED), so the step is one launch. A skipped step
 * leaves the step count alone, and the bias corrections and the schedule depend on that count,
 * so the device owns it, in its record: the update kernels pick their scalars by that count
 * from a ring of rows that guard_rows.c keeps written ahead. */
#include "guard.h"
#include "q8.h"
#include "reference/reference.h"
#include "rules/rule.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

optcl_status optcl__guard_fail(char *message, cl_int err, const char *what)
{
    return optcl__fail(message, (optcl_status)err, "gradient guard: %s failed: %s", what,
                       optcl_status_name((optcl_status)err));
}

bool optcl__guard_wanted(const optcl_optimizer_config *c)
{
    return c->max_norm > 0.0 || c->nonfinite == OPTCL_NONFINITE_SKIP ||
           c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
}

/* The loss scale a fresh optimizer starts with (1 without loss scaling). */
static float initial_scale(const optcl_optimizer_config *c)
{
    return c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF ? (float)c->loss_scale.init_scale : 1.0f;
}

/* torch._amp_update_scale_ after a step (DYNAMIC), on the host's copy; guard.cl's optcl_scaler
 * is the same rule. */
static void update_scale(optcl_optimizer *opt, bool found_inf)
{
    const optcl_loss_scale_config *ls = &opt->config.loss_scale;
    if (ls->mode != OPTCL_LOSS_SCALE_DYNAMIC)
        return;
    if (found_inf) {
        opt->loss_scale = opt->loss_scale * (float)ls->backoff_factor;
        opt->growth_tracker = 0;
    } else if (opt->growth_tracker + 1 == (uint64_t)ls->growth_interval) {
        float grown = opt->loss_scale * (float)ls->growth_factor;
        if (isfinite(grown))
            opt->loss_scale = grown;
        opt->growth_tracker = 0;
    } else {
        opt->growth_tracker++;
    }
}

void optcl__guard_free(optcl_optimizer *opt)
{
    cl_mem buffers[] = {opt->guard_record, opt->guard_table, opt->guard_partials,
                        opt->guard_loss_scale};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        if (buffers[i])
            clReleaseMemObject(buffers[i]);
    optcl_context *ctx = opt->params->ctx;
    optcl__kernel_release(ctx, opt->guard_stats);
    optcl__kernel_release(ctx, opt->guard_finalize);
    optcl__kernel_release(ctx, opt->guard_undo);
    free(opt->guard_rows);
    free(opt->guard_memos);
    for (size_t i = 0; i < opt->guard_staged_count; i++) { /* done: destroy finished the queue */
        clReleaseEvent(opt->guard_staged[i].written);
        free(opt->guard_staged[i].rows);
    }
    free(opt->guard_staged);
    free(opt->guard_spare);
    if (opt->guard_seen_event)
        clReleaseEvent(opt->guard_seen_event);
    optcl__host_free(opt->guard_host_partials);
    optcl__host_free(opt->guard_clipped);
}

#define ARG OPTCL__ARG

/* The index of finalize's first scaler argument: after the fused kernel's seven or the plain
 * one's six. */
static cl_uint scaler_arg(const optcl_optimizer *opt)
{
    return opt->guard_stats ? 6 : 7;
}

/* The update kernel's work-items over the whole set (its vectors, or its 8-bit blocks). */
static size_t update_items(const optcl_optimizer *opt)
{
    return opt->params->flat / optcl__q8_elements_per_item(opt);
}

/* Whether the update kernel reduces and decides itself: a set of one group range whose update
 * is one work-group of the context's size or less, with no launch around the update that
 * reads the count it decides (Lookahead's start and sync) and none before it that reads the
 * gradient's verdict (the per-tensor sums). The kernel, once built, may allow less
 * (optcl__guard_fit_update). */
static bool reduces_in_step(const optcl_optimizer *opt)
{
    const optcl_params *p = opt->params;
    size_t items = update_items(opt);
    return p->range_count == 1 && opt->rule->tensor_sums == 0 && opt->config.lookahead.k == 0 &&
           optcl__q8_group_items(opt) == 0 && items <= p->ctx->local_size &&
           optcl__local_size(p->ctx, NULL, items) == items;
}

cl_uint optcl__guard_arg_count(const optcl_optimizer *opt)
{
    return opt->guard_in_step ? 5 : 3; /* guard_decide.cl's OPTCL_STEP_ARGS; common.cl's */
}

/* The decision's parameters, which a loaded checkpoint may change: finalize's arguments, or
 * those of update, the update kernel, when it decides (NULL before it exists). */
static cl_int set_decision_args(optcl_optimizer *opt, cl_kernel update)
{
    const optcl_loss_scale_config *ls = &opt->config.loss_scale;
    optcl__guard_params gp = {(float)opt->config.max_norm, (float)ls->growth_factor,
                              (float)ls->backoff_factor, (uint32_t)ls->growth_interval,
                              OPTCL__GUARD_CAPACITY};
    cl_int err = CL_SUCCESS;
    if (opt->guard_in_step) { /* guard_decide.cl: guard, table, range, scale, then these */
        if (update)
            ARG(update, optcl__scalar_arg(opt) + 4, gp);
        return err;
    }
    cl_uint a = scaler_arg(opt);
    ARG(opt->guard_finalize, 1, gp.max_norm), ARG(opt->guard_finalize, a + 1, gp.growth_factor);
    ARG(opt->guard_finalize, a + 2, gp.backoff_factor);
    ARG(opt->guard_finalize, a + 3, gp.growth_interval);
    return err;
}

/* The new record on the device, with the message on the context where create reads it. */
static optcl_status store_created(optcl_optimizer *opt)
{
    optcl_status stored = optcl__guard_store(opt);
    if (stored != OPTCL_SUCCESS)
        optcl__format(opt->params->ctx->message, OPTCL__MESSAGE_MAX, "%s", opt->message);
    return stored;
}

/* The guard's own kernels (the stats and finalize reductions, or both in one, and undo), their
 * arguments, then the record. Finalize runs one work-group of exactly 256 items
 * (reqd_work_group_size): a device or a build that allows fewer is refused, since another size
 * would add in another order than the reference backend's. */
static optcl_status create_kernels(optcl_optimizer *opt)
{
    optcl_params *p = opt->params;
    optcl_context *ctx = p->ctx;
    const optcl_loss_scale_config *ls = &opt->config.loss_scale;
    /* (before the build: a device below 256 may refuse to build reqd_work_group_size(256)) */
    if (ctx->local_size < OPTCL__GUARD_FINAL)
        return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                           "the gradient guard reduces in one work-group of %d items (only a set "
                           "of one group that one work-group steps needs none); %s allows %zu",
                           OPTCL__GUARD_FINAL, ctx->device_name, ctx->local_size);
    char options[128];
    snprintf(options, sizeof options,
             "-DGUARD=1 -DCLIP=%d -DSKIP=%d -DPARAM_DTYPE=%d -DLOSS_SCALE=%d -DDYNAMIC=%d",
             opt->config.max_norm > 0.0, opt->config.nonfinite == OPTCL_NONFINITE_SKIP,
             (int)p->dtype, ls->mode != OPTCL_LOSS_SCALE_OFF,
             ls->mode == OPTCL_LOSS_SCALE_DYNAMIC);
    cl_program program = NULL;
    const char *log = NULL;
    optcl_status st = optcl__get_program(ctx, "guard", options, &program, &log);
    if (st != OPTCL_SUCCESS)
        return st;
    /* 256 workers: one work-group does both (finalize's first four arguments) */
    bool fused = opt->guard_workers == OPTCL__GUARD_FINAL;
    const char *final_name = fused ? "optcl_guard_stats_finalize" : "optcl_guard_finalize";
    cl_int err = CL_SUCCESS;
    if (!fused)
        opt->guard_stats = optcl__kernel_create(ctx, program, "optcl_guard_stats", &err);
    if (err == CL_SUCCESS)
        opt->guard_finalize = optcl__kernel_create(ctx, program, final_name, &err);
    if (err == CL_SUCCESS)
        opt->guard_undo = optcl__kernel_create(ctx, program, "optcl_guard_undo", &err);
    size_t most = err == CL_SUCCESS ? optcl__kernel_most(ctx, opt->guard_finalize) : 0;
    if (err == CL_SUCCESS && most < OPTCL__GUARD_FINAL)
        return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                           "the gradient guard reduces in one work-group of %d items; %s runs %s "
                           "in groups of at most %zu",
                           OPTCL__GUARD_FINAL, ctx->device_name, final_name, most);
    cl_ulong n16 = p->flat / 16, chunk = optcl__guard_chunk(p->flat);
    cl_uint workers = (cl_uint)opt->guard_workers, ranges = (cl_uint)p->range_count,
            capacity = OPTCL__GUARD_CAPACITY;
    cl_kernel k = opt->guard_stats, f = opt->guard_finalize;
    ARG(f, 0, opt->guard_record), ARG(f, 2, ranges), ARG(f, 3, capacity);
    if (fused) {
        ARG(f, 4, p->buffer[OPTCL_ROLE_GRADS]), ARG(f, 5, n16), ARG(f, 6, chunk);
    } else {
        ARG(k, 0, p->buffer[OPTCL_ROLE_GRADS]), ARG(k, 1, n16), ARG(k, 2, chunk);
        ARG(k, 3, opt->guard_partials), ARG(k, 4, workers), ARG(k, 5, opt->guard_loss_scale);
        ARG(f, 4, opt->guard_partials), ARG(f, 5, workers);
    }
    /* the scaler's arguments close finalize's list (guard.cl's OPTCL_SCALER_ARGS; the others
     * are set_decision_args's) */
    ARG(f, scaler_arg(opt), opt->guard_loss_scale);
    ARG(opt->guard_undo, 0, opt->guard_record), ARG(opt->guard_undo, 1, opt->guard_loss_scale);
    if (err != CL_SUCCESS)
        return optcl__guard_fail(ctx->message, err, "preparing its kernels");
    return store_created(opt);
}

static optcl_status create_device_side(optcl_optimizer *opt)
{
    optcl_params *p = opt->params;
    optcl_context *ctx = p->ctx;
    size_t rows = (size_t)OPTCL__GUARD_CAPACITY * p->range_count;
    opt->guard_rows = calloc(rows, sizeof *opt->guard_rows);
    opt->guard_memos = calloc(rows, sizeof *opt->guard_memos);
    if (!opt->guard_rows || !opt->guard_memos)
        return optcl__fail(opt->params->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory");
    cl_int err = CL_SUCCESS;
    opt->guard_record =
        clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, sizeof(optcl__guard), NULL, &err);
    if (err == CL_SUCCESS)
        opt->guard_table = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY,
                                          rows * sizeof(optcl__step_scalars), NULL, &err);
    if (err == CL_SUCCESS)
        opt->guard_loss_scale =
            clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, sizeof(float), NULL, &err);
    if (err == CL_SUCCESS && opt->guard_workers > OPTCL__GUARD_FINAL)
        opt->guard_partials = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE,
                                             2 * opt->guard_workers * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return optcl__guard_fail(ctx->message, err, "allocating its buffers");
    opt->guard_in_step = reduces_in_step(opt);
    if (opt->guard_in_step)
        return store_created(opt); /* no kernel of its own */
    return create_kernels(opt);
}

optcl_status optcl__guard_fit_update(optcl_optimizer *opt, bool *rebuild)
{
    optcl_context *ctx = opt->params->ctx;
    *rebuild = false;
    if (!opt->guard_in_step || optcl__kernel_most(ctx, opt->kernel) >= update_items(opt))
        return OPTCL_SUCCESS;
    /* split into several work-groups, each would decide on its share of the gradient alone */
    optcl__kernel_release(ctx, opt->kernel);
    opt->kernel = NULL;
    opt->guard_in_step = false;
    *rebuild = true;
    return create_kernels(opt);
}

optcl_status optcl__guard_create(optcl_optimizer *opt)
{
    opt->guarded = optcl__guard_wanted(&opt->config);
    opt->last_coef = 1.0f;
    opt->loss_scale = initial_scale(&opt->config);
    if (!opt->guarded)
        return OPTCL_SUCCESS;
    opt->guard_workers = optcl__guard_workers(opt->params->flat);
    if (optcl__guard_on_device(opt))
        return create_device_side(opt);
    opt->guard_host_partials = optcl__host_alloc(2 * opt->guard_workers);
    bool rewrites = opt->config.max_norm > 0.0 || opt->config.loss_scale.mode != 0;
    if (rewrites)
        opt->guard_clipped = optcl__host_alloc(opt->params->flat);
    if (!opt->guard_host_partials || (rewrites && !opt->guard_clipped))
        return optcl__fail(opt->params->ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "cannot allocate the gradient guard's %zu floats", opt->params->flat);
    return OPTCL_SUCCESS;
}

cl_int optcl__guard_bind(optcl_optimizer *opt, cl_kernel kernel, cl_uint first)
{
    cl_int err = CL_SUCCESS;
    ARG(kernel, first, opt->guard_record);
    ARG(kernel, first + 1, opt->guard_table);
    /* first + 2: the range, set each step; when the kernel decides, the scale and the
     * parameters of the decision */
    if (opt->guard_in_step)
        ARG(kernel, first + 3, opt->guard_loss_scale);
    if (err == CL_SUCCESS && opt->guard_in_step)
        err = set_decision_args(opt, kernel);
    return err;
}

/* ---- the record ------------------------------------------------------------------------- */

cl_int optcl__guard_read_record(const optcl_optimizer *opt, optcl__guard *g)
{
    return clEnqueueReadBuffer(opt->params->ctx->queue, opt->guard_record, CL_TRUE, 0, sizeof *g, g,
                               0, NULL, NULL);
}

/* Lookahead's α of the last sync at the count steps, which follows from the count while no α
 * search runs (a guard refuses the search): the count's last multiple of k was a sync's if a
 * step reached it after the last new count (set or loaded); before, the α stays the one known
 * then, as where the host counts, whose α changes at a sync only. */
double optcl__guard_alpha_at(const optcl_optimizer *opt, uint64_t steps)
{
    const optcl_lookahead_config *la = &opt->config.lookahead;
    uint64_t k = la->k > 0 ? (uint64_t)la->k : 0;
    if (k && steps >= k && steps / k * k > opt->counted_from)
        return (float)optcl_schedule_lr(&la->alpha_schedule, la->alpha, steps / k - 1);
    return opt->lookahead_alpha; /* no sync since the count was set: the one known then */
}

void optcl__guard_settle_lookahead(optcl_optimizer *opt)
{
    opt->lookahead_alpha = optcl__guard_alpha_at(opt, opt->steps);
    optcl__lookahead_settle(opt); /* a step taken since they were unset started them */
}

/* The device's record (blocking), or the failure to read it. */
static optcl_status record_of(optcl_optimizer *opt, optcl__guard *g)
{
    cl_int err = optcl__guard_read_record(opt, g);
    return err == CL_SUCCESS ? OPTCL_SUCCESS
                             : optcl__guard_fail(opt->message, err, "reading the step count back");
}

optcl_status optcl__steps_read(optcl_optimizer *opt, uint64_t *steps)
{
    *steps = opt->steps;
    optcl__guard g;
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    optcl_status st = record_of(opt, &g);
    if (st == OPTCL_SUCCESS)
        *steps = g.steps;
    return st;
}

optcl_status optcl__guard_sync(optcl_optimizer *opt)
{
    /* read even with nothing pending: the device's count is the truth, also after a failed
     * step */
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    optcl__guard g;
    optcl_status st = record_of(opt, &g);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl__guard_rows_settled(opt); /* everything enqueued before is done */
    opt->steps = g.steps;
    opt->skipped = g.skipped;
    opt->last_norm = g.norm;
    opt->last_coef = g.coef;
    opt->growth_tracker = g.growth_tracker;
    if (opt->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF) { /* else it stays 1 */
        cl_int err = clEnqueueReadBuffer(opt->params->ctx->queue, opt->guard_loss_scale, CL_TRUE, 0,
                                         sizeof opt->loss_scale, &opt->loss_scale, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return optcl__guard_fail(opt->message, err, "reading the loss scale back");
    }
    opt->guard_pending = 0;
    optcl__guard_settle_lookahead(opt);
    return OPTCL_SUCCESS;
}

optcl_status optcl__guard_store(optcl_optimizer *opt)
{
    opt->guard_pending = 0;
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    optcl__guard g = {.steps = opt->steps,
                      .skipped = opt->skipped,
                      .norm = opt->last_norm,
                      .coef = opt->last_coef,
                      .inv_scale = 1.0f,
                      .growth_tracker = opt->growth_tracker,
                      .prev_scale = opt->loss_scale,
                      .prev_tracker = opt->growth_tracker};
    cl_int err = set_decision_args(opt, opt->kernel); /* a loaded checkpoint may change them */
    cl_command_queue queue = opt->params->ctx->queue;
    if (err == CL_SUCCESS)
        err = clEnqueueWriteBuffer(queue, opt->guard_loss_scale, CL_FALSE, 0,
                                   sizeof opt->loss_scale, &opt->loss_scale, 0, NULL, NULL);
    if (err == CL_SUCCESS) /* blocking: the scale's write above is done too */
        err = clEnqueueWriteBuffer(queue, opt->guard_record, CL_TRUE, 0, sizeof g, &g, 0, NULL,
                                   NULL);
    if (err != CL_SUCCESS)
        return optcl__guard_fail(opt->message, err, "writing its record");
    /* After the blocking write nothing is in flight. The device has the record now: a failed
     * write of the rows leaves them to the next step, which rewrites them first. */
    (void)optcl__guard_rows_reset(opt);
    return OPTCL_SUCCESS;
}

uint64_t optcl__steps_now(const optcl_optimizer *opt)
{
    optcl__guard g;
    if (opt->guarded && optcl__guard_on_device(opt) && optcl__guard_read_record(opt, &g) == 0)
        return g.steps;
    return opt->steps;
}

/* ---- the guarded step ------------------------------------------------------------------- */

optcl_status optcl__guard_take_back(optcl_optimizer *opt, optcl_status st, const char *what)
{
    size_t one = 1;
    cl_int undo = clEnqueueNDRangeKernel(opt->params->ctx->queue, opt->guard_undo, 1, NULL, &one,
                                         &one, 0, NULL, NULL);
    return optcl__fail(opt->message, st, "gradient guard: %s failed: %s%s", what,
                       optcl_status_name(st),
                       undo == CL_SUCCESS ? ""
                                          : " (and taking the step back failed too: the step "
                                            "count may be one ahead)");
}

optcl_status optcl__guard_reduce(optcl_optimizer *opt, cl_uint num_events,
                                 const cl_event *wait_list)
{
    optcl_context *ctx = opt->params->ctx;
    size_t final = OPTCL__GUARD_FINAL;
    cl_int err = CL_SUCCESS;
    if (opt->guard_stats) {
        err = optcl__enqueue_items(ctx, opt->guard_stats, 0, opt->guard_workers, num_events,
                                   wait_list, NULL);
        opt->launches += err == CL_SUCCESS;
        num_events = 0;
        wait_list = NULL;
    }
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(ctx->queue, opt->guard_finalize, 1, NULL, &final, &final,
                                     num_events, wait_list, NULL);
    if (err != CL_SUCCESS)
        return optcl__guard_fail(opt->message, err, "enqueueing the gradient reduction");
    opt->launches++;
    return OPTCL_SUCCESS;
}

bool optcl__guard_decide(optcl_optimizer *opt, const float **grads)
{
    optcl_params *p = opt->params;
    const float *g = p->host[OPTCL_ROLE_GRADS];
    float norm = 0.0f;
    bool bad = false;
    bool scaled = opt->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
    float inv = 1.0f / opt->loss_scale; /* 1 without loss scaling */
    optcl__reference_guard_stats(g, p->flat, inv, opt->guard_host_partials);
    optcl__reference_guard_finalize(opt->guard_host_partials, opt->guard_workers, &norm, &bad);
    float coef = (1.0f / (norm + 1e-6f)) * (float)opt->config.max_norm;
    bool clip = opt->config.max_norm > 0.0;
    opt->last_norm = norm;
    opt->last_coef = clip ? (coef > 1.0f ? 1.0f : coef) : 1.0f;
    bool skip = (opt->config.nonfinite == OPTCL_NONFINITE_SKIP || scaled) && bad;
    opt->skipped += skip;
    update_scale(opt, bad);
    *grads = g;
    if ((clip || scaled) && !skip) { /* guard.cl's optcl_grad_at: unscaled, stored, clipped */
        float *u = opt->guard_clipped;
        for (size_t i = 0; i < p->flat; i++)
            u[i] = scaled ? g[i] * inv : g[i];
        if (scaled && opt->config.loss_scale.write_unscaled) {
            memcpy(p->host[OPTCL_ROLE_GRADS], u, p->flat * sizeof(float));
            optcl__round_floats(p->host[OPTCL_ROLE_GRADS], p->flat, p->dtype);
        }
        for (size_t i = 0; clip && i < p->flat; i++)
            u[i] = u[i] * opt->last_coef;
        *grads = u;
    }
    return skip;
}

/* ---- public ----------------------------------------------------------------------------- */

optcl_status optcl_optimizer_guard_stats(optcl_optimizer *opt, optcl_guard_stats *stats)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!stats)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "stats is NULL");
    optcl_status st = optcl__guard_sync(opt);
    if (st != OPTCL_SUCCESS)
        return st;
    stats->steps = opt->steps;
    stats->skipped = opt->skipped;
    stats->last_norm = opt->last_norm;
    stats->last_clip_coef = opt->last_coef;
    stats->loss_scale = opt->loss_scale;
    stats->growth_tracker = opt->growth_tracker;
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_loss_scale(optcl_optimizer *opt, double *scale)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!scale)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "scale is NULL");
    optcl_status st = optcl__guard_sync(opt);
    if (st == OPTCL_SUCCESS)
        *scale = opt->loss_scale;
    return st;
}

optcl_status optcl_optimizer_set_loss_scale(optcl_optimizer *opt, double scale)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (opt->config.loss_scale.mode == OPTCL_LOSS_SCALE_OFF)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_set_loss_scale: config.loss_scale is off");
    if (!(scale > 0.0 && scale <= FLT_MAX) || !((float)scale > 0.0f))
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid loss scale: %g (must be > 0 and finite in float32)", scale);
    float value = (float)scale;
    if (optcl__guard_on_device(opt)) { /* in queue order: the steps in flight keep the scale they had */
        cl_int err = clEnqueueFillBuffer(opt->params->ctx->queue, opt->guard_loss_scale, &value,
                                         sizeof value, 0, sizeof value, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return optcl__guard_fail(opt->message, err, "writing the loss scale");
    }
    opt->loss_scale = value; /* the reference backend's scale; on a device, its last value */
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_loss_scale_buffer(const optcl_optimizer *copt, cl_mem *out)
{
    optcl_optimizer *opt = (optcl_optimizer *)copt; /* only the message is written */
    if (!opt || !out)
        return opt ? optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "out is NULL")
                   : OPTCL_ERROR_NULL_POINTER;
    if (!optcl__guard_on_device(opt))
        return optcl__fail(opt->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_optimizer_loss_scale_buffer: the reference backend has no "
                           "cl_mem; use optcl_optimizer_loss_scale");
    if (opt->config.loss_scale.mode == OPTCL_LOSS_SCALE_OFF)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_loss_scale_buffer: config.loss_scale is off");
    *out = opt->guard_loss_scale;
    return OPTCL_SUCCESS;
}
