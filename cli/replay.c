/* replay.c — `optcl replay`: runs an optimizer over the gradients of a .npy file, the same way
 * PyTorch would step, and writes the parameters after every step. Any bad input: one line on
 * stderr, a non-zero exit, and no output file. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG 4096

typedef struct replay_args {
    const char *optimizer, *params, *grads, *out, *metrics;
    optcl_backend backend;
    optcl_optimizer_config config;
} replay_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: optcl replay OPTIMIZER --params P0.npy --grads G.npy --out OUT.npy\n"
            "                    [--backend opencl|reference] [KEY=VALUE ...]\n"
            "\n"
            "OPTIMIZER   sgd, adam, adamw, rmsprop or rprop\n"
            "P0.npy      float32, shape (N,): the initial parameters\n"
            "G.npy       float32, shape (T, N): row t is the gradient of step t\n"
            "OUT.npy     float32, shape (T, N): row t is the parameters after step t; written\n"
            "            only when everything succeeded\n"
            "--backend   opencl (default; the default device, honouring OPTCL_DEVICE) or "
            "reference\n"
            "KEY=VALUE   PyTorch's constructor names and defaults:\n"
            "  all       lr maximize (0/1), weight_decay (not rprop)\n"
            "  sgd       momentum dampening nesterov ema (ema=1: the lecture's EMA momentum)\n"
            "  adam(w)   beta1 beta2 eps amsgrad\n"
            "  rmsprop   alpha eps momentum centered\n"
            "  rprop     etaminus etaplus step_min step_max variant=pytorch|classic\n");
}

/* Prints "optcl replay: <text>" as one line (newlines in library messages are folded). */
static int fail(const char *text)
{
    fputs("optcl replay: ", stderr);
    for (const char *c = text; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
    fputc('\n', stderr);
    return 1;
}

static int parse_args(int argc, char **argv, replay_args *a, char *msg)
{
    memset(a, 0, sizeof *a);
    a->backend = OPTCL_BACKEND_OPENCL;
    int positional = 0;
    char *options[256];
    int noptions = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = !strcmp(arg, "--params")    ? &a->params
                            : !strcmp(arg, "--grads")   ? &a->grads
                            : !strcmp(arg, "--out")     ? &a->out
                            : !strcmp(arg, "--metrics") ? &a->metrics
                                                        : NULL;
        if (slot || !strcmp(arg, "--backend")) {
            if (i + 1 >= argc)
                return snprintf(msg, MSG, "%s needs a value", arg), 1;
            const char *v = argv[++i];
            if (slot) {
                *slot = v;
            } else if (!strcmp(v, "opencl")) {
                a->backend = OPTCL_BACKEND_OPENCL;
            } else if (!strcmp(v, "reference")) {
                a->backend = OPTCL_BACKEND_REFERENCE;
            } else {
                return snprintf(msg, MSG, "unknown backend '%s' (opencl or reference)", v), 1;
            }
        } else if (arg[0] == '-' && arg[1] == '-') {
            return snprintf(msg, MSG, "unknown option '%s'", arg), 1;
        } else if (positional == 0 && !strchr(arg, '=')) {
            a->optimizer = arg;
            positional++;
        } else if (noptions < 256) {
            options[noptions++] = argv[i];
        } else {
            return snprintf(msg, MSG, "too many KEY=VALUE options"), 1;
        }
    }
    if (!a->optimizer)
        return snprintf(msg, MSG, "missing OPTIMIZER (sgd, adam, adamw, rmsprop, rprop)"), 1;
    optcl_algorithm algo;
    if (optcl_algorithm_from_name(a->optimizer, &algo) != OPTCL_SUCCESS)
        return snprintf(msg, MSG,
                        "unknown optimizer '%s' (sgd, adam, adamw, rmsprop, rprop)",
                        a->optimizer),
               1;
    if (!a->params || !a->grads || !a->out)
        return snprintf(msg, MSG, "missing %s",
                        !a->params ? "--params" : !a->grads ? "--grads" : "--out"),
               1;
    if (a->metrics)
        return snprintf(msg, MSG, "--metrics is only used with a plateau schedule, which this "
                                  "build does not offer"),
               1;
    a->config = optcl_optimizer_config_default(algo);
    for (int i = 0; i < noptions; i++)
        if (optcl_cli_apply_option(&a->config, options[i], msg, MSG))
            return 1;
    return 0;
}

static int check_shapes(const replay_args *a, const optcl_array *p0, const optcl_array *g,
                        char *msg)
{
    if (p0->ndim != 1 || p0->shape[0] == 0)
        return snprintf(msg, MSG, "%s: expected shape (N,) with N >= 1, got %d dimension(s)%s",
                        a->params, p0->ndim, p0->ndim == 1 ? " with N = 0" : ""),
               1;
    if (g->ndim != 2)
        return snprintf(msg, MSG, "%s: expected shape (T, N), got %d dimension(s)", a->grads,
                        g->ndim),
               1;
    if (g->shape[1] != p0->shape[0])
        return snprintf(msg, MSG, "%s has N = %zu per row but %s has N = %zu", a->grads,
                        g->shape[1], a->params, p0->shape[0]),
               1;
    return 0;
}

/* Runs the replay into out (T×N floats). */
static int run(const replay_args *a, const optcl_array *p0, const optcl_array *g, float *out,
               char *msg)
{
    size_t n = p0->shape[0], steps = g->shape[0];
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = a->backend;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    optcl_status st = optcl_context_create(&cc, &ctx, msg, MSG);
    if (st != OPTCL_SUCCESS)
        return 1;
    optcl_tensor_spec spec = {.name = "param", .ndim = 1, .shape = {(int64_t)n}, .group = 0};
    const char *where = "";
    st = optcl_params_create(ctx, &spec, 1, &params);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0->data, n);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(params, &a->config, &opt);
    for (size_t t = 0; t < steps && st == OPTCL_SUCCESS; t++) {
        st = optcl_params_write(params, OPTCL_ROLE_GRADS, OPTCL_ALL, g->data + t * n, n);
        if (st == OPTCL_SUCCESS) {
            st = optcl_optimizer_step(opt, 0, NULL, NULL);
            where = st == OPTCL_SUCCESS ? "" : optcl_optimizer_message(opt);
        }
        if (st == OPTCL_SUCCESS)
            st = optcl_params_read(params, OPTCL_ROLE_PARAMS, OPTCL_ALL, out + t * n, n);
    }
    if (st != OPTCL_SUCCESS) {
        const char *detail = *where                          ? where
                             : params && *optcl_params_message(params) ? optcl_params_message(params)
                                                              : optcl_context_message(ctx);
        snprintf(msg, MSG, "%s: %s", optcl_status_name(st), detail);
    }
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    return st != OPTCL_SUCCESS;
}

int optcl_cli_replay(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    char msg[MSG] = "";
    replay_args a;
    if (parse_args(argc, argv, &a, msg))
        return fail(msg);
    optcl_array p0 = {0}, g = {0};
    int rc = optcl_npy_read(a.params, &p0, msg, MSG) != OPTCL_SUCCESS ||
             optcl_npy_read(a.grads, &g, msg, MSG) != OPTCL_SUCCESS || check_shapes(&a, &p0, &g, msg);
    float *out = NULL;
    if (!rc) {
        size_t count = g.shape[0] * p0.shape[0];
        out = malloc((count ? count : 1) * sizeof *out);
        if (!out) {
            snprintf(msg, MSG, "out of memory for %zu output values", count);
            rc = 1;
        }
    }
    if (!rc)
        rc = run(&a, &p0, &g, out, msg);
    if (!rc) {
        size_t shape[2] = {g.shape[0], p0.shape[0]};
        rc = optcl_npy_write(a.out, out, shape, 2, msg, MSG) != OPTCL_SUCCESS;
    }
    free(out);
    optcl_array_free(&p0);
    optcl_array_free(&g);
    return rc ? fail(msg) : 0;
}
