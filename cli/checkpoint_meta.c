/* checkpoint_meta.c — what the command reads of a checkpoint file beside the library's public
 * readers: whether a path is a sharded checkpoint's manifest (inspect and replay tell the two
 * kinds apart before either reader complains about the other's format), and the replay group's
 * trust-ratio switch, which the public readers leave out (their configuration has no groups),
 * read from the header's metadata with the library's internal reader. */
#include "cli.h"

#include "safetensors.h" /* host/: the library's header reader */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SHARDED_MAGIC "optcl-mpi-checkpoint "

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

int optcl_cli_saved_trust_ratio_mask(const char *path, int *mask, char *msg, size_t size)
{
    char file[4096];
    if (!optcl_cli_is_manifest(path))
        snprintf(file, sizeof file, "%s", path);
    else if (rank0_file(path, file, sizeof file, msg, size))
        return 1;
    /* The library's own reader of the header: the key in __metadata__, never a tensor's name or
     * text inside a value that happens to spell it. */
    optcl__st_file header;
    if (optcl__st_read_header(file, &header, msg, size) != OPTCL_SUCCESS)
        return 1;
    /* saved only when set (the library's load takes its presence, whatever the value) */
    *mask = optcl__st_meta_get(&header, "optcl.group.0.exclude_from_trust_ratio") == NULL;
    optcl__st_free(&header);
    return 0;
}
