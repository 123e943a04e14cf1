/* atomic_file.c — crash-safe replacement of a file (POSIX): a temporary in the target's folder,
 * flushed and fsync'd, renamed over the target, then the folder fsync'd. The writer holds an
 * flock on its temporary until the rename; the kernel drops it when the process dies, so the
 * next save to the same name can tell an abandoned temporary (lockable) from a live one. */
#include "atomic_file.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NAME_MAX /* POSIX leaves it out where it varies by file system */
#define NAME_MAX 255
#endif

/* The folder part of path ("." without a slash, "/" for a file in the root); malloc'd. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return dir;
}

/* Frees r's memory, drops its lock and empties it; the temporary file itself is the caller's
 * business. fd counts only where tmp_path is set, so a zeroed r is safe too. */
static void drop(optcl__atomic_reserved *r)
{
    if (r->tmp_path && r->fd >= 0)
        close(r->fd); /* drops the flock */
    free(r->tmp_path);
    free(r->final_path);
    *r = (optcl__atomic_reserved){.fd = -1};
}

/* Removes "<dir>/.<name>.tmp.XXXXXX" files that no live writer holds (killed saves leave them).
 * Best effort: whatever fails only leaves a stray file, as before. */
static void remove_abandoned(const char *tmp_template)
{
    const char *slash = strrchr(tmp_template, '/');
    const char *pattern = slash ? slash + 1 : tmp_template; /* ".<name>.tmp.XXXXXX" */
    size_t stem = strlen(pattern) - 6;                      /* without the XXXXXX */
    char *dir = folder_of(tmp_template);
    DIR *d = dir ? opendir(dir) : NULL;
    free(dir);
    if (!d)
        return;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strlen(e->d_name) != stem + 6 || strncmp(e->d_name, pattern, stem) != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

/* Whether path still names the file open as fd: 1 yes, 0 no (removed or replaced), -1 it
 * cannot be told (errno says why). */
static int still_named(int fd, const char *path)
{
    struct stat mine, named;
    if (fstat(fd, &mine) != 0)
        return -1;
    if (stat(path, &named) != 0)
        return errno == ENOENT ? 0 : -1;
    return mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
}

/* mkstemp with a mode: open(O_CREAT | O_EXCL, mode) of the template with its XXXXXX replaced,
 * so that the kernel applies the umask (and a folder's default ACL) as it does for fopen.
 * mkstemp's 0600 would need the umask to widen it, and umask() can only be read by setting
 * it, which races with other threads; "Umask:" in /proc/self/status is Linux's alone. The
 * names need not be unpredictable: O_EXCL never opens a file it did not create, and a taken
 * name is only tried again. The buffer's address tells concurrent callers apart. */
static int create_exclusive(char *tmp_path, mode_t mode)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char *x = tmp_path + strlen(tmp_path) - 6;
    struct timespec now = {0};
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t v = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
                 (uint64_t)(uintptr_t)tmp_path;
    for (int attempt = 0; attempt < 100; attempt++) {
        v += 0x9E3779B97F4A7C15u; /* splitmix64 */
        uint64_t z = v;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++, z /= 62)
            x[i] = letters[z % 62];
        int fd = open(tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1; /* errno: EEXIST */
}

/* create_exclusive, then the writer's lock, held by the returned descriptor. A cleaner may
 * have locked and removed the new file between the two; then the name no longer leads to our
 * file, and we make another. Where the file system has no flock (some network ones), we write
 * unlocked, and nothing is ever cleaned. */
static int create_locked(char *tmp_path, const char *template_copy, mode_t mode)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        strcpy(tmp_path, template_copy);
        int fd = create_exclusive(tmp_path, mode);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX) != 0)
            return fd;
        int named = still_named(fd, tmp_path);
        if (named == 1)
            return fd;
        int err = errno;
        close(fd);
        if (named < 0) { /* cannot tell: give up, as for any failure to create */
            unlink(tmp_path);
            errno = err;
            return -1;
        }
    }
    errno = EAGAIN;
    return -1;
}

/* The permissions of the file path names, which a save keeps: 1 with *mode set, 0 when there is
 * no such file (a new one takes fopen's: 0666 less the umask), -1 when it cannot be told
 * (errno says why) — then saving might widen a private file's permissions, so it fails. */
static int mode_to_keep(const char *path, mode_t *mode)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISREG(st.st_mode))
        return 0; /* the rename fails over a folder; a device or FIFO is replaced */
    *mode = st.st_mode & 0777;
    return 1;
}

/* How much of name the temporary's name holds: all of it, or for a name too long to take the
 * dot and ".tmp.XXXXXX" within NAME_MAX, the start that fits, cut between UTF-8 characters.
 * Names that share that start share the temporaries' pattern, so a save may remove another
 * name's abandoned temporary (never a live one: that is locked). */
static size_t temp_stem_length(const char *name, size_t max)
{
    size_t len = strlen(name);
    if (len <= max)
        return len;
    len = max;
    while (len > 1 && ((unsigned char)name[len] & 0xC0) == 0x80)
        len--; /* name[len], the first byte left out, continues a character */
    return len;
}

optcl_status optcl__atomic_reserve(optcl__atomic_reserved *r, const char *path, char *message,
                                   size_t message_size)
{
    if (!r || !path) {
        if (r)
            *r = (optcl__atomic_reserved){.fd = -1};
        optcl__format(message, message_size, "atomic file: NULL %s", r ? "path" : "handle");
        return OPTCL_ERROR_NULL_POINTER;
    }
    *r = (optcl__atomic_reserved){.fd = -1};

    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t prefix_len = (size_t)(name - path); /* the folder with its slash, or nothing */
    if (*name == '\0') {
        optcl__format(message, message_size, "%s: not a file name (names a folder)", path);
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }

    /* "<dir>/.<name>.tmp.XXXXXX": a dot file in the same folder, so rename() never crosses a
     * file system and directory listings hide it. */
    static const char suffix[] = ".tmp.XXXXXX";
    size_t name_len = temp_stem_length(name, NAME_MAX - 1 - (sizeof suffix - 1));
    size_t tmp_size = prefix_len + 1 + name_len + sizeof suffix;
    r->tmp_path = malloc(tmp_size);
    r->final_path = strdup(path);
    if (!r->tmp_path || !r->final_path) {
        drop(r);
        optcl__format(message, message_size, "%s: out of host memory", path);
        return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    memcpy(r->tmp_path, path, prefix_len);
    r->tmp_path[prefix_len] = '.';
    memcpy(r->tmp_path + prefix_len + 1, name, name_len);
    memcpy(r->tmp_path + prefix_len + 1 + name_len, suffix, sizeof suffix);

    mode_t kept = 0;
    int replaces = mode_to_keep(path, &kept);
    if (replaces < 0) {
        int err = errno;
        optcl__format(message, message_size, "%s: cannot read the permissions it has: %s", path,
                      strerror(err));
        drop(r);
        return OPTCL_ERROR_IO;
    }
    remove_abandoned(r->tmp_path);
    char *template_copy = strdup(r->tmp_path);
    /* A new file: created 0666 and narrowed by the umask, as fopen's. A replaced one keeps its
     * permissions: created private (0600) and widened below once it is ours, so nobody
     * could open it in between that the old file would not let. */
    mode_t created = replaces ? 0600 : 0666;
    int fd = template_copy ? create_locked(r->tmp_path, template_copy, created) : -1;
    if (!template_copy)
        errno = ENOMEM;
    free(template_copy);
    if (fd < 0) {
        int err = errno;
        optcl__format(message, message_size, "%s: cannot create temporary file %s: %s", path,
                      r->tmp_path, strerror(err));
        drop(r);
        return OPTCL_ERROR_IO;
    }
    /* Failure (e.g. on file systems without modes) leaves the file private: it only affects
     * permissions, never the content, so it is not an error. */
    if (replaces)
        (void)fchmod(fd, kept);
    r->fd = fd;
    return OPTCL_SUCCESS;
}

optcl_status optcl__atomic_relock(optcl__atomic_reserved *r, char *message, size_t message_size)
{
    if (!r || !r->tmp_path) {
        optcl__format(message, message_size, "atomic file: relock without a reserved file");
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }
    int fd = open(r->tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int named = fd < 0 ? (errno == ENOENT ? 0 : -1) : 1;
    /* Until the lock is taken a cleaner may remove the new file as abandoned: then the name no
     * longer leads to it. Without flock (some network file systems) nothing is ever cleaned. */
    if (fd >= 0 && flock(fd, LOCK_EX) == 0)
        named = still_named(fd, r->tmp_path);
    if (named != 1) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (named == 0)
            optcl__format(message, message_size,
                          "%s: its temporary file %s was removed while it was written (another "
                          "save to the same name took it for abandoned)",
                          r->final_path, r->tmp_path);
        else
            optcl__format(message, message_size, "%s: cannot lock temporary file %s: %s",
                          r->final_path, r->tmp_path, strerror(err));
        return OPTCL_ERROR_IO;
    }
    if (r->fd >= 0)
        close(r->fd); /* the old file's lock: it is no longer named */
    r->fd = fd;
    return OPTCL_SUCCESS;
}

/* Makes the rename itself durable: without syncing the folder a crash could lose the new
 * directory entry even though the file's data reached the disk. */
static int sync_folder(const char *path, int *err)
{
    char *dir = folder_of(path);
    if (!dir) {
        *err = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int rc = fsync(fd);
    /* Some file systems cannot sync a folder (EINVAL); nothing more can be done there. */
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    *err = rc != 0 ? errno : 0;
    close(fd);
    return rc;
}

/* Removes the temporary and frees r, with message "<path>: <what> temporary file <tmp>: ...". */
static optcl_status fail_temporary(optcl__atomic_reserved *r, const char *what, int err,
                                   char *message, size_t message_size)
{
    optcl__format(message, message_size, "%s: %s temporary file %s: %s", r->final_path, what,
                  r->tmp_path, strerror(err));
    unlink(r->tmp_path);
    drop(r);
    return OPTCL_ERROR_IO;
}

optcl_status optcl__atomic_place(optcl__atomic_reserved *r, char *message, size_t message_size)
{
    if (!r || !r->tmp_path) {
        optcl__format(message, message_size, "atomic file: place without a reserved file");
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }
    if (rename(r->tmp_path, r->final_path) != 0)
        return fail_temporary(r, "cannot rename", errno, message, message_size);
    /* The one failure that comes after the target was replaced: the new content is in place
     * but may not survive a crash, which the caller should still hear about. */
    int err = 0;
    if (sync_folder(r->final_path, &err) != 0) {
        optcl__format(message, message_size, "%s: written, but syncing its folder failed: %s",
                      r->final_path, strerror(err));
        drop(r);
        return OPTCL_ERROR_IO;
    }
    drop(r);
    return OPTCL_SUCCESS;
}

void optcl__atomic_release(optcl__atomic_reserved *r)
{
    if (!r)
        return;
    if (r->tmp_path) /* a reserved r always has its temporary on disk */
        unlink(r->tmp_path);
    drop(r);
}

optcl_status optcl__atomic_open(optcl__atomic_file *f, const char *path, char *message,
                                size_t message_size)
{
    if (!f) {
        optcl__format(message, message_size, "atomic file: NULL handle");
        return OPTCL_ERROR_NULL_POINTER;
    }
    f->fp = NULL;
    optcl_status st = optcl__atomic_reserve(&f->reserved, path, message, message_size);
    if (st != OPTCL_SUCCESS)
        return st;
    /* A second descriptor for the stream: fclose in commit leaves the reservation's, and with it
     * the lock, until after the rename. */
    int fd = dup(f->reserved.fd);
    f->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f->fp) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        optcl__format(message, message_size, "%s: cannot open temporary file %s: %s", path,
                      f->reserved.tmp_path, strerror(err));
        optcl__atomic_release(&f->reserved);
        return OPTCL_ERROR_IO;
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl__atomic_commit(optcl__atomic_file *f, char *message, size_t message_size)
{
    if (!f || !f->fp) {
        optcl__format(message, message_size, "atomic file: commit without an open file");
        if (f)
            optcl__atomic_abort(f);
        return OPTCL_ERROR_INVALID_ARGUMENT;
    }

    const char *what = NULL;
    int err = 0;
    /* A failed fwrite() earlier sets the error indicator; a later fflush() may then succeed
     * with the data already lost, so the indicator is checked first. errno still tells why
     * unless something overwrote it. */
    if (ferror(f->fp)) {
        what = "cannot write";
        err = errno ? errno : EIO;
    } else if (fflush(f->fp) != 0) {
        what = "cannot write";
        err = errno;
    } else if (fsync(fileno(f->fp)) != 0) {
        what = "cannot sync";
        err = errno;
    }
    /* fclose() reports delayed write errors too (NFS, quotas), so its result counts. */
    if (fclose(f->fp) != 0 && !what) {
        what = "cannot close";
        err = errno;
    }
    f->fp = NULL;
    if (what)
        return fail_temporary(&f->reserved, what, err, message, message_size);
    return optcl__atomic_place(&f->reserved, message, message_size);
}

void optcl__atomic_abort(optcl__atomic_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    f->fp = NULL;
    optcl__atomic_release(&f->reserved);
}
