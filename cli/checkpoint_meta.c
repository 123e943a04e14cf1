/* checkpoint_meta.c — what the command reads of a checkpoint file itself, without the library:
 * whether a path is a sharded checkpoint's manifest (inspect and replay tell the two kinds
 * apart before either reader complains about the other's format), and the replay group's
 * trust-ratio switch, which the library's readers leave out (their configuration has no
 * groups). */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDED_MAGIC "optcl-mpi-checkpoint "
#define HEADER_MAX 100000000u /* the library's limit on a safetensors header */
#define EXCLUDE_KEY "\"optcl.group.0.exclude_from_trust_ratio\""

int optcl_cli_is_manifest(const char *path)
{
    char head[sizeof SHARDED_MAGIC] = "";
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    return got == sizeof head - 1 && memcmp(head, SHARDED_MAGIC, got) == 0;
}

/* Rank 0's safetensors file of the sharded checkpoint whose manifest is at path, named as
 * optcl_mpi_checkpoint_save names it: PATH.<generation>.rank0-of-<world_size>.safetensors. */
static int rank0_file(const char *path, char *out, size_t size, char *msg, size_t msg_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return snprintf(msg, msg_size, "%s: cannot open the manifest", path) > 0;
    char line[256];
    uint64_t generation = 0, world = 0;
    while (fgets(line, sizeof line, f) && (!generation || !world)) {
        sscanf(line, "generation %" SCNu64, &generation);
        sscanf(line, "world_size %" SCNu64, &world);
    }
    fclose(f);
    if (!generation || !world)
        return snprintf(msg, msg_size, "%s: the manifest names no generation or world size", path) >
               0;
    snprintf(out, size, "%s.%" PRIu64 ".rank0-of-%" PRIu64 ".safetensors", path, generation, world);
    return 0;
}

/* The JSON header of the safetensors file at path, NUL-terminated, for free(); NULL with a
 * message when it cannot be read. */
static char *read_header(const char *path, char *msg, size_t size)
{
    FILE *f = fopen(path, "rb");
    unsigned char len_bytes[8];
    uint64_t len = 0;
    char *header = NULL;
    if (f && fread(len_bytes, 1, sizeof len_bytes, f) == sizeof len_bytes) {
        for (int i = 7; i >= 0; i--)
            len = len << 8 | len_bytes[i];
        header = len <= HEADER_MAX ? malloc((size_t)len + 1) : NULL;
    }
    if (header && fread(header, 1, (size_t)len, f) == len) {
        header[len] = '\0';
    } else {
        free(header);
        header = NULL;
        snprintf(msg, size, "%s: cannot read the safetensors header", path);
    }
    if (f)
        fclose(f);
    return header;
}

int optcl_cli_saved_trust_ratio_mask(const char *path, int *mask, char *msg, size_t size)
{
    char file[4096];
    if (!optcl_cli_is_manifest(path))
        snprintf(file, sizeof file, "%s", path);
    else if (rank0_file(path, file, sizeof file, msg, size))
        return 1;
    char *header = read_header(file, msg, size);
    if (!header)
        return 1;
    /* the key, not text inside a string value (where its quotes would be escaped) */
    const char *at = strstr(header, EXCLUDE_KEY);
    while (at && at > header && at[-1] == '\\')
        at = strstr(at + 1, EXCLUDE_KEY);
    *mask = at == NULL; /* saved only when set, as "1" (the library checks the value) */
    free(header);
    return 0;
}
