/* fault_seam.h — the fault-injection seam of test_faults: every OpenCL call and file operation
 * optcl makes goes through a wrapper (GNU ld --wrap, in that one test binary) that counts it and
 * can make one of them fail; it also counts the live OpenCL objects. The library is unchanged. */
#ifndef OPTCL_FAULT_SEAM_H
#define OPTCL_FAULT_SEAM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum fault_class {
    FAULT_OPENCL = 0, /* an OpenCL call that can fail (retains and releases are not counted) */
    FAULT_FILE = 1,   /* a file operation: open, read, write, flush, sync, close, rename, … */
    FAULT_USER = 2,   /* a failure point in the test's own callbacks (fault_user) */
    FAULT_CLASS_COUNT
} fault_class;

/* The call that failed since the last fault_arm. */
typedef struct fault_shot {
    bool fired;
    const char *name; /* "clCreateBuffer", "fwrite", … */
    fault_class cls;
    int code; /* the OpenCL status returned, the errno set, or fault_user's code */
} fault_shot;

/* Starts counting the calls that can fail; the n-th one (n >= 1) fails, n = 0 fails none. */
void fault_arm(long n);
/* Stops counting; returns how many calls were counted since fault_arm (of both classes). */
long fault_disarm(void);
/* How many calls of one class the last armed window counted. */
long fault_counted(fault_class cls);
/* The failure of the last armed window (fired false when the count never reached n). */
fault_shot fault_last(void);
/* Faults injected since the process started, per class. */
long fault_injected(fault_class cls);

/* A failure point in a callback of the test's that optcl calls (a loss function): counted with
 * the others; true when it is the call to fail, which then returns code. */
bool fault_user(const char *name, int code);

/* OpenCL objects alive now (created or retained, minus released) through optcl or the test,
 * all kinds together; fault_live_text says which kinds, e.g. "mem 6, kernel 1". Devices are
 * not counted: root devices have no reference count. */
long fault_live_objects(void);
void fault_live_text(char *buf, size_t size);

#endif
