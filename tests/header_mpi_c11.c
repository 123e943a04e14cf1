/* header_mpi_c11.c — optcl_mpi.h compiles as strict ISO C11 (-pedantic-errors) on its own. */
#include "optcl_mpi.h"

int main(void)
{
    optcl_mpi_config c = optcl_mpi_config_default();
    return c.reduce == OPTCL_MPI_REDUCE_DOUBLE && c.max_count == 0 ? 0 : 1;
}
