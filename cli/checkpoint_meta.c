/* checkpoint_meta.c — what the command reads of a checkpoint file itself, without the library:
 * whether a path is a sharded checkpoint's manifest (inspect and replay tell the two kinds
 * apart before either reader complains about the other's format). */
#include "cli.h"

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
