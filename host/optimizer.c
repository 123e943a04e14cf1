/* optimizer.c — optimizer objects: state buffers, the cached update kernel, queries, and access
 * to the state. The step is step.c's. */
#include "factored.h"
#include "plateau.h"
#include "q8.h"
#include "rules/rule.h"
#include "segments.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The options that never change within a configuration become -D macros of the program: the
 * shared ones, then the rule's own. */
static void build_options(const optcl_optimizer *opt, char *out, size_t size)
{
    const optcl_optimizer_config *c = &opt->config;
    bool scaled = c->loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
    int n = snprintf(out, size,
                     "-DMAXIMIZE=%d -DGUARD=%d -DCLIP=%d -DPARAM_DTYPE=%d -DSTATE_DTYPE=%d "
                     "-DMASTER=%d -DROUNDING=%d -DLOSS_SCALE=%d -DWRITE_UNSCALED=%d",
                     c->maximize, optcl__guard_wanted(c), c->max_norm > 0.0,
                     (int)opt->params->dtype, (int)opt->state_type, c->master_weights,
                     (int)c->rounding, scaled, scaled && c->loss_scale.write_unscaled);
    if (opt->guard_in_step) /* the update kernel reduces and decides (guard_decide.cl) */
        n += snprintf(out + n, size - (size_t)n, " -DGUARD_FUSED=1 -DSKIP=%d -DDYNAMIC=%d",
                      c->nonfinite == OPTCL_NONFINITE_SKIP,
                      c->loss_scale.mode == OPTCL_LOSS_SCALE_DYNAMIC);
    if (opt->rule->tensor_sums > 0) /* segments.h: work-items per tensor in the totals */
        n += snprintf(out + n, size - (size_t)n, " -DTOTALS_ITEMS=%u",
                      opt->params->ctx->totals_items);
    optcl__rule_options(opt->rule, c, out + (size_t)n, size - (size_t)n);
    if (opt->state_type != OPTCL__DTYPE_Q8)
        return;
    /* 8-bit state: its layout (kernels/q8.cl), each state's map and its slot of the work-item's
     * private buffers */
    n += (int)strlen(out + n);
    if (optcl__q8_group_items(opt) > 0)
        n += snprintf(out + n, size - (size_t)n, " -DQ8_GROUP=1");
    for (size_t i = 0; i < opt->rule_states && (size_t)n < size; i++)
        n += snprintf(out + n, size - (size_t)n, " -DQ8_UNSIGNED_%s=%d -DQ8_SLOT_%s=%u",
                      opt->state_names[i], opt->q8_unsigned[i], opt->state_names[i],
                      opt->state_slot[i]);
}

static void optimizer_free(optcl_optimizer *opt)
{
    for (size_t i = 0; i < OPTCL__MAX_STATES; i++) {
        if (opt->state[i])
            clReleaseMemObject(opt->state[i]);
        optcl__host_free(opt->host_state[i]);
    }
    optcl__q8_state_free(opt);
    optcl__segments_free(opt);
    optcl_context *ctx = opt->params->ctx;
    cl_kernel kernels[] = {opt->kernel, opt->mode_kernel, opt->lookahead_kernel,
                           opt->lookahead_start, opt->traffic_kernel};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        optcl__kernel_release(ctx, kernels[i]);
    if (opt->search_fast)
        clReleaseMemObject(opt->search_fast);
    optcl__host_free(opt->host_search_fast);
    optcl__guard_free(opt);
    free(opt);
}

/* Binds the buffers once; only scalars change per step. Slots without a state get the
 * gradient buffer, which the kernel's options never let it touch. */
cl_int optcl__bind_step_arguments(optcl_optimizer *opt, cl_kernel kernel, cl_uint *next)
{
    optcl_params *p = opt->params;
    cl_mem slots[OPTCL__RULE_SLOTS];
    for (size_t i = 0; i < OPTCL__RULE_SLOTS; i++)
        slots[i] = p->buffer[OPTCL_ROLE_GRADS];
    for (size_t i = 0; i < opt->rule_states; i++)
        slots[opt->state_slot[i]] = opt->state[i];
    cl_uint first_scalar = optcl__scalar_arg(opt);
    cl_int err = clSetKernelArg(kernel, 0, sizeof(cl_mem), &p->buffer[OPTCL_ROLE_PARAMS]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(kernel, 1, sizeof(cl_mem), &p->buffer[OPTCL_ROLE_GRADS]);
    for (cl_uint i = 2; i < first_scalar && err == CL_SUCCESS; i++)
        err = clSetKernelArg(kernel, i, sizeof(cl_mem), &slots[i - 2]);
    if (err == CL_SUCCESS && opt->guarded)
        err = optcl__guard_bind(opt, kernel, first_scalar);
    /* then, after the scalars (one argument) or the guard's three, the master, then 8-bit
     * state's table */
    *next = first_scalar + (opt->guarded ? optcl__guard_arg_count(opt) : 1);
    if (err == CL_SUCCESS && opt->config.master_weights)
        err = clSetKernelArg(kernel, (*next)++, sizeof(cl_mem), &opt->state[opt->master]);
    if (err == CL_SUCCESS && opt->q8_table)
        err = clSetKernelArg(kernel, (*next)++, sizeof(cl_mem), &opt->q8_table);
    size_t shares = optcl__q8_group_items(opt); /* a block's shares (q8.cl's Q8_GROUP) */
    if (err == CL_SUCCESS && shares > 0)
        err = clSetKernelArg(kernel, (*next)++, shares * sizeof(float), NULL);
    return err;
}

cl_uint optcl__scalar_arg(const optcl_optimizer *opt)
{
    return 2 + opt->rule->slots; /* parameters, gradient, then the rule's state slots */
}

cl_int optcl__set_step_scalars(const optcl_optimizer *opt, cl_kernel kernel, size_t r,
                               const optcl__step_scalars *scalars)
{
    if (scalars)
        return clSetKernelArg(kernel, optcl__scalar_arg(opt), sizeof *scalars, scalars);
    cl_uint index = (cl_uint)r; /* after the guard's record and table */
    return clSetKernelArg(kernel, optcl__scalar_arg(opt) + 2, sizeof index, &index);
}

/* Lookahead's kernel (name): the plain sync, or with a guard the one that reads the device's
 * count, whose buffers are bound here. */
static cl_int create_lookahead_kernel(optcl_optimizer *opt, cl_program program, const char *name)
{
    optcl_params *p = opt->params;
    cl_int err = CL_SUCCESS;
    opt->lookahead_kernel = optcl__kernel_create(p->ctx, program, name, &err);
    /* guarded, the kernel below starts them at a step; a write while unset needs this one */
    if (err == CL_SUCCESS && p->dtype != OPTCL_DTYPE_F32)
        opt->lookahead_start =
            optcl__kernel_create(p->ctx, program, "optcl_lookahead_start_f32", &err);
    if (err != CL_SUCCESS || !opt->guarded)
        return err;
    cl_ulong k = (cl_ulong)opt->config.lookahead.k;
    cl_mem args[] = {p->buffer[OPTCL_ROLE_PARAMS], opt->state[opt->state_count - 1],
                     opt->guard_record, opt->guard_table};
    for (cl_uint i = 0; i < 4 && err == CL_SUCCESS; i++)
        err = clSetKernelArg(opt->lookahead_kernel, i, sizeof(cl_mem), &args[i]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(opt->lookahead_kernel, 4, sizeof k, &k);
    cl_ulong start = 1; /* the start's count; optcl__lookahead_counted sets it for each start */
    if (err == CL_SUCCESS)
        err = clSetKernelArg(opt->lookahead_kernel, 6, sizeof start, &start);
    return err;
}

optcl_dtype optcl__state_dtype(const optcl_optimizer *opt, size_t i)
{
    return i < opt->rule_states ? opt->state_type : OPTCL_DTYPE_F32;
}

/* Bytes of state i's buffer. */
static size_t state_buffer_bytes(const optcl_optimizer *opt, size_t i)
{
    optcl_dtype type = optcl__state_dtype(opt, i);
    if (type == OPTCL__DTYPE_Q8)
        return optcl__q8_bytes(opt->q8);
    return opt->params->flat * optcl_dtype_size(type); /* flat: a multiple of 1024 */
}

/* The update kernel (name: its name) from the rule's program, built for the optimizer as it
 * stands (the guard in the kernel or not). 8-bit blocks stepped by work-groups need a block's
 * vectors in one work-group, exactly: refused when the kernel allows fewer. */
static optcl_status create_update_kernel(optcl_optimizer *opt, cl_program *program, char *name,
                                         size_t name_size)
{
    optcl_context *ctx = opt->params->ctx;
    char options[512];
    build_options(opt, options, sizeof options);
    optcl_status st = optcl__get_program(ctx, opt->rule->family, options, program, &opt->build_log);
    if (st != OPTCL_SUCCESS)
        return st;
    snprintf(name, name_size, "optcl_%s_f32", opt->rule->family);
    cl_int err = CL_SUCCESS;
    opt->kernel = optcl__kernel_create(ctx, *program, name, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s", name,
                           optcl_status_name((optcl_status)err));
    size_t group = optcl__q8_group_items(opt), most = optcl__kernel_most(ctx, opt->kernel);
    if (most < group)
        return optcl__fail(ctx->message, OPTCL_ERROR_UNSUPPORTED,
                           "state_dtype int8 steps a block of %d elements per work-group of %zu "
                           "items; %s runs %s in groups of at most %zu (OPTCL_Q8_LAYOUT=item "
                           "steps a block per work-item)",
                           OPTCL__Q8_BLOCK, group, ctx->device_name, name, most);
    return OPTCL_SUCCESS;
}

static optcl_status create_device_side(optcl_optimizer *opt)
{
    optcl_context *ctx = opt->params->ctx;
    for (size_t i = 0; i < opt->state_count; i++) {
        size_t bytes = state_buffer_bytes(opt, i);
        cl_int err = CL_SUCCESS;
        const float zero = 0.0f;
        opt->state[i] = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err == CL_SUCCESS)
            err = clEnqueueFillBuffer(ctx->queue, opt->state[i], &zero, sizeof zero, 0, bytes, 0,
                                      NULL, NULL);
        if (err != CL_SUCCESS)
            return optcl__fail(ctx->message, (optcl_status)err,
                               "allocating the %s buffer (%zu bytes) on %s failed: %s",
                               opt->state_names[i], bytes, ctx->device_name,
                               optcl_status_name((optcl_status)err));
    }
    char options[512], kernel_name[64];
    cl_program program = NULL;
    bool rebuild = false;
    optcl_status st = create_update_kernel(opt, &program, kernel_name, sizeof kernel_name);
    if (st == OPTCL_SUCCESS)
        st = optcl__guard_fit_update(opt, &rebuild);
    if (st == OPTCL_SUCCESS && rebuild)
        st = create_update_kernel(opt, &program, kernel_name, sizeof kernel_name);
    if (st != OPTCL_SUCCESS)
        return st;
    cl_uint next = 0;
    cl_int err = optcl__bind_step_arguments(opt, opt->kernel, &next);
    if (err == CL_SUCCESS && opt->rule->tensor_sums > 0) {
        st = optcl__segments_create_device(opt, program, next);
        if (st != OPTCL_SUCCESS)
            return st;
    }
    if (err == CL_SUCCESS)
        err = optcl__mode_kernel_create(opt, program);
    if (err == CL_SUCCESS && opt->config.lookahead.k > 0) {
        const char *log = NULL;
        snprintf(options, sizeof options, "-DGUARD=%d -DPARAM_DTYPE=%d", opt->guarded,
                 (int)opt->params->dtype);
        st = optcl__get_program(ctx, "lookahead", options, &program, &log);
        if (st != OPTCL_SUCCESS)
            return st;
        snprintf(kernel_name, sizeof kernel_name, "optcl_lookahead%s_f32",
                 opt->guarded ? "_guarded" : "");
        err = create_lookahead_kernel(opt, program, kernel_name);
    }
    if (err == CL_SUCCESS)
        err = clFinish(ctx->queue); /* the zero fills must have happened before we return */
    if (err != CL_SUCCESS)
        return optcl__fail(ctx->message, (optcl_status)err, "preparing kernel %s failed: %s",
                           kernel_name, optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_create(optcl_params *params, const optcl_optimizer_config *config,
                                    optcl_optimizer **out)
{
    if (!params)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_context *ctx = params->ctx;
    if (!config || !out)
        return optcl__fail(ctx->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_create: %s is NULL", config ? "out" : "config");
    *out = NULL;
    optcl_status st = optcl__validate_config(config, ctx->message);
    if (st == OPTCL_SUCCESS)
        st = optcl__validate_for_params(config, params->dtype, ctx->message);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt)
        return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    opt->params = params;
    opt->config = *config;
    opt->config.groups = NULL; /* resolved into opt->groups; the caller's array may go away */
    opt->config.group_count = 0;
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        bool own = (size_t)g < config->group_count;
        double lr = own && config->groups[g].lr >= 0.0 ? config->groups[g].lr : config->lr;
        double wd = own && config->groups[g].weight_decay >= 0.0 ? config->groups[g].weight_decay
                                                                 : config->weight_decay;
        opt->groups[g].lr = lr;
        opt->groups[g].weight_decay = wd;
        opt->groups[g].exclude_from_trust_ratio = own && config->groups[g].exclude_from_trust_ratio;
    }
    opt->rule = optcl__rule_of(config->algorithm);
    opt->state_type = optcl__state_type(config, params->dtype);
    opt->rule_states = optcl__rule_states(opt->rule, config, opt->state_names, opt->state_slot);
    opt->state_count = opt->rule_states;
    if (config->master_weights) {
        opt->master = opt->state_count;
        opt->state_names[opt->state_count++] = "master";
    }
    if (config->lookahead.k > 0)
        opt->state_names[opt->state_count++] = "lookahead_slow";
    optcl__plateau_init(&opt->plateau, &config->plateau);
    st = optcl__guard_create(opt); /* before the kernels, which bind its buffers */
    if (st == OPTCL_SUCCESS && opt->state_type == OPTCL__DTYPE_Q8)
        st = optcl__q8_state_create(opt);
    if (st == OPTCL_SUCCESS && opt->rule->tensor_sums > 0)
        st = optcl__segments_create(opt);
    if (st == OPTCL_SUCCESS) /* the states' names and 8-bit and factored layouts are known */
        st = optcl__checkpoint_names_unique(opt, ctx->message);
    if (st == OPTCL_SUCCESS && ctx->backend == OPTCL_BACKEND_REFERENCE) {
        for (size_t i = 0; i < opt->state_count && st == OPTCL_SUCCESS; i++) {
            opt->host_state[i] = optcl__host_alloc(params->flat);
            if (!opt->host_state[i])
                st = optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                 "cannot allocate the %s state (%zu floats)", opt->state_names[i],
                                 params->flat);
        }
    } else if (st == OPTCL_SUCCESS) {
        st = create_device_side(opt);
    }
    if (st != OPTCL_SUCCESS) {
        optimizer_free(opt);
        return st;
    }
    params->live_optimizers++;
    *out = opt;
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_destroy(optcl_optimizer *opt)
{
    if (!opt)
        return OPTCL_SUCCESS;
    if (opt->live_trackers > 0)
        return optcl__fail(opt->message, OPTCL_ERROR_IN_USE,
                           "optcl_optimizer_destroy: %zu tracker(s) still use this optimizer",
                           opt->live_trackers);
    if (opt->params->ctx->queue)
        clFinish(opt->params->ctx->queue);
    opt->params->live_optimizers--;
    optimizer_free(opt);
    return OPTCL_SUCCESS;
}

/* ---- queries and state -------------------------------------------------------------------- */

uint64_t optcl_optimizer_step_count(const optcl_optimizer *opt)
{
    return opt ? optcl__steps_now(opt) : 0;
}

optcl_status optcl_optimizer_set_lr(optcl_optimizer *opt, int group, double lr)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (group < -1 || group >= OPTCL_MAX_GROUPS)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid group: %d (-1 or 0..%d)", group, OPTCL_MAX_GROUPS - 1);
    if (!isfinite(lr) || lr < 0.0)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid lr: %g (must be finite and >= 0)", lr);
    optcl_status st = optcl__guard_lr_begin(opt); /* rows already written carry the old lr */
    if (st != OPTCL_SUCCESS)
        return st;
    double before[OPTCL_MAX_GROUPS], config_lr = opt->config.lr;
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        before[g] = opt->groups[g].lr;
        if (group == -1 || g == group)
            opt->groups[g].lr = lr;
    }
    if (group == -1)
        opt->config.lr = lr;
    st = optcl__guard_lr_end(opt);
    if (st != OPTCL_SUCCESS) { /* the lr stays; the next step rewrites the rows first */
        for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
            opt->groups[g].lr = before[g];
        opt->config.lr = config_lr;
        opt->guard_rows_to = 0;
    }
    return st;
}

const optcl_optimizer_config *optcl_optimizer_config_get(const optcl_optimizer *opt)
{
    return opt ? &opt->config : NULL;
}

/* The factored states' names (rule.h's factored_states), after the per-element ones. */
static size_t factored_count(const optcl_optimizer *opt)
{
    size_t n = 0;
    while (opt->rule->factored_states && opt->rule->factored_states[n])
        n++;
    return n;
}

size_t optcl_optimizer_state_count(const optcl_optimizer *opt)
{
    return opt ? opt->state_count + factored_count(opt) : 0;
}

const char *optcl_optimizer_state_name(const optcl_optimizer *opt, size_t index)
{
    if (!opt || index >= optcl_optimizer_state_count(opt))
        return NULL;
    return index < opt->state_count ? opt->state_names[index]
                                    : opt->rule->factored_states[index - opt->state_count];
}

/* The index of the state named name among the first n states, or n. */
static size_t find_state(const optcl_optimizer *opt, const char *name, size_t n)
{
    size_t i = 0;
    while (i < n && strcmp(opt->state_names[i], name) != 0)
        i++;
    return i;
}

/* Factored state `state` of tensor index: its shape and place, or why not (OPTCL_ALL: only
 * which state, in slot). */
static optcl_status factored_part(optcl_optimizer *opt, const char *state, size_t index,
                                  int *ndim, int64_t shape[OPTCL_MAX_DIMS], size_t *slot,
                                  size_t *count)
{
    size_t k = 0, n = factored_count(opt);
    while (k < n && strcmp(opt->rule->factored_states[k], state) != 0)
        k++;
    if (k == n)
        return optcl__fail(opt->message, OPTCL_ERROR_NOT_FOUND,
                           "%s keeps no state named '%s' in this configuration",
                           optcl_algorithm_name(opt->config.algorithm), state);
    *slot = k; /* with OPTCL_ALL: which state */
    if (index == OPTCL_ALL)
        return OPTCL_SUCCESS;
    const optcl__tensor *t = &opt->params->tensors[index];
    if (!optcl__factored_part(opt, k, index, ndim, shape, slot, count))
        return optcl__fail(opt->message, OPTCL_ERROR_NOT_FOUND,
                           "tensor '%s' has %d dimension(s): %s keeps %s", t->name, t->ndim,
                           optcl_algorithm_name(opt->config.algorithm),
                           t->ndim >= 2 ? "row_var and col_var (factored), not variance"
                                        : "variance, not row_var and col_var (which need two "
                                          "or more dimensions)");
    return OPTCL_SUCCESS;
}

/* Factored state k of every tensor that keeps it, packed in tensor order. */
static optcl_status factored_access_all(optcl_optimizer *opt, size_t k, float *data, size_t count,
                                        bool to_device)
{
    const char *name = opt->rule->factored_states[k];
    size_t total = 0, slot = 0, n = 0;
    int ndim = 0;
    int64_t shape[OPTCL_MAX_DIMS];
    for (size_t i = 0; i < opt->params->count; i++)
        if (optcl__factored_part(opt, k, i, &ndim, shape, &slot, &n))
            total += n;
    if (!data)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "data is NULL");
    if (count != total)
        return optcl__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                           "the set's tensors keep %zu %s values in all; got count %zu", total,
                           name, count);
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 0, packed = 0; i < opt->params->count && st == OPTCL_SUCCESS; i++)
        if (optcl__factored_part(opt, k, i, &ndim, shape, &slot, &n)) {
            st = optcl__factored_transfer(opt, slot, data + packed, n, to_device, opt->message,
                                          name);
            packed += n;
        }
    return st;
}

static optcl_status state_access(optcl_optimizer *opt, const char *state, size_t index, float *data,
                                 size_t count, bool to_device)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!state)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "state name is NULL");
    optcl_params *p = opt->params;
    if (index != OPTCL_ALL && index >= p->count)
        return optcl__fail(opt->message, OPTCL_ERROR_NOT_FOUND,
                           "tensor index %zu is out of range (the set has %zu tensors)", index,
                           p->count);
    size_t i = find_state(opt, state, opt->state_count);
    if (i < opt->state_count) {
        bool slow = to_device && optcl__is_slow_state(opt, i);
        optcl_status st = slow ? optcl__lookahead_write_begin(opt) : OPTCL_SUCCESS;
        if (st == OPTCL_SUCCESS)
            st = optcl__state_transfer(opt, i, index, data, count, to_device, opt->message, state);
        if (st == OPTCL_SUCCESS && slow)
            optcl__lookahead_written(opt); /* the caller's now: no step starts them */
        return st;
    }
    int ndim = 0;
    int64_t shape[OPTCL_MAX_DIMS];
    size_t slot = 0, want = 0;
    optcl_status st = factored_part(opt, state, index, &ndim, shape, &slot, &want);
    if (st == OPTCL_SUCCESS && index == OPTCL_ALL)
        return factored_access_all(opt, slot, data, count, to_device);
    if (st == OPTCL_SUCCESS && !data)
        st = optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "data is NULL");
    if (st == OPTCL_SUCCESS && count != want)
        st = optcl__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                         "tensor '%s' keeps %zu %s values; got count %zu",
                         p->tensors[index].name, want, state, count);
    if (st != OPTCL_SUCCESS)
        return st;
    return optcl__factored_transfer(opt, slot, data, count, to_device, opt->message, state);
}

optcl_status optcl_optimizer_state_shape(const optcl_optimizer *opt, const char *state,
                                         size_t index, int *ndim, int64_t shape[OPTCL_MAX_DIMS])
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_optimizer *o = (optcl_optimizer *)opt; /* the message only */
    if (!state || !ndim || !shape)
        return optcl__fail(o->message, OPTCL_ERROR_NULL_POINTER, "%s is NULL",
                           !state ? "state name" : !ndim ? "ndim" : "shape");
    const optcl_params *p = opt->params;
    if (index >= p->count)
        return optcl__fail(o->message, OPTCL_ERROR_NOT_FOUND,
                           "tensor index %zu is out of range (the set has %zu tensors)", index,
                           p->count);
    if (find_state(opt, state, opt->state_count) < opt->state_count) {
        *ndim = p->tensors[index].ndim;
        memcpy(shape, p->tensors[index].shape, sizeof p->tensors[index].shape);
        return OPTCL_SUCCESS;
    }
    size_t slot = 0, count = 0;
    return factored_part(o, state, index, ndim, shape, &slot, &count);
}

/* The 8-bit codes of a tensor: the state and the tensor checked, then read or written. */
static optcl_status codes_access(optcl_optimizer *opt, const char *state, size_t index,
                                 uint8_t *codes, size_t count, float *absmax, size_t blocks,
                                 bool to_device)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!state || !codes || !absmax)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "%s is NULL",
                           !state ? "state name" : !codes ? "codes" : "absmax");
    optcl_params *p = opt->params;
    size_t i = find_state(opt, state, opt->rule_states);
    if (i == opt->rule_states || opt->state_type != OPTCL__DTYPE_Q8)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "'%s' is not an 8-bit state of this optimizer (state_dtype %s)", state,
                           optcl__type_name(opt->state_type));
    if (index >= p->count)
        return optcl__fail(opt->message, OPTCL_ERROR_NOT_FOUND,
                           "tensor index %zu is out of range (the set has %zu tensors; codes are "
                           "per tensor)",
                           index, p->count);
    const optcl__tensor *t = &p->tensors[index];
    if (!optcl__q8_tensor_is_8bit(opt->q8, index))
        return optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                           "tensor '%s' has %zu elements, under %d: its %s state is float32",
                           t->name, t->count, OPTCL__Q8_MIN_SIZE, state);
    size_t want = optcl__q8_tensor_blocks(p, index);
    if (count != t->count || blocks != want)
        return optcl__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                           "tensor '%s' has %zu codes and %zu blocks; got %zu and %zu", t->name,
                           t->count, want, count, blocks);
    return to_device ? optcl__q8_write_stored(opt, i, index, codes, absmax, opt->message, state)
                     : optcl__q8_read_stored(opt, i, index, codes, absmax, opt->message, state);
}

optcl_status optcl_optimizer_read_state_codes(optcl_optimizer *opt, const char *state,
                                              size_t index, uint8_t *codes, size_t count,
                                              float *absmax, size_t blocks)
{
    return codes_access(opt, state, index, codes, count, absmax, blocks, false);
}

optcl_status optcl_optimizer_write_state_codes(optcl_optimizer *opt, const char *state,
                                               size_t index, const uint8_t *codes, size_t count,
                                               const float *absmax, size_t blocks)
{
    return codes_access(opt, state, index, (uint8_t *)codes, count, (float *)absmax, blocks,
                        true);
}

optcl_status optcl__state_transfer(optcl_optimizer *opt, size_t i, size_t index, float *data,
                                   size_t count, bool to_device, char *message, const char *what)
{
    /* Unset slow weights hold nothing yet (zeros, or what a run before a new count left): read,
     * they are the parameters the next step starts them from — so a state dict or a checkpoint
     * taken then and given back resumes as if it had not been. Where the device counts, a step
     * taken since may have started them already: the count read back says. */
    if (!to_device && optcl__is_slow_state(opt, i) && optcl__lookahead_unset(opt)) {
        optcl_params *p = opt->params;
        optcl_status st = optcl__guard_sync(opt);
        if (st != OPTCL_SUCCESS)
            return st;
        if (optcl__lookahead_unset(opt))
            return optcl__transfer(p, p->buffer[OPTCL_ROLE_PARAMS], p->host[OPTCL_ROLE_PARAMS],
                                   p->dtype, index, data, count, false, message, what);
    }
    if (optcl__state_dtype(opt, i) == OPTCL__DTYPE_Q8)
        return optcl__q8_state_transfer(opt, i, index, data, count, to_device, message, what);
    return optcl__transfer(opt->params, opt->state[i], opt->host_state[i],
                           optcl__state_dtype(opt, i), index, data, count, to_device, message,
                           what);
}

size_t optcl_optimizer_state_bytes(const optcl_optimizer *opt)
{
    if (!opt)
        return 0;
    size_t bytes = optcl__factored_floats(opt) * sizeof(float);
    for (size_t i = 0; i < opt->rule_states; i++)
        bytes += state_buffer_bytes(opt, i);
    return bytes;
}

optcl_status optcl_optimizer_read_state(optcl_optimizer *opt, const char *state, size_t index,
                                        float *data, size_t count)
{
    return state_access(opt, state, index, data, count, false);
}

optcl_status optcl_optimizer_write_state(optcl_optimizer *opt, const char *state, size_t index,
                                         const float *data, size_t count)
{
    return state_access(opt, state, index, (float *)data, count, true);
}

const char *optcl_optimizer_build_log(const optcl_optimizer *opt)
{
    return opt && opt->build_log ? opt->build_log : "";
}

const char *optcl_optimizer_message(const optcl_optimizer *opt)
{
    return opt ? opt->message : "";
}
