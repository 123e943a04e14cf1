/* replay_mpi_off.c — `optcl replay --distributed` in a build without MPI: a clear error. */
#include "replay.h"

#include <stdio.h>

int optcl_cli_mpi_start(int *argc, char ***argv, int *rank, char *msg)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    snprintf(msg, OPTCL_REPLAY_MSG,
             "--distributed needs optcl built with MPI (install libopenmpi-dev and configure "
             "with -DOPTCL_MPI=ON)");
    return 1;
}

int optcl_cli_mpi_agree(int rc, int *speak)
{
    *speak = 1;
    return rc;
}

void optcl_cli_mpi_finish(void)
{
}

int optcl_cli_replay_inspect_sharded(const replay_args *a, size_t *n, optcl_optimizer_config *saved,
                                     char *msg)
{
    (void)a;
    (void)n;
    (void)saved;
    return optcl_cli_mpi_start(NULL, NULL, &(int){0}, msg);
}

int optcl_cli_replay_sharded(const replay_args *a, const optcl_optimizer_config *config,
                             const optcl_array *p0, const optcl_array *g, const optcl_array *m,
                             float *out, replay_output *out_file, char *msg)
{
    (void)out_file;
    (void)a;
    (void)config;
    (void)p0;
    (void)g;
    (void)m;
    (void)out;
    return optcl_cli_mpi_start(NULL, NULL, &(int){0}, msg);
}
