/* device_select.h — picks the OpenCL platform and device a context is created on. */
#ifndef OPTCL_DEVICE_SELECT_H
#define OPTCL_DEVICE_SELECT_H

#include "internal.h"

/* Resolves config (and OPTCL_DEVICE unless ignored) to a device. *use_reference is set when the
 * environment asks for the reference backend. On failure the message lists what was there. */
optcl_status optcl__select_device(const optcl_context_config *config, cl_platform_id *platform,
                                  cl_device_id *device, bool *use_reference, char *message);

#endif
