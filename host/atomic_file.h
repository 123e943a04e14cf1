/* atomic_file.h — crash-safe file replacement: write to a temporary file in the same folder,
 * flush, fsync, rename over the target, fsync the folder. A crash at any moment leaves either
 * the old file or the new one, never a mixture, and never a stray temporary after an error. */
#ifndef OPTCL_ATOMIC_FILE_H
#define OPTCL_ATOMIC_FILE_H

#include "optcl.h"

#include <stdio.h>

typedef struct optcl__atomic_file {
    FILE *fp;       /* write the content here */
    char *tmp_path; /* "<dir>/.<name>.tmp.XXXXXX" */
    char *final_path;
    int lock_fd; /* holds the writer's flock on the temporary until after the rename */
} optcl__atomic_file;

/* Removes temporaries of earlier saves to path that no live writer holds (a killed save leaves
 * one), then creates and locks the temporary: with fopen's permissions (0666 less the umask)
 * for a new file, with the replaced file's own otherwise. On failure nothing exists and
 * message names the path. */
optcl_status optcl__atomic_open(optcl__atomic_file *f, const char *path, char *message,
                                size_t message_size);
/* Flushes, syncs, closes and renames into place, then syncs the folder. On failure the
 * temporary is removed and the target is untouched. Frees f's resources either way. */
optcl_status optcl__atomic_commit(optcl__atomic_file *f, char *message, size_t message_size);
/* Closes and removes the temporary; the target is untouched. Accepts a never-opened f ({0}). */
void optcl__atomic_abort(optcl__atomic_file *f);

#endif
