/* device_select.c — device choice: explicit indices, a name substring, or OPTCL_DEVICE; by
 * default the first GPU of any platform, else the first device of any type. */
#include "device_select.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

typedef struct candidate {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index, device_index;
    cl_device_type type;
    char name[512]; /* "<platform> <device>" */
} candidate;

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
            c->type = 0;
            clGetDeviceInfo(devices[d], CL_DEVICE_TYPE, sizeof c->type, &c->type, NULL);
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

    const candidate *pick = NULL;
    if (want_platform >= 0 || want_device >= 0) {
        int seen = 0; /* with platform -1 the device index counts across platforms */
        for (size_t i = 0; i < n && !pick; i++) {
            if (want_platform >= 0 && cands[i].platform_index != want_platform)
                continue;
            if (want_device < 0 ||
                (want_platform >= 0 ? cands[i].device_index : seen) == want_device)
                pick = &cands[i];
            seen++;
        }
    } else if (want_name) {
        for (size_t i = 0; i < n && !pick; i++)
            if (contains_ignoring_case(cands[i].name, want_name))
                pick = &cands[i];
    } else {
        for (size_t i = 0; i < n && !pick; i++)
            if (cands[i].type & CL_DEVICE_TYPE_GPU)
                pick = &cands[i];
        if (!pick)
            pick = &cands[0];
    }
    if (!pick) {
        char list[1024] = "";
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%d:%d %s", i ? "; " : "",
                     cands[i].platform_index, cands[i].device_index, cands[i].name);
        }
        if (want_name)
            return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                               "no OpenCL device matches '%s'%s (available: %s)", want_name,
                               env && want_name == env ? " from OPTCL_DEVICE" : "", list);
        return optcl__fail(message, OPTCL_ERROR_NO_DEVICE,
                           "no OpenCL device at platform %d, device %d (available: %s)",
                           want_platform, want_device, list);
    }
    *platform = pick->platform;
    *device = pick->device;
    return OPTCL_SUCCESS;
}
