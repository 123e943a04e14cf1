/* manifest.c — the sharded checkpoint's manifest: a few "key value" lines naming the generation
 * of rank files that make up the checkpoint, written crash-safely (it is written last, so it
 * only ever names a complete generation). */
#include "sharded.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "optcl-mpi-checkpoint 1"

void optcl_mpi__rank_file(char *out, size_t size, const char *path, uint64_t generation, int rank,
                          uint64_t world_size)
{
    snprintf(out, size, "%s.%" PRIu64 ".rank%d-of-%" PRIu64 ".safetensors", path, generation,
             rank, world_size);
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
                                       char *message)
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
                           "\nlast_norm %.17g\nmax_norm %.17g\nnonfinite %d\n",
                     m->generation, m->world_size, m->numel, m->shard_size, m->step, m->skipped,
                     m->last_norm, m->max_norm, m->nonfinite) > 0;
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

/* "key value" with a whole number, or a double for the real-valued keys. */
static int parse_line(const char *line, optcl_mpi__manifest *m, unsigned *seen)
{
    static const char *keys[] = {"generation", "world_size", "numel",     "shard_size",
                                 "step",       "skipped",    "last_norm", "max_norm",
                                 "nonfinite"};
    for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t n = strlen(keys[k]);
        if (strncmp(line, keys[k], n) != 0 || line[n] != ' ')
            continue;
        const char *v = line + n + 1;
        char *end = NULL;
        errno = 0;
        if (k == 6 || k == 7) {
            double d = strtod(v, &end);
            if (end == v || (*end && *end != '\n') || (k == 7 && !(isfinite(d) && d >= 0.0)))
                return 0;
            *(k == 6 ? &m->last_norm : &m->max_norm) = d;
        } else {
            if (*v < '0' || *v > '9')
                return 0;
            unsigned long long x = strtoull(v, &end, 10);
            if ((*end && *end != '\n') || errno == ERANGE)
                return 0;
            uint64_t *fields[] = {&m->generation, &m->world_size, &m->numel,
                                  &m->shard_size, &m->step,       &m->skipped};
            if (k == 8) {
                if (x > 1)
                    return 0;
                m->nonfinite = (int)x;
            } else {
                *fields[k] = x;
            }
        }
        *seen |= 1u << k;
        return 1;
    }
    return 0;
}

optcl_status optcl_mpi__manifest_read(const char *path, optcl_mpi__manifest *m, char *message)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (!f)
        return optcl_mpi__fail(message, OPTCL_ERROR_IO, "%s: cannot open the manifest: %s", path,
                               strerror(errno));
    char line[256];
    unsigned seen = 0;
    int ok = fgets(line, sizeof line, f) && strcmp(line, MAGIC "\n") == 0;
    while (ok && fgets(line, sizeof line, f))
        ok = parse_line(line, m, &seen);
    fclose(f);
    if (!ok || seen != 0x1ffu || m->generation == 0 || m->world_size == 0 ||
        m->world_size > (uint64_t)INT32_MAX)
        return optcl_mpi__fail(message, OPTCL_ERROR_FORMAT,
                               "%s: not a sharded optcl checkpoint (expected the manifest that "
                               "optcl_mpi_checkpoint_save writes)",
                               path);
    return OPTCL_SUCCESS;
}
