/* quickstart.c — the shortest complete optcl program: two named tensors, Adam, three steps.
 * Runs on the default device (the first GPU, else the first OpenCL device); OPTCL_DEVICE
 * chooses another: OPTCL_DEVICE=reference ./quickstart, OPTCL_DEVICE=0:0 ./quickstart. */
#include "optcl.h"

#include <stdio.h>

/* Every optcl call returns a status; when it fails, the object the call was made on keeps a
 * message saying exactly what was wrong. Prints both and returns 1; returns 0 on success.
 * (The message is read here, after the call has returned.) */
static int failed(optcl_status st, const char *call, const char *message)
{
    if (st == OPTCL_SUCCESS)
        return 0;
    fprintf(stderr, "%s: %s: %s\n", call, optcl_status_name(st), message);
    return 1;
}

int main(void)
{
    /* 1. A context: a device and its queue (NULL: defaults). A failed create has no object to
     *    keep its message, so it writes it into ours. */
    char msg[1024] = "";
    optcl_context *ctx = NULL;
    if (failed(optcl_context_create(NULL, &ctx, msg, sizeof msg), "optcl_context_create", msg))
        return 1;
    printf("device: %s\n", optcl_context_device_name(ctx));

    /* 2. Named tensors in one flat parameter and one flat gradient buffer (zeroed). A failed
     *    create leaves its message on the parent: here the context. */
    optcl_tensor_spec specs[2] = {
        {.name = "fc.weight", .ndim = 2, .shape = {2, 3}},
        {.name = "fc.bias", .ndim = 1, .shape = {2}},
    };
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    int rc = 1;
    if (failed(optcl_params_create(ctx, specs, 2, &params), "optcl_params_create",
               optcl_context_message(ctx)))
        goto done;

    /* 3. Adam with PyTorch's defaults, lr changed. */
    optcl_optimizer_config cfg = optcl_optimizer_config_default(OPTCL_ADAM);
    cfg.lr = 0.01;
    if (failed(optcl_optimizer_create(params, &cfg, &opt), "optcl_optimizer_create",
               optcl_context_message(ctx)))
        goto done;

    /* 4. Parameters and a gradient for all tensors, packed in creation order (6 + 2). */
    const float w0[8] = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.0f, 1.0f};
    const float g[8] = {1.0f, 2.0f, -1.0f, 0.5f, -0.5f, 3.0f, 1.0f, -1.0f};
    if (failed(optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, w0, 8),
               "optcl_params_write", optcl_params_message(params)) ||
        failed(optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g, 8),
               "optcl_params_write", optcl_params_message(params)))
        goto done;

    /* 5. Three steps. A step only enqueues (no wait list, no event here); the reads wait.
     *    A constant gradient makes Adam move each parameter by lr per step: 0.03 in all. */
    for (int t = 0; t < 3; t++)
        if (failed(optcl_optimizer_step(opt, 0, NULL, NULL), "optcl_optimizer_step",
                   optcl_optimizer_message(opt)))
            goto done;

    /* 6. Read each tensor back by index and print it under its name. */
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        optcl_tensor_info info;
        float values[6]; /* the largest tensor's size */
        if (failed(optcl_params_info(params, i, &info), "optcl_params_info", "") ||
            failed(optcl_params_read(params, OPTCL_ROLE_PARAMS, i, values, info.count),
                   "optcl_params_read", optcl_params_message(params)))
            goto done;
        printf("%-9s", info.name);
        for (size_t k = 0; k < info.count; k++)
            printf(" %+.4f", values[k]);
        printf("\n");
    }
    rc = 0;
done:
    /* 7. Destroy in reverse order (NULL is fine; OPTCL_SUCCESS is 0); a destroy is refused
     *    while anything made from its object still exists. */
    if (optcl_optimizer_destroy(opt) || optcl_params_destroy(params) || optcl_context_destroy(ctx))
        rc = fprintf(stderr, "a destroy was refused\n") > 0;
    return rc;
}
