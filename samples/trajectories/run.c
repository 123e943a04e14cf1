/* run.c — one optimizer path through optcl: the step runs on the context's device; the 2-D
 * gradient is computed on the host from the parameters read back after each step. */
#include "trajectories.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Writes "<call>: <STATUS>: <detail>" into message and passes st on. */
static optcl_status fail(optcl_status st, const char *call, const char *detail, char *message,
                         size_t message_size)
{
    if (message && message_size)
        snprintf(message, message_size, "%s: %s: %s", call, optcl_status_name(st),
                 detail && *detail ? detail : optcl_status_string(st));
    return st;
}

void traj_path_free(traj_path *path)
{
    if (!path)
        return;
    free(path->points);
    free(path->lr);
    *path = (traj_path){0};
}

/* The gradient is computed on the host rather than by a kernel: it is two numbers, and the
 * path has to be read back after every step anyway to be drawn. So each step is: write the
 * gradient (blocks), enqueue the optimizer step, read the two parameters back (blocks). */
static optcl_status run_steps(optcl_context *ctx, optcl_params *params,
                              const optcl_optimizer_config *cfg, traj_loss loss, traj_point start,
                              int steps, double bound, traj_path *path, char *message,
                              size_t message_size)
{
    path->points = malloc(((size_t)steps + 1) * sizeof *path->points);
    path->lr = malloc(((size_t)steps + 1) * sizeof *path->lr);
    if (!path->points || !path->lr)
        return fail(OPTCL_ERROR_OUT_OF_HOST_MEMORY, "traj_run", "path", message, message_size);

    /* The parameters first: Lookahead's slow weights start from them at the first step. */
    float w[2] = {(float)start.x, (float)start.y};
    optcl_status st = optcl_params_write(params, OPTCL_ROLE_PARAMS, 0, w, 2);
    if (st != OPTCL_SUCCESS)
        return fail(st, "optcl_params_write (parameters)", optcl_params_message(params), message,
                    message_size);
    optcl_optimizer *opt = NULL;
    st = optcl_optimizer_create(params, cfg, &opt); /* a failure's message is on the context */
    if (st != OPTCL_SUCCESS)
        return fail(st, "optcl_optimizer_create", optcl_context_message(ctx), message,
                    message_size);

    path->points[0] = (traj_point){w[0], w[1]};
    path->count = 1;
    for (int t = 0; t < steps; t++) {
        double g[2];
        traj_loss_value(loss, w[0], w[1], g);
        float gf[2] = {(float)g[0], (float)g[1]};
        st = optcl_optimizer_get_lr(opt, 0, &path->lr[t]);
        if (st != OPTCL_SUCCESS) {
            fail(st, "optcl_optimizer_get_lr", optcl_optimizer_message(opt), message, message_size);
            break;
        }
        st = optcl_params_write(params, OPTCL_ROLE_GRADS, 0, gf, 2);
        if (st != OPTCL_SUCCESS) {
            fail(st, "optcl_params_write (gradient)", optcl_params_message(params), message,
                 message_size);
            break;
        }
        st = optcl_optimizer_step(opt, 0, NULL, NULL);
        if (st != OPTCL_SUCCESS) {
            fail(st, "optcl_optimizer_step", optcl_optimizer_message(opt), message, message_size);
            break;
        }
        st = optcl_params_read(params, OPTCL_ROLE_PARAMS, 0, w, 2);
        if (st != OPTCL_SUCCESS) {
            fail(st, "optcl_params_read", optcl_params_message(params), message, message_size);
            break;
        }
        path->points[path->count++] = (traj_point){w[0], w[1]};
        if (!(fabs(w[0]) <= bound && fabs(w[1]) <= bound)) { /* NaN too */
            path->diverged = 1;
            if (!isfinite(w[0]) || !isfinite(w[1]))
                path->count--; /* nothing to draw there */
            break;
        }
    }
    optcl_status dst = optcl_optimizer_destroy(opt);
    if (st == OPTCL_SUCCESS && dst != OPTCL_SUCCESS)
        st = fail(dst, "optcl_optimizer_destroy", NULL, message, message_size);
    return st;
}

optcl_status traj_run(optcl_context *ctx, const optcl_optimizer_config *cfg, traj_loss loss,
                      traj_point start, int steps, double bound, traj_path *path, char *message,
                      size_t message_size)
{
    if (!ctx || !cfg || !path || steps < 0)
        return fail(OPTCL_ERROR_INVALID_ARGUMENT, "traj_run", "ctx, cfg or path NULL, or steps < 0",
                    message, message_size);
    *path = (traj_path){0};
    /* The parameters are one tensor of two elements: (x, y). */
    const optcl_tensor_spec spec = {.name = "xy", .ndim = 1, .shape = {2}};
    optcl_params *params = NULL;
    optcl_status st = optcl_params_create(ctx, &spec, 1, &params);
    if (st != OPTCL_SUCCESS)
        return fail(st, "optcl_params_create", optcl_context_message(ctx), message, message_size);
    st = run_steps(ctx, params, cfg, loss, start, steps, bound, path, message, message_size);
    optcl_status dst = optcl_params_destroy(params);
    if (st == OPTCL_SUCCESS && dst != OPTCL_SUCCESS)
        st = fail(dst, "optcl_params_destroy", optcl_context_message(ctx), message, message_size);
    if (st != OPTCL_SUCCESS)
        traj_path_free(path);
    return st;
}
