/* manifest.c — the sharded checkpoint's manifest: a few "key value" lines naming the generation
 * of rank files that make up the checkpoint, written crash-safely (it is written last, so it
 * only ever names a complete generation). */
#include "sharded.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "optcl-mpi-checkpoint 2"    /* the model's tensors follow the keys */
#define MAGIC_V1 "optcl-mpi-checkpoint 1" /* written before the tensor list: still read */

void optcl_mpi__rank_file(char *out, size_t size, const char *path, uint64_t generation, int rank,
                          uint64_t world_size)
{
    snprintf(out, size, "%s.%" PRIu64 ".rank%d-of-%" PRIu64 ".safetensors", path, generation, rank,
             world_size);
}

/* fsync of the folder that holds path, so that the rename itself is durable. */
static int sync_folder(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

optcl_status optcl_mpi__manifest_write(const char *path, const optcl_mpi__manifest *m,
                                       const optcl_params *params, char *message)
{
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp)
        return optcl_mpi__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok)
        ok = fprintf(f,
                     MAGIC "\ngeneration %" PRIu64 "\nworld_size %" PRIu64 "\nnumel %" PRIu64
                           "\nshard_size %" PRIu64 "\nstep %" PRIu64 "\nskipped %" PRIu64
                           "\nlast_norm %.17g\nlast_clip_coef %.17g\nmax_norm %.17g"
                           "\nnonfinite %d\n",
                     m->generation, m->world_size, m->numel, m->shard_size, m->step, m->skipped,
                     m->last_norm, m->last_clip_coef, m->max_norm, m->nonfinite) > 0 &&
             optcl_mpi__tensors_write(f, params);
    if (ok)
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved = errno;
    }
    if (!ok)
        unlink(tmp);
    else if (sync_folder(path) != 0) {
        ok = 0;
        saved = errno;
    }
    free(tmp);
    if (!ok)
        return optcl_mpi__fail(message, OPTCL_ERROR_IO, "%s: cannot write the manifest: %s", path,
                               strerror(saved));
    return OPTCL_SUCCESS;
}

/* The manifest's keys: whole numbers, or doubles (max_norm finite and ≥ 0, nonfinite 0 or 1). */
typedef enum kind { WHOLE, REAL, GUARD_NORM, FLAG } kind;

typedef struct key_entry {
    const char *key;
    kind kind;
    size_t offset; /* into optcl_mpi__manifest */
} key_entry;

// clang-format off
#define KEY(name, k) {#name, k, offsetof(optcl_mpi__manifest, name)}
static const key_entry keys[] = {
    KEY(generation, WHOLE), KEY(world_size, WHOLE), KEY(numel, WHOLE),
    KEY(shard_size, WHOLE), KEY(step, WHOLE), KEY(skipped, WHOLE),
    KEY(last_norm, REAL), KEY(last_clip_coef, REAL), KEY(max_norm, GUARD_NORM),
    KEY(nonfinite, FLAG), KEY(tensors, WHOLE),
};
// clang-format on
#define KEY_COUNT (sizeof keys / sizeof keys[0])

/* One "key value" line into m; 0 when it is not one of ours or its value is malformed. */
static int parse_line(const char *line, optcl_mpi__manifest *m, unsigned *seen)
{
    for (unsigned k = 0; k < KEY_COUNT; k++) {
        size_t n = strlen(keys[k].key);
        if (strncmp(line, keys[k].key, n) != 0 || line[n] != ' ')
            continue;
        const char *v = line + n + 1;
        char *end = NULL, *field = (char *)m + keys[k].offset;
        errno = 0;
        if (keys[k].kind == REAL || keys[k].kind == GUARD_NORM) {
            double d = strtod(v, &end);
            if (end == v || (keys[k].kind == GUARD_NORM && !(isfinite(d) && d >= 0.0)))
                return 0;
            memcpy(field, &d, sizeof d);
        } else {
            unsigned long long x = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
            if (!end || errno == ERANGE || (keys[k].kind == FLAG && x > 1))
                return 0;
            if (keys[k].kind == FLAG) {
                int flag = (int)x;
                memcpy(field, &flag, sizeof flag);
            } else {
                uint64_t whole = x;
                memcpy(field, &whole, sizeof whole);
            }
        }
        if (*end && *end != '\n')
            return 0;
        *seen |= 1u << k;
        return 1;
    }
    return 0;
}

optcl_status optcl_mpi__manifest_read(const char *path, optcl_mpi__manifest *m,
                                      optcl_mpi__tensor_list *tensors, char *message)
{
    memset(m, 0, sizeof *m);
    optcl_mpi__tensor_list local = {0}, *list = tensors ? tensors : &local;
    memset(list, 0, sizeof *list);
    FILE *f = fopen(path, "r");
    if (!f)
        return optcl_mpi__fail(message, OPTCL_ERROR_IO, "%s: cannot open the manifest: %s", path,
                               strerror(errno));
    char *line = NULL;
    size_t room = 0;
    unsigned seen = 0, required = (1u << KEY_COUNT) - 1;
    int ok = getline(&line, &room, f) > 0, v1 = ok && strcmp(line, MAGIC_V1 "\n") == 0;
    ok = ok && (v1 || strcmp(line, MAGIC "\n") == 0);
    if (v1) /* no tensor list */
        required &= ~(1u << (KEY_COUNT - 1));
    ssize_t len;
    while (ok && (len = getline(&line, &room, f)) > 0) /* a NUL byte ends no line */
        ok = strlen(line) == (size_t)len &&
             (!v1 && strncmp(line, "tensor ", 7) == 0 ? optcl_mpi__tensor_line(line, list)
                                                      : parse_line(line, m, &seen));
    free(line);
    fclose(f);
    if (!ok || seen != required || m->generation == 0 || m->world_size == 0 ||
        m->world_size > (uint64_t)INT32_MAX || list->count != m->tensors ||
        (!v1 && (m->tensors == 0 || !optcl_mpi__tensor_list_valid(list, m->numel)))) {
        optcl_mpi__tensor_list_free(list);
        return optcl_mpi__fail(message, OPTCL_ERROR_FORMAT,
                               "%s: not a sharded optcl checkpoint (expected the manifest that "
                               "optcl_mpi_checkpoint_save writes)",
                               path);
    }
    optcl_mpi__tensor_list_free(&local);
    return OPTCL_SUCCESS;
}
