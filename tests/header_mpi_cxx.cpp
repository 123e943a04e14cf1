// header_mpi_cxx.cpp — optcl_mpi.h compiles as C++11 (-pedantic-errors) and links from C++.
#define OMPI_SKIP_MPICXX 1 // Open MPI's deprecated C++ bindings would need their own library
#include "optcl_mpi.h"

int main()
{
    optcl_mpi_config c = optcl_mpi_config_default();
    return c.reduce == OPTCL_MPI_REDUCE_DOUBLE && optcl_mpi_optimizer_step(nullptr) ==
                                                        OPTCL_ERROR_NULL_POINTER
               ? 0
               : 1;
}
