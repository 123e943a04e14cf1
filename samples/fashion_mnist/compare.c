/* compare.c — --compare: every entry of the list parsed and checked before anything runs,
 * then one fm_train run per entry with its epochs printed and drawn, and a summary table. */
#include "compare.h"

#include "optimizer_args.h"
#include "plot_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    const char *spec; /* the entry as given, for messages */
    char label[64];   /* "adam", "adam-2" for a name's second entry: its folder and its rows */
    fm_optimizer_args args;
    fm_epoch_point *points; /* one per epoch run so far */
    size_t n;
    fm_train_result result;
} entry;

typedef struct comparison {
    const fm_train_config *base;
    FILE *out;      /* the epoch lines and the summary */
    FILE *quiet;    /* /dev/null: each run's own lines, which the summary replaces */
    char *list;     /* a copy, cut into the entries' specs */
    entry *entries; /* FM_COMPARE_MAX */
    size_t count;
    int width;      /* of the optimizer column */
    size_t current; /* the entry training now */
} comparison;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Cuts cmp->list into entries at the commas that separate them; a comma before a digit stays
 * (milestones=5,20). */
static int split_list(comparison *cmp, const char **specs)
{
    char *start = cmp->list;
    for (char *p = cmp->list;; p++) {
        if (*p && !(*p == ',' && !(p[1] >= '0' && p[1] <= '9')))
            continue;
        int last = !*p;
        *p = '\0';
        if (!*start) {
            fprintf(stderr, "fashion_mnist: --compare: an empty entry in the list\n");
            return 1;
        }
        if (cmp->count == FM_COMPARE_MAX) {
            fprintf(stderr, "fashion_mnist: --compare: more than %d entries\n", FM_COMPARE_MAX);
            return 1;
        }
        specs[cmp->count++] = start;
        start = p + 1;
        if (last)
            return 0;
    }
}

/* "adam", or "adam-2" when an earlier entry has the same optimizer. */
static void make_label(comparison *cmp, size_t i)
{
    entry *e = &cmp->entries[i];
    int same = 0;
    for (size_t j = 0; j < i; j++)
        same += cmp->entries[j].args.config.algorithm == e->args.config.algorithm;
    const char *name = optcl_algorithm_name(e->args.config.algorithm);
    if (same)
        snprintf(e->label, sizeof e->label, "%s-%d", name, same + 1);
    else
        snprintf(e->label, sizeof e->label, "%s", name);
    int len = (int)strlen(e->label);
    cmp->width = len > cmp->width ? len : cmp->width;
}

/* NAME:KEY=VALUE:... into the entry's optimizer, the common keys after its own, and the
 * values' ranges checked. Returns 0, or 1 after a line naming the entry. */
static int parse_entry(comparison *cmp, size_t i, char *const *common, int common_count)
{
    entry *e = &cmp->entries[i];
    char work[4096], msg[2048] = "";
    char *options[FM_MAX_OPTIONS];
    int n = 0;
    if (strlen(e->spec) >= sizeof work)
        snprintf(msg, sizeof msg, "longer than %zu characters", sizeof work - 1);
    snprintf(work, sizeof work, "%s", e->spec);
    for (char *p = strchr(work, ':'); p && !*msg; p = strchr(p + 1, ':')) {
        *p = '\0';
        if (n == FM_MAX_OPTIONS)
            snprintf(msg, sizeof msg, "more than %d KEY=VALUE options", FM_MAX_OPTIONS);
        else
            options[n++] = p + 1;
    }
    for (int k = 0; k < common_count && !*msg; k++) {
        if (n == FM_MAX_OPTIONS)
            snprintf(msg, sizeof msg, "more than %d KEY=VALUE options", FM_MAX_OPTIONS);
        else
            options[n++] = common[k];
    }
    if (*msg || fm_optimizer_args_parse(work, options, n, &e->args, msg, sizeof msg) ||
        fm_optimizer_args_check(&e->args, msg, sizeof msg)) {
        fprintf(stderr, "fashion_mnist: --compare entry '%s': %s\n", e->spec, msg);
        return 1;
    }
    make_label(cmp, i);
    return 0;
}

/* Copies and checks the whole list. Returns 0, 1 (out of memory) or 2 (a bad list). */
static int prepare(comparison *cmp, const char *list, char *const *common, int common_count)
{
    size_t len = strlen(list);
    const char *specs[FM_COMPARE_MAX];
    cmp->list = malloc(len + 1);
    cmp->entries = calloc(FM_COMPARE_MAX, sizeof *cmp->entries);
    if (!cmp->list || !cmp->entries) {
        fprintf(stderr, "fashion_mnist: out of host memory\n");
        return 1;
    }
    memcpy(cmp->list, list, len + 1);
    if (split_list(cmp, specs))
        return 2;
    cmp->width = (int)strlen("optimizer");
    for (size_t i = 0; i < cmp->count; i++) {
        cmp->entries[i].spec = specs[i];
        if (parse_entry(cmp, i, common, common_count))
            return 2;
    }
    for (size_t i = 0; i < cmp->count; i++) {
        cmp->entries[i].points = calloc((size_t)cmp->base->epochs, sizeof(fm_epoch_point));
        if (!cmp->entries[i].points) {
            fprintf(stderr, "fashion_mnist: out of host memory\n");
            return 1;
        }
    }
    return 0;
}

/* fm_train's hook: keeps the epoch for the picture and prints its line, prefixed. */
static void on_epoch(void *user, size_t epoch, const fm_epoch_point *p)
{
    comparison *cmp = user;
    entry *e = &cmp->entries[cmp->current];
    e->points[epoch - 1] = *p;
    e->n = epoch;
    fprintf(cmp->out, "%-*s  %5zu  %10.4f  %10.4f  %9.4f  %+9.4f  %9.3e  %6.2f%s\n", cmp->width,
            e->label, epoch, p->train_loss, p->valid_loss, p->valid_accuracy,
            p->valid_loss - p->train_loss, p->lr, p->seconds, p->best ? "  best" : "");
    fflush(cmp->out);
}

static void mode_text(const fm_train_config *c, char *out, size_t size)
{
    if (c->mode == FM_MODE_MINIBATCH)
        snprintf(out, size, "minibatch %zu", c->batch);
    else
        snprintf(out, size, "%s", c->mode == FM_MODE_GD ? "full batch (gd)" : "sgd");
}

static void model_text(const fm_train_config *c, char *out, size_t size)
{
    size_t at = (size_t)snprintf(out, size, "MLP 784");
    for (size_t i = 0; i < c->hidden_count && at < size; i++)
        at += (size_t)snprintf(out + at, size - at, "-%u", c->hidden[i]);
    if (at < size)
        snprintf(out + at, size - at, "-10");
}

/* compare.svg with the runs so far (the later ones are listed as not run yet). */
static int draw(const comparison *cmp, const char *path)
{
    const fm_train_config *c = cmp->base;
    fm_compare_series series[FM_COMPARE_MAX];
    for (size_t i = 0; i < cmp->count; i++) {
        const entry *e = &cmp->entries[i];
        series[i] = (fm_compare_series){e->label, e->args.legend, e->points, e->n};
    }
    char model[128], mode[64], title[256], subtitle[512], msg[4096];
    model_text(c, model, sizeof model);
    mode_text(c, mode, sizeof mode);
    snprintf(title, sizeof title, "Fashion-MNIST: %s, %zu optimizers from the same start", model,
             cmp->count);
    snprintf(subtitle, sizeof subtitle,
             "%s, %zu training images, seed %llu: the same split, initial weights and batches "
             "in every run",
             mode, cmp->entries[0].result.train_images, (unsigned long long)c->seed);
    if (fm_plot_compare_write(path, title, subtitle, series, cmp->count, msg, sizeof msg)) {
        fprintf(stderr, "fashion_mnist: %s\n", msg);
        return 1;
    }
    return 0;
}

/* One run of entry i in <out>/<label>, its own lines silenced. */
static int run_entry(comparison *cmp, size_t i)
{
    entry *e = &cmp->entries[i];
    char dir[4096], msg[4096];
    fm_train_config c = *cmp->base;
    snprintf(dir, sizeof dir, "%s/%s", c.out_dir, e->label);
    c.out_dir = dir;
    c.optimizer = e->args.config;
    c.optimizer_text = e->args.text;
    c.param_dtype = e->args.param_dtype;
    c.out = cmp->quiet;
    c.progress = 0;
    c.on_epoch = on_epoch;
    c.on_epoch_user = cmp;
    cmp->current = i;
    if (fm_train(&c, &e->result, msg, sizeof msg)) {
        fprintf(stderr, "fashion_mnist: %s: %s\n", e->label, msg);
        return 1;
    }
    return 0;
}

/* The epoch of a run's best valid accuracy (the first, on a tie); 0 when it has none. */
static size_t best_epoch(const entry *e)
{
    size_t best = 0;
    for (size_t k = 0; k < e->n; k++)
        if (!best || e->points[k].valid_accuracy > e->points[best - 1].valid_accuracy)
            best = k + 1;
    return best;
}

static void summarize(const comparison *cmp, const char *path, double seconds)
{
    FILE *f = cmp->out;
    fprintf(f, "\n%-*s  best valid acc  epoch  final valid loss  test acc  s/epoch  total s  %s\n",
            cmp->width, "optimizer", "hyperparameters");
    for (size_t i = 0; i < cmp->count; i++) {
        const entry *e = &cmp->entries[i];
        size_t b = best_epoch(e);
        fprintf(f, "%-*s  %14.4f  %5zu  %16.4f  %8.4f  %7.2f  %7.1f  %s\n", cmp->width, e->label,
                b ? e->points[b - 1].valid_accuracy : 0.0, b,
                e->n ? e->points[e->n - 1].valid_loss : 0.0, e->result.test_accuracy_best,
                e->result.seconds_per_epoch, e->result.total_seconds, e->args.legend);
    }
    fprintf(f,
            "test acc: the checkpoint of the lowest valid loss on the test images; s/epoch: "
            "training, validation and checkpoints; device: %s\n",
            cmp->entries[0].result.device);
    fprintf(f, "compare: %s (%.1f s in all); each run's checkpoints and curves in %s/<optimizer>\n",
            path, seconds, cmp->base->out_dir);
}

static int run_all(comparison *cmp)
{
    const fm_train_config *c = cmp->base;
    char model[128], mode[64], path[4096];
    model_text(c, model, sizeof model);
    mode_text(c, mode, sizeof mode);
    snprintf(path, sizeof path, "%s/compare.svg", c->out_dir);
    fprintf(cmp->out,
            "compare: %zu runs of %s, %s, %d epochs, seed %llu: the same split, initial weights "
            "and batches in each\n",
            cmp->count, model, mode, c->epochs, (unsigned long long)c->seed);
    fprintf(cmp->out,
            "%-*s  epoch  train loss  valid loss  valid acc      gap         lr       s\n",
            cmp->width, "optimizer");
    double t0 = now();
    for (size_t i = 0; i < cmp->count; i++)
        if (run_entry(cmp, i) || draw(cmp, path))
            return 1;
    summarize(cmp, path, now() - t0);
    return 0;
}

int fm_compare(const char *list, const fm_train_config *base, char *const *common, int common_count)
{
    comparison cmp = {.base = base, .out = base->out ? base->out : stdout};
    int rc = prepare(&cmp, list, common, common_count);
    if (!rc) {
        cmp.quiet = fopen("/dev/null", "w");
        if (!cmp.quiet)
            fprintf(stderr, "fashion_mnist: /dev/null: cannot open\n");
        rc = !cmp.quiet || run_all(&cmp);
    }
    if (cmp.quiet)
        fclose(cmp.quiet);
    for (size_t i = 0; cmp.entries && i < FM_COMPARE_MAX; i++)
        free(cmp.entries[i].points);
    free(cmp.entries);
    free(cmp.list);
    return rc;
}
