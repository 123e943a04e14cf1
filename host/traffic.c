/* traffic.c — the same-bytes yardstick of a step (kernels/traffic.cl, or a host loop on the
 * reference backend), the minimal bytes a step moves, and the launch counter. For
 * benchmarks: the yardstick overwrites the optimizer's buffers. */
#include "factored.h"
#include "orthogonal.h"
#include "rules/rule.h"
#include "segments.h"

#include <stdio.h>

/* Update-rule buffers: parameters, gradients and the rule's own states. */
static int rule_buffers(const optcl_optimizer *opt)
{
    return 2 + (int)opt->rule_states;
}

double optcl_optimizer_bytes_per_step(const optcl_optimizer *opt)
{
    if (!opt)
        return 0.0;
    double flat = (double)opt->params->flat * (double)optcl_dtype_size(opt->params->dtype);
    double slow = (double)opt->params->flat * sizeof(float);
    /* reads of every buffer + writes of all but the gradient: the parameters and the gradient
     * in their type (3 elements) — with master weights the master is read and written and the
     * parameters only written — each state read and written in its own type */
    bool master = opt->config.master_weights;
    double bytes = flat * (master ? 2.0 : 3.0) + (master ? 2.0 * slow : 0.0) +
                   2.0 * (double)optcl_optimizer_state_bytes(opt);
    if (opt->config.lookahead.k > 0) /* the sync reads and writes parameters and slow weights */
        bytes += (flat + slow) * 2.0 / (double)opt->config.lookahead.k;
    if (opt->guarded) /* the guard's reduction reads the gradient once more */
        bytes += flat;
    /* a first pass over whole tensors (segments.h), but for those stepped whole from cache */
    unsigned reads = opt->rule->sums_reads;
    const optcl__segments *seg = opt->segments;
    double again = seg && seg->block_whole && opt->params->flat > 0
                       ? (double)(seg->part_blocks * OPTCL__BLOCK) / (double)opt->params->flat
                       : 1.0;
    if (reads & OPTCL__READS_WEIGHTS)
        bytes += again * (master ? slow : flat);
    if (reads & OPTCL__READS_GRADS)
        bytes += again * flat;
    if (reads & OPTCL__READS_STATES)
        bytes += again * (double)optcl_optimizer_state_bytes(opt);
    return bytes + optcl__factored_extra_bytes(opt) + optcl__orthogonal_extra_bytes(opt);
}

uint64_t optcl_optimizer_launch_count(const optcl_optimizer *opt)
{
    return opt ? opt->launches : 0;
}

/* The host's yardstick, one branch-free loop per buffer count, like the kernel's -D. */
static inline __attribute__((always_inline)) void host_traffic_n(float *const *b, int n,
                                                                 size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        float s = b[0][i] + b[1][i];
        for (int k = 2; k < n; k++)
            s += b[k][i];
        b[0][i] = s;
        for (int k = 2; k < n; k++)
            b[k][i] = s;
    }
}

static void host_traffic(optcl_optimizer *opt, size_t begin, size_t end)
{
    optcl_params *p = opt->params;
    float *b[5] = {opt->config.master_weights ? opt->host_state[opt->master]
                                              : p->host[OPTCL_ROLE_PARAMS],
                   p->host[OPTCL_ROLE_GRADS]};
    int n = rule_buffers(opt);
    for (int k = 2; k < n; k++)
        b[k] = opt->host_state[k - 2];
    switch (n) {
    case 2:
        host_traffic_n(b, 2, begin, end);
        break;
    case 3:
        host_traffic_n(b, 3, begin, end);
        break;
    case 4:
        host_traffic_n(b, 4, begin, end);
        break;
    default:
        host_traffic_n(b, 5, begin, end);
        break;
    }
}

static optcl_status prepare_kernel(optcl_optimizer *opt)
{
    optcl_context *ctx = opt->params->ctx;
    char options[96];
    snprintf(options, sizeof options, "-DBUFFERS=%d -DPARAM_DTYPE=%d -DSTATE_DTYPE=%d -DMASTER=%d",
             rule_buffers(opt), (int)opt->params->dtype, (int)opt->state_type,
             opt->config.master_weights);
    cl_program program = NULL;
    const char *log = NULL;
    optcl_status st = optcl__get_program(ctx, "traffic", options, &program, &log);
    if (st != OPTCL_SUCCESS) /* the context's message says why; the optimizer's call reports it */
        return optcl__fail(opt->message, st, "building the traffic kernel: %s", ctx->message);
    cl_int err = CL_SUCCESS;
    opt->traffic_kernel = optcl__kernel_create(ctx, program, "optcl_traffic_f32", &err);
    optcl_params *p = opt->params;
    cl_mem b[6] = {p->buffer[OPTCL_ROLE_PARAMS], p->buffer[OPTCL_ROLE_GRADS]};
    for (int k = 2; k < 5; k++)
        b[k] = k < rule_buffers(opt) ? opt->state[k - 2] : p->buffer[OPTCL_ROLE_GRADS];
    b[5] = opt->config.master_weights ? opt->state[opt->master] : p->buffer[OPTCL_ROLE_GRADS];
    for (cl_uint k = 0; k < 6 && err == CL_SUCCESS; k++)
        err = clSetKernelArg(opt->traffic_kernel, k, sizeof(cl_mem), &b[k]);
    if (err != CL_SUCCESS)
        return optcl__fail(opt->message, (optcl_status)err, "preparing the traffic kernel: %s",
                           optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl_optimizer_traffic_step(optcl_optimizer *opt)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_params *p = opt->params;
    if (p->ctx->backend == OPTCL_BACKEND_REFERENCE) {
        for (size_t r = 0; r < p->range_count; r++)
            host_traffic(opt, p->ranges[r].begin, p->ranges[r].end);
        return OPTCL_SUCCESS;
    }
    if (!opt->traffic_kernel) {
        optcl_status st = prepare_kernel(opt);
        if (st != OPTCL_SUCCESS)
            return st;
    }
    for (size_t r = 0; r < p->range_count; r++) {
        size_t offset = p->ranges[r].begin, size = p->ranges[r].end - p->ranges[r].begin;
        cl_int err = optcl__enqueue(p->ctx, opt->traffic_kernel, offset, size, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return optcl__fail(opt->message, (optcl_status)err,
                               "enqueueing the traffic kernel failed: %s",
                               optcl_status_name((optcl_status)err));
    }
    return OPTCL_SUCCESS;
}
