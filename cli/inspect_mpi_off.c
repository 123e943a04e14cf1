/* inspect_mpi_off.c — `optcl inspect` of a sharded checkpoint in a build without MPI. */
#include "cli.h"

#include <stdio.h>

int optcl_cli_inspect_sharded(const char *path, char *msg, size_t size)
{
    snprintf(msg, size,
             "%s is a sharded checkpoint's manifest; this optcl was built without MPI "
             "(optcl_mpi), which reads them",
             path);
    return 1;
}
