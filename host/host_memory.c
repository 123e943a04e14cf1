/* host_memory.c — aligned, zeroed host arrays for the reference backend, and size helpers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

size_t optcl__round_up(size_t value, size_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

float *optcl__host_alloc(size_t count)
{
    size_t bytes = optcl__round_up(count * sizeof(float), 64);
    if (count > SIZE_MAX / sizeof(float) - 64 || bytes == 0)
        return NULL;
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void optcl__host_free(float *p)
{
    free(p);
}
