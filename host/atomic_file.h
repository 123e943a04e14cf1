/* atomic_file.h — crash-safe file replacement: write to a temporary file in the same folder,
 * flush, fsync, rename over the target, fsync the folder. A crash at any moment leaves either
 * the old file or the new one, never a mixture, and never a stray temporary after an error. */
#ifndef OPTCL_ATOMIC_FILE_H
#define OPTCL_ATOMIC_FILE_H

#include "optcl.h"

#include <stdio.h>

/* A temporary file reserved for replacing a path: created, locked and named as a save's own,
 * for a caller that has something else write it (the command line's replay has the library
 * save into it) and renames it over the path later, perhaps with others in turn. */
typedef struct optcl__atomic_reserved {
    char *tmp_path; /* "<dir>/.<name>.tmp.XXXXXX"; NULL: nothing reserved */
    char *final_path;
    int fd; /* open on the temporary: holds the writer's flock until it is placed or released */
} optcl__atomic_reserved;

typedef struct optcl__atomic_file {
    FILE *fp; /* write the content here */
    optcl__atomic_reserved reserved;
} optcl__atomic_file;

/* Removes temporaries of earlier saves to path that no live writer holds (a killed save leaves
 * one), then creates and locks an empty temporary next to it: with fopen's permissions (0666
 * less the umask) for a new file, with the replaced file's own otherwise; its name holds as
 * much of path's name as fits NAME_MAX. On failure nothing exists and message names the path. */
optcl_status optcl__atomic_reserve(optcl__atomic_reserved *r, const char *path, char *message,
                                   size_t message_size);
/* After something replaced the file at r's temporary name (a save to that name renames its own
 * temporary over it, and r's lock stays with the old file): locks the file now named there.
 * Fails when it is gone — another save to r's path found it unlocked in between and removed it
 * as abandoned. The temporary stays reserved either way. */
optcl_status optcl__atomic_relock(optcl__atomic_reserved *r, char *message, size_t message_size);
/* Renames the temporary over the path, then syncs the folder. On failure the temporary is
 * removed and the path is untouched (unless only the folder's sync failed: then it is in place).
 * Frees r's resources either way. */
optcl_status optcl__atomic_place(optcl__atomic_reserved *r, char *message, size_t message_size);
/* Removes the temporary and frees r; the path is untouched. Accepts a never-reserved r ({0}). */
void optcl__atomic_release(optcl__atomic_reserved *r);

/* optcl__atomic_reserve, and the temporary opened for writing as f->fp. */
optcl_status optcl__atomic_open(optcl__atomic_file *f, const char *path, char *message,
                                size_t message_size);
/* Flushes, syncs, closes and places the temporary (optcl__atomic_place). On failure the
 * temporary is removed and the target is untouched. Frees f's resources either way. */
optcl_status optcl__atomic_commit(optcl__atomic_file *f, char *message, size_t message_size);
/* Closes and removes the temporary; the target is untouched. Accepts a never-opened f ({0}). */
void optcl__atomic_abort(optcl__atomic_file *f);

#endif
