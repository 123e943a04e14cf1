/* replay_files.c — replay's outputs (OUT, --scale-out, --out-eval, --save-state) are written
 * whole or not at all: each first to a temporary file next to it, and renamed over its path
 * only once every one is written, the checkpoint last — so a failure leaves every existing
 * file as it was, and a checkpoint never moves on without the rows of its steps. */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int optcl_cli_outputs_check(const replay_output *outs, size_t count, char *msg)
{
    for (size_t i = 0; i < count; i++) {
        struct stat si, sj;
        if (!outs[i].path)
            continue;
        int exists = stat(outs[i].path, &si) == 0;
        if (exists && S_ISDIR(si.st_mode)) /* found now, not when renaming over it */
            return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s is a folder", outs[i].option,
                            outs[i].path) > 0;
        for (size_t j = 0; j < i; j++) {
            /* the same text, or two names of one existing file */
            int same = outs[j].path && (!strcmp(outs[i].path, outs[j].path) ||
                                        (exists && stat(outs[j].path, &sj) == 0 &&
                                         si.st_dev == sj.st_dev && si.st_ino == sj.st_ino));
            if (same)
                return snprintf(msg, OPTCL_REPLAY_MSG,
                                "%s %s and %s %s name the same file: each output needs its own",
                                outs[j].option, outs[j].path, outs[i].option, outs[i].path) > 0;
        }
    }
    return 0;
}

int optcl_cli_output_temp(replay_output *out, char *msg)
{
    const char *slash = strrchr(out->path, '/');
    size_t folder = slash ? (size_t)(slash - out->path) + 1 : 0, size = strlen(out->path) + 16;
    out->tmp = malloc(size);
    if (!out->tmp)
        return snprintf(msg, OPTCL_REPLAY_MSG, "out of host memory") > 0;
    /* named as the library names its own: a killed run's is removed by the next save there */
    snprintf(out->tmp, size, "%.*s.%s.tmp.XXXXXX", (int)folder, out->path, out->path + folder);
    int fd = mkstemp(out->tmp);
    if (fd >= 0)
        return close(fd), 0;
    snprintf(msg, OPTCL_REPLAY_MSG, "%s %s: cannot create a temporary file next to it: %s",
             out->option, out->path, strerror(errno));
    free(out->tmp);
    out->tmp = NULL;
    return 1;
}

/* fsync of the folder that holds path, so that a rename into it lasts. */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char folder[4096];
    snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - path) + 1 : 1,
             slash ? path : ".");
    int fd = open(folder, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int optcl_cli_outputs_commit(replay_output *outs, size_t count, char *msg)
{
    for (size_t i = 0; i < count; i++) {
        if (!outs[i].tmp)
            continue;
        if (rename(outs[i].tmp, outs[i].path) != 0)
            return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s: cannot rename %s over it: %s",
                            outs[i].option, outs[i].path, outs[i].tmp, strerror(errno)) > 0;
        sync_folder(outs[i].path);
        free(outs[i].tmp);
        outs[i].tmp = NULL;
    }
    return 0;
}

void optcl_cli_outputs_discard(replay_output *outs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (outs[i].tmp)
            remove(outs[i].tmp);
        free(outs[i].tmp);
        outs[i].tmp = NULL;
    }
}
