/* replay_files.c — replay's outputs (OUT, --scale-out, --out-eval, --save-state) are written
 * whole or not at all: each first to a temporary file next to it, reserved as the library
 * reserves its own (host/atomic_file.h: the replaced file's permissions or fopen's, a name cut
 * to fit, a killed run's temporaries removed, a live one locked), and renamed over its path
 * only once every one is written, the checkpoint last — so a failure before the renames
 * leaves every existing file as it was, and a checkpoint never moves on without the rows of
 * its steps. */
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The folder that will hold path's file and the file's name there: rename() replaces that
 * entry, so two paths with the same folder (by device and inode: "d/../b" and "./b" too) and
 * name are one output, whether or not the file exists yet. 0 when the folder cannot be read
 * (its temporary then cannot be made either). */
static int entry_of(const char *path, struct stat *folder, const char **name)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash && (size_t)(slash - path) >= sizeof dir)
        return 0;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    *name = slash ? slash + 1 : path;
    return stat(dir, folder) == 0;
}

static int same_output(const char *a, const char *b)
{
    struct stat sa, sb;
    const char *na, *nb;
    if (!strcmp(a, b))
        return 1;
    /* two names of one existing file (hard links, a symbolic link to it) */
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
        return 1;
    return entry_of(a, &sa, &na) && entry_of(b, &sb, &nb) && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino && !strcmp(na, nb);
}

int optcl_cli_outputs_check(const replay_output *outs, size_t count, char *msg)
{
    for (size_t i = 0; i < count; i++) {
        struct stat si;
        if (!outs[i].path)
            continue;
        if (stat(outs[i].path, &si) == 0 && S_ISDIR(si.st_mode)) /* now, not at the rename */
            return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s is a folder", outs[i].option,
                            outs[i].path) > 0;
        for (size_t j = 0; j < i; j++)
            if (outs[j].path && same_output(outs[i].path, outs[j].path))
                return snprintf(msg, OPTCL_REPLAY_MSG,
                                "%s %s and %s %s name the same file: each output needs its own",
                                outs[j].option, outs[j].path, outs[i].option, outs[i].path) > 0;
    }
    return 0;
}

/* Tests only: OPTCL_REPLAY_FAIL=write:OPTION or rename:OPTION (OPTION: --out, --scale-out,
 * --out-eval, --save-state) fails that output after its file is written, or its rename, as a
 * full disk or a folder that stopped being writable could — which a test cannot bring about
 * deterministically otherwise (root writes anywhere), yet the promises about what a failure
 * at those points leaves behind need testing. */
static int fail_on_purpose(const char *stage, const replay_output *out, char *msg)
{
    const char *env = getenv("OPTCL_REPLAY_FAIL");
    size_t len = strlen(stage);
    if (!env || strncmp(env, stage, len) != 0 || env[len] != ':' ||
        strcmp(env + len + 1, out->option))
        return 0;
    return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s: %s failed on purpose (OPTCL_REPLAY_FAIL=%s)",
                    out->option, out->path, stage, env) > 0;
}

int optcl_cli_output_temp(replay_output *out, char *msg)
{
    char detail[OPTCL_REPLAY_MSG - 256];
    if (optcl__atomic_reserve(&out->tmp, out->path, detail, sizeof detail) == OPTCL_SUCCESS)
        return 0;
    return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s", out->option, detail) > 0;
}

int optcl_cli_output_written(replay_output *out, char *msg)
{
    /* The library's save into the temporary renamed its own temporary over it: the file named
     * there now is not the one reserved and locked. Until it is locked here, a save to the
     * same path elsewhere may take it for abandoned and remove it; then this fails (and the
     * run with it) rather than renaming nothing over the output. */
    char detail[OPTCL_REPLAY_MSG - 256];
    if (optcl__atomic_relock(&out->tmp, detail, sizeof detail) != OPTCL_SUCCESS)
        return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s", out->option, detail) > 0;
    return fail_on_purpose("write", out, msg);
}

int optcl_cli_outputs_commit(replay_output *outs, size_t count, char *msg)
{
    for (size_t i = 0; i < count; i++) {
        char detail[OPTCL_REPLAY_MSG - 256];
        if (!outs[i].tmp.tmp_path)
            continue;
        if (fail_on_purpose("rename", &outs[i], msg))
            return 1;
        if (optcl__atomic_place(&outs[i].tmp, detail, sizeof detail) != OPTCL_SUCCESS)
            return snprintf(msg, OPTCL_REPLAY_MSG, "%s %s", outs[i].option, detail) > 0;
    }
    return 0;
}

void optcl_cli_outputs_discard(replay_output *outs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        optcl__atomic_release(&outs[i].tmp);
}
