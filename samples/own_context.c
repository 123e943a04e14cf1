/* own_context.c — optcl inside an existing OpenCL program: the program's own cl_context and
 * in-order queue, its own kernel writing gradients straight into optcl's per-tensor
 * sub-buffers, events between that kernel and the optimizer step, and two parameter groups.
 * The "model" is w with the loss 0.5·|w − target|², whose gradient is w − target. */
#include "optcl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TENSORS 2
#define MAX_ITERATIONS 400
#define TOLERANCE 1e-2 /* |w − target| to stop at (|target| is about 26) */

/* The caller's own kernel, built by the caller: one work-item per element. */
static const char *grad_source =
    "__kernel void quadratic_grad(__global const float *w, __global const float *target,\n"
    "                             __global float *grad, const uint n)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    if (i < n)\n"
    "        grad[i] = w[i] - target[i];\n"
    "}\n";

/* Every check prints the call, the status name and the message of the object at fault. */
static int cl_failed(cl_int err, const char *call)
{
    if (err == CL_SUCCESS)
        return 0;
    /* OpenCL's own codes pass through optcl unchanged, so optcl can name them too. */
    fprintf(stderr, "%s: %s\n", call, optcl_status_name((optcl_status)err));
    return 1;
}

static int failed(optcl_status st, const char *call, const char *message)
{
    if (st == OPTCL_SUCCESS)
        return 0;
    fprintf(stderr, "%s: %s: %s\n", call, optcl_status_name(st), message);
    return 1;
}

/* The caller's device: the first GPU of any platform, else the first device found. */
static cl_int pick_device(cl_platform_id *platform, cl_device_id *device)
{
    cl_platform_id platforms[16];
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(16, platforms, &np);
    for (int want_gpu = 1; err == CL_SUCCESS && want_gpu >= 0; want_gpu--)
        for (cl_uint p = 0; p < np && p < 16; p++)
            if (clGetDeviceIDs(platforms[p], want_gpu ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_ALL,
                               1, device, NULL) == CL_SUCCESS) {
                *platform = platforms[p];
                return CL_SUCCESS;
            }
    return err == CL_SUCCESS ? CL_DEVICE_NOT_FOUND : err;
}

/* |w − target| over all tensors, reading the parameter sub-buffers after the step's event. */
static int distance(cl_command_queue queue, cl_mem w[TENSORS], float *const target[TENSORS],
                    const size_t count[TENSORS], cl_event after, double *out)
{
    double sum = 0.0;
    for (int i = 0; i < TENSORS; i++) {
        float *host = malloc(count[i] * sizeof *host);
        cl_int err = host ? clEnqueueReadBuffer(queue, w[i], CL_TRUE, 0, count[i] * sizeof *host,
                                                host, 1, &after, NULL)
                          : CL_OUT_OF_HOST_MEMORY;
        for (size_t k = 0; err == CL_SUCCESS && k < count[i]; k++)
            sum += ((double)host[k] - target[i][k]) * ((double)host[k] - target[i][k]);
        free(host);
        if (cl_failed(err, "clEnqueueReadBuffer"))
            return 1;
    }
    *out = sqrt(sum);
    return 0;
}

int main(void)
{
    /* ---- the caller's OpenCL objects, made with plain OpenCL --------------------------- */
    cl_platform_id platform = NULL;
    cl_device_id device = NULL;
    cl_int err = pick_device(&platform, &device);
    if (cl_failed(err, "choosing an OpenCL device"))
        return 1;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_context cl_ctx = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (cl_failed(err, "clCreateContext"))
        return 1;
    cl_command_queue queue = clCreateCommandQueue(cl_ctx, device, 0, &err); /* in-order */
    cl_program program = NULL;
    cl_kernel kernel[TENSORS] = {NULL, NULL}; /* one per tensor: arguments bound once */
    cl_mem targets[TENSORS] = {NULL, NULL};
    if (!cl_failed(err, "clCreateCommandQueue"))
        program = clCreateProgramWithSource(cl_ctx, 1, &grad_source, NULL, &err);
    if (!program || cl_failed(err, "clCreateProgramWithSource") ||
        cl_failed(clBuildProgram(program, 1, &device, "", NULL, NULL), "clBuildProgram"))
        goto release_cl;
    for (int i = 0; i < TENSORS; i++) {
        kernel[i] = clCreateKernel(program, "quadratic_grad", &err);
        if (cl_failed(err, "clCreateKernel"))
            goto release_cl;
    }

    /* ---- optcl on those objects ---------------------------------------------------------- */
    char msg[2048] = "";
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    float *target[TENSORS] = {NULL, NULL};
    cl_event step_done = NULL; /* the last step's event; none before the first */
    int rc = 1;
    /* The wrap retains the three objects and releases them again in optcl_context_destroy. */
    if (failed(optcl_context_wrap(cl_ctx, device, queue, &ctx, msg, sizeof msg),
               "optcl_context_wrap", msg))
        goto release_cl;
    printf("device: %s, tensor offsets aligned to %zu floats\n", optcl_context_device_name(ctx),
           optcl_context_alignment(ctx));

    /* Group 0: the weight, with weight decay; group 1: the bias, without. */
    optcl_tensor_spec specs[TENSORS] = {
        {.name = "layer.weight", .ndim = 2, .shape = {64, 33}, .group = 0},
        {.name = "layer.bias", .ndim = 1, .shape = {33}, .group = 1},
    };
    if (failed(optcl_params_create(ctx, specs, TENSORS, &params), "optcl_params_create",
               optcl_context_message(ctx)))
        goto done;
    optcl_group_config groups[2] = {{.lr = -1, .weight_decay = -1}, /* -1: the optimizer's */
                                    {.lr = -1, .weight_decay = 0.0}};
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_SGD);
    cfg.lr = 0.1;
    cfg.sgd.momentum = 0.9;
    cfg.weight_decay = 1e-4;
    cfg.groups = groups;
    cfg.group_count = 2;
    if (failed(optcl_optimizer_create(params, &cfg, &opt), "optcl_optimizer_create",
               optcl_context_message(ctx)))
        goto done;

    /* Each tensor's parameter and gradient sub-buffers (owned by the set) and a target. */
    cl_mem w[TENSORS], grad[TENSORS];
    size_t count[TENSORS];
    for (int i = 0; i < TENSORS; i++) {
        optcl_tensor_info info;
        if (failed(optcl_params_info(params, (size_t)i, &info), "optcl_params_info", "") ||
            failed(optcl_params_buffer(params, OPTCL_ROLE_PARAMS, (size_t)i, &w[i]),
                   "optcl_params_buffer", optcl_params_message(params)) ||
            failed(optcl_params_buffer(params, OPTCL_ROLE_GRADS, (size_t)i, &grad[i]),
                   "optcl_params_buffer", optcl_params_message(params)))
            goto done;
        count[i] = info.count;
        printf("  %-12s group %d, offset %zu, %zu elements\n", info.name, info.group,
               info.offset, info.count);
        target[i] = malloc(count[i] * sizeof(float));
        if (!target[i])
            goto done;
        for (size_t k = 0; k < count[i]; k++) /* a fixed pattern in [-1, 1] */
            target[i][k] = (float)sin(0.37 * (double)(k + 1000 * (size_t)i));
        targets[i] = clCreateBuffer(cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                    count[i] * sizeof(float), target[i], &err);
        /* Our kernel reads the tensor's parameters and writes its gradient, in place. */
        cl_uint n = (cl_uint)count[i];
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel[i], 0, sizeof(cl_mem), &w[i]);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel[i], 1, sizeof(cl_mem), &targets[i]);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel[i], 2, sizeof(cl_mem), &grad[i]);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel[i], 3, sizeof n, &n);
        if (cl_failed(err, "preparing quadratic_grad"))
            goto done;
    }

    /* ---- the training loop: our kernel → optcl's step → our kernel → … -------------------- */
    /* On one in-order queue the order is given anyway; the events are what keeps it right
     * when the caller's kernels run on another queue of the same context. */
    double dist = INFINITY;
    for (int it = 1; it <= MAX_ITERATIONS && dist > TOLERANCE; it++) {
        /* Backward: one launch per tensor, each after the previous step (its event). */
        cl_event grads_ready[TENSORS] = {NULL, NULL};
        for (int i = 0; i < TENSORS && err == CL_SUCCESS; i++)
            err = clEnqueueNDRangeKernel(queue, kernel[i], 1, NULL, &count[i], NULL,
                                         step_done ? 1 : 0, step_done ? &step_done : NULL,
                                         &grads_ready[i]);
        if (step_done)
            clReleaseEvent(step_done);
        step_done = NULL;
        /* The step waits for both gradient kernels and hands back its own event. It never
         * blocks: the loop runs ahead of the device until the next read. */
        optcl_status st = err == CL_SUCCESS
                              ? optcl_optimizer_step(opt, TENSORS, grads_ready, &step_done)
                              : OPTCL_SUCCESS;
        for (int i = 0; i < TENSORS; i++)
            if (grads_ready[i])
                clReleaseEvent(grads_ready[i]);
        if (cl_failed(err, "enqueueing quadratic_grad") ||
            failed(st, "optcl_optimizer_step", optcl_optimizer_message(opt)))
            goto done;
        if (it % 25 == 0 || it == 1) {
            if (distance(queue, w, target, count, step_done, &dist))
                goto done;
            printf("step %3d  |w - target| = %.6f\n", it, dist);
        }
    }
    /* Wait for the last step explicitly, then measure where it ended. */
    err = clWaitForEvents(1, &step_done);
    if (!cl_failed(err, "clWaitForEvents"))
        rc = distance(queue, w, target, count, step_done, &dist);
    if (rc == 0) {
        printf("final: %llu steps, |w - target| = %.6f\n",
               (unsigned long long)optcl_optimizer_step_count(opt), dist);
        rc = dist > TOLERANCE;
        if (rc)
            fprintf(stderr, "did not converge within %d steps\n", MAX_ITERATIONS);
    }
done:
    if (step_done)
        clReleaseEvent(step_done);
    /* optcl's objects first (they finish the queue)… */
    if (optcl_optimizer_destroy(opt) || optcl_params_destroy(params) || optcl_context_destroy(ctx))
        rc = fprintf(stderr, "a destroy was refused\n") > 0;
    for (int i = 0; i < TENSORS; i++)
        free(target[i]);
    /* …then ours, which optcl_context_destroy left valid: the queue still works. */
    if (cl_failed(clFinish(queue), "clFinish after optcl_context_destroy"))
        rc = 1;
    for (int i = 0; i < TENSORS; i++)
        if (targets[i])
            clReleaseMemObject(targets[i]);
    for (int i = 0; i < TENSORS; i++)
        clReleaseKernel(kernel[i]);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(cl_ctx);
    return rc;

release_cl:
    for (int i = 0; i < TENSORS; i++)
        if (kernel[i])
            clReleaseKernel(kernel[i]);
    if (program)
        clReleaseProgram(program);
    if (queue)
        clReleaseCommandQueue(queue);
    clReleaseContext(cl_ctx);
    return 1;
}
