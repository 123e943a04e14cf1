/* launch_seam.h — records optcl's kernel launches, and reports a smaller or lesser device than
 * the one there is (test_geometry and test_device_limits only; see launch_seam.c). */
#ifndef OPTCL_LAUNCH_SEAM_H
#define OPTCL_LAUNCH_SEAM_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdbool.h>
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

/* What the device reports from now on, as a GPU might (seam_device_reset: the device's own).
 * CL_KERNEL_WORK_GROUP_SIZE: at most most for the kernels whose name contains only (NULL:
 * every kernel). PoCL still runs a larger work-group: the launches say what optcl asked for. */
void seam_limit_kernels(size_t most, const char *only);
/* CL_DEVICE_MAX_WORK_GROUP_SIZE: at most most. */
void seam_limit_device(size_t most);
/* CL_DEVICE_SINGLE_FP_CONFIG without these bits (CL_FP_DENORM, …). */
void seam_drop_fp(cl_device_fp_config bits);
/* CL_DEVICE_AVAILABLE and CL_DEVICE_COMPILER_AVAILABLE as given. */
void seam_availability(bool available, bool compiler);
void seam_device_reset(void);

#endif
