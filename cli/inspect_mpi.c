/* inspect_mpi.c — `optcl inspect` of a sharded checkpoint: its manifest and rank 0's file,
 * read without MPI (optcl_mpi_checkpoint_inspect, optcl_mpi_checkpoint_tensors). */
#include "cli.h"

#include "optcl_mpi.h"

#include <stdio.h>
#include <stdlib.h>

int optcl_cli_inspect_sharded(const char *path, char *msg, size_t size)
{
    int world = 0;
    size_t numel = 0, count = 0;
    optcl_optimizer_config config;
    if (optcl_mpi_checkpoint_inspect(path, &world, &numel, &config, msg, size) != OPTCL_SUCCESS)
        return 1;
    optcl_tensor_spec *specs = NULL;
    optcl_status st = optcl_mpi_checkpoint_tensors(path, &specs, &count, msg, size);
    if (st != OPTCL_SUCCESS && st != OPTCL_ERROR_NOT_FOUND)
        return 1;
    optcl_checkpoint_progress progress;
    int mask = 1;
    if (optcl_mpi_checkpoint_inspect_progress(path, &progress, msg, size) != OPTCL_SUCCESS ||
        optcl_cli_saved_trust_ratio_mask(path, &mask, msg, size)) {
        free(specs);
        return 1;
    }
    printf("%s: a sharded optcl checkpoint of %d rank(s)\n", path, world);
    optcl_cli_print_config(&config, OPTCL_DTYPE_COUNT, mask); /* the manifest has no dtype */
    /* a first-version manifest lists no tensors: group 0's lr then */
    optcl_cli_print_progress(&progress, specs, st == OPTCL_SUCCESS ? count : 0,
                             config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF);
    if (st == OPTCL_SUCCESS)
        optcl_cli_print_tensors(specs, count);
    else
        printf("%zu elements; the manifest does not list the tensors (its first version)\n", numel);
    free(specs);
    return 0;
}
