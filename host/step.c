/* step.c — optcl_optimizer_step, one step as a list of stages on every backend, guarded or not:
 *
 *   1. scalars   what this count's update reads (schedule, plateau, bias corrections): computed
 *                per group at launch, or — when the device owns the count (a guard on OpenCL) —
 *                the ring of rows it picks from;
 *   2. guard     the gradient's norm and verdict: enqueued on the device (or, for a set that
 *                one work-group steps, reduced by the update kernel itself), or decided here
 *                on the reference backend (a skipped step ends here, changing nothing);
 *   3. start     Lookahead's slow weights take the parameters the step sees, when they are
 *                unset (the first step after create, or after a new step count);
 *   4. update    one launch (or reference call) per parameter group;
 *   5. count     the step is counted, then Lookahead's sync when it ends a cycle.
 *
 * On the reference backend a stage 0 comes first: what the caller wrote into a bfloat16 or
 * float16 set's float32 arrays is rounded to the set's type, as a device buffer stores it.
 * Loss scaling's unscaling and its scale's update are part of the guard; master weights and
 * stochastic rounding part of the update.
 *
 * Who counts decides the rest: the host, which knows the count (and so whether a step starts
 * or ends a Lookahead cycle), or the device, whose kernels read the count the guard left. The
 * caller's wait list goes with the first command enqueued, its event with the last. */
#include "q8.h"
#include "rules/rule.h"
#include "segments.h"

#include <string.h>

typedef struct step_plan {
    optcl_optimizer *opt;
    bool device_counts; /* a guard on OpenCL: the device decides and counts */
    uint64_t step;      /* host-counted: the count this step reaches */
    bool sync;          /* host-counted: the step ends a Lookahead cycle */
    const float *grads; /* reference: the gradient the rule reads (clipped or as written) */
    cl_uint num_events; /* the caller's wait list, until the first command takes it */
    const cl_event *wait_list;
    cl_event *event; /* the caller's event, for the last command */
} step_plan;

static bool lookahead_on(const optcl_optimizer *opt)
{
    return opt->config.lookahead.k > 0;
}

/* The caller's wait list for the first command enqueued, nothing for the others. */
static cl_uint take_wait_list(step_plan *plan, const cl_event **wait_list)
{
    cl_uint n = plan->num_events;
    *wait_list = plan->wait_list;
    plan->num_events = 0;
    plan->wait_list = NULL;
    return n;
}

static optcl_status check_arguments(optcl_optimizer *opt, cl_uint num_events,
                                    const cl_event *wait_list)
{
    if (opt->params->ctx->backend == OPTCL_BACKEND_REFERENCE && (num_events > 0 || wait_list))
        return optcl__fail(opt->message, OPTCL_ERROR_WRONG_BACKEND,
                           "optcl_optimizer_step: the reference backend takes no events");
    if ((num_events > 0) != (wait_list != NULL))
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_step: num_events is %u but wait_list is %s", num_events,
                           wait_list ? "not NULL" : "NULL");
    if (opt->mode == OPTCL_MODE_EVAL)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_step: the optimizer is in eval mode; "
                           "optcl_optimizer_set_mode(opt, OPTCL_MODE_TRAIN) first");
    return OPTCL_SUCCESS;
}

void optcl__scalars_for_step(optcl_optimizer *opt, int group, uint64_t step,
                             optcl__step_scalars *s)
{
    double lr = optcl__group_lr(opt, group, step - 1);
    optcl__step_inputs in = {lr, opt->groups[group].weight_decay,
                             step > 1 ? optcl__group_lr(opt, group, step - 2) : lr, step,
                             &opt->memo[group], &opt->groups[group]};
    optcl__compute_scalars(&opt->config, &in, s);
    const optcl_lookahead_config *la = &opt->config.lookahead;
    if (la->k > 0 && step % (uint64_t)la->k == 0)
        s->lookahead_alpha =
            (float)optcl_schedule_lr(&la->alpha_schedule, la->alpha, step / (uint64_t)la->k - 1);
}

/* 2. The guard. Returns whether the step is skipped (reference backend only: on the device the
 * update kernels read the verdict). */
static optcl_status guard(step_plan *plan, bool *skip)
{
    optcl_optimizer *opt = plan->opt;
    *skip = false;
    if (!opt->guarded)
        return OPTCL_SUCCESS;
    if (!plan->device_counts) {
        *skip = optcl__guard_decide(opt, &plan->grads);
        return OPTCL_SUCCESS;
    }
    if (opt->guard_in_step)
        return OPTCL_SUCCESS; /* the update kernel reduces first: it takes the wait list */
    const cl_event *wait_list = NULL;
    cl_uint n = take_wait_list(plan, &wait_list);
    return optcl__guard_reduce(opt, n, wait_list);
}

/* 3. Lookahead's start, while the slow weights are unset. The device-counted kernel copies only
 * if the count it reached is the one past the count they were unset at (a skipped step reaches
 * none); it is enqueued until the host has seen a step taken since. */
static optcl_status start(step_plan *plan)
{
    optcl_optimizer *opt = plan->opt;
    if (!optcl__lookahead_unset(opt))
        return OPTCL_SUCCESS;
    if (plan->device_counts)
        return optcl__lookahead_counted(opt, 0, NULL);
    /* the copy carries the caller's wait list; the in-order queue puts the update after it */
    const cl_event *wait_list = NULL;
    cl_uint n = take_wait_list(plan, &wait_list);
    return optcl__lookahead_init(opt, n, wait_list);
}

/* 4. on the reference backend: the rule on [begin, end), stepping the master when there is one
 * (taken from the parameters on the first step), then what the kernels' stores do — the
 * parameters and the states rounded to their types, stochastically where so configured, 8-bit
 * states requantized. */
static void reference_update(optcl_optimizer *opt, size_t r, const float *grads,
                             const optcl__step_scalars *s)
{
    optcl_params *p = opt->params;
    size_t begin = p->ranges[r].begin, end = p->ranges[r].end;
    float *params = p->host[OPTCL_ROLE_PARAMS], *weights = params;
    size_t n = end - begin;
    if (opt->config.master_weights) {
        weights = opt->host_state[opt->master];
        if (s->first_step)
            memcpy(weights + begin, params + begin, n * sizeof(float));
    }
    if (opt->segments)
        optcl__segments_reference(opt, r, weights, grads, s);
    else
        opt->rule->reference(&opt->config, weights, grads, opt->host_state, begin, end, s);
    if (opt->config.master_weights)
        memcpy(params + begin, weights + begin, n * sizeof(float));
    if (opt->config.rounding == OPTCL_ROUND_STOCHASTIC)
        optcl__round_stochastic(params + begin, begin, n, s->round_key);
    else
        optcl__round_floats(params + begin, n, p->dtype);
    if (opt->state_type == OPTCL__DTYPE_Q8)
        optcl__q8_requantize(opt, begin, end);
    else
        for (size_t i = 0; i < opt->rule_states; i++)
            optcl__round_floats(opt->host_state[i] + begin, n, opt->state_type);
}

/* 4. The update of range r; event: the caller's, when this is the step's last command. */
static optcl_status update_group(step_plan *plan, size_t r, cl_event *event)
{
    optcl_optimizer *opt = plan->opt;
    optcl_params *p = opt->params;
    const optcl__group_range *range = &p->ranges[r];
    size_t per = optcl__q8_elements_per_item(opt); /* range lengths: multiples of 1024 */
    if (p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        optcl__step_scalars s;
        optcl__scalars_for_step(opt, range->group, plan->step, &s);
        reference_update(opt, r, plan->grads, &s);
        return OPTCL_SUCCESS;
    }
    /* the scalars, or when the device counts none: the kernel finds its row from the count */
    optcl__step_scalars s, *scalars = plan->device_counts ? NULL : &s;
    if (scalars)
        optcl__scalars_for_step(opt, range->group, plan->step, scalars);
    cl_int err = optcl__set_step_scalars(opt, opt->kernel, r, scalars);
    const cl_event *wait_list = NULL;
    cl_uint n = take_wait_list(plan, &wait_list);
    size_t begin = range->begin, end = range->end;
    if (err == CL_SUCCESS && opt->segments) { /* the tensors' sums first, with the wait list */
        err = optcl__segments_enqueue(opt, r, scalars, n, wait_list, event, &begin, &end);
        if (err != CL_SUCCESS)
            return (optcl_status)err; /* with its message */
        if (begin == end)
            return OPTCL_SUCCESS; /* every tensor was stepped whole */
        n = 0;
        wait_list = NULL;
    }
    /* 8-bit blocks stepped by work-groups: a block per work-group (create checked the kernel
     * allows it); a set whose update kernel reduces for the guard: one work-group of all its
     * items (optcl__guard_fit_update checked that) */
    size_t items = (end - begin) / per, local = optcl__q8_group_items(opt);
    if (!local)
        local = optcl__local_size(p->ctx, opt->kernel, items);
    if (err == CL_SUCCESS)
        err = optcl__enqueue_groups(p->ctx, opt->kernel, begin / per, items, local, n, wait_list,
                                    event);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err,
                           "enqueueing the step kernel for group %d failed: %s", range->group,
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

/* 5. The step happened: count it. */
static void count(step_plan *plan)
{
    if (plan->device_counts)
        plan->opt->guard_pending++;
    else
        plan->opt->steps = plan->step;
    if (!plan->device_counts) /* a step taken: unset slow weights were started by it */
        optcl__lookahead_settle(plan->opt);
}

/* 5. Lookahead's sync, when the step ends a cycle (on the device: the kernel decides). */
static optcl_status sync(step_plan *plan)
{
    optcl_optimizer *opt = plan->opt;
    if (plan->device_counts)
        return lookahead_on(opt) ? optcl__lookahead_counted(opt, 1, plan->event) : OPTCL_SUCCESS;
    return plan->sync ? optcl__lookahead_sync(opt, plan->event) : OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_step(optcl_optimizer *opt, cl_uint num_events,
                                  const cl_event *wait_list, cl_event *event)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (event)
        *event = NULL; /* also when refused: the caller may release whatever is not NULL */
    optcl_status st = check_arguments(opt, num_events, wait_list);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_params *p = opt->params;
    step_plan plan = {.opt = opt,
                      .device_counts = opt->guarded && p->ctx->backend == OPTCL_BACKEND_OPENCL,
                      .step = opt->steps + 1,
                      .grads = p->host[OPTCL_ROLE_GRADS],
                      .num_events = num_events,
                      .wait_list = wait_list,
                      .event = event};
    int64_t k = opt->config.lookahead.k;
    plan.sync = k > 0 && plan.step % (uint64_t)k == 0;
    bool sync_is_last = plan.device_counts ? lookahead_on(opt) : plan.sync;

    /* 0. the reference backend's arrays hold values of the set's type */
    if (p->ctx->backend == OPTCL_BACKEND_REFERENCE)
        for (int r = 0; r < OPTCL_ROLE_COUNT; r++)
            optcl__round_floats(p->host[r], p->flat, p->dtype);
    /* 1. scalars */
    if (plan.device_counts && (st = optcl__guard_prepare(opt)) != OPTCL_SUCCESS)
        return st;
    /* 2. guard */
    bool skip = false;
    if ((st = guard(&plan, &skip)) != OPTCL_SUCCESS || skip)
        return st; /* skipped: nothing changes */
    /* 3. start */
    if ((st = start(&plan)) != OPTCL_SUCCESS)
        return plan.device_counts ? optcl__guard_take_back(opt, st, "enqueueing Lookahead's start")
                                  : st;
    /* 4. update */
    for (size_t r = 0; r < p->range_count; r++) {
        bool last = r + 1 == p->range_count && !sync_is_last;
        if ((st = update_group(&plan, r, last ? event : NULL)) == OPTCL_SUCCESS)
            continue;
        /* Launches enqueued for earlier groups cannot be taken back: once a group was updated
         * the step counts, so state and count agree; before that, nothing happened (the
         * device's count, already advanced by the guard, is taken back). */
        if (r > 0)
            count(&plan);
        else if (plan.device_counts && !opt->guard_in_step) /* in step: nothing was counted */
            st = optcl__guard_take_back(opt, st, "enqueueing the step kernel");
        return st;
    }
    /* 5. count, sync */
    count(&plan);
    return sync(&plan);
}
