/* program.c — builds kernel programs from the embedded kernels/ sources (or, for kernel
 * development, from the folder named by OPTCL_KERNEL_DIR) and caches them per context and
 * build options, so each configuration is compiled once. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *embedded_source(const char *name)
{
    for (size_t i = 0; i < optcl__kernel_source_count; i++)
        if (strcmp(optcl__kernel_sources[i].name, name) == 0)
            return optcl__kernel_sources[i].text;
    return NULL;
}

/* Reads <dir>/<name>.cl into a malloc'd string; NULL (with message) on failure. */
static char *read_source_file(const char *dir, const char *name, char *message)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cl", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        optcl__fail(message, OPTCL_ERROR_IO, "OPTCL_KERNEL_DIR: cannot open %s", path);
        return NULL;
    }
    char *text = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)len + 1);
        if (text && fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    if (!text) {
        optcl__fail(message, OPTCL_ERROR_IO, "OPTCL_KERNEL_DIR: cannot read %s", path);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

#define SOURCES 4

/* common.cl, q8.cl (8-bit state, empty unless STATE_DTYPE is 3), guard_decide.cl (empty unless
 * GUARD), then <family>.cl, from the environment's folder or the embedded copies. */
static optcl_status load_sources(const char *family, char *texts[SOURCES], char *message)
{
    const char *names[SOURCES] = {"common", "q8", "guard_decide", family};
    const char *dir = getenv("OPTCL_KERNEL_DIR");
    for (int i = 0; i < SOURCES; i++) {
        if (dir && *dir) {
            texts[i] = read_source_file(dir, names[i], message);
        } else {
            const char *src = embedded_source(names[i]);
            if (!src)
                return optcl__fail(message, OPTCL_ERROR_NOT_FOUND, "no kernel source '%s'",
                                   names[i]);
            texts[i] = strdup(src);
        }
        if (!texts[i])
            return dir && *dir ? OPTCL_ERROR_IO : OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    return OPTCL_SUCCESS;
}

static char *fetch_build_log(cl_program program, cl_device_id device)
{
    size_t size = 0;
    if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) != CL_SUCCESS)
        return strdup("");
    char *log = malloc(size + 1);
    if (!log)
        return NULL;
    if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log, NULL) != CL_SUCCESS)
        size = 0;
    log[size] = '\0';
    return log;
}

static optcl_status build(optcl_context *ctx, const char *family, const char *options,
                          optcl__program *entry)
{
    char *texts[SOURCES] = {NULL};
    optcl_status st = load_sources(family, texts, ctx->message);
    cl_int err = CL_SUCCESS;
    if (st == OPTCL_SUCCESS) {
        const char *parts[SOURCES] = {texts[0], texts[1], texts[2], texts[3]};
        entry->program = clCreateProgramWithSource(ctx->cl_ctx, SOURCES, parts, NULL, &err);
        if (err != CL_SUCCESS)
            st = optcl__fail(ctx->message, (optcl_status)err,
                             "clCreateProgramWithSource(%s) failed: %s", family,
                             optcl_status_name((optcl_status)err));
    }
    for (int i = 0; i < SOURCES; i++)
        free(texts[i]);
    if (st != OPTCL_SUCCESS)
        return st;

    char full[1024];
    snprintf(full, sizeof full, "-cl-std=CL1.2%s -DVEC=%u %s",
             ctx->correctly_rounded ? " -cl-fp32-correctly-rounded-divide-sqrt" : "",
             ctx->vector_width, options);
    err = clBuildProgram(entry->program, 1, &ctx->device, full, NULL, NULL);
    entry->build_log = fetch_build_log(entry->program, ctx->device);
    if (err != CL_SUCCESS) {
        st = optcl__fail(ctx->message, OPTCL_ERROR_BUILD_FAILED,
                         "building kernels/%s.cl with '%s' failed (%s):\n%s", family, full,
                         optcl_status_name((optcl_status)err),
                         entry->build_log ? entry->build_log : "");
        return st;
    }
    return entry->build_log ? OPTCL_SUCCESS : OPTCL_ERROR_OUT_OF_HOST_MEMORY;
}

static void free_entry(optcl__program *e)
{
    if (!e)
        return;
    if (e->program)
        clReleaseProgram(e->program);
    free(e->build_log);
    free(e->key);
    free(e);
}

optcl_status optcl__get_program(optcl_context *ctx, const char *family, const char *options,
                                cl_program *program, const char **build_log)
{
    size_t key_len = strlen(family) + strlen(options) + 2;
    char *key = malloc(key_len);
    if (!key)
        return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    snprintf(key, key_len, "%s|%s", family, options);
    for (optcl__program *e = ctx->programs; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            free(key);
            *program = e->program;
            *build_log = e->build_log;
            return OPTCL_SUCCESS;
        }
    }
    optcl__program *entry = calloc(1, sizeof *entry);
    if (!entry) {
        free(key);
        return optcl__fail(ctx->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    entry->key = key;
    optcl_status st = build(ctx, family, options, entry);
    if (st != OPTCL_SUCCESS) {
        free_entry(entry); /* a failed build is not cached: the next create tries again */
        return st;
    }
    entry->next = ctx->programs;
    ctx->programs = entry;
    *program = entry->program;
    *build_log = entry->build_log;
    return OPTCL_SUCCESS;
}

void optcl__release_programs(optcl_context *ctx)
{
    optcl__program *e = ctx->programs;
    while (e) {
        optcl__program *next = e->next;
        free_entry(e);
        e = next;
    }
    ctx->programs = NULL;
}
