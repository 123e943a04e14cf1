/* device_select.h — picks the OpenCL platform and device a context is created on. */
#ifndef OPTCL_DEVICE_SELECT_H
#define OPTCL_DEVICE_SELECT_H

#include "internal.h"

/* What the choice weighs of a device. */
typedef struct optcl__device_facts {
    cl_device_type type;
    bool available, compiler; /* CL_DEVICE_AVAILABLE, CL_DEVICE_COMPILER_AVAILABLE */
    cl_ulong global_memory;   /* CL_DEVICE_GLOBAL_MEM_SIZE, bytes */
    cl_uint compute_units;    /* CL_DEVICE_MAX_COMPUTE_UNITS */
    bool unified;             /* CL_DEVICE_HOST_UNIFIED_MEMORY: an integrated GPU */
} optcl__device_facts;

/* Whether optcl can run on the device: it is available and it has an OpenCL C compiler (optcl
 * builds its kernels from source). */
bool optcl__device_usable(const optcl__device_facts *f);

/* The default device among n in platform order (n when none is usable), skipping those
 * optcl__device_usable refuses: a discrete GPU (no memory unified with the host) before an
 * integrated one, then the GPU with the largest global memory × compute units, the first of
 * equals; without a GPU, the first usable device. */
size_t optcl__default_device(const optcl__device_facts *facts, size_t n);

/* Resolves config (and OPTCL_DEVICE unless ignored) to a device. *use_reference is set when the
 * environment asks for the reference backend. On failure the message lists what was there. */
optcl_status optcl__select_device(const optcl_context_config *config, cl_platform_id *platform,
                                  cl_device_id *device, bool *use_reference, char *message);

#endif
