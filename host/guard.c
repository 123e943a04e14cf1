/* guard.c — the gradient guard: global-norm clipping (max_norm) and skipping steps whose
 * gradient holds a NaN or ±Inf (nonfinite = SKIP), decided on the device without a host round
 * trip. A guarded step enqueues the stats and finalize reductions (kernels/guard.cl; one fused
 * launch for small gradients), then the update kernel, which reads the decision from the
 * record; for a set that one work-group steps the update kernel reduces and decides itself
 * first (kernels/guard_decide.cl's GUARD_FUSED), so the step is one launch. A skipped step
 * leaves the step count alone, and the bias corrections and the schedule depend on that count,
 * so the device owns it: the host keeps a ring of OPTCL__GUARD_CAPACITY rows of scalars on the
 * device, one per count the device may reach next, written a window at a time, and reads the
 * record back only when the steps enqueued since could pass the last row written or a blocking
 * call needs the count. */
#include "q8.h"
#include "reference/reference.h"
#include "rules/rule.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool on_device(const optcl_optimizer *opt)
{
    return opt->params->ctx->backend != OPTCL_BACKEND_REFERENCE;
}

static optcl_status cl_fail(char *message, cl_int err, const char *what)
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
    if (opt->guard_stats)
        clReleaseKernel(opt->guard_stats);
    if (opt->guard_finalize)
        clReleaseKernel(opt->guard_finalize);
    if (opt->guard_undo)
        clReleaseKernel(opt->guard_undo);
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

/* Whether the update kernel reduces and decides itself: a set of one group range whose update
 * is one work-group (its items: the range's vectors, or its 8-bit blocks), with no launch
 * around the update that reads the count it decides (Lookahead's start and sync) and none
 * before it that reads the gradient's verdict (the per-tensor sums). */
static bool reduces_in_step(const optcl_optimizer *opt)
{
    const optcl_params *p = opt->params;
    size_t items = p->flat / optcl__q8_elements_per_item(opt);
    return p->range_count == 1 && opt->rule->tensor_sums == 0 && opt->config.lookahead.k == 0 &&
           items <= p->ctx->local_size && optcl__local_size(p->ctx, items) == items;
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

static optcl_status create_device_side(optcl_optimizer *opt)
{
    optcl_params *p = opt->params;
    optcl_context *ctx = p->ctx;
    const optcl_loss_scale_config *ls = &opt->config.loss_scale;
    if (ctx->local_size < OPTCL__GUARD_FINAL) /* finalize is one work-group of 256 */
        return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                           "the gradient guard needs work-groups of %d items; %s allows %zu",
                           OPTCL__GUARD_FINAL, ctx->device_name, ctx->local_size);
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
        opt->guard_loss_scale = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, sizeof(float),
                                               NULL, &err);
    if (err == CL_SUCCESS && opt->guard_workers > OPTCL__GUARD_FINAL)
        opt->guard_partials = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE,
                                             2 * opt->guard_workers * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return cl_fail(ctx->message, err, "allocating its buffers");
    opt->guard_in_step = reduces_in_step(opt);
    if (opt->guard_in_step)
        return store_created(opt); /* no kernel of its own */

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
    if (!fused)
        opt->guard_stats = clCreateKernel(program, "optcl_guard_stats", &err);
    if (err == CL_SUCCESS)
        opt->guard_finalize = clCreateKernel(
            program, fused ? "optcl_guard_stats_finalize" : "optcl_guard_finalize", &err);
    if (err == CL_SUCCESS)
        opt->guard_undo = clCreateKernel(program, "optcl_guard_undo", &err);
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
        return cl_fail(ctx->message, err, "preparing its kernels");
    return store_created(opt);
}

optcl_status optcl__guard_create(optcl_optimizer *opt)
{
    opt->guarded = optcl__guard_wanted(&opt->config);
    opt->last_coef = 1.0f;
    opt->loss_scale = initial_scale(&opt->config);
    if (!opt->guarded)
        return OPTCL_SUCCESS;
    opt->guard_workers = optcl__guard_workers(opt->params->flat);
    if (on_device(opt))
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

static cl_int read_record(const optcl_optimizer *opt, optcl__guard *g)
{
    return clEnqueueReadBuffer(opt->params->ctx->queue, opt->guard_record, CL_TRUE, 0, sizeof *g, g,
                               0, NULL, NULL);
}

/* Lookahead's α of the last sync, which follows from the count while no α search runs (a
 * guard refuses the search). */
static void settle_lookahead_alpha(optcl_optimizer *opt)
{
    const optcl_lookahead_config *la = &opt->config.lookahead;
    if (la->k > 0 && opt->steps >= (uint64_t)la->k)
        opt->lookahead_alpha = (float)optcl_schedule_lr(&la->alpha_schedule, la->alpha,
                                                        opt->steps / (uint64_t)la->k - 1);
}

/* ---- lr changes in flight --------------------------------------------------------------- */

/* An event's command status: CL_COMPLETE, an error (< 0: it failed), or not finished (a failed
 * query counts as not finished). */
static cl_int status_of(cl_event event)
{
    cl_int status = CL_QUEUED;
    cl_int err =
        clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    return err == CL_SUCCESS ? status : CL_QUEUED;
}

/* A staged copy's room whose write has finished: kept for the next change (one at a time). */
static void spare(optcl_optimizer *opt, optcl__step_scalars *rows)
{
    if (opt->guard_spare)
        free(rows);
    else
        opt->guard_spare = rows;
}

/* Lets go of the staged rows whose writes have finished (every one: after a blocking call). */
static void reap_staged(optcl_optimizer *opt, bool all)
{
    size_t kept = 0;
    for (size_t i = 0; i < opt->guard_staged_count; i++) {
        optcl__guard_staged s = opt->guard_staged[i];
        if (all || status_of(s.written) <= CL_COMPLETE) {
            clReleaseEvent(s.written);
            spare(opt, s.rows);
        } else {
            opt->guard_staged[kept++] = s;
        }
    }
    opt->guard_staged_count = kept;
}

/* Lets the last lr change's read go. */
static void drop_seen(optcl_optimizer *opt)
{
    if (opt->guard_seen_event)
        clReleaseEvent(opt->guard_seen_event);
    opt->guard_seen_event = NULL;
}

/* The last lr change's read is back (read_ok; else it failed on the device): the count its
 * rows found becomes steps, and pending loses the steps that were in flight then. Without it
 * the next step reads the count back and rewrites every row. */
static void settle_seen(optcl_optimizer *opt, bool read_ok)
{
    uint64_t c = opt->guard_seen.steps;
    if (read_ok && c >= opt->steps && c <= opt->steps + opt->guard_seen_pending) {
        opt->guard_pending -= opt->guard_seen_pending;
        opt->steps = c;
        settle_lookahead_alpha(opt);
    } else {
        opt->guard_rows_to = 0;
    }
    drop_seen(opt);
}

/* After a blocking call: every change's write and read has finished. */
static void settle_changes(optcl_optimizer *opt)
{
    if (opt->guard_seen_event)
        settle_seen(opt, status_of(opt->guard_seen_event) == CL_COMPLETE);
    reap_staged(opt, true);
}

optcl_status optcl__guard_sync(optcl_optimizer *opt)
{
    if (!opt->guarded || !on_device(opt)) /* read even with nothing pending: the device's */
        return OPTCL_SUCCESS;             /* count is the truth, also after a failed step */
    optcl__guard g;
    cl_int err = read_record(opt, &g);
    if (err != CL_SUCCESS)
        return cl_fail(opt->message, err, "reading the step count back");
    settle_changes(opt); /* everything enqueued before is done */
    opt->steps = g.steps;
    opt->skipped = g.skipped;
    opt->last_norm = g.norm;
    opt->last_coef = g.coef;
    opt->growth_tracker = g.growth_tracker;
    if (opt->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF) { /* else it stays 1 */
        err = clEnqueueReadBuffer(opt->params->ctx->queue, opt->guard_loss_scale, CL_TRUE, 0,
                                  sizeof opt->loss_scale, &opt->loss_scale, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return cl_fail(opt->message, err, "reading the loss scale back");
    }
    opt->guard_pending = 0;
    settle_lookahead_alpha(opt);
    return OPTCL_SUCCESS;
}

/* The fewest rows written after a change of what they hold (an lr, a plateau reduction): a
 * loop that sets the lr every step pays for them every step (a row is a schedule's and the
 * bias corrections' arithmetic in double, 0.1–0.2 µs). */
#define ROWS_AFTER_A_CHANGE 16

/* The rows of the counts steps + 1 … steps + count into their ring slots (non-blocking): one
 * write, or two where they wrap past the ring's end, the rows up to it from head and the rest
 * from tail. *written (when not NULL): the last write's event, NULL when none was enqueued. */
static cl_int write_ring(optcl_optimizer *opt, size_t count, const optcl__step_scalars *head,
                         const optcl__step_scalars *tail, cl_event *written)
{
    cl_command_queue queue = opt->params->ctx->queue;
    size_t ranges = opt->params->range_count, row = sizeof(optcl__step_scalars) * ranges;
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    size_t up_to_end =
        count < OPTCL__GUARD_CAPACITY - first ? count : OPTCL__GUARD_CAPACITY - first;
    cl_event events[2] = {NULL, NULL};
    cl_int err = clEnqueueWriteBuffer(queue, opt->guard_table, CL_FALSE, first * row,
                                      up_to_end * row, head, 0, NULL, written ? &events[0] : NULL);
    if (err == CL_SUCCESS && up_to_end < count)
        err = clEnqueueWriteBuffer(queue, opt->guard_table, CL_FALSE, 0, (count - up_to_end) * row,
                                   tail, 0, NULL, written ? &events[1] : NULL);
    if (written) {
        *written = events[1] ? events[1] : events[0];
        if (events[1])
            clReleaseEvent(events[0]);
    }
    return err;
}

/* The rows of the counts steps + 1 … steps + count into out (the host copy, by ring slot; or
 * a staging copy, from its start), each row's memos beside it in the ring. The memos resume
 * from the count steps, as its row left them: rows written ahead of it may carry an lr that
 * the device never used (Schedule-Free's weight sum follows the lrs of the steps taken, as the
 * reference backend's does). */
/* Range r's memo as the row of the count `steps` left it; NULL when the ring has none of it. */
static const optcl__rule_memo *held_memo(const optcl_optimizer *opt, size_t r)
{
    size_t ranges = opt->params->range_count;
    const optcl__rule_memo *m =
        opt->guard_memos ? &opt->guard_memos[(opt->steps % OPTCL__GUARD_CAPACITY) * ranges + r]
                         : NULL;
    return m && m->step == opt->steps && opt->steps > 0 ? m : NULL;
}

static void compute_rows(optcl_optimizer *opt, size_t count, optcl__step_scalars *out, bool by_slot)
{
    optcl_params *p = opt->params;
    for (size_t r = 0; r < p->range_count; r++)
        if (held_memo(opt, r))
            opt->memo[p->ranges[r].group] = *held_memo(opt, r);
    for (uint64_t c = opt->steps + 1; c <= opt->steps + count; c++) {
        size_t row = (size_t)(c % OPTCL__GUARD_CAPACITY) * p->range_count;
        size_t at = by_slot ? row : (size_t)(c - opt->steps - 1) * p->range_count;
        for (size_t r = 0; r < p->range_count; r++) {
            int group = p->ranges[r].group;
            optcl__scalars_for_step(opt, group, c, &out[at + r]);
            opt->guard_memos[row + r] = opt->memo[group];
        }
    }
}

/* Writes the rows of the counts steps + 1 … steps + window, each in its ring slot (one write,
 * or two where the window wraps); the steps enqueued after it find their rows whatever the
 * device's count, up to that many. The count must be exact (nothing pending), and a blocking
 * call came first, so no earlier write still reads the host copy. */
static cl_int write_rows(optcl_optimizer *opt, size_t window)
{
    compute_rows(opt, window, opt->guard_rows, true);
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    cl_int err = write_ring(opt, window, opt->guard_rows + first * opt->params->range_count,
                            opt->guard_rows, NULL);
    opt->guard_rows_to = err == CL_SUCCESS ? opt->steps + window : 0; /* 0: refresh first */
    return err;
}

static optcl_status rows_written(optcl_optimizer *opt, cl_int err)
{
    return err == CL_SUCCESS ? OPTCL_SUCCESS
                             : cl_fail(opt->message, err, "writing the steps' scalars");
}

optcl_status optcl__guard_store(optcl_optimizer *opt)
{
    opt->guard_pending = 0;
    if (!opt->guarded || !on_device(opt))
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
        return cl_fail(opt->message, err, "writing its record");
    /* after the blocking write: no earlier write or read is in flight, and what an lr change's
     * read found is moot (the record is replaced) */
    drop_seen(opt);
    reap_staged(opt, true);
    opt->guard_changed_at = opt->steps;
    return rows_written(opt, write_rows(opt, OPTCL__GUARD_CAPACITY));
}

void optcl__forget_memos(optcl_optimizer *opt)
{
    memset(opt->memo, 0, sizeof opt->memo);
    if (opt->guard_memos)
        memset(opt->guard_memos, 0,
               (size_t)OPTCL__GUARD_CAPACITY * opt->params->range_count * sizeof *opt->guard_memos);
}

bool optcl__memo_now(const optcl_optimizer *opt, int group, optcl__rule_memo *out)
{
    const optcl_params *p = opt->params;
    for (size_t r = 0; r < p->range_count; r++)
        if (p->ranges[r].group == group && held_memo(opt, r)) {
            *out = *held_memo(opt, r);
            return true;
        }
    *out = opt->memo[group];
    return out->step != 0 && out->step == opt->steps;
}

void optcl__memo_set(optcl_optimizer *opt, int group, const optcl__rule_memo *memo)
{
    const optcl_params *p = opt->params;
    opt->memo[group] = *memo;
    size_t row = (size_t)(opt->steps % OPTCL__GUARD_CAPACITY) * p->range_count;
    for (size_t r = 0; opt->guard_memos && r < p->range_count; r++)
        if (p->ranges[r].group == group)
            opt->guard_memos[row + r] = *memo;
}

uint64_t optcl__steps_now(const optcl_optimizer *opt)
{
    optcl__guard g;
    if (opt->guarded && on_device(opt) && read_record(opt, &g) == 0)
        return g.steps;
    return opt->steps;
}

/* ---- the guarded step ------------------------------------------------------------------- */

/* The rows a change of their values writes after the count `at`: twice the steps since the
 * last change, so that changes every step or every few cost a few rows each and rare ones the
 * whole ring (no more blocking reads than before). */
static size_t change_window(const optcl_optimizer *opt, uint64_t at)
{
    uint64_t since = at > opt->guard_changed_at ? at - opt->guard_changed_at : 0;
    size_t window = since >= OPTCL__GUARD_CAPACITY / 2 ? OPTCL__GUARD_CAPACITY : 2 * (size_t)since;
    return window < ROWS_AFTER_A_CHANGE ? ROWS_AFTER_A_CHANGE : window;
}

optcl_status optcl__guard_rows(optcl_optimizer *opt)
{
    if (!opt->guarded || !on_device(opt))
        return OPTCL_SUCCESS;
    size_t window = change_window(opt, opt->steps);
    opt->guard_changed_at = opt->steps;
    return rows_written(opt, write_rows(opt, window));
}

optcl_status optcl__guard_lr_begin(optcl_optimizer *opt)
{
    if (!opt->guarded || !on_device(opt))
        return OPTCL_SUCCESS;
    reap_staged(opt, false);
    /* a change's read that is back brings the count closer; one still on its way is left to
     * a later call (the rows cover every count the device may hold either way) */
    cl_int status = opt->guard_seen_event ? status_of(opt->guard_seen_event) : CL_QUEUED;
    if (status <= CL_COMPLETE)
        settle_seen(opt, status == CL_COMPLETE);
    return OPTCL_SUCCESS;
}

/* An lr change's write failed: the device keeps the rows from before, and the next step reads
 * the count back and rewrites every row. */
static optcl_status change_failed(optcl_optimizer *opt, cl_int err)
{
    opt->guard_rows_to = 0;
    return cl_fail(opt->message, err, "writing the steps' scalars");
}

/* Keeps rows whose write may be in flight until it has finished. */
static bool stage(optcl_optimizer *opt, cl_event written, optcl__step_scalars *rows)
{
    if (opt->guard_staged_count == opt->guard_staged_cap) {
        size_t cap = opt->guard_staged_cap ? 2 * opt->guard_staged_cap : 8;
        optcl__guard_staged *more = realloc(opt->guard_staged, cap * sizeof *more);
        if (!more)
            return false;
        opt->guard_staged = more;
        opt->guard_staged_cap = cap;
    }
    opt->guard_staged[opt->guard_staged_count++] = (optcl__guard_staged){written, rows};
    return true;
}

optcl_status optcl__guard_lr_end(optcl_optimizer *opt)
{
    if (!opt->guarded || !on_device(opt))
        return OPTCL_SUCCESS;
    uint64_t ahead = opt->steps + opt->guard_pending; /* the window counts steps enqueued */
    size_t count = (size_t)opt->guard_pending + change_window(opt, ahead);
    if (opt->rule->lr_history || count > OPTCL__GUARD_CAPACITY) {
        /* rows that depend on the count the lr changed at, or more in flight than the ring
         * holds: read the count back */
        optcl_status st = optcl__guard_sync(opt);
        return st == OPTCL_SUCCESS ? optcl__guard_rows(opt) : st;
    }
    opt->guard_changed_at = ahead;
    size_t ranges = opt->params->range_count;
    /* room for a whole ring, so that one copy serves every change */
    optcl__step_scalars *rows = opt->guard_spare
                                    ? opt->guard_spare
                                    : malloc((size_t)OPTCL__GUARD_CAPACITY * ranges * sizeof *rows);
    opt->guard_spare = NULL;
    if (!rows) {
        opt->guard_rows_to = 0;
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "gradient guard: out of host memory for the steps' scalars");
    }
    compute_rows(opt, count, rows, false); /* every count the device may hold, and the window */
    cl_command_queue queue = opt->params->ctx->queue;
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    size_t up_to_end = OPTCL__GUARD_CAPACITY - first; /* the rows before the ring wraps */
    cl_event last = NULL;
    cl_int err = write_ring(opt, count, rows, rows + up_to_end * ranges, &last);
    if (!last) {
        spare(opt, rows);
        return change_failed(opt, err);
    }
    if (!stage(opt, last, rows)) { /* a write reads rows: wait for it before letting go */
        if (clWaitForEvents(1, &last) == CL_SUCCESS || clFinish(queue) == CL_SUCCESS)
            free(rows); /* else the queue is broken: rows stay, rather than be read freed */
        clReleaseEvent(last);
        return change_failed(opt, CL_OUT_OF_HOST_MEMORY);
    }
    if (err != CL_SUCCESS)
        return change_failed(opt, err);
    opt->guard_rows_to = opt->steps + count;
    if (opt->guard_seen_event) /* the last change's read is still on its way */
        return OPTCL_SUCCESS;
    opt->guard_seen_pending = opt->guard_pending;
    err = clEnqueueReadBuffer(queue, opt->guard_record, CL_FALSE, 0, sizeof opt->guard_seen,
                              &opt->guard_seen, 0, NULL, &opt->guard_seen_event);
    if (err != CL_SUCCESS) { /* nothing follows the rows yet: the count read now is theirs */
        opt->guard_seen_event = NULL;
        err = read_record(opt, &opt->guard_seen);
        settle_seen(opt, err == CL_SUCCESS);
        return err == CL_SUCCESS ? OPTCL_SUCCESS
                                 : cl_fail(opt->message, err, "reading the step count back");
    }
    clFlush(queue); /* the read goes ahead without a later blocking call */
    return OPTCL_SUCCESS;
}

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

optcl_status optcl__guard_prepare(optcl_optimizer *opt)
{
    /* The device's count is somewhere in [steps, steps + pending]; this step may need the row
     * of the count one above. Past the rows written, read the count and write the next ring's
     * worth: one blocking read and one write per OPTCL__GUARD_CAPACITY steps. */
    if (opt->steps + opt->guard_pending + 1 <= opt->guard_rows_to)
        return OPTCL_SUCCESS;
    optcl_status st = optcl__guard_sync(opt);
    return st == OPTCL_SUCCESS ? rows_written(opt, write_rows(opt, OPTCL__GUARD_CAPACITY)) : st;
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
        return cl_fail(opt->message, err, "enqueueing the gradient reduction");
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
    if (on_device(opt)) { /* in queue order: the steps in flight keep the scale they had */
        cl_int err = clEnqueueFillBuffer(opt->params->ctx->queue, opt->guard_loss_scale, &value,
                                         sizeof value, 0, sizeof value, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return cl_fail(opt->message, err, "writing the loss scale");
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
    if (!on_device(opt))
        return optcl__fail(opt->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_optimizer_loss_scale_buffer: the reference backend has no "
                           "cl_mem; use optcl_optimizer_loss_scale");
    if (opt->config.loss_scale.mode == OPTCL_LOSS_SCALE_OFF)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_loss_scale_buffer: config.loss_scale is off");
    *out = opt->guard_loss_scale;
    return OPTCL_SUCCESS;
}
