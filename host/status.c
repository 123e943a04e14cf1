/* status.c — names and descriptions of every status optcl returns, from one table (OpenCL's
 * own codes included, since they pass through unchanged). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct status_entry {
    int code;
    const char *name;
    const char *text;
} status_entry;

#define CL_ENTRY(code, text)                                                                       \
    {                                                                                              \
        code, #code, text                                                                          \
    }

static const status_entry table[] = {
    {OPTCL_SUCCESS, "OPTCL_SUCCESS", "success"},
    {OPTCL_ERROR_INVALID_ARGUMENT, "OPTCL_ERROR_INVALID_ARGUMENT", "invalid argument"},
    {OPTCL_ERROR_NULL_POINTER, "OPTCL_ERROR_NULL_POINTER", "required pointer or handle is NULL"},
    {OPTCL_ERROR_OUT_OF_HOST_MEMORY, "OPTCL_ERROR_OUT_OF_HOST_MEMORY", "out of host memory"},
    {OPTCL_ERROR_SIZE_MISMATCH, "OPTCL_ERROR_SIZE_MISMATCH", "sizes or shapes disagree"},
    {OPTCL_ERROR_IN_USE, "OPTCL_ERROR_IN_USE", "object still in use by other objects"},
    {OPTCL_ERROR_NO_DEVICE, "OPTCL_ERROR_NO_DEVICE", "no matching OpenCL device"},
    {OPTCL_ERROR_BUILD_FAILED, "OPTCL_ERROR_BUILD_FAILED", "kernel program failed to build"},
    {OPTCL_ERROR_IO, "OPTCL_ERROR_IO", "file input/output failed"},
    {OPTCL_ERROR_FORMAT, "OPTCL_ERROR_FORMAT", "file content is malformed"},
    {OPTCL_ERROR_UNSUPPORTED, "OPTCL_ERROR_UNSUPPORTED", "not supported here"},
    {OPTCL_ERROR_WRONG_BACKEND, "OPTCL_ERROR_WRONG_BACKEND", "not available on this backend"},
    {OPTCL_ERROR_NOT_FOUND, "OPTCL_ERROR_NOT_FOUND", "no such tensor or state"},
    {OPTCL_ERROR_DEVICE_MEMORY, "OPTCL_ERROR_DEVICE_MEMORY", "device cannot hold the buffer"},
    CL_ENTRY(CL_DEVICE_NOT_FOUND, "OpenCL: device not found"),
    CL_ENTRY(CL_DEVICE_NOT_AVAILABLE, "OpenCL: device not available"),
    CL_ENTRY(CL_COMPILER_NOT_AVAILABLE, "OpenCL: compiler not available"),
    CL_ENTRY(CL_MEM_OBJECT_ALLOCATION_FAILURE, "OpenCL: memory object allocation failure"),
    CL_ENTRY(CL_OUT_OF_RESOURCES, "OpenCL: out of resources"),
    CL_ENTRY(CL_OUT_OF_HOST_MEMORY, "OpenCL: out of host memory"),
    CL_ENTRY(CL_PROFILING_INFO_NOT_AVAILABLE, "OpenCL: profiling info not available"),
    CL_ENTRY(CL_MEM_COPY_OVERLAP, "OpenCL: memory copy overlap"),
    CL_ENTRY(CL_IMAGE_FORMAT_MISMATCH, "OpenCL: image format mismatch"),
    CL_ENTRY(CL_IMAGE_FORMAT_NOT_SUPPORTED, "OpenCL: image format not supported"),
    CL_ENTRY(CL_BUILD_PROGRAM_FAILURE, "OpenCL: build program failure"),
    CL_ENTRY(CL_MAP_FAILURE, "OpenCL: map failure"),
    CL_ENTRY(CL_MISALIGNED_SUB_BUFFER_OFFSET, "OpenCL: misaligned sub-buffer offset"),
    CL_ENTRY(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST,
             "OpenCL: error status for events in wait list"),
    CL_ENTRY(CL_COMPILE_PROGRAM_FAILURE, "OpenCL: compile program failure"),
    CL_ENTRY(CL_LINKER_NOT_AVAILABLE, "OpenCL: linker not available"),
    CL_ENTRY(CL_LINK_PROGRAM_FAILURE, "OpenCL: link program failure"),
    CL_ENTRY(CL_DEVICE_PARTITION_FAILED, "OpenCL: device partition failed"),
    CL_ENTRY(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, "OpenCL: kernel argument info not available"),
    CL_ENTRY(CL_INVALID_VALUE, "OpenCL: invalid value"),
    CL_ENTRY(CL_INVALID_DEVICE_TYPE, "OpenCL: invalid device type"),
    CL_ENTRY(CL_INVALID_PLATFORM, "OpenCL: invalid platform"),
    CL_ENTRY(CL_INVALID_DEVICE, "OpenCL: invalid device"),
    CL_ENTRY(CL_INVALID_CONTEXT, "OpenCL: invalid context"),
    CL_ENTRY(CL_INVALID_QUEUE_PROPERTIES, "OpenCL: invalid queue properties"),
    CL_ENTRY(CL_INVALID_COMMAND_QUEUE, "OpenCL: invalid command queue"),
    CL_ENTRY(CL_INVALID_HOST_PTR, "OpenCL: invalid host pointer"),
    CL_ENTRY(CL_INVALID_MEM_OBJECT, "OpenCL: invalid memory object"),
    CL_ENTRY(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, "OpenCL: invalid image format descriptor"),
    CL_ENTRY(CL_INVALID_IMAGE_SIZE, "OpenCL: invalid image size"),
    CL_ENTRY(CL_INVALID_SAMPLER, "OpenCL: invalid sampler"),
    CL_ENTRY(CL_INVALID_BINARY, "OpenCL: invalid binary"),
    CL_ENTRY(CL_INVALID_BUILD_OPTIONS, "OpenCL: invalid build options"),
    CL_ENTRY(CL_INVALID_PROGRAM, "OpenCL: invalid program"),
    CL_ENTRY(CL_INVALID_PROGRAM_EXECUTABLE, "OpenCL: invalid program executable"),
    CL_ENTRY(CL_INVALID_KERNEL_NAME, "OpenCL: invalid kernel name"),
    CL_ENTRY(CL_INVALID_KERNEL_DEFINITION, "OpenCL: invalid kernel definition"),
    CL_ENTRY(CL_INVALID_KERNEL, "OpenCL: invalid kernel"),
    CL_ENTRY(CL_INVALID_ARG_INDEX, "OpenCL: invalid argument index"),
    CL_ENTRY(CL_INVALID_ARG_VALUE, "OpenCL: invalid argument value"),
    CL_ENTRY(CL_INVALID_ARG_SIZE, "OpenCL: invalid argument size"),
    CL_ENTRY(CL_INVALID_KERNEL_ARGS, "OpenCL: invalid kernel arguments"),
    CL_ENTRY(CL_INVALID_WORK_DIMENSION, "OpenCL: invalid work dimension"),
    CL_ENTRY(CL_INVALID_WORK_GROUP_SIZE, "OpenCL: invalid work-group size"),
    CL_ENTRY(CL_INVALID_WORK_ITEM_SIZE, "OpenCL: invalid work-item size"),
    CL_ENTRY(CL_INVALID_GLOBAL_OFFSET, "OpenCL: invalid global offset"),
    CL_ENTRY(CL_INVALID_EVENT_WAIT_LIST, "OpenCL: invalid event wait list"),
    CL_ENTRY(CL_INVALID_EVENT, "OpenCL: invalid event"),
    CL_ENTRY(CL_INVALID_OPERATION, "OpenCL: invalid operation"),
    CL_ENTRY(CL_INVALID_GL_OBJECT, "OpenCL: invalid GL object"),
    CL_ENTRY(CL_INVALID_BUFFER_SIZE, "OpenCL: invalid buffer size"),
    CL_ENTRY(CL_INVALID_MIP_LEVEL, "OpenCL: invalid mip level"),
    CL_ENTRY(CL_INVALID_GLOBAL_WORK_SIZE, "OpenCL: invalid global work size"),
    CL_ENTRY(CL_INVALID_PROPERTY, "OpenCL: invalid property"),
    CL_ENTRY(CL_INVALID_IMAGE_DESCRIPTOR, "OpenCL: invalid image descriptor"),
    CL_ENTRY(CL_INVALID_COMPILER_OPTIONS, "OpenCL: invalid compiler options"),
    CL_ENTRY(CL_INVALID_LINKER_OPTIONS, "OpenCL: invalid linker options"),
    CL_ENTRY(CL_INVALID_DEVICE_PARTITION_COUNT, "OpenCL: invalid device partition count"),
    {-1001, "CL_PLATFORM_NOT_FOUND_KHR", "OpenCL: no platform found (ICD loader)"},
};

static const status_entry *find(optcl_status status)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == (int)status)
            return &table[i];
    return NULL;
}

unsigned optcl_version(void)
{
    return OPTCL_VERSION_HEX;
}

const char *optcl_status_name(optcl_status status)
{
    const status_entry *e = find(status);
    return e ? e->name : "OPTCL_UNKNOWN_STATUS";
}

const char *optcl_status_string(optcl_status status)
{
    const status_entry *e = find(status);
    return e ? e->text : "unknown status";
}

void optcl__vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    if (!buf || size == 0)
        return;
    int n = vsnprintf(buf, size, fmt, ap);
    if (n < 0)
        buf[0] = '\0';
}

void optcl__format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    optcl__vformat(buf, size, fmt, ap);
    va_end(ap);
}

optcl_status optcl__fail(char *message, optcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    optcl__vformat(message, OPTCL__MESSAGE_MAX, fmt, ap);
    va_end(ap);
    return status;
}
