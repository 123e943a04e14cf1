/* tracker.c — the training procedure's bookkeeping: one call per epoch keeps the history and
 * the train/valid gap, always saves "last", saves "best" on improvement, and says when
 * patience has run out. Both files are written crash-safely by optcl_checkpoint_save, with the
 * tracker's record in their metadata (optcl.tracker.*), from which a tracker of a resumed run
 * takes up the count and the best (optcl_tracker_resume). */
#include "safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct optcl_tracker {
    optcl_optimizer *opt;
    optcl_tracker_config config;
    char *best_path, *last_path;
    optcl_epoch_record *history; /* the epochs this tracker recorded (after a resume: since) */
    size_t count, capacity;
    int64_t epochs;     /* epochs of the run so far: count, plus those before a resume */
    int64_t best_epoch; /* 0: no epoch has had a finite metric yet … */
    double best_metric; /* … and this is NaN */
    char message[OPTCL__MESSAGE_MAX];
};

optcl_tracker_config optcl_tracker_config_default(void)
{
    optcl_tracker_config c;
    memset(&c, 0, sizeof c);
    c.best_name = "best.safetensors";
    c.last_name = "last.safetensors";
    return c;
}

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/%s", dir, name);
    return path;
}

optcl_status optcl_tracker_create(optcl_optimizer *opt, const optcl_tracker_config *config,
                                  optcl_tracker **out)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!config || !out || !config->dir || !config->best_name || !config->last_name)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER,
                           "optcl_tracker_create: %s is NULL",
                           !config        ? "config"
                           : !out         ? "out"
                           : !config->dir ? "config->dir"
                                          : "a file name");
    *out = NULL;
    struct stat sb;
    if (stat(config->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return optcl__fail(opt->message, OPTCL_ERROR_IO, "tracker folder '%s' does not exist",
                           config->dir);
    /* "." and ".." name folders: every improving epoch would fail after last was saved */
    const char *names[2] = {config->best_name, config->last_name};
    bool plain = strcmp(names[0], names[1]) != 0;
    for (int i = 0; i < 2; i++)
        plain = plain && *names[i] && !strchr(names[i], '/') && strcmp(names[i], ".") != 0 &&
                strcmp(names[i], "..") != 0;
    if (!plain)
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "best_name '%s' and last_name '%s' must be two different plain "
                           "file names",
                           config->best_name, config->last_name);
    if (!(config->min_delta >= 0.0) || config->patience < 0 || (config->mode_max & ~1))
        return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "invalid tracker config: min_delta %g, patience %lld, mode_max %d",
                           config->min_delta, (long long)config->patience, config->mode_max);
    optcl_tracker *t = calloc(1, sizeof *t);
    if (t) {
        t->best_path = join(config->dir, config->best_name);
        t->last_path = join(config->dir, config->last_name);
    }
    int bad = 0; /* errno of the first path the tracker cannot save at; EISDIR: a folder */
    const char *which = NULL;
    for (int i = 0; t && t->best_path && t->last_path && i < 2 && !bad; i++) {
        which = names[i];
        if (stat(i ? t->last_path : t->best_path, &sb) != 0)
            bad = errno == ENOENT ? 0 : errno;
        else if (S_ISDIR(sb.st_mode))
            bad = EISDIR; /* no save can replace a folder */
    }
    if (!t || !t->best_path || !t->last_path || bad) {
        if (t) {
            free(t->best_path);
            free(t->last_path);
        }
        free(t);
        if (bad)
            return optcl__fail(opt->message,
                               bad == EISDIR ? OPTCL_ERROR_INVALID_ARGUMENT : OPTCL_ERROR_IO,
                               "tracker file '%s' in '%s': %s", which, config->dir,
                               bad == EISDIR ? "a folder of that name is there" : strerror(bad));
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    t->opt = opt;
    t->best_metric = NAN;
    t->config = *config;
    t->config.dir = t->config.best_name = t->config.last_name = NULL; /* paths hold them */
    opt->live_trackers++; /* the optimizer refuses to be destroyed before us */
    *out = t;
    return OPTCL_SUCCESS;
}

optcl_status optcl_tracker_destroy(optcl_tracker *t)
{
    if (!t)
        return OPTCL_SUCCESS;
    t->opt->live_trackers--;
    free(t->history);
    free(t->best_path);
    free(t->last_path);
    free(t);
    return OPTCL_SUCCESS;
}

/* A NaN or infinite metric (a diverged evaluation) never improves, and so never becomes the
 * best every later metric is compared with; the first finite one always does. */
static bool improves(const optcl_tracker *t, double metric)
{
    if (!isfinite(metric))
        return false;
    if (t->best_epoch == 0)
        return true;
    return t->config.mode_max ? metric > t->best_metric + t->config.min_delta
                              : metric < t->best_metric - t->config.min_delta;
}

/* ---- the record in the files' metadata --------------------------------------------------- */

#define KEY_EPOCH "optcl.tracker.epoch"
#define KEY_BEST_EPOCH "optcl.tracker.best_epoch"
#define KEY_BEST_METRIC "optcl.tracker.best_metric"
#define KEY_MODE "optcl.tracker.mode"

static const char *mode_name(int mode_max)
{
    return mode_max ? "max" : "min";
}

/* A checkpoint of the optimizer with the record r of the epoch saving it: the epochs so far,
 * the best and its metric, the mode they were compared in. */
static optcl_status save(optcl_tracker *t, const optcl_epoch_record *r, const char *path)
{
    char epoch[24], best_epoch[24], best_metric[32];
    snprintf(epoch, sizeof epoch, "%" PRId64, r->epoch);
    snprintf(best_epoch, sizeof best_epoch, "%" PRId64, r->best_epoch);
    snprintf(best_metric, sizeof best_metric, "%.17g", r->best_metric); /* nan: none yet */
    const optcl__st_meta record[] = {{KEY_EPOCH, epoch},
                                     {KEY_BEST_EPOCH, best_epoch},
                                     {KEY_BEST_METRIC, best_metric},
                                     {KEY_MODE, mode_name(t->config.mode_max)}};
    return optcl__checkpoint_save_with(t->opt, path, record, sizeof record / sizeof record[0]);
}

typedef struct saved_record {
    int64_t epoch, best_epoch;
    double best_metric;
} saved_record;

/* key's value, for messages. */
static const char *value_of(const optcl__st_file *f, const char *key)
{
    const char *v = optcl__st_meta_get(f, key);
    return v ? v : "missing";
}

/* A whole number in [lo, hi] from key. */
static bool whole(const optcl__st_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = optcl__st_meta_get(f, key);
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    *out = x;
    return v && *v && *end == '\0' && errno == 0 && x >= lo && x <= hi;
}

/* The record of the file at path, checked: written by a tracker in this tracker's mode, its
 * numbers whole and consistent, its best metric finite when it has a best. */
static optcl_status read_record(optcl_tracker *t, const char *path, saved_record *r)
{
    optcl__st_file f;
    optcl_status st = optcl__st_read_header(path, &f, t->message, OPTCL__MESSAGE_MAX);
    if (st != OPTCL_SUCCESS)
        return st; /* the message names the path */
    const char *mode = optcl__st_meta_get(&f, KEY_MODE);
    const char *metric = optcl__st_meta_get(&f, KEY_BEST_METRIC);
    char *end = NULL;
    r->best_metric = metric ? strtod(metric, &end) : NAN;
    bool has_epoch = optcl__st_meta_get(&f, KEY_EPOCH) != NULL;
    if (!has_epoch || !mode)
        st = optcl__fail(t->message, OPTCL_ERROR_FORMAT,
                         "%s holds no tracker record (metadata %s is missing): it was not "
                         "written by optcl_tracker_epoch",
                         path, has_epoch ? KEY_MODE : KEY_EPOCH);
    else if (strcmp(mode, mode_name(t->config.mode_max)) != 0)
        st = optcl__fail(t->message, OPTCL_ERROR_INVALID_ARGUMENT,
                         "%s was tracked with mode %s; this tracker's is %s (mode_max %d)", path,
                         mode, mode_name(t->config.mode_max), t->config.mode_max);
    else if (!whole(&f, KEY_EPOCH, 1, INT64_MAX - 1, &r->epoch) ||
             !whole(&f, KEY_BEST_EPOCH, 0, r->epoch, &r->best_epoch) || !metric || *end != '\0' ||
             (r->best_epoch > 0) != (isfinite(r->best_metric) != 0))
        st = optcl__fail(t->message, OPTCL_ERROR_FORMAT,
                         "%s: the tracker record is malformed: %s '%s', %s '%s', %s '%s'", path,
                         KEY_EPOCH, value_of(&f, KEY_EPOCH), KEY_BEST_EPOCH,
                         value_of(&f, KEY_BEST_EPOCH), KEY_BEST_METRIC,
                         value_of(&f, KEY_BEST_METRIC));
    optcl__st_free(&f);
    return st;
}

/* The best as "best" holds it: the record of "last" may name a later one whose save of "best"
 * failed (or was cut short by a crash) — then "best" still holds the earlier, which later
 * epochs must beat. No best while "last" has none (a "best" file then is another run's) or
 * when "best" is missing. A "best" of an epoch after the best "last" knows is another run's:
 * refused. */
static optcl_status best_on_disk(optcl_tracker *t, const saved_record *last, saved_record *best)
{
    struct stat sb;
    *best = (saved_record){0, 0, NAN};
    if (last->best_epoch == 0 || stat(t->best_path, &sb) != 0)
        return OPTCL_SUCCESS;
    optcl_status st = read_record(t, t->best_path, best);
    if (st == OPTCL_SUCCESS && (best->epoch > last->best_epoch || best->best_epoch != best->epoch))
        st = optcl__fail(t->message, OPTCL_ERROR_INVALID_ARGUMENT,
                         "%s holds epoch %" PRId64 " (best %" PRId64 ") but %s records epoch "
                         "%" PRId64 " as the best: the two files are not of one run",
                         t->best_path, best->epoch, best->best_epoch, t->last_path,
                         last->best_epoch);
    return st;
}

optcl_status optcl_tracker_resume(optcl_tracker *t)
{
    if (!t)
        return OPTCL_ERROR_NULL_POINTER;
    if (t->epochs > 0)
        return optcl__fail(t->message, OPTCL_ERROR_INVALID_ARGUMENT,
                           "optcl_tracker_resume: this tracker has recorded %" PRId64
                           " epochs already; resume before the first optcl_tracker_epoch",
                           t->epochs);
    saved_record last, best;
    optcl_status st = read_record(t, t->last_path, &last);
    if (st == OPTCL_SUCCESS)
        st = best_on_disk(t, &last, &best);
    if (st != OPTCL_SUCCESS)
        return st;
    t->epochs = last.epoch;
    t->best_epoch = best.epoch;
    t->best_metric = best.best_metric;
    return OPTCL_SUCCESS;
}

/* ---- epochs ----------------------------------------------------------------------------- */

optcl_status optcl_tracker_epoch(optcl_tracker *t, double train_loss, double valid_metric,
                                 optcl_epoch_record *record)
{
    if (!t)
        return OPTCL_ERROR_NULL_POINTER;
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 64;
        optcl_epoch_record *h = realloc(t->history, cap * sizeof *h);
        if (!h)
            return optcl__fail(t->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        t->history = h;
        t->capacity = cap;
    }
    optcl_epoch_record r;
    memset(&r, 0, sizeof r);
    r.epoch = t->epochs + 1;
    r.train_loss = train_loss;
    r.valid_metric = valid_metric;
    r.gap = valid_metric - train_loss;
    r.improved = improves(t, valid_metric);
    r.best_epoch = r.improved ? r.epoch : t->best_epoch;
    r.best_metric = r.improved ? valid_metric : t->best_metric;

    /* "last" first: if "best" then fails, the caller still has this epoch's state. */
    optcl_status st = save(t, &r, t->last_path);
    if (st == OPTCL_SUCCESS && r.improved)
        st = save(t, &r, t->best_path);
    if (st != OPTCL_SUCCESS)
        return optcl__fail(t->message, st, "epoch %lld: %s", (long long)r.epoch,
                           optcl_optimizer_message(t->opt));
    r.should_stop = t->config.patience > 0 && r.epoch - r.best_epoch >= t->config.patience;
    t->history[t->count++] = r;
    t->epochs = r.epoch;
    t->best_epoch = r.best_epoch;
    t->best_metric = r.best_metric;
    if (record)
        *record = r;
    return OPTCL_SUCCESS;
}

const optcl_epoch_record *optcl_tracker_history(const optcl_tracker *t, size_t *count)
{
    if (count)
        *count = t ? t->count : 0;
    return t ? t->history : NULL;
}

const char *optcl_tracker_best_path(const optcl_tracker *t)
{
    return t ? t->best_path : "";
}

const char *optcl_tracker_last_path(const optcl_tracker *t)
{
    return t ? t->last_path : "";
}

const char *optcl_tracker_message(const optcl_tracker *t)
{
    return t ? t->message : "";
}
