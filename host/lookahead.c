/* lookahead.c — Lookahead around any optimizer: slow weights started from the parameters by
 * the first step taken while they are unset (after create, or a change of the step count that
 * the caller did not follow with slow weights of its own), the sync every k steps (one
 * launch), and the optional line search for α at each sync. */
#include "guard.h"
#include "reference/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_reference(const optcl_optimizer *opt)
{
    return opt->params->ctx->backend == OPTCL_BACKEND_REFERENCE;
}

static float *slow_host(optcl_optimizer *opt)
{
    return opt->host_state[opt->state_count - 1];
}

static cl_mem slow_buffer(optcl_optimizer *opt)
{
    return opt->state[opt->state_count - 1];
}

optcl_status optcl__lookahead_init(optcl_optimizer *opt, cl_uint num_events,
                                   const cl_event *wait_list)
{
    optcl_params *p = opt->params;
    if (is_reference(opt)) { /* as the set's type holds them: a write's start comes before
                              * the step's rounding of what the caller wrote */
        memcpy(slow_host(opt), p->host[OPTCL_ROLE_PARAMS], p->flat * sizeof(float));
        optcl__round_floats(slow_host(opt), p->flat, p->dtype);
        return OPTCL_SUCCESS;
    }
    cl_int err;
    if (p->dtype == OPTCL_DTYPE_F32) {
        err = clEnqueueCopyBuffer(p->ctx->queue, p->buffer[OPTCL_ROLE_PARAMS], slow_buffer(opt), 0,
                                  0, p->flat * sizeof(float), num_events, wait_list, NULL);
    } else { /* the slow weights are float32: a kernel widens the parameters into them */
        cl_mem slow = slow_buffer(opt);
        err = clSetKernelArg(opt->lookahead_start, 0, sizeof(cl_mem), &p->buffer[OPTCL_ROLE_PARAMS]);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(opt->lookahead_start, 1, sizeof(cl_mem), &slow);
        if (err == CL_SUCCESS)
            err = optcl__enqueue(p->ctx, opt->lookahead_start, 0, p->flat, num_events, wait_list,
                                 NULL);
        opt->launches += err == CL_SUCCESS;
    }
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err,
                           "copying the parameters into Lookahead's slow weights failed: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl__lookahead_counted(optcl_optimizer *opt, int sync, cl_event *event)
{
    optcl_params *p = opt->params;
    cl_ulong start = opt->slow_at + 1; /* the count whose step starts the slow weights */
    cl_int err = clSetKernelArg(opt->lookahead_kernel, 5, sizeof sync, &sync);
    if (err == CL_SUCCESS && !sync) /* the sync launches never read it */
        err = clSetKernelArg(opt->lookahead_kernel, 6, sizeof start, &start);
    if (err == CL_SUCCESS)
        err = optcl__enqueue(p->ctx, opt->lookahead_kernel, 0, p->flat, 0, NULL, event);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err,
                           "enqueueing the Lookahead %s failed: %s", sync ? "sync" : "start",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

bool optcl__is_slow_state(const optcl_optimizer *opt, size_t i)
{
    return opt->config.lookahead.k > 0 && i == opt->state_count - 1;
}

bool optcl__lookahead_unset(const optcl_optimizer *opt)
{
    return opt->config.lookahead.k > 0 && !opt->slow_set;
}

/* Where the device counts, the host cannot tell a step taken from one skipped: unset slow
 * weights stay so until the count read back shows a step taken. */
void optcl__lookahead_settle(optcl_optimizer *opt)
{
    if (!opt->slow_set && opt->steps > opt->slow_at)
        opt->slow_set = true;
}

/* A new count means other parameters to go on from (a run taken over, a restart): slow weights
 * the steps made belong to the old ones, so the next step starts them afresh — unless the
 * caller wrote them (or a checkpoint loaded them) with no step taken since, which the counts
 * tell alike on every backend: a skipped step counts none, and before is the device's count
 * where it owns it (torch's state dict carries them, in either order with the count). */
void optcl__lookahead_recounted(optcl_optimizer *opt, uint64_t before)
{
    if (!(opt->slow_set && before == opt->slow_at))
        opt->slow_set = false; /* unset at the new count; or written, and still so at it */
    opt->slow_at = opt->steps;
}

/* A write of some tensors while unset must not leave the others to the zeros of create or an
 * old run's values, which no step would start any more: every tensor starts from the
 * parameters first, as the next step would have, and the write replaces its own. The count
 * read back where the device owns it is the count the write is at (a step in flight may also
 * have started them already: then they are set). */
optcl_status optcl__lookahead_write_begin(optcl_optimizer *opt)
{
    optcl_status st = optcl__guard_sync(opt);
    if (st == OPTCL_SUCCESS && optcl__lookahead_unset(opt))
        st = optcl__lookahead_init(opt, 0, NULL);
    return st;
}

/* opt->steps: the device's count read back where it owns it (write_begin synced). A
 * step that started them has a count past slow_at, and nothing but a new count lowers it. */
void optcl__lookahead_written(optcl_optimizer *opt)
{
    opt->slow_set = true;
    opt->slow_at = opt->steps;
}

/* A checkpoint's slow weights are real ones, or — saved while unset — the parameters, which
 * the next step starts them from again (unset says which: checkpoint.c). */
void optcl__lookahead_loaded(optcl_optimizer *opt, bool unset)
{
    opt->slow_set = !unset;
    opt->slow_at = opt->steps;
}

/* One blend launch: param = slow + α·(fast − slow), and slow too when commit. */
static optcl_status blend(optcl_optimizer *opt, int fast_is_saved, float alpha, int commit,
                          cl_event *event)
{
    optcl_params *p = opt->params;
    if (is_reference(opt)) {
        const float *fast = fast_is_saved ? opt->host_search_fast : p->host[OPTCL_ROLE_PARAMS];
        optcl__reference_lookahead(p->host[OPTCL_ROLE_PARAMS], slow_host(opt), fast, alpha,
                                   commit != 0, p->flat);
        optcl__round_floats(p->host[OPTCL_ROLE_PARAMS], p->flat, p->dtype);
        if (event)
            *event = NULL;
        return OPTCL_SUCCESS;
    }
    cl_kernel k = opt->lookahead_kernel;
    cl_mem fast = fast_is_saved ? opt->search_fast : p->buffer[OPTCL_ROLE_PARAMS];
    cl_mem slow = slow_buffer(opt);
    size_t size = p->flat;
    cl_int err = clSetKernelArg(k, 0, sizeof(cl_mem), &p->buffer[OPTCL_ROLE_PARAMS]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 1, sizeof(cl_mem), &slow);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 2, sizeof(cl_mem), &fast);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 3, sizeof alpha, &alpha);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 4, sizeof commit, &commit);
    if (err == CL_SUCCESS)
        err = optcl__enqueue(p->ctx, k, 0, size, 0, NULL, event);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err,
                           "enqueueing the Lookahead sync failed: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

/* After a failed search: the blends overwrote the parameters, and a failed sync must leave
 * them as the update made them, so the saved fast weights go back. */
static void restore_fast(optcl_optimizer *opt)
{
    optcl_params *p = opt->params;
    size_t bytes = p->flat * (is_reference(opt) ? sizeof(float) : optcl_dtype_size(p->dtype));
    cl_int err = CL_SUCCESS;
    if (is_reference(opt))
        memcpy(p->host[OPTCL_ROLE_PARAMS], opt->host_search_fast, bytes);
    else
        err = clEnqueueCopyBuffer(p->ctx->queue, opt->search_fast, p->buffer[OPTCL_ROLE_PARAMS],
                                  0, 0, bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t used = strlen(opt->message);
        optcl__format(opt->message + used, OPTCL__MESSAGE_MAX - used,
                      "; restoring the fast weights failed too (%s): the parameters hold a blend",
                      optcl_status_name((optcl_status)err));
    }
}

/* Saves the fast weights, tries α = 1/points … 1, and sets *best_alpha to the α of the lowest
 * loss; when no loss is below +inf (every evaluation diverged), *best_alpha stays as it came:
 * the configured α. */
static optcl_status search_alpha(optcl_optimizer *opt, float *best_alpha)
{
    optcl_params *p = opt->params;
    if (is_reference(opt)) {
        memcpy(opt->host_search_fast, p->host[OPTCL_ROLE_PARAMS], p->flat * sizeof(float));
    } else {
        cl_int err =
            clEnqueueCopyBuffer(p->ctx->queue, p->buffer[OPTCL_ROLE_PARAMS], opt->search_fast, 0, 0,
                                p->flat * optcl_dtype_size(p->dtype), 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return optcl__fail(opt->message, (optcl_status)err,
                               "saving the fast weights for the α search failed: %s",
                               optcl_status_name((optcl_status)err));
    }
    double best_loss = INFINITY; /* a NaN compares false: it never wins, even first */
    for (int i = 1; i <= opt->search_points; i++) {
        float alpha = (float)((double)i / opt->search_points);
        optcl_status st = blend(opt, 1, alpha, 0, NULL);
        if (st == OPTCL_SUCCESS && !is_reference(opt))
            st = optcl_context_finish(p->ctx);
        double loss = 0.0;
        if (st == OPTCL_SUCCESS)
            st = opt->search_fn(opt->search_user, p, &loss);
        if (st != OPTCL_SUCCESS) {
            optcl__fail(opt->message, st, "the Lookahead α search stopped at α = %g: %s",
                        (double)alpha, optcl_status_name(st));
            restore_fast(opt);
            return st;
        }
        if (loss < best_loss) { /* strictly: the earliest α wins a tie */
            best_loss = loss;
            *best_alpha = alpha;
        }
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl__lookahead_sync(optcl_optimizer *opt, cl_event *event)
{
    const optcl_lookahead_config *la = &opt->config.lookahead;
    uint64_t sync_index = opt->steps / (uint64_t)la->k - 1;
    float alpha = (float)optcl_schedule_lr(&la->alpha_schedule, la->alpha, sync_index);
    int fast_is_saved = 0;
    if (opt->search_fn) {
        optcl_status st = search_alpha(opt, &alpha);
        if (st != OPTCL_SUCCESS)
            return st;
        fast_is_saved = 1;
    }
    optcl_status st = blend(opt, fast_is_saved, alpha, 1, event);
    if (st == OPTCL_SUCCESS)
        opt->lookahead_alpha = alpha; /* only a sync that happened has an α */
    else if (fast_is_saved)
        restore_fast(opt); /* the search's last blend is still in the parameters */
    return st;
}

optcl_status optcl_optimizer_set_lookahead_search(optcl_optimizer *opt, optcl_loss_fn fn,
                                                  void *user, int points)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (fn && opt->config.lookahead.k == 0)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "the α search needs Lookahead (config.lookahead.k > 0)");
    if (fn && opt->guarded)
        return optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                           "the α search needs the step count on the host every step; a gradient "
                           "guard (max_norm, nonfinite = skip) keeps it on the device");
    if (fn && (points < 2 || points > 64))
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid points: %d (2 … 64)", points);
    optcl_params *p = opt->params;
    if (fn && !opt->search_fast && !opt->host_search_fast) {
        if (is_reference(opt)) {
            opt->host_search_fast = optcl__host_alloc(p->flat);
            if (!opt->host_search_fast)
                return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                   "cannot allocate %zu floats for the α search", p->flat);
        } else {
            cl_int err = CL_SUCCESS;
            opt->search_fast = clCreateBuffer(p->ctx->cl_ctx, CL_MEM_READ_WRITE,
                                              p->flat * optcl_dtype_size(p->dtype), NULL, &err);
            if (err != CL_SUCCESS) {
                opt->search_fast = NULL;
                return optcl__fail(opt->message, (optcl_status)err,
                                   "allocating the α search buffer failed: %s",
                                   optcl_status_name((optcl_status)err));
            }
        }
    }
    opt->search_fn = fn;
    opt->search_user = user;
    opt->search_points = fn ? points : 0;
    return OPTCL_SUCCESS;
}

double optcl_optimizer_lookahead_alpha(const optcl_optimizer *opt)
{
    if (!opt)
        return 0.0;
    /* The device owns the count and syncs by it: the host's α is as stale as its count. */
    if (opt->guarded && optcl__guard_on_device(opt))
        return optcl__guard_alpha_at(opt, optcl__steps_now(opt));
    return opt->lookahead_alpha;
}
