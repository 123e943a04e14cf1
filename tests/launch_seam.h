/* launch_seam.h — records optcl's kernel launches (test_geometry only; see launch_seam.c). */
#ifndef OPTCL_LAUNCH_SEAM_H
#define OPTCL_LAUNCH_SEAM_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#define SEAM_MAX_LAUNCHES 4096

typedef struct seam_launch {
    cl_kernel kernel;
    char name[64];
    size_t offset, global, local; /* work-items; local 0: left to the runtime */
} seam_launch;

/* Forgets the launches recorded so far. */
void seam_clear(void);
/* Launches recorded since the last seam_clear (at most SEAM_MAX_LAUNCHES). */
size_t seam_count(void);
const seam_launch *seam_get(size_t i);

#endif
