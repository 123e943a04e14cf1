/* device_select.c — device choice: explicit indices, a name substring, or OPTCL_DEVICE; by
 * default the largest usable GPU of any platform, discrete ones first, else the first usable
 * device of any type
 * (optcl__default_device). A device not available or without a compiler is never chosen. */
#include "device_select.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

typedef struct candidate {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index, device_index;
    optcl__device_facts facts;
    char name[512]; /* "<platform> <device>" */
} candidate;

bool optcl__device_usable(const optcl__device_facts *f)
{
    return f->available && f->compiler;
}

/* The default choice's measure of a GPU: MiB of global memory × compute units (no overflow
 * below 2^44 of either). */
static uint64_t device_size(const optcl__device_facts *f)
{
    return (uint64_t)(f->global_memory >> 20) * f->compute_units;
}

/* Whether GPU a ranks before GPU b. The size alone favours an integrated GPU: its global memory
 * is the host's RAM, and some count far more compute units (Intel's execution units) than a
 * discrete GPU's multiprocessors, so memory unified with the host ranks it after every
 * discrete one. */
static bool ranks_before(const optcl__device_facts *a, const optcl__device_facts *b)
{
    if (a->unified != b->unified)
        return !a->unified;
    return device_size(a) > device_size(b);
}

size_t optcl__default_device(const optcl__device_facts *facts, size_t n)
{
    size_t best = n, first = n;
    for (size_t i = 0; i < n; i++) {
        if (!optcl__device_usable(&facts[i]))
            continue;
        if (first == n)
            first = i;
        if ((facts[i].type & CL_DEVICE_TYPE_GPU) &&
            (best == n || ranks_before(&facts[i], &facts[best])))
            best = i;
    }
    return best < n ? best : first;
}

/* The facts of device d; a query that fails leaves the device looking usable, as before these
 * were read: the context's creation then says what is wrong. */
static void read_facts(cl_device_id d, optcl__device_facts *f)
{
    cl_bool available = CL_TRUE, compiler = CL_TRUE, unified = CL_FALSE;
    memset(f, 0, sizeof *f);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof f->type, &f->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL);
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof f->global_memory, &f->global_memory, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof f->compute_units, &f->compute_units,
                    NULL);
    /* deprecated since OpenCL 2.0 but still answered; unanswered, the device ranks by size */
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    f->available = available != CL_FALSE;
    f->unified = unified != CL_FALSE;
    f->compiler = compiler != CL_FALSE;
}

/* Why optcl will not run on c ("" when it will), for the messages. */
static const char *unusable_why(const candidate *c)
{
    return !c->facts.available  ? " (not available)"
           : !c->facts.compiler ? " (no OpenCL C compiler)"
                                : "";
}

static bool contains_ignoring_case(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* "Nothing there" from the ICD loader (cl_khr_icd's CL_PLATFORM_NOT_FOUND_KHR) or a platform. */
static bool is_not_found(cl_int err)
{
    return err == -1001 || err == CL_DEVICE_NOT_FOUND;
}

/* Every device of every platform. *err receives the first failure other than "none found":
 * a device list that could not be read must not quietly become another device or "no device". */
static size_t list_candidates(candidate *out, size_t max, cl_int *err)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    *err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &np);
    if (*err != CL_SUCCESS) {
        if (is_not_found(*err))
            *err = CL_SUCCESS;
        return 0;
    }
    size_t n = 0;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devices[MAX_DEVICES];
        cl_uint nd = 0;
        cl_int e = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devices, &nd);
        if (e != CL_SUCCESS) {
            if (!is_not_found(e) && *err == CL_SUCCESS)
                *err = e;
            continue;
        }
        char pname[200] = "";
        clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
        for (cl_uint d = 0; d < nd && d < MAX_DEVICES && n < max; d++) {
            candidate *c = &out[n++];
            c->platform = platforms[p];
            c->device = devices[d];
            c->platform_index = (int)p;
            c->device_index = (int)d;
            read_facts(devices[d], &c->facts);
            char dname[256] = "";
            clGetDeviceInfo(devices[d], CL_DEVICE_NAME, sizeof dname - 1, dname, NULL);
            snprintf(c->name, sizeof c->name, "%s %s", pname, dname);
        }
    }
    return n;
}

/* "P:D" → indices; returns false when spec is not of that form. */
static bool parse_indices(const char *spec, int *platform, int *device)
{
    char *end;
    long p = strtol(spec, &end, 10);
    if (end == spec || *end != ':')
        return false;
    const char *d_start = end + 1;
    long d = strtol(d_start, &end, 10);
    if (end == d_start || *end != '\0' || p < 0 || d < 0 || p > 1000 || d > 1000)
        return false;
    *platform = (int)p;
    *device = (int)d;
    return true;
}

/* The device at the indices: device -1 is the platform's first usable device (else its first);
 * with platform -1 the device index counts across platforms. NULL when there is none. */
static const candidate *by_indices(const candidate *cands, size_t n, int platform, int device)
{
    const candidate *any = NULL;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (platform >= 0 && cands[i].platform_index != platform)
            continue;
        if (device < 0 && optcl__device_usable(&cands[i].facts))
            return &cands[i];
        if (device < 0 && !any)
            any = &cands[i];
        if (device >= 0 && (platform >= 0 ? cands[i].device_index : seen) == device)
            return &cands[i];
        seen++;
    }
    return any;
}

/* The first usable device whose name holds name (else the first that holds it); NULL when none
 * does. */
static const candidate *by_name(const candidate *cands, size_t n, const char *name)
{
    const candidate *any = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!contains_ignoring_case(cands[i].name, name))
            continue;
        if (optcl__device_usable(&cands[i].facts))
            return &cands[i];
        if (!any)
            any = &cands[i];
    }
    return any;
}

/* optcl__default_device's choice; NULL when no device is usable. */
static const candidate *by_default(const candidate *cands, size_t n)
{
    optcl__device_facts facts[MAX_DEVICES];
    for (size_t i = 0; i < n; i++)
        facts[i] = cands[i].facts;
    size_t pick = optcl__default_device(facts, n);
    return pick < n ? &cands[pick] : NULL;
}

/* "P:D <name>; …" with why optcl cannot run on a device, for the messages. */
static void list_devices(const candidate *cands, size_t n, char *list, size_t size)
{
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, "%s%d:%d %s%s", i ? "; " : "", cands[i].platform_index,
                 cands[i].device_index, cands[i].name, unusable_why(&cands[i]));
    }
}

/* The failure when nothing matched the choice (pick NULL) or what matched is not usable,
 * naming the devices there are. */
static optcl_status refuse(const candidate *cands, size_t n, const candidate *pick,
                           const char *want_name, bool name_from_env, int want_platform,
                           int want_device, char *message)
{
    char list[1024];
    list_devices(cands, n, list, sizeof list);
    if (pick)
        return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                           "OpenCL device %d:%d %s is %s, and optcl cannot run there (devices: %s)",
                           pick->platform_index, pick->device_index, pick->name,
                           !pick->facts.available ? "not available (CL_DEVICE_AVAILABLE)"
                                                  : "without an OpenCL C compiler "
                                                    "(CL_DEVICE_COMPILER_AVAILABLE)",
                           list);
    if (want_name)
        return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                           "no OpenCL device matches '%s'%s (devices: %s)", want_name,
                           name_from_env ? " from OPTCL_DEVICE" : "", list);
    if (want_platform >= 0 || want_device >= 0)
        return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                           "no OpenCL device at platform %d, device %d (devices: %s)",
                           want_platform, want_device, list);
    return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                       "no OpenCL device optcl can run on: each is not available or has no "
                       "OpenCL C compiler (devices: %s)",
                       list);
}

optcl_status optcl__select_device(const optcl_context_config *config, cl_platform_id *platform,
                                  cl_device_id *device, bool *use_reference, char *message)
{
    int want_platform = config->platform_index, want_device = config->device_index;
    const char *want_name = config->device_name;
    const char *env = config->ignore_environment ? NULL : getenv("OPTCL_DEVICE");
    bool explicit_choice = want_platform >= 0 || want_device >= 0 || want_name;
    *use_reference = false;
    if (env && *env && !explicit_choice) {
        if (strcmp(env, "reference") == 0) {
            *use_reference = true;
            return OPTCL_SUCCESS;
        }
        if (!parse_indices(env, &want_platform, &want_device))
            want_name = env;
    }

    candidate cands[MAX_DEVICES];
    cl_int err = CL_SUCCESS;
    size_t n = list_candidates(cands, MAX_DEVICES, &err);
    if (err != CL_SUCCESS)
        return optcl__fail(message, (optcl_status)err, "listing the OpenCL devices failed: %s",
                           optcl_status_name((optcl_status)err));
    if (n == 0)
        return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                           "no OpenCL platform or device found (is an ICD such as "
                           "pocl-opencl-icd installed?)");

    const candidate *pick = want_platform >= 0 || want_device >= 0
                                ? by_indices(cands, n, want_platform, want_device)
                            : want_name ? by_name(cands, n, want_name)
                                        : by_default(cands, n);
    if (!pick || !optcl__device_usable(&pick->facts))
        return refuse(cands, n, pick, want_name, env && want_name == env, want_platform,
                      want_device, message);
    *platform = pick->platform;
    *device = pick->device;
    return OPTCL_SUCCESS;
}
