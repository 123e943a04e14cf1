/* fault_seam.c — the wrappers behind fault_seam.h. test_faults is linked with
 * -Wl,--wrap=<name> for every name in tests/fault_wrapped.txt, so optcl's call to clFinish
 * reaches __wrap_clFinish here, which counts it and either fails it or calls __real_clFinish
 * (the ICD loader's). Failures look like the real thing: an OpenCL status (and NULL for
 * creates), or -1/NULL/EOF with errno and, for streams, the error indicator set. */
#include "fault_seam.h"

#include "optcl.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- counting ----------------------------------------------------------------------------- */

static bool g_armed;
static long g_target, g_calls, g_class_calls[FAULT_CLASS_COUNT], g_injected[FAULT_CLASS_COUNT];
static fault_shot g_shot;

void fault_arm(long n)
{
    g_armed = true;
    g_target = n;
    g_calls = 0;
    for (int c = 0; c < FAULT_CLASS_COUNT; c++)
        g_class_calls[c] = 0;
    g_shot = (fault_shot){0};
}

long fault_disarm(void)
{
    g_armed = false;
    return g_calls;
}

long fault_counted(fault_class cls)
{
    return g_class_calls[cls];
}

fault_shot fault_last(void)
{
    return g_shot;
}

long fault_injected(fault_class cls)
{
    return g_injected[cls];
}

/* Counts a call; true when it is the one to fail (then recorded with the code it returns). */
static bool hit(const char *name, fault_class cls, int code)
{
    if (!g_armed)
        return false;
    g_calls++;
    g_class_calls[cls]++;
    if (g_calls != g_target)
        return false;
    g_shot = (fault_shot){true, name, cls, code};
    g_injected[cls]++;
    return true;
}

bool fault_user(const char *name, int code)
{
    return hit(name, FAULT_USER, code);
}

/* ---- live OpenCL objects ------------------------------------------------------------------ */

enum { LIVE_CONTEXT, LIVE_QUEUE, LIVE_MEM, LIVE_PROGRAM, LIVE_KERNEL, LIVE_EVENT, LIVE_KINDS };
static const char *const live_names[LIVE_KINDS] = {"context", "queue",  "mem",
                                                   "program", "kernel", "event"};
static long g_live[LIVE_KINDS];

long fault_live_objects(void)
{
    long n = 0;
    for (int k = 0; k < LIVE_KINDS; k++)
        n += g_live[k];
    return n;
}

void fault_live_text(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < LIVE_KINDS && used < size; k++)
        if (g_live[k] != 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%s %ld", used ? ", " : "",
                                     live_names[k], g_live[k]);
}

/* ---- OpenCL ------------------------------------------------------------------------------- */

/* What failing calls return: allocation failures for buffers, CL_OUT_OF_HOST_MEMORY where the
 * specification allows nothing else (the platform query), CL_OUT_OF_RESOURCES everywhere else. */
#define NOMEM CL_MEM_OBJECT_ALLOCATION_FAILURE
#define NOHOST CL_OUT_OF_HOST_MEMORY
#define NORES CL_OUT_OF_RESOURCES

/* A call returning cl_int. */
#define WRAP_STATUS(name, code, params, args)                                                      \
    cl_int __real_##name params;                                                                   \
    cl_int __wrap_##name params                                                                    \
    {                                                                                              \
        if (hit(#name, FAULT_OPENCL, code))                                                        \
            return code;                                                                           \
        return __real_##name args;                                                                 \
    }

/* An enqueue: fails like WRAP_STATUS, and a returned event is a live object. */
#define WRAP_ENQUEUE(name, params, args)                                                           \
    cl_int __real_##name params;                                                                   \
    cl_int __wrap_##name params                                                                    \
    {                                                                                              \
        if (hit(#name, FAULT_OPENCL, NORES))                                                       \
            return NORES;                                                                          \
        cl_int err = __real_##name args;                                                           \
        if (err == CL_SUCCESS && event && *event)                                                  \
            g_live[LIVE_EVENT]++;                                                                  \
        return err;                                                                                \
    }

/* A create: NULL with *errcode_ret set, or a new live object. */
#define WRAP_CREATE(type, kind, name, code, params, args)                                          \
    type __real_##name params;                                                                     \
    type __wrap_##name params                                                                      \
    {                                                                                              \
        if (hit(#name, FAULT_OPENCL, code)) {                                                      \
            if (errcode_ret)                                                                       \
                *errcode_ret = code;                                                               \
            return NULL;                                                                           \
        }                                                                                          \
        type object = __real_##name args;                                                          \
        if (object)                                                                                \
            g_live[kind]++;                                                                        \
        return object;                                                                             \
    }

/* Retains and releases are counted but never failed: on a valid object no implementation fails
 * them, and nothing a caller could do about a failed release would be tested by it. */
#define WRAP_REF(type, kind, name, delta)                                                          \
    cl_int __real_##name(type object);                                                             \
    cl_int __wrap_##name(type object)                                                              \
    {                                                                                              \
        cl_int err = __real_##name(object);                                                        \
        if (err == CL_SUCCESS && (kind) < LIVE_KINDS)                                              \
            g_live[kind] += (delta);                                                               \
        return err;                                                                                \
    }

WRAP_STATUS(clGetPlatformIDs, NOHOST, (cl_uint n, cl_platform_id *platforms, cl_uint *count),
            (n, platforms, count))
WRAP_STATUS(clGetPlatformInfo, NORES,
            (cl_platform_id platform, cl_platform_info what, size_t size, void *value,
             size_t *size_ret),
            (platform, what, size, value, size_ret))
WRAP_STATUS(clGetDeviceIDs, NORES,
            (cl_platform_id platform, cl_device_type type, cl_uint n, cl_device_id *devices,
             cl_uint *count),
            (platform, type, n, devices, count))
WRAP_STATUS(clGetDeviceInfo, NORES,
            (cl_device_id device, cl_device_info what, size_t size, void *value, size_t *size_ret),
            (device, what, size, value, size_ret))
WRAP_STATUS(clGetCommandQueueInfo, NORES,
            (cl_command_queue queue, cl_command_queue_info what, size_t size, void *value,
             size_t *size_ret),
            (queue, what, size, value, size_ret))
WRAP_STATUS(clGetMemObjectInfo, NORES,
            (cl_mem mem, cl_mem_info what, size_t size, void *value, size_t *size_ret),
            (mem, what, size, value, size_ret))
WRAP_STATUS(clGetProgramBuildInfo, NORES,
            (cl_program program, cl_device_id device, cl_program_build_info what, size_t size,
             void *value, size_t *size_ret),
            (program, device, what, size, value, size_ret))
WRAP_STATUS(clGetKernelWorkGroupInfo, NORES,
            (cl_kernel kernel, cl_device_id device, cl_kernel_work_group_info what, size_t size,
             void *value, size_t *size_ret),
            (kernel, device, what, size, value, size_ret))
WRAP_STATUS(clBuildProgram, NORES,
            (cl_program program, cl_uint n, const cl_device_id *devices, const char *options,
             void(CL_CALLBACK *notify)(cl_program, void *), void *user),
            (program, n, devices, options, notify, user))
WRAP_STATUS(clSetKernelArg, NORES,
            (cl_kernel kernel, cl_uint index, size_t size, const void *value),
            (kernel, index, size, value))
WRAP_STATUS(clFinish, NORES, (cl_command_queue queue), (queue))
WRAP_STATUS(clFlush, NORES, (cl_command_queue queue), (queue))
WRAP_STATUS(clWaitForEvents, NORES, (cl_uint n, const cl_event *events), (n, events))
WRAP_STATUS(clGetEventInfo, NORES,
            (cl_event event, cl_event_info what, size_t size, void *value, size_t *size_ret),
            (event, what, size, value, size_ret))

WRAP_ENQUEUE(clEnqueueFillBuffer,
             (cl_command_queue q, cl_mem mem, const void *pattern, size_t pattern_size,
              size_t offset, size_t size, cl_uint n, const cl_event *wait, cl_event *event),
             (q, mem, pattern, pattern_size, offset, size, n, wait, event))
WRAP_ENQUEUE(clEnqueueCopyBuffer,
             (cl_command_queue q, cl_mem src, cl_mem dst, size_t src_offset, size_t dst_offset,
              size_t size, cl_uint n, const cl_event *wait, cl_event *event),
             (q, src, dst, src_offset, dst_offset, size, n, wait, event))
WRAP_ENQUEUE(clEnqueueReadBuffer,
             (cl_command_queue q, cl_mem mem, cl_bool blocking, size_t offset, size_t size,
              void *ptr, cl_uint n, const cl_event *wait, cl_event *event),
             (q, mem, blocking, offset, size, ptr, n, wait, event))
WRAP_ENQUEUE(clEnqueueWriteBuffer,
             (cl_command_queue q, cl_mem mem, cl_bool blocking, size_t offset, size_t size,
              const void *ptr, cl_uint n, const cl_event *wait, cl_event *event),
             (q, mem, blocking, offset, size, ptr, n, wait, event))
WRAP_ENQUEUE(clEnqueueNDRangeKernel,
             (cl_command_queue q, cl_kernel kernel, cl_uint dims, const size_t *offset,
              const size_t *global, const size_t *local, cl_uint n, const cl_event *wait,
              cl_event *event),
             (q, kernel, dims, offset, global, local, n, wait, event))

WRAP_CREATE(cl_context, LIVE_CONTEXT, clCreateContext, NORES,
            (const cl_context_properties *props, cl_uint n, const cl_device_id *devices,
             void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *), void *user,
             cl_int *errcode_ret),
            (props, n, devices, notify, user, errcode_ret))
WRAP_CREATE(cl_command_queue, LIVE_QUEUE, clCreateCommandQueue, NORES,
            (cl_context context, cl_device_id device, cl_command_queue_properties props,
             cl_int *errcode_ret),
            (context, device, props, errcode_ret))
WRAP_CREATE(cl_mem, LIVE_MEM, clCreateBuffer, NOMEM,
            (cl_context context, cl_mem_flags flags, size_t size, void *host, cl_int *errcode_ret),
            (context, flags, size, host, errcode_ret))
WRAP_CREATE(cl_mem, LIVE_MEM, clCreateSubBuffer, NOMEM,
            (cl_mem parent, cl_mem_flags flags, cl_buffer_create_type type, const void *info,
             cl_int *errcode_ret),
            (parent, flags, type, info, errcode_ret))
WRAP_CREATE(cl_program, LIVE_PROGRAM, clCreateProgramWithSource, NORES,
            (cl_context context, cl_uint n, const char **strings, const size_t *lengths,
             cl_int *errcode_ret),
            (context, n, strings, lengths, errcode_ret))
WRAP_CREATE(cl_kernel, LIVE_KERNEL, clCreateKernel, NORES,
            (cl_program program, const char *name, cl_int *errcode_ret),
            (program, name, errcode_ret))

WRAP_REF(cl_context, LIVE_CONTEXT, clRetainContext, +1)
WRAP_REF(cl_context, LIVE_CONTEXT, clReleaseContext, -1)
WRAP_REF(cl_command_queue, LIVE_QUEUE, clRetainCommandQueue, +1)
WRAP_REF(cl_command_queue, LIVE_QUEUE, clReleaseCommandQueue, -1)
WRAP_REF(cl_mem, LIVE_MEM, clRetainMemObject, +1)
WRAP_REF(cl_mem, LIVE_MEM, clReleaseMemObject, -1)
WRAP_REF(cl_program, LIVE_PROGRAM, clReleaseProgram, -1)
WRAP_REF(cl_kernel, LIVE_KERNEL, clReleaseKernel, -1)
WRAP_REF(cl_event, LIVE_EVENT, clReleaseEvent, -1)
WRAP_REF(cl_device_id, LIVE_KINDS, clRetainDevice, 0)
WRAP_REF(cl_device_id, LIVE_KINDS, clReleaseDevice, 0)

/* ---- files -------------------------------------------------------------------------------- */

/* A stream whose read or write failed has its error indicator set, and optcl's readers rely
 * on ferror() to tell a read error from the end of the file; glibc keeps it in _flags. */
static void set_stream_error(FILE *fp)
{
#ifdef _IO_ERR_SEEN
    fp->_flags |= _IO_ERR_SEEN;
#else
#error "fault_seam.c sets a stream's error indicator the glibc way; port set_stream_error"
#endif
}

/* errno for each kind of failure: out of descriptors, out of space, an I/O error. */
#define FAIL_OPEN EMFILE
#define FAIL_WRITE ENOSPC
#define FAIL_IO EIO

#define FILE_HIT(name, err) (hit(#name, FAULT_FILE, err) ? (errno = (err), 1) : 0)

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode)
{
    return FILE_HIT(fopen, FAIL_OPEN) ? NULL : __real_fopen(path, mode);
}

FILE *__real_fdopen(int fd, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode)
{
    return FILE_HIT(fdopen, FAIL_OPEN) ? NULL : __real_fdopen(fd, mode);
}

int __real_mkstemp(char *template);
int __wrap_mkstemp(char *template)
{
    return FILE_HIT(mkstemp, FAIL_OPEN) ? -1 : __real_mkstemp(template);
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return FILE_HIT(open, FAIL_OPEN) ? -1 : __real_open(path, flags, mode);
}

size_t __real_fwrite(const void *ptr, size_t size, size_t n, FILE *fp);
size_t __wrap_fwrite(const void *ptr, size_t size, size_t n, FILE *fp)
{
    if (FILE_HIT(fwrite, FAIL_WRITE)) {
        set_stream_error(fp);
        return 0;
    }
    return __real_fwrite(ptr, size, n, fp);
}

size_t __real_fread(void *ptr, size_t size, size_t n, FILE *fp);
size_t __wrap_fread(void *ptr, size_t size, size_t n, FILE *fp)
{
    if (FILE_HIT(fread, FAIL_IO)) {
        set_stream_error(fp);
        return 0;
    }
    return __real_fread(ptr, size, n, fp);
}

int __real_fgetc(FILE *fp);
int __wrap_fgetc(FILE *fp)
{
    if (FILE_HIT(fgetc, FAIL_IO)) {
        set_stream_error(fp);
        return EOF;
    }
    return __real_fgetc(fp);
}

int __real_fflush(FILE *fp);
int __wrap_fflush(FILE *fp)
{
    if (FILE_HIT(fflush, FAIL_WRITE)) {
        set_stream_error(fp);
        return EOF;
    }
    return __real_fflush(fp);
}

/* A failing fclose still closes the stream (as the real one does: the FILE is gone either
 * way), so a fault here leaks nothing the library did not. */
int __real_fclose(FILE *fp);
int __wrap_fclose(FILE *fp)
{
    bool fail = FILE_HIT(fclose, FAIL_WRITE);
    int rc = __real_fclose(fp);
    if (fail) {
        errno = FAIL_WRITE;
        return EOF;
    }
    return rc;
}

/* Likewise close: the descriptor is released even when it reports an error (Linux). */
int __real_close(int fd);
int __wrap_close(int fd)
{
    bool fail = FILE_HIT(close, FAIL_IO);
    int rc = __real_close(fd);
    if (fail) {
        errno = FAIL_IO;
        return -1;
    }
    return rc;
}

int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
    return FILE_HIT(fsync, FAIL_IO) ? -1 : __real_fsync(fd);
}

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to)
{
    return FILE_HIT(rename, FAIL_IO) ? -1 : __real_rename(from, to);
}

int __real_unlink(const char *path);
int __wrap_unlink(const char *path)
{
    return FILE_HIT(unlink, FAIL_IO) ? -1 : __real_unlink(path);
}

int __real_fchmod(int fd, mode_t mode);
int __wrap_fchmod(int fd, mode_t mode)
{
    return FILE_HIT(fchmod, EPERM) ? -1 : __real_fchmod(fd, mode);
}

int __real_fseek(FILE *fp, long offset, int whence);
int __wrap_fseek(FILE *fp, long offset, int whence)
{
    return FILE_HIT(fseek, FAIL_IO) ? -1 : __real_fseek(fp, offset, whence);
}

long __real_ftell(FILE *fp);
long __wrap_ftell(FILE *fp)
{
    return FILE_HIT(ftell, FAIL_IO) ? -1 : __real_ftell(fp);
}

/* The folder scan that removes abandoned temporaries before a save. */
DIR *__real_opendir(const char *path);
DIR *__wrap_opendir(const char *path)
{
    return FILE_HIT(opendir, FAIL_IO) ? NULL : __real_opendir(path);
}

struct dirent *__real_readdir(DIR *dir);
struct dirent *__wrap_readdir(DIR *dir)
{
    return FILE_HIT(readdir, FAIL_IO) ? NULL : __real_readdir(dir);
}

int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return FILE_HIT(openat, FAIL_OPEN) ? -1 : __real_openat(dirfd, path, flags, mode);
}

int __real_unlinkat(int dirfd, const char *path, int flags);
int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
    return FILE_HIT(unlinkat, FAIL_IO) ? -1 : __real_unlinkat(dirfd, path, flags);
}

int __real_fstat(int fd, struct stat *sb);
int __wrap_fstat(int fd, struct stat *sb)
{
    return FILE_HIT(fstat, FAIL_IO) ? -1 : __real_fstat(fd, sb);
}

int __real_stat(const char *path, struct stat *sb);
int __wrap_stat(const char *path, struct stat *sb)
{
    return FILE_HIT(stat, FAIL_IO) ? -1 : __real_stat(path, sb);
}
