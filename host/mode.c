/* mode.c — Schedule-Free's train and eval modes: the parameters move between y and x by one
 * blend with the state z (the rule's mode_state), p = lerp(p, z, w), as schedulefree's
 * optimizer.train() and .eval() do; the descriptor gives w. */
#include "reference/reference.h"
#include "rules/rule.h"

#include <stdio.h>
#include <string.h>

static size_t mode_state_index(const optcl_optimizer *opt)
{
    for (size_t i = 0; i < opt->rule_states; i++)
        if (strcmp(opt->state_names[i], opt->rule->mode_state) == 0)
            return i;
    return 0; /* every rule with modes keeps its mode_state */
}

cl_int optcl__mode_kernel_create(optcl_optimizer *opt, cl_program program)
{
    if (!opt->rule->mode_weight || opt->params->ctx->backend == OPTCL_BACKEND_REFERENCE)
        return CL_SUCCESS;
    char name[64];
    snprintf(name, sizeof name, "optcl_%s_mode_f32", opt->rule->family);
    cl_int err = CL_SUCCESS;
    opt->mode_kernel = optcl__kernel_create(opt->params->ctx, program, name, &err);
    cl_mem state = opt->state[mode_state_index(opt)];
    if (err == CL_SUCCESS)
        err = clSetKernelArg(opt->mode_kernel, 0, sizeof(cl_mem),
                             &opt->params->buffer[OPTCL_ROLE_PARAMS]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(opt->mode_kernel, 1, sizeof(cl_mem), &state);
    if (err == CL_SUCCESS && opt->config.master_weights)
        err = clSetKernelArg(opt->mode_kernel, 3, sizeof(cl_mem), &opt->state[opt->master]);
    return err;
}

/* The switch's kernel on the host: x = lerp(x, z, w), the same float32 blend. */
OPTCL__REFERENCE_LOOP static void lerp_towards(float *x, const float *z, size_t n, float w)
{
    for (size_t i = 0; i < n; i++)
        x[i] = optcl__lerp(x[i], z[i], w);
}

static optcl_status blend(optcl_optimizer *opt, float w)
{
    optcl_params *p = opt->params;
    size_t z = mode_state_index(opt);
    if (p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        float *param = p->host[OPTCL_ROLE_PARAMS];
        float *master = opt->config.master_weights ? opt->host_state[opt->master] : NULL;
        lerp_towards(master ? master : param, opt->host_state[z], p->flat, w);
        if (master) /* the parameters receive the master rounded */
            memcpy(param, master, p->flat * sizeof *param);
        optcl__round_floats(param, p->flat, p->dtype);
        return OPTCL_SUCCESS;
    }
    cl_int err = clSetKernelArg(opt->mode_kernel, 2, sizeof w, &w);
    if (err == CL_SUCCESS)
        err = optcl__enqueue(p->ctx, opt->mode_kernel, 0, p->flat, 0, NULL, NULL);
    opt->launches += err == CL_SUCCESS;
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err,
                           "optcl_optimizer_set_mode: enqueueing the blend with %s failed: %s",
                           opt->rule->mode_state, optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_set_mode(optcl_optimizer *opt, optcl_mode mode)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (mode != OPTCL_MODE_TRAIN && mode != OPTCL_MODE_EVAL)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_set_mode: invalid mode %d (TRAIN or EVAL)", (int)mode);
    if (mode == opt->mode)
        return OPTCL_SUCCESS;
    if (!opt->rule->mode_weight) /* only EVAL reaches here: the mode is TRAIN */
        return optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                           "optcl_optimizer_set_mode: %s has no eval mode (Schedule-Free "
                           "optimizers have)",
                           opt->rule->name);
    if (optcl__steps_now(opt) > 0) { /* before the first step there is no z: x = y */
        double w = opt->rule->mode_weight(&opt->config, mode == OPTCL_MODE_TRAIN);
        optcl_status st = blend(opt, (float)w);
        if (st != OPTCL_SUCCESS)
            return st;
    }
    opt->mode = mode;
    return OPTCL_SUCCESS;
}

optcl_mode optcl_optimizer_mode(const optcl_optimizer *opt)
{
    return opt ? opt->mode : OPTCL_MODE_TRAIN;
}

optcl_status optcl_optimizer_read_params_in_mode(optcl_optimizer *opt, optcl_mode mode,
                                                 size_t index, float *data, size_t count)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!data)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_optimizer_read_params_in_mode: data is NULL");
    if (mode != OPTCL_MODE_TRAIN && mode != OPTCL_MODE_EVAL)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_optimizer_read_params_in_mode: invalid mode %d", (int)mode);
    if (mode != opt->mode && !opt->rule->mode_weight)
        return optcl__fail(opt->message, OPTCL_ERROR_UNSUPPORTED,
                           "optcl_optimizer_read_params_in_mode: %s has no eval mode",
                           opt->rule->name);
    optcl_params *p = opt->params;
    bool blended = mode != opt->mode && optcl__steps_now(opt) > 0; /* before: no z, x = y */
    bool master = blended && opt->config.master_weights;           /* the switch blends it */
    optcl_status st = master ? optcl_optimizer_read_state(opt, "master", index, data, count)
                             : optcl_params_read(p, OPTCL_ROLE_PARAMS, index, data, count);
    if (st != OPTCL_SUCCESS && !master) /* read_state's message is on opt already */
        return optcl__fail(opt->message, st, "optcl_optimizer_read_params_in_mode: %s",
                           optcl_params_message(p));
    if (st != OPTCL_SUCCESS)
        return st;
    if (!blended)
        return OPTCL_SUCCESS;
    float *z = optcl__host_alloc(count);
    if (!z)
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "optcl_optimizer_read_params_in_mode: out of host memory");
    st = optcl_optimizer_read_state(opt, opt->rule->mode_state, index, z, count);
    if (st == OPTCL_SUCCESS) {
        lerp_towards(data, z, count,
                     (float)opt->rule->mode_weight(&opt->config, mode == OPTCL_MODE_TRAIN));
        optcl__round_floats(data, count, p->dtype);
    }
    optcl__host_free(z);
    return st;
}
