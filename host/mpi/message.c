/* message.c — the sharded optimizer's messages: formatting into a message buffer, and MPI
 * return codes turned into a status with MPI's own error string. */
#include "sharded.h"

#include <stdio.h>

void optcl_mpi__vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    if (!buf || size == 0)
        return;
    if (vsnprintf(buf, size, fmt, ap) < 0)
        buf[0] = '\0';
}

optcl_status optcl_mpi__fail(char *message, optcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    optcl_mpi__vformat(message, OPTCL_MPI__MESSAGE_MAX, fmt, ap);
    va_end(ap);
    return status;
}

optcl_status optcl_mpi__check(char *message, int mpi_err, const char *call)
{
    if (mpi_err == MPI_SUCCESS)
        return OPTCL_SUCCESS;
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpi_err, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", mpi_err);
    return optcl_mpi__fail(message, OPTCL_ERROR_IO, "%s failed: %s", call, text);
}
