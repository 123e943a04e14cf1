/* main.c — an outside program built against the installed optcl_mpi (scripts/test_install
 * builds it with find_package(optcl COMPONENTS mpi) and with pkg-config, and runs it under
 * mpirun): one sharded Adam step on the reference backend, checked on every rank. */
#include <optcl_mpi.h>

#include <math.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_context *ctx = NULL;
    optcl_params *params = NULL;
    optcl_mpi_optimizer *opt = NULL;
    char message[512] = "";
    optcl_tensor_spec spec = {.name = "w", .ndim = 1, .shape = {40}};
    optcl_optimizer_config config = optcl_optimizer_config_default(OPTCL_ADAM);
    float w[40], g[40];
    for (int i = 0; i < 40; i++) {
        w[i] = 1.0f;
        g[i] = i % 2 ? 0.5f : -0.5f;
    }
    optcl_status st = optcl_context_create(&cc, &ctx, message, sizeof message);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_create(ctx, &spec, 1, &params);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_PARAMS, 0, w, 40);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_write(params, OPTCL_ROLE_GRADS, 0, g, 40);
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi_optimizer_create(MPI_COMM_WORLD, params, &config, NULL, &opt, message,
                                        sizeof message);
    if (st == OPTCL_SUCCESS && (st = optcl_mpi_optimizer_step(opt)) != OPTCL_SUCCESS)
        snprintf(message, sizeof message, "%s", optcl_mpi_optimizer_message(opt));
    if (st == OPTCL_SUCCESS)
        st = optcl_params_read(params, OPTCL_ROLE_PARAMS, 0, w, 40);
    optcl_mpi_optimizer_destroy(opt);
    optcl_params_destroy(params);
    optcl_context_destroy(ctx);
    int bad = st != OPTCL_SUCCESS;
    /* Adam's first step moves each weight by lr against its gradient's sign. */
    for (int i = 0; i < 40 && !bad; i++)
        bad = fabsf(w[i] - (i % 2 ? 0.999f : 1.001f)) > 1e-6f;
    if (bad)
        fprintf(stderr, "consumer_mpi: rank %d: %s %s\n", rank, optcl_status_name(st), message);
    else if (rank == 0)
        printf("consumer_mpi: optcl_mpi %s works\n", OPTCL_VERSION_STRING);
    MPI_Finalize();
    return bad;
}
