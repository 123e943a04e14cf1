/* main.c — an outside program built against the installed optcl (scripts/test builds it with
 * find_package and with pkg-config): one Adam step on the reference backend, checked. */
#include <optcl.h>

#include <math.h>
#include <stdio.h>

int main(void)
{
    if (optcl_version() != OPTCL_VERSION_HEX) {
        fprintf(stderr, "header %s does not match the library\n", OPTCL_VERSION_STRING);
        return 1;
    }
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_optimizer *opt = NULL;
    char message[256];
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {2}};
    optcl_optimizer_config config = optcl_optimizer_config_default(OPTCL_ADAM);
    float w[2] = {1.0f, -1.0f}, g[2] = {0.5f, -0.5f};
    optcl_status st = optcl_context_create(&cc, &ctx, message, sizeof message);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_create(ctx, &spec, 1, &params);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_PARAMS, 0, w, 2);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_GRADS, 0, g, 2);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(params, &config, &opt);
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_step(opt, 0, NULL, NULL);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_read(params, OPTCL_ROLE_PARAMS, 0, w, 2);
    optcl_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    if (st != OPTCL_SUCCESS) {
        fprintf(stderr, "%s\n", optcl_status_name(st));
        return 1;
    }
    /* Adam's first step moves each weight by lr against its gradient's sign. */
    if (fabsf(w[0] - 0.999f) > 1e-6f || fabsf(w[1] + 0.999f) > 1e-6f) {
        fprintf(stderr, "unexpected result %g %g\n", (double)w[0], (double)w[1]);
        return 1;
    }
    printf("consumer: optcl %s works (w = %.4f %.4f)\n", OPTCL_VERSION_STRING, (double)w[0],
           (double)w[1]);
    return 0;
}
