/* checkpoint.c — the whole training state as a safetensors file: parameters by tensor name,
 * optimizer state as "optim.<state>.<tensor>", everything else as "optcl.*" metadata strings.
 * Loading parses and checks the whole file before anything is changed. */
#include "config_fields.h"
#include "factored.h"
#include "rules/rule.h"
#include "q8.h"
#include "safetensors.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 320
#define VALUE_MAX 64

/* ---- metadata as a growing list of owned strings ---------------------------------------- */

typedef struct meta_list {
    optcl__st_meta *items;
    size_t count, capacity;
    bool failed;
} meta_list;

static void meta_add(meta_list *m, const char *key, const char *value)
{
    if (m->failed)
        return;
    if (m->count == m->capacity) {
        size_t cap = m->capacity ? 2 * m->capacity : 64;
        optcl__st_meta *items = realloc(m->items, cap * sizeof *items);
        if (!items) {
            m->failed = true;
            return;
        }
        m->items = items;
        m->capacity = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        m->failed = true;
        return;
    }
    m->items[m->count].key = k;
    m->items[m->count++].value = v;
}

static void meta_addf(meta_list *m, const char *key, const char *fmt, ...) OPTCL__PRINTF(3, 4);
static void meta_addf(meta_list *m, const char *key, const char *fmt, ...)
{
    char value[VALUE_MAX * 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    meta_add(m, key, value);
}

static void meta_free(meta_list *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free((char *)m->items[i].key);
        free((char *)m->items[i].value);
    }
    free(m->items);
}

/* ---- save ------------------------------------------------------------------------------ */

/* Names the file at the head of the message of a failure that did not (the guard's). */
static void name_file(optcl_optimizer *opt, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(opt->message, path, n) == 0 && opt->message[n] == ':')
        return;
    char why[OPTCL__MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", opt->message);
    optcl__format(opt->message, OPTCL__MESSAGE_MAX, "%s: %s", path, why);
}

static void describe(const optcl_optimizer *opt, meta_list *m)
{
    const optcl_params *p = opt->params;
    char key[KEY_MAX], value[VALUE_MAX * 4];
    meta_add(m, "format", "pt");
    meta_add(m, "optcl.version", OPTCL_VERSION_STRING);
    meta_add(m, "optcl.optimizer", optcl_algorithm_name(opt->config.algorithm));
    meta_addf(m, "optcl.step", "%" PRIu64, opt->steps);
    for (size_t i = 0; i < optcl__checkpoint_field_count(&opt->config); i++) {
        optcl__config_field field = optcl__checkpoint_field(&opt->config, i);
        optcl__field_format(&opt->config, &field, value, sizeof value);
        snprintf(key, sizeof key, "optcl.config.%s", field.name);
        meta_add(m, key, value);
    }
    meta_addf(m, "optcl.tensor_count", "%zu", p->count);
    for (size_t i = 0; i < p->count; i++) {
        snprintf(key, sizeof key, "optcl.tensor.%zu", i);
        meta_add(m, key, p->tensors[i].name);
        snprintf(key, sizeof key, "optcl.tensor.%zu.group", i);
        meta_addf(m, key, "%d", p->tensors[i].group);
        if (p->tensors[i].state_bits != 0) { /* only when set: older readers need not know */
            snprintf(key, sizeof key, "optcl.tensor.%zu.state_bits", i);
            meta_addf(m, key, "%d", p->tensors[i].state_bits);
        }
    }
    for (int g = 0; g < OPTCL_MAX_GROUPS; g++) {
        snprintf(key, sizeof key, "optcl.group.%d.lr", g);
        meta_addf(m, key, "%.17g", opt->groups[g].lr);
        snprintf(key, sizeof key, "optcl.group.%d.weight_decay", g);
        meta_addf(m, key, "%.17g", opt->groups[g].weight_decay);
        if (opt->groups[g].exclude_from_trust_ratio) { /* only when set, as state_bits */
            snprintf(key, sizeof key, "optcl.group.%d.exclude_from_trust_ratio", g);
            meta_add(m, key, "1");
        }
        snprintf(key, sizeof key, "optcl.plateau.scale.%d", g);
        meta_addf(m, key, "%.17g", opt->plateau.scale[g]);
        optcl__rule_memo memo;
        const char *const *running = opt->rule->running; /* by torch's names: mu_product, … */
        if (running && optcl__memo_now(opt, g, &memo))
            for (int k = 0; running[k]; k++) {
                snprintf(key, sizeof key, "optcl.group.%d.%s", g, running[k]);
                meta_addf(m, key, "%.17g", memo.value[k]);
            }
    }
    meta_addf(m, "optcl.plateau.best", "%.17g", opt->plateau.best);
    meta_addf(m, "optcl.plateau.num_bad_epochs", "%" PRId64, opt->plateau.num_bad_epochs);
    meta_addf(m, "optcl.plateau.cooldown_counter", "%" PRId64, opt->plateau.cooldown_counter);
    meta_addf(m, "optcl.plateau.reports", "%" PRId64, opt->plateau.reports);
    meta_addf(m, "optcl.lookahead.last_alpha", "%.17g", opt->lookahead_alpha);
    if (opt->config.lookahead.k > 0) /* unset: the file's slow weights are the parameters */
        meta_add(m, "optcl.lookahead.slow", optcl__lookahead_unset(opt) ? "unset" : "set");
    meta_addf(m, "optcl.guard.skipped", "%" PRIu64, opt->skipped);
    if (opt->rule->mode_weight) /* the parameters hold y (train) or x (eval) */
        meta_add(m, "optcl.mode", opt->mode == OPTCL_MODE_EVAL ? "eval" : "train");
    if (opt->state_type == OPTCL__DTYPE_Q8) {
        meta_addf(m, "optcl.q8.block_size", "%d", OPTCL__Q8_BLOCK);
        meta_addf(m, "optcl.q8.min_8bit_size", "%d", OPTCL__Q8_MIN_SIZE);
    }
    if (opt->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF) {
        meta_addf(m, "optcl.loss_scale.scale", "%.9g", (double)opt->loss_scale);
        meta_addf(m, "optcl.loss_scale.growth_tracker", "%" PRIu32, opt->growth_tracker);
    }
}

/* Copies between host memory and role r (0: the parameters, then each state), packed, as
 * float32 (the values of every type are exact in it). */
static optcl_status role_transfer(optcl_optimizer *opt, size_t r, size_t index, float *data,
                                  size_t count, bool to_device, char *message, const char *what)
{
    optcl_params *p = opt->params;
    if (r > 0)
        return optcl__state_transfer(opt, r - 1, index, data, count, to_device, message, what);
    return optcl__transfer(p, p->buffer[OPTCL_ROLE_PARAMS], p->host[OPTCL_ROLE_PARAMS], p->dtype,
                           index, data, count, to_device, message, what);
}

/* The element type role r is kept in, and so saved in. */
static optcl_dtype role_dtype(const optcl_optimizer *opt, size_t r)
{
    return r == 0 ? opt->params->dtype : optcl__state_dtype(opt, r - 1);
}

/* Whether role r keeps tensor i as 8-bit codes (saved as U8, with an F32 "<name>.absmax"
 * tensor of its blocks' absmaxes); the small tensors of an 8-bit state are float32. */
static bool stored_8bit(const optcl_optimizer *opt, size_t r, size_t i)
{
    return role_dtype(opt, r) == OPTCL__DTYPE_Q8 && optcl__q8_tensor_is_8bit(opt->q8, i);
}

/* The type tensor i of role r is saved in. */
static optcl_dtype saved_dtype(const optcl_optimizer *opt, size_t r, size_t i)
{
    optcl_dtype type = role_dtype(opt, r);
    return type == OPTCL__DTYPE_Q8 && !stored_8bit(opt, r, i) ? OPTCL_DTYPE_F32 : type;
}

/* The absmax tensors of every 8-bit state: their count, and their floats in all. */
static size_t absmax_tensors(const optcl_optimizer *opt, size_t *floats)
{
    size_t n = 0;
    *floats = 0;
    for (size_t r = 1; r <= opt->state_count; r++)
        for (size_t i = 0; i < opt->params->count; i++)
            if (stored_8bit(opt, r, i)) {
                n++;
                *floats += optcl__q8_tensor_blocks(opt->params, i);
            }
    return n;
}

/* Reads role r as saved: floats, or per 8-bit tensor its codes (in values) and absmaxes. */
static optcl_status read_role(optcl_optimizer *opt, size_t r, float *values, float **absmax,
                              const char *path)
{
    optcl_params *p = opt->params;
    if (role_dtype(opt, r) != OPTCL__DTYPE_Q8)
        return role_transfer(opt, r, OPTCL_ALL, values, p->numel, false, opt->message, path);
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 0, packed = 0; i < p->count && st == OPTCL_SUCCESS; i++) {
        if (stored_8bit(opt, r, i)) { /* the codes, widened to floats */
            size_t count = p->tensors[i].count;
            uint8_t *codes = malloc(count);
            st = codes ? optcl__q8_read_stored(opt, r - 1, i, codes, *absmax, opt->message, path)
                       : optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                     "out of host memory saving %s", path);
            if (st == OPTCL_SUCCESS)
                optcl__widen(codes, values + packed, count, OPTCL__DTYPE_Q8);
            free(codes);
            *absmax += optcl__q8_tensor_blocks(p, i);
        } else {
            st = role_transfer(opt, r, i, values + packed, p->tensors[i].count, false,
                               opt->message, path);
        }
        packed += p->tensors[i].count;
    }
    return st;
}

/* The factored state's tensors (rule.h's factored: Adafactor's row_var, col_var and
 * variance): calls fn for each part tensor i keeps of each state k, in file order, until it
 * fails. */
typedef optcl_status factored_fn(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                                 size_t slot, void *user);
static optcl_status each_factored(optcl_optimizer *opt, factored_fn *fn, void *user)
{
    const char *const *states = opt->rule->factored_states;
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 0; states && i < opt->params->count && st == OPTCL_SUCCESS; i++)
        for (size_t k = 0; states[k] && st == OPTCL_SUCCESS; k++) {
            optcl__tensor part = {0};
            size_t slot = 0;
            if (optcl__factored_part(opt, k, i, &part.ndim, part.shape, &slot, &part.count))
                st = fn(opt, k, i, &part, slot, user);
        }
    return st;
}

static optcl_status count_part(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                               size_t slot, void *user)
{
    (void)opt, (void)k, (void)i, (void)part, (void)slot;
    ++*(size_t *)user;
    return OPTCL_SUCCESS;
}

static size_t factored_parts(optcl_optimizer *opt)
{
    size_t n = 0;
    each_factored(opt, count_part, &n);
    return n;
}

static void factored_name(const optcl_optimizer *opt, size_t k, size_t i, char *name)
{
    snprintf(name, KEY_MAX, "optim.%s.%s", opt->rule->factored_states[k],
             opt->params->tensors[i].name);
}

/* The name tensor i of role r is saved under: the parameter's own (r 0), else
 * "optim.<state>.<name>", and an 8-bit tensor's block maxima "optim.<state>.<name>.absmax". */
static void saved_name(const optcl_optimizer *opt, size_t r, size_t i, bool absmax, char *name)
{
    const char *tensor = opt->params->tensors[i].name;
    if (r == 0)
        snprintf(name, KEY_MAX, "%s", tensor);
    else
        snprintf(name, KEY_MAX, "optim.%s.%s%s", opt->state_names[r - 1], tensor,
                 absmax ? ".absmax" : "");
}

/* ---- names unique (optimizer create) ------------------------------------------------------- */

/* A tensor a checkpoint of this optimizer holds, with what it is, for the message. */
typedef struct saved_tensor {
    char *name;
    size_t r, i, k; /* role and tensor; k: the factored state, SIZE_MAX for a role's */
    bool absmax;
} saved_tensor;

typedef struct saved_list {
    saved_tensor *items;
    size_t count;
    bool failed; /* out of host memory */
} saved_list;

static void list_add(saved_list *l, const char *name, saved_tensor what)
{
    what.name = l->failed ? NULL : strdup(name);
    l->failed = !what.name;
    if (what.name)
        l->items[l->count++] = what;
}

static optcl_status list_part(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                              size_t slot, void *user)
{
    (void)part, (void)slot;
    char name[KEY_MAX];
    factored_name(opt, k, i, name);
    list_add(user, name, (saved_tensor){NULL, 0, i, k, false});
    return OPTCL_SUCCESS;
}

static int by_saved_name(const void *a, const void *b)
{
    return strcmp(((const saved_tensor *)a)->name, ((const saved_tensor *)b)->name);
}

/* "parameter 'w'", "state exp_avg of 'w'", "the block maxima of state exp_avg of 'w'". */
static void describe_saved(const optcl_optimizer *opt, const saved_tensor *t, char *out,
                           size_t size)
{
    const char *tensor = opt->params->tensors[t->i].name;
    if (t->k != SIZE_MAX)
        snprintf(out, size, "state %s of '%s'", opt->rule->factored_states[t->k], tensor);
    else if (t->r == 0)
        snprintf(out, size, "parameter '%s'", tensor);
    else
        snprintf(out, size, "%sstate %s of '%s'", t->absmax ? "the block maxima of " : "",
                 opt->state_names[t->r - 1], tensor);
}

optcl_status optcl__checkpoint_names_unique(optcl_optimizer *opt, char *message)
{
    optcl_params *p = opt->params;
    size_t roles = 1 + opt->state_count, floats = 0;
    size_t n = p->count * roles + absmax_tensors(opt, &floats) + factored_parts(opt);
    saved_list l = {calloc(n, sizeof *l.items), 0, false};
    l.failed = !l.items;
    char name[KEY_MAX];
    for (size_t r = 0; r < roles; r++)
        for (size_t i = 0; i < p->count; i++) {
            saved_name(opt, r, i, false, name);
            list_add(&l, name, (saved_tensor){NULL, r, i, SIZE_MAX, false});
            if (!stored_8bit(opt, r, i))
                continue;
            saved_name(opt, r, i, true, name);
            list_add(&l, name, (saved_tensor){NULL, r, i, SIZE_MAX, true});
        }
    each_factored(opt, list_part, &l);
    optcl_status st = l.failed ? optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                             "out of host memory checking the tensor names")
                               : OPTCL_SUCCESS;
    if (st == OPTCL_SUCCESS)
        qsort(l.items, l.count, sizeof *l.items, by_saved_name);
    for (size_t j = 1; j < l.count && st == OPTCL_SUCCESS; j++) {
        if (strcmp(l.items[j - 1].name, l.items[j].name) != 0)
            continue;
        char a[KEY_MAX + 64], b[KEY_MAX + 64];
        describe_saved(opt, &l.items[j - 1], a, sizeof a);
        describe_saved(opt, &l.items[j], b, sizeof b);
        st = optcl__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                         "tensor names collide: a checkpoint would hold %s and %s both as '%s' "
                         "(rename one of the tensors)",
                         a, b, l.items[j].name);
    }
    for (size_t j = 0; j < l.count; j++)
        free(l.items[j].name);
    free(l.items);
    return st;
}

/* Saving: each part read into values (at its slot) and described as the next tensor. */
typedef struct save_parts {
    optcl__st_tensor *tensors;
    char *names;
    size_t *written;
    float *values;
    const char *path;
} save_parts;

static optcl_status save_part(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                              size_t slot, void *user)
{
    save_parts *sp = user;
    optcl__st_tensor *t = &sp->tensors[*sp->written];
    char *name = sp->names + (*sp->written)++ * KEY_MAX;
    factored_name(opt, k, i, name);
    *t = (optcl__st_tensor){.name = name, .ndim = part->ndim, .data = sp->values + slot,
                            .count = part->count, .dtype = OPTCL_DTYPE_F32};
    memcpy(t->shape, part->shape, sizeof t->shape);
    return optcl__factored_transfer(opt, slot, sp->values + slot, part->count, false,
                                    opt->message, sp->path);
}

optcl_status optcl_checkpoint_save(optcl_optimizer *opt, const char *path)
{
    return optcl__checkpoint_save_with(opt, path, NULL, 0);
}

optcl_status optcl__checkpoint_save_with(optcl_optimizer *opt, const char *path,
                                         const optcl__st_meta *record, size_t record_count)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!path)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "path is NULL");
    optcl_status synced = optcl__guard_sync(opt); /* the device's step count */
    if (synced != OPTCL_SUCCESS) {
        name_file(opt, path);
        return synced;
    }
    optcl_params *p = opt->params;
    size_t roles = 1 + opt->state_count, n = p->numel, absmax_floats = 0;
    size_t extra = absmax_tensors(opt, &absmax_floats) + factored_parts(opt);
    size_t count = p->count * roles + extra, factored_floats = optcl__factored_floats(opt);
    float *values =
        malloc(((n ? n : 1) * roles + absmax_floats + factored_floats) * sizeof *values);
    float *absmax = values ? values + (n ? n : 1) * roles : NULL;
    float *factored = absmax ? absmax + absmax_floats : NULL;
    optcl__st_tensor *tensors = calloc(count ? count : 1, sizeof *tensors);
    char *names = calloc(count ? count : 1, KEY_MAX);
    meta_list meta = {0};
    optcl_status st = OPTCL_SUCCESS;
    if (!values || !tensors || !names)
        st = optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                         "out of host memory saving %s", path);
    size_t written = 0; /* tensors described */
    for (size_t r = 0; r < roles && st == OPTCL_SUCCESS; r++) {
        float *dst = values + r * n, *blocks = absmax;
        st = read_role(opt, r, dst, &absmax, path);
        size_t packed = 0;
        for (size_t i = 0; i < p->count && st == OPTCL_SUCCESS; i++) {
            optcl__st_tensor *t = &tensors[written];
            char *name = names + written++ * KEY_MAX;
            saved_name(opt, r, i, false, name);
            t->name = name;
            t->ndim = p->tensors[i].ndim;
            memcpy(t->shape, p->tensors[i].shape, sizeof t->shape);
            t->data = dst + packed;
            t->count = p->tensors[i].count;
            t->dtype = saved_dtype(opt, r, i);
            packed += t->count;
            if (!stored_8bit(opt, r, i))
                continue;
            optcl__st_tensor *a = &tensors[written];
            char *absmax_name = names + written++ * KEY_MAX;
            saved_name(opt, r, i, true, absmax_name);
            a->name = absmax_name;
            a->ndim = 1;
            a->count = optcl__q8_tensor_blocks(p, i);
            a->shape[0] = (int64_t)a->count;
            a->data = blocks;
            a->dtype = OPTCL_DTYPE_F32;
            blocks += a->count;
        }
    }
    if (st == OPTCL_SUCCESS)
        st = each_factored(opt, save_part,
                           &(save_parts){tensors, names, &written, factored, path});
    if (st == OPTCL_SUCCESS) {
        describe(opt, &meta);
        for (size_t i = 0; i < record_count; i++)
            meta_add(&meta, record[i].key, record[i].value);
        if (meta.failed)
            st = optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                             "out of host memory saving %s", path);
    }
    if (st == OPTCL_SUCCESS)
        st = optcl__st_write(path, tensors, count, meta.items, meta.count, opt->message,
                             OPTCL__MESSAGE_MAX);
    meta_free(&meta);
    free(names);
    free(tensors);
    free(values);
    return st;
}

/* ---- parse ------------------------------------------------------------------------------ */

typedef struct parsed {
    optcl_optimizer_config config;
    uint64_t steps;
    optcl_group_config groups[OPTCL_MAX_GROUPS];
    optcl_plateau_state plateau;
    double lookahead_alpha;
    bool slow_unset; /* optional: files before it have slow weights once a step was taken */
    uint64_t skipped; /* optional: files before the guard lack it */
    optcl_mode mode; /* optional: train unless "optcl.mode" says eval */
    double loss_scale; /* with loss scaling: the scale and the growth tracker */
    int64_t growth_tracker;
    size_t tensor_count;
    optcl_dtype param_dtype;                 /* the listed tensors' type (check_listing) */
    optcl__rule_memo memo[OPTCL_MAX_GROUPS]; /* optional: step 0 where the file has none */
} parsed;

static optcl_status need(const optcl__st_file *f, const char *path, const char *key,
                         const char **value, char *message)
{
    *value = optcl__st_meta_get(f, key);
    if (!*value)
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: not an optcl checkpoint: metadata '%s' is missing", path, key);
    return OPTCL_SUCCESS;
}

/* A number in [lo, hi]: never NaN, infinite only where a bound is (plateau's best starts at
 * ±inf), never an overflowed 1e999 — a damaged value must not load and poison the next step. */
static optcl_status need_number(const optcl__st_file *f, const char *path, const char *key,
                                double lo, double hi, double *out, char *message)
{
    const char *v = NULL;
    optcl_status st = need(f, path, key, &v, message);
    if (st != OPTCL_SUCCESS)
        return st;
    char *end = NULL;
    errno = 0;
    *out = strtod(v, &end);
    bool overflow = errno == ERANGE && isinf(*out);
    if (!*v || *end != '\0' || overflow || !(*out >= lo && *out <= hi))
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: metadata %s = '%s' is not a number in [%g, %g]", path, key, v, lo,
                           hi);
    return OPTCL_SUCCESS;
}

/* The loss scale, a finite float32 written with %.9g (read as a double, which must round to
 * one): positive, subnormal ones included, which dynamic scaling reaches by backing off as
 * torch's _amp_update_scale_ does (and torch loads); or 0 with dynamic scaling, where enough
 * backoffs end (every step is then skipped, as torch's are), so that every scale the
 * optimizer can reach loads. */
static optcl_status need_scale(const optcl__st_file *f, const char *path, const char *key,
                               bool zero_allowed, double *out, char *message)
{
    const double overflows = 0x1.ffffffp+127; /* FLT_MAX + half an ulp: rounds to inf */
    optcl_status st = need_number(f, path, key, 0.0, DBL_MAX, out, message);
    bool ok = *out < overflows && ((float)*out > 0.0f || (zero_allowed && *out == 0.0));
    if (st == OPTCL_SUCCESS && !ok)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                         "%s: metadata %s = '%s' is not a %s finite float32", path, key,
                         optcl__st_meta_get(f, key), zero_allowed ? "non-negative" : "positive");
    return st;
}

/* Tensor i's parameter group: a whole number in 0 … OPTCL_MAX_GROUPS − 1. */
static optcl_status need_group(const optcl__st_file *f, const char *path, size_t i, int *group,
                               char *message)
{
    char key[KEY_MAX];
    double g = 0.0;
    snprintf(key, sizeof key, "optcl.tensor.%zu.group", i);
    optcl_status st = need_number(f, path, key, 0.0, OPTCL_MAX_GROUPS - 1, &g, message);
    if (st == OPTCL_SUCCESS && g != floor(g))
        st = optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: metadata %s = %g is not a whole number",
                         path, key, g);
    *group = (int)g;
    return st;
}

/* A whole number in 0 … max, in decimal digits alone as a save writes it: strtoull itself would
 * take a sign or leading spaces, and turn " -1" into 2^64 − 1. */
static optcl_status need_whole(const optcl__st_file *f, const char *path, const char *key,
                               uint64_t max, uint64_t *out, char *message)
{
    const char *v = NULL;
    optcl_status st = need(f, path, key, &v, message);
    if (st != OPTCL_SUCCESS)
        return st;
    char *end = NULL;
    errno = 0;
    unsigned long long x = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (!end || *end != '\0' || errno == ERANGE || x > max)
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: metadata %s = '%s' is not a whole number from 0 to %" PRIu64, path,
                           key, v, max);
    *out = x;
    return OPTCL_SUCCESS;
}

/* A count kept as int64_t (the plateau's, the loss scale's tracker). */
static optcl_status need_count(const optcl__st_file *f, const char *path, const char *key,
                               int64_t *out, char *message)
{
    uint64_t x = 0;
    optcl_status st = need_whole(f, path, key, INT64_MAX, &x, message);
    *out = (int64_t)x;
    return st;
}

/* ---- the parameter listing ---------------------------------------------------------------- */

typedef struct listed {
    const char *name;
    size_t index; /* its i in optcl.tensor.<i> */
} listed;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const listed *)a)->name, ((const listed *)b)->name);
}

static bool is_listed(const listed *sorted, size_t n, const char *name)
{
    listed key = {name, 0};
    return bsearch(&key, sorted, n, sizeof *sorted, by_name) != NULL;
}

/* Whether tensor name of the file is a state of a listed parameter p: "optim.<state>.<p>", or
 * an 8-bit state's "optim.<state>.<p>.absmax" (state names hold no dot). */
static bool is_state_of_listed(const listed *sorted, size_t n, const char *name)
{
    static const char prefix[] = "optim.", absmax[] = ".absmax";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *state = name + sizeof prefix - 1, *dot = strchr(state, '.');
    if (!dot || dot == state)
        return false;
    const char *p = dot + 1;
    size_t len = strlen(p), cut = len - (sizeof absmax - 1);
    if (is_listed(sorted, n, p))
        return true;
    char base[OPTCL__NAME_MAX + 1];
    if (len <= sizeof absmax - 1 || cut > OPTCL__NAME_MAX || strcmp(p + cut, absmax) != 0)
        return false;
    memcpy(base, p, cut);
    base[cut] = '\0';
    return is_listed(sorted, n, base);
}

/* Listed tensor i: named (a parameter set's name), a tensor of the file of a parameter type
 * (the first's, as a set has one), in a valid group, with state_bits 8 or 32 if any. */
static optcl_status check_listed(const optcl__st_file *f, const char *path, size_t i, listed *out,
                                 optcl_dtype *dtype, char *message)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, "optcl.tensor.%zu", i);
    const char *name = optcl__st_meta_get(f, key);
    const struct optcl__st_entry *e = name ? optcl__st_find(f, name) : NULL;
    if (!e || strlen(name) > OPTCL__NAME_MAX)
        return optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: %s names no tensor of the file", path,
                           key);
    bool param_type =
        e->dtype == OPTCL_DTYPE_F32 || e->dtype == OPTCL_DTYPE_BF16 || e->dtype == OPTCL_DTYPE_F16;
    if (!param_type || (i > 0 && e->dtype != *dtype))
        return optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: parameter tensor '%s' is %s%s%s", path,
                           name, optcl__type_name(e->dtype), param_type ? ", the first " : "",
                           param_type ? optcl__type_name(*dtype) : " (not a parameter type)");
    *dtype = e->dtype;
    *out = (listed){name, i};
    int group = 0;
    optcl_status st = need_group(f, path, i, &group, message);
    snprintf(key, sizeof key, "optcl.tensor.%zu.state_bits", i);
    const char *bits = optcl__st_meta_get(f, key);
    if (st == OPTCL_SUCCESS && bits && strcmp(bits, "8") != 0 && strcmp(bits, "32") != 0)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: metadata %s = '%s' is not 8 or 32", path,
                         key, bits);
    return st;
}

/* The listing of the parameters (optcl.tensor_count and optcl.tensor.<i>), checked as a whole,
 * whatever optimizer reads it — load, load_progress and the header-only readers alike: at
 * least one tensor, each listed one checked (check_listed) and listed once, and every other
 * tensor of the file a state of a listed one, so no state tensor passes for a parameter. */
static optcl_status check_listing(const optcl__st_file *f, const char *path, parsed *pc,
                                  char *message)
{
    size_t n = pc->tensor_count;
    if (n == 0 || n > f->tensor_count)
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: optcl.tensor_count is %zu; the file holds %zu tensors (a "
                           "checkpoint lists 1 or more parameters among them)",
                           path, n, f->tensor_count);
    listed *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return optcl__fail(message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 0; i < n && st == OPTCL_SUCCESS; i++)
        st = check_listed(f, path, i, &sorted[i], &pc->param_dtype, message);
    if (st == OPTCL_SUCCESS)
        qsort(sorted, n, sizeof *sorted, by_name);
    for (size_t i = 1; i < n && st == OPTCL_SUCCESS; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                             "%s: optcl.tensor.%zu and optcl.tensor.%zu both name '%s'", path,
                             sorted[i - 1].index, sorted[i].index, sorted[i].name);
    for (size_t t = 0; t < f->tensor_count && st == OPTCL_SUCCESS; t++) {
        const char *name = f->tensors[t].name;
        if (!is_listed(sorted, n, name) && !is_state_of_listed(sorted, n, name))
            st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                             "%s: tensor '%s' is neither a listed parameter (optcl.tensor.<i>) "
                             "nor a state of one",
                             path, name);
    }
    free(sorted);
    return st;
}

/* The file's group settings, checked as optcl_optimizer_create checks a configuration's groups:
 * no weight decay in any group of a rule without it, only LAMB's and LARS's groups left out of
 * the trust ratio. (The rest of the configuration is valid already.) */
static optcl_status check_groups(const parsed *pc, const char *path, char *message)
{
    optcl_optimizer_config c = pc->config;
    c.groups = pc->groups;
    c.group_count = OPTCL_MAX_GROUPS;
    char why[OPTCL__MESSAGE_MAX];
    if (optcl__validate_config(&c, why) != OPTCL_SUCCESS)
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: the saved group settings are invalid: %s", path, why);
    return OPTCL_SUCCESS;
}

static optcl_status parse(const optcl__st_file *f, const char *path, parsed *out, char *message)
{
    memset(out, 0, sizeof *out);
    char key[KEY_MAX];
    const char *v = NULL;
    optcl_status st = need(f, path, "optcl.optimizer", &v, message);
    optcl_algorithm algo = OPTCL_SGD;
    if (st == OPTCL_SUCCESS && optcl_algorithm_from_name(v, &algo) != OPTCL_SUCCESS)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: unknown optimizer '%s'", path, v);
    if (st != OPTCL_SUCCESS)
        return st;
    out->config = optcl_optimizer_config_default(algo);
    /* the fields of the named algorithm, whatever optcl.config.algorithm says */
    const optcl_optimizer_config named = out->config;
    for (size_t i = 0; i < optcl__checkpoint_field_count(&named) && st == OPTCL_SUCCESS; i++) {
        optcl__config_field field = optcl__checkpoint_field(&named, i);
        snprintf(key, sizeof key, "optcl.config.%s", field.name);
        if (field.optional && !optcl__st_meta_get(f, key))
            continue;
        st = need(f, path, key, &v, message);
        if (st == OPTCL_SUCCESS && !optcl__field_parse(&out->config, &field, v))
            st = optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: metadata %s = '%s' is malformed",
                             path, key, v);
    }
    if (st == OPTCL_SUCCESS && out->config.algorithm != algo)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                         "%s: optcl.optimizer and optcl.config.algorithm disagree", path);
    if (st == OPTCL_SUCCESS) {
        char why[OPTCL__MESSAGE_MAX];
        if (optcl__validate_config(&out->config, why) != OPTCL_SUCCESS)
            st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                             "%s: the saved configuration is "
                             "invalid: %s",
                             path, why);
    }
    uint64_t tensor_count = 0;
    if (st == OPTCL_SUCCESS) /* saved as uint64_t: every count set_step_count takes */
        st = need_whole(f, path, "optcl.step", UINT64_MAX, &out->steps, message);
    if (st == OPTCL_SUCCESS)
        st = need_whole(f, path, "optcl.tensor_count", SIZE_MAX, &tensor_count, message);
    out->tensor_count = (size_t)tensor_count;
    if (st == OPTCL_SUCCESS)
        st = check_listing(f, path, out, message);
    for (int g = 0; g < OPTCL_MAX_GROUPS && st == OPTCL_SUCCESS; g++) {
        snprintf(key, sizeof key, "optcl.group.%d.lr", g);
        st = need_number(f, path, key, 0.0, DBL_MAX, &out->groups[g].lr, message);
        if (st == OPTCL_SUCCESS) {
            snprintf(key, sizeof key, "optcl.group.%d.weight_decay", g);
            st = need_number(f, path, key, 0.0, DBL_MAX, &out->groups[g].weight_decay, message);
        }
        if (st == OPTCL_SUCCESS) {
            snprintf(key, sizeof key, "optcl.group.%d.exclude_from_trust_ratio", g);
            const char *exclude = optcl__st_meta_get(f, key); /* optional: "1" when set */
            out->groups[g].exclude_from_trust_ratio = exclude != NULL;
            if (exclude && strcmp(exclude, "1") != 0)
                st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                                 "%s: not a valid optcl checkpoint: %s is '%s' (expected 1)",
                                 path, key, exclude);
        }
        if (st == OPTCL_SUCCESS) {
            snprintf(key, sizeof key, "optcl.plateau.scale.%d", g);
            st = need_number(f, path, key, 0.0, 1.0, &out->plateau.scale[g], message);
        }
        const char *const *names = optcl_algorithm_running(algo);
        snprintf(key, sizeof key, "optcl.group.%d.%s", g, names[0] ? names[0] : "");
        bool running = names[0] && optcl__st_meta_get(f, key); /* optional; then all of them */
        for (int k = 0; running && names[k] && st == OPTCL_SUCCESS; k++) {
            snprintf(key, sizeof key, "optcl.group.%d.%s", g, names[k]);
            st = need_number(f, path, key, -DBL_MAX, DBL_MAX, &out->memo[g].value[k], message);
        }
        out->memo[g].step = running ? out->steps : 0;
    }
    if (st == OPTCL_SUCCESS)
        st = check_groups(out, path, message);
    if (st == OPTCL_SUCCESS)
        st = need_number(f, path, "optcl.plateau.best", -INFINITY, INFINITY, &out->plateau.best,
                         message);
    if (st == OPTCL_SUCCESS)
        st = need_count(f, path, "optcl.plateau.num_bad_epochs", &out->plateau.num_bad_epochs,
                        message);
    if (st == OPTCL_SUCCESS)
        st = need_count(f, path, "optcl.plateau.cooldown_counter", &out->plateau.cooldown_counter,
                        message);
    if (st == OPTCL_SUCCESS)
        st = need_count(f, path, "optcl.plateau.reports", &out->plateau.reports, message);
    if (st == OPTCL_SUCCESS)
        st = need_number(f, path, "optcl.lookahead.last_alpha", 0.0, 1.0, &out->lookahead_alpha,
                         message);
    const char *slow = optcl__st_meta_get(f, "optcl.lookahead.slow");
    out->slow_unset = slow ? strcmp(slow, "unset") == 0 : out->steps == 0;
    if (st == OPTCL_SUCCESS && slow && strcmp(slow, "set") != 0 && strcmp(slow, "unset") != 0)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                         "%s: metadata optcl.lookahead.slow = '%s' is neither set nor unset", path,
                         slow);
    if (st == OPTCL_SUCCESS && optcl__st_meta_get(f, "optcl.guard.skipped"))
        st = need_whole(f, path, "optcl.guard.skipped", UINT64_MAX, &out->skipped, message);
    const char *mode = optcl__st_meta_get(f, "optcl.mode");
    out->mode = mode && strcmp(mode, "eval") == 0 ? OPTCL_MODE_EVAL : OPTCL_MODE_TRAIN;
    if (st == OPTCL_SUCCESS && mode && strcmp(mode, "eval") != 0 && strcmp(mode, "train") != 0)
        st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                         "%s: metadata optcl.mode = '%s' is neither train nor eval", path, mode);
    out->loss_scale = 1.0;
    if (st == OPTCL_SUCCESS && out->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF) {
        st = need_scale(f, path, "optcl.loss_scale.scale",
                        out->config.loss_scale.mode == OPTCL_LOSS_SCALE_DYNAMIC, &out->loss_scale,
                        message);
        if (st == OPTCL_SUCCESS)
            st = need_count(f, path, "optcl.loss_scale.growth_tracker", &out->growth_tracker,
                            message);
        if (st == OPTCL_SUCCESS && out->growth_tracker >= out->config.loss_scale.growth_interval)
            st = optcl__fail(message, OPTCL_ERROR_FORMAT,
                             "%s: metadata optcl.loss_scale.growth_tracker = %lld is not below "
                             "the growth interval %lld",
                             path, (long long)out->growth_tracker,
                             (long long)out->config.loss_scale.growth_interval);
    }
    return st;
}

/* The file's tensor "name" must exist with exactly the tensor's shape and the role's type. */
static optcl_status find_tensor(const optcl__st_file *f, const char *path, const char *name,
                                const optcl__tensor *t, optcl_dtype dtype, const float **data,
                                char *message)
{
    const struct optcl__st_entry *e = optcl__st_find(f, name);
    if (!e)
        return optcl__fail(message, OPTCL_ERROR_FORMAT, "%s: tensor '%s' is missing", path, name);
    if (e->dtype != dtype)
        return optcl__fail(message, OPTCL_ERROR_FORMAT,
                           "%s: tensor '%s' is %s; this optimizer keeps it in %s", path, name,
                           optcl__type_name(e->dtype), optcl__type_name(dtype));
    bool same = e->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = e->shape[d] == t->shape[d];
    if (!same) {
        char file_shape[OPTCL__ST_SHAPE_TEXT], set_shape[OPTCL__ST_SHAPE_TEXT];
        optcl__st_shape_text(file_shape, sizeof file_shape, e->ndim, e->shape);
        optcl__st_shape_text(set_shape, sizeof set_shape, t->ndim, t->shape);
        return optcl__fail(message, OPTCL_ERROR_SIZE_MISMATCH,
                           "%s: tensor '%s' has shape %s in the file; the parameter set's is %s",
                           path, name, file_shape, set_shape);
    }
    *data = e->data;
    return OPTCL_SUCCESS;
}

/* 8-bit state: the file's blocks must be this build's (256 elements, float32 state under 4096). */
static optcl_status check_q8_layout(const optcl__st_file *f, const char *path, char *message)
{
    static const struct {
        const char *key;
        int value;
    } layout[] = {{"optcl.q8.block_size", OPTCL__Q8_BLOCK},
                  {"optcl.q8.min_8bit_size", OPTCL__Q8_MIN_SIZE}};
    for (size_t k = 0; k < sizeof layout / sizeof layout[0]; k++) {
        const char *saved = optcl__st_meta_get(f, layout[k].key);
        char expected[16];
        snprintf(expected, sizeof expected, "%d", layout[k].value);
        if (!saved || strcmp(saved, expected) != 0)
            return optcl__fail(message, OPTCL_ERROR_FORMAT,
                               "%s: metadata %s is %s; this build's 8-bit state has %s", path,
                               layout[k].key, saved ? saved : "missing", expected);
    }
    return OPTCL_SUCCESS;
}

/* ---- load ------------------------------------------------------------------------------- */

/* Loading: each part found in the file (sources, in each_factored's order), then written. */
typedef struct load_parts {
    const optcl__st_file *file;
    const char *path;
    const float **sources;
    size_t next;
} load_parts;

static optcl_status find_part(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                              size_t slot, void *user)
{
    (void)slot;
    load_parts *lp = user;
    char name[KEY_MAX];
    factored_name(opt, k, i, name);
    return find_tensor(lp->file, lp->path, name, part, OPTCL_DTYPE_F32,
                       &lp->sources[lp->next++], opt->message);
}

static optcl_status write_part(optcl_optimizer *opt, size_t k, size_t i, optcl__tensor *part,
                               size_t slot, void *user)
{
    (void)k, (void)i;
    load_parts *lp = user;
    return optcl__factored_transfer(opt, slot, (float *)lp->sources[lp->next++], part->count,
                                    true, opt->message, lp->path);
}

/* Role r's backup before a load: its floats, or an 8-bit state's whole buffer (bytes at most
 * n floats' worth: about 1.02 bytes per element). */
static optcl_status backup_role(optcl_optimizer *opt, size_t r, float *backup, bool restore,
                                char *message, const char *path)
{
    optcl_params *p = opt->params;
    if (role_dtype(opt, r) == OPTCL__DTYPE_Q8)
        return optcl__q8_snapshot(opt, r - 1, backup, restore, message, path);
    return role_transfer(opt, r, OPTCL_ALL, backup, p->numel, restore, message, path);
}

/* The backup's floats per role: the larger of the values and an 8-bit state's bytes. */
static size_t backup_floats(const optcl_optimizer *opt)
{
    size_t n = opt->params->numel ? opt->params->numel : 1;
    if (opt->state_type == OPTCL__DTYPE_Q8) {
        size_t q8 = (optcl__q8_bytes(opt->q8) + sizeof(float) - 1) / sizeof(float);
        n = q8 > n ? q8 : n;
    }
    return n;
}

/* Tensor i of 8-bit state s from a file's U8 tensor (its codes widened to floats). */
static optcl_status write_codes(optcl_optimizer *opt, size_t s, size_t i, const float *widened,
                                const float *absmax, const char *path)
{
    size_t count = opt->params->tensors[i].count;
    uint8_t *codes = malloc(count ? count : 1);
    if (!codes)
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory",
                           path);
    optcl__narrow(widened, codes, count, OPTCL__DTYPE_Q8);
    optcl_status st = optcl__q8_write_stored(opt, s, i, codes, absmax, opt->message, path);
    free(codes);
    return st;
}

/* On OpenCL the parameters' and every state's current values (NULL on the host, where the
 * copies cannot fail), so that a load that fails after a copy the device already took can put
 * them back: a copy cannot be taken back otherwise. */
static optcl_status backup_take(optcl_optimizer *opt, float **out, const char *path)
{
    size_t roles = 1 + opt->state_count, n = backup_floats(opt);
    size_t factored = optcl__factored_floats(opt); /* backed up after the roles */
    *out = NULL;
    if (opt->params->ctx->backend != OPTCL_BACKEND_OPENCL)
        return OPTCL_SUCCESS;
    float *backup = malloc((n * roles + factored) * sizeof *backup);
    if (!backup)
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory",
                           path);
    optcl_status st = OPTCL_SUCCESS;
    for (size_t r = 0; r < roles && st == OPTCL_SUCCESS; r++)
        st = backup_role(opt, r, backup + r * n, false, opt->message, path);
    if (st == OPTCL_SUCCESS && factored)
        st = optcl__factored_transfer(opt, 0, backup + n * roles, factored, false, opt->message,
                                      path);
    if (st != OPTCL_SUCCESS)
        free(backup); /* nothing written yet */
    else
        *out = backup;
    return st;
}

/* Writes backup_take's values back after a failed load, keeping the failure's message (and
 * adding to it when the device fails the restore too). */
static void backup_put_back(optcl_optimizer *opt, const float *backup, const char *path)
{
    size_t roles = 1 + opt->state_count, n = backup_floats(opt);
    size_t factored = optcl__factored_floats(opt);
    char why[OPTCL__MESSAGE_MAX];
    optcl_status undo = OPTCL_SUCCESS;
    for (size_t r = 0; r < roles && undo == OPTCL_SUCCESS; r++)
        undo = backup_role(opt, r, (float *)backup + r * n, true, why, path);
    if (undo == OPTCL_SUCCESS && factored)
        undo = optcl__factored_transfer(opt, 0, (float *)backup + n * roles, factored, true, why,
                                        path);
    if (undo != OPTCL_SUCCESS) {
        size_t used = strlen(opt->message);
        optcl__format(opt->message + used, OPTCL__MESSAGE_MAX - used,
                      "; restoring the previous values failed too, so parameters and state "
                      "are partly overwritten: %s",
                      why);
    }
}

/* Writes the file's tensors into the parameters and every state (backup_take's values are
 * the caller's to put back on failure). */
static optcl_status apply(optcl_optimizer *opt, const float **sources, const float **absmax,
                          load_parts *parts, const char *path)
{
    optcl_params *p = opt->params;
    size_t roles = 1 + opt->state_count;
    optcl_status st = OPTCL_SUCCESS;
    for (size_t r = 0; r < roles && st == OPTCL_SUCCESS; r++)
        for (size_t i = 0; i < p->count && st == OPTCL_SUCCESS; i++) {
            size_t k = r * p->count + i;
            st = stored_8bit(opt, r, i)
                     ? write_codes(opt, r - 1, i, sources[k], absmax[k], path)
                     : role_transfer(opt, r, i, (float *)sources[k], p->tensors[i].count, true,
                                     opt->message, path);
        }
    parts->next = 0;
    if (st == OPTCL_SUCCESS)
        st = each_factored(opt, write_part, parts);
    return st;
}

/* The value of field name (as same_structure names it: "adam.amsgrad", "max_norm (zero or
 * not)") in c, as a checkpoint writes it; the algorithm by its name. */
static void field_text(const optcl_optimizer_config *c, const char *name, char *out, size_t size)
{
    size_t len = strcspn(name, " "); /* without " (zero or not)" */
    snprintf(out, size, "?");
    if (strcmp(name, "algorithm") == 0) {
        snprintf(out, size, "%s", optcl_algorithm_name(c->algorithm));
        return;
    }
    for (size_t i = 0; i < optcl__checkpoint_field_count(c); i++) {
        optcl__config_field field = optcl__checkpoint_field(c, i);
        if (strlen(field.name) == len && strncmp(field.name, name, len) == 0) {
            optcl__field_format(c, &field, out, size);
            return;
        }
    }
}

/* That the file's optimizer is this one's kind: parameters of the same type first (the file's
 * state type follows from its own), then the options that decide the state buffers, naming the
 * first that differs with both values. */
static optcl_status check_same_kind(optcl_optimizer *opt, const optcl__st_file *f, const parsed *pc,
                                    const char *path)
{
    optcl_dtype params = opt->params->dtype;
    if (pc->param_dtype != params)
        return optcl__fail(opt->message, OPTCL_ERROR_FORMAT,
                           "%s: tensor '%s' is %s; this optimizer keeps it in %s", path,
                           optcl__st_meta_get(f, "optcl.tensor.0"),
                           optcl__type_name(pc->param_dtype), optcl__type_name(params));
    char differs[96], theirs[VALUE_MAX * 4], ours[VALUE_MAX * 4];
    if (optcl__config_same_structure(&pc->config, &opt->config, params, differs, sizeof differs))
        return OPTCL_SUCCESS;
    if (strcmp(differs, "state_dtype") == 0) { /* the types each resolves to */
        snprintf(theirs, sizeof theirs, "%s",
                 optcl__type_name(optcl__state_type(&pc->config, params)));
        snprintf(ours, sizeof ours, "%s", optcl__type_name(opt->state_type));
    } else {
        field_text(&pc->config, differs, theirs, sizeof theirs);
        field_text(&opt->config, differs, ours, sizeof ours);
    }
    return optcl__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                       "%s: the checkpoint's %s (%s) does not match this optimizer's (%s)", path,
                       differs, theirs, ours);
}

/* Reads (with the tensors' data, or only the header) and parses the file, and checks that its
 * optimizer is this one's kind; f is read even on failure (optcl__st_free it). */
static optcl_status read_parsed(optcl_optimizer *opt, const char *path, bool header_only,
                                optcl__st_file *f, parsed *pc)
{
    memset(pc, 0, sizeof *pc);
    optcl_status st = (header_only ? optcl__st_read_header : optcl__st_read)(path, f, opt->message,
                                                                             OPTCL__MESSAGE_MAX);
    if (st == OPTCL_SUCCESS)
        st = parse(f, path, pc, opt->message);
    if (st == OPTCL_SUCCESS)
        st = check_same_kind(opt, f, pc, path);
    return st;
}

/* What take_progress changes, kept to put back when the load fails after it: the optimizer as
 * it was (a shallow copy, of which put_back_progress takes back only what take_progress
 * changes) and its memos. */
typedef struct kept_progress {
    optcl_optimizer was;
    optcl__saved_memos memos; /* free memos.guard_memos */
} kept_progress;

/* Brings the host's copy of the guard's record up to the device's first (steps in flight may
 * have moved it), so that what is kept is what a failed load must put back. */
static optcl_status keep_progress(optcl_optimizer *opt, kept_progress *k, const char *path)
{
    memset(k, 0, sizeof *k);
    optcl_status st = optcl__guard_sync(opt);
    if (st == OPTCL_SUCCESS)
        st = optcl__save_memos(opt, &k->memos);
    if (st != OPTCL_SUCCESS) {
        name_file(opt, path);
        return st;
    }
    k->was = *opt;
    return OPTCL_SUCCESS;
}

/* Puts kept progress back, and the device's record after it: a failed write of the file's may
 * have left the loss scale or the decision's arguments written. The failure's message stays
 * (with the restore's failure added, if the device fails that too). */
static void put_back_progress(optcl_optimizer *opt, const kept_progress *k)
{
    const optcl_optimizer *was = &k->was;
    opt->config = was->config;
    memcpy(opt->groups, was->groups, sizeof opt->groups);
    opt->steps = was->steps;
    opt->skipped = was->skipped;
    opt->plateau = was->plateau;
    opt->lookahead_alpha = was->lookahead_alpha;
    opt->mode = was->mode;
    optcl__restore_memos(opt, &k->memos);
    opt->loss_scale = was->loss_scale;
    opt->last_norm = was->last_norm;
    opt->last_coef = was->last_coef;
    opt->growth_tracker = was->growth_tracker;
    char failure[OPTCL__MESSAGE_MAX];
    snprintf(failure, sizeof failure, "%s", opt->message);
    optcl_status undo = optcl__guard_store(opt);
    if (undo == OPTCL_SUCCESS) {
        snprintf(opt->message, OPTCL__MESSAGE_MAX, "%s", failure);
    } else {
        char why[OPTCL__MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", opt->message);
        optcl__format(opt->message, OPTCL__MESSAGE_MAX,
                      "%s; restoring the previous step count and settings on the device failed "
                      "too: %s",
                      failure, why);
    }
}

/* Everything the file holds besides the tensors becomes the optimizer's: the configuration,
 * group hyperparameters, step count, plateau and Lookahead state, mode, running values and the
 * guard's account; then the device's record follows. Where writing that record fails, kept
 * (keep_progress's, before anything changed) is put back. */
static optcl_status take_progress(optcl_optimizer *opt, const parsed *pc, const kept_progress *kept,
                                  const char *path)
{
    opt->config = pc->config;
    memcpy(opt->groups, pc->groups, sizeof opt->groups);
    opt->steps = pc->steps;
    opt->plateau = pc->plateau;
    opt->lookahead_alpha = pc->lookahead_alpha;
    opt->mode = opt->rule->mode_weight ? pc->mode : OPTCL_MODE_TRAIN;
    optcl__forget_memos(opt); /* the file's running sums, or from the first step */
    memcpy(opt->memo, pc->memo, sizeof opt->memo);
    opt->skipped = pc->skipped;
    opt->loss_scale = (float)pc->loss_scale;
    opt->growth_tracker = (uint32_t)pc->growth_tracker;
    opt->last_norm = 0.0f; /* the last norm is an observation, not state: not saved */
    opt->last_coef = 1.0f;
    optcl_status st = optcl__guard_store(opt); /* the device's count and max_norm follow */
    if (st != OPTCL_SUCCESS) {
        name_file(opt, path);
        put_back_progress(opt, kept);
    }
    return st;
}

optcl_status optcl_checkpoint_load_progress(optcl_optimizer *opt, const char *path)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!path)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "path is NULL");
    optcl__st_file f;
    parsed pc;
    kept_progress kept = {0};
    optcl_status st = read_parsed(opt, path, true, &f, &pc);
    if (st == OPTCL_SUCCESS) /* its record's blocking write follows every step in flight */
        st = keep_progress(opt, &kept, path);
    if (st == OPTCL_SUCCESS)
        st = take_progress(opt, &pc, &kept, path);
    free(kept.memos.guard_memos);
    if (st == OPTCL_SUCCESS) { /* a new count; the slow weights come from elsewhere, or start */
        optcl__lookahead_recounted(opt, kept.was.steps);
        opt->counted_from = opt->steps; /* the file's α stays until the next sync */
    }
    optcl__st_free(&f);
    return st;
}

optcl_status optcl_checkpoint_load(optcl_optimizer *opt, const char *path)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    if (!path)
        return optcl__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "path is NULL");
    optcl_params *p = opt->params;
    optcl__st_file f;
    parsed pc;
    optcl_status st = read_parsed(opt, path, false, &f, &pc);
    size_t absmax_floats = 0, parts = factored_parts(opt);
    size_t expected =
        p->count * (1 + opt->state_count) + absmax_tensors(opt, &absmax_floats) + parts;
    if (st == OPTCL_SUCCESS && (pc.tensor_count != p->count || f.tensor_count != expected))
        st = optcl__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                         "%s: holds %zu parameter tensors and %zu tensors in all; this "
                         "optimizer has %zu and %zu",
                         path, pc.tensor_count, f.tensor_count, p->count, expected);
    /* The parameter set must be the one saved: same names in the same order, same groups (the
     * file's group hyperparameters are applied by group index). */
    char name[KEY_MAX];
    for (size_t i = 0; i < p->count && st == OPTCL_SUCCESS; i++) {
        snprintf(name, sizeof name, "optcl.tensor.%zu", i);
        const char *saved = optcl__st_meta_get(&f, name); /* listed (check_listing) */
        int group = -1;
        st = need_group(&f, path, i, &group, opt->message);
        if (st == OPTCL_SUCCESS &&
            (strcmp(saved, p->tensors[i].name) != 0 || group != p->tensors[i].group))
            st = optcl__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                             "%s: tensor %zu is '%s' in group %d in the file but '%s' in group "
                             "%d in the parameter set",
                             path, i, saved, group, p->tensors[i].name, p->tensors[i].group);
    }
    /* Check every tensor before changing anything. */
    const float **sources = calloc(expected ? 2 * expected : 1, sizeof *sources);
    const float **absmax = sources ? sources + expected : NULL; /* of 8-bit tensors */
    if (st == OPTCL_SUCCESS && !sources)
        st = optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == OPTCL_SUCCESS && opt->state_type == OPTCL__DTYPE_Q8)
        st = check_q8_layout(&f, path, opt->message);
    for (size_t r = 0; r <= opt->state_count && st == OPTCL_SUCCESS; r++) {
        for (size_t i = 0; i < p->count && st == OPTCL_SUCCESS; i++) {
            saved_name(opt, r, i, false, name);
            st = find_tensor(&f, path, name, &p->tensors[i], saved_dtype(opt, r, i),
                             &sources[r * p->count + i], opt->message);
            if (st != OPTCL_SUCCESS || !stored_8bit(opt, r, i))
                continue;
            optcl__tensor blocks = {.ndim = 1, .count = optcl__q8_tensor_blocks(p, i)};
            blocks.shape[0] = (int64_t)blocks.count;
            saved_name(opt, r, i, true, name);
            st = find_tensor(&f, path, name, &blocks, OPTCL_DTYPE_F32,
                             &absmax[r * p->count + i], opt->message);
        }
    }
    load_parts found = {&f, path, calloc(parts ? parts : 1, sizeof(float *)), 0};
    if (st == OPTCL_SUCCESS && !found.sources)
        st = optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == OPTCL_SUCCESS)
        st = each_factored(opt, find_part, &found);
    /* Everything checked: keep what the load changes, then change it, all or nothing. */
    kept_progress kept = {0};
    float *backup = NULL;
    if (st == OPTCL_SUCCESS)
        st = keep_progress(opt, &kept, path);
    if (st == OPTCL_SUCCESS)
        st = backup_take(opt, &backup, path);
    if (st == OPTCL_SUCCESS) {
        st = apply(opt, sources, absmax, &found, path);
        if (st == OPTCL_SUCCESS) /* put back itself when the device's record fails */
            st = take_progress(opt, &pc, &kept, path);
        if (st != OPTCL_SUCCESS && backup)
            backup_put_back(opt, backup, path);
    }
    free(backup);
    free(kept.memos.guard_memos);
    free(found.sources);
    if (st == OPTCL_SUCCESS) {
        optcl__lookahead_loaded(opt, pc.slow_unset);
        opt->counted_from = opt->steps; /* the file's α stays until the next sync */
    }
    free(sources);
    optcl__st_free(&f);
    return st;
}

/* The file's header, read and parsed (the tensors' data stays on disk); local: the message. */
static optcl_status read_header(const char *path, optcl__st_file *f, parsed *pc, char *local)
{
    optcl_status st = optcl__st_read_header(path, f, local, OPTCL__MESSAGE_MAX);
    return st == OPTCL_SUCCESS ? parse(f, path, pc, local) : st;
}

optcl_status optcl_checkpoint_inspect(const char *path, optcl_tensor_spec **specs, size_t *count,
                                      optcl_optimizer_config *config, char *message,
                                      size_t message_size)
{
    char local[OPTCL__MESSAGE_MAX] = "";
    if (!path || !specs || !count) {
        optcl__format(message, message_size, "optcl_checkpoint_inspect: %s is NULL",
                      !path    ? "path"
                      : !specs ? "specs"
                               : "count");
        return OPTCL_ERROR_NULL_POINTER;
    }
    *specs = NULL;
    *count = 0;
    optcl__st_file f;
    parsed pc;
    optcl_status st = read_header(path, &f, &pc, local); /* the listing checked as load does */
    size_t names_bytes = 0;
    char key[KEY_MAX];
    for (size_t i = 0; st == OPTCL_SUCCESS && i < pc.tensor_count; i++) {
        snprintf(key, sizeof key, "optcl.tensor.%zu", i);
        names_bytes += strlen(optcl__st_meta_get(&f, key)) + 1;
    }
    optcl_tensor_spec *out = NULL;
    if (st == OPTCL_SUCCESS) {
        out = malloc(pc.tensor_count * sizeof *out + names_bytes + 1);
        if (!out)
            st = optcl__fail(local, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    char *names = out ? (char *)(out + pc.tensor_count) : NULL;
    for (size_t i = 0; st == OPTCL_SUCCESS && i < pc.tensor_count; i++) {
        snprintf(key, sizeof key, "optcl.tensor.%zu", i);
        const char *name = optcl__st_meta_get(&f, key);
        const struct optcl__st_entry *e = optcl__st_find(&f, name);
        int group = -1;
        st = need_group(&f, path, i, &group, local);
        if (st != OPTCL_SUCCESS)
            break;
        memset(&out[i], 0, sizeof out[i]);
        strcpy(names, name);
        out[i].name = names;
        names += strlen(name) + 1;
        out[i].ndim = e->ndim;
        memcpy(out[i].shape, e->shape, sizeof out[i].shape);
        out[i].group = group;
        snprintf(key, sizeof key, "optcl.tensor.%zu.state_bits", i);
        const char *bits = optcl__st_meta_get(&f, key);
        out[i].state_bits = bits ? atoi(bits) : 0; /* "8" or "32" (check_listed) */
    }
    if (st == OPTCL_SUCCESS) {
        *specs = out;
        *count = pc.tensor_count;
        if (config) {
            *config = pc.config;
            config->groups = NULL;
            config->group_count = 0;
        }
    } else {
        free(out);
        optcl__format(message, message_size, "%s", local);
    }
    if (f.storage || f.tensors)
        optcl__st_free(&f);
    return st;
}

optcl_status optcl_checkpoint_param_dtype(const char *path, optcl_dtype *dtype, char *message,
                                          size_t message_size)
{
    char local[OPTCL__MESSAGE_MAX] = "";
    if (!path || !dtype) {
        optcl__format(message, message_size, "optcl_checkpoint_param_dtype: %s is NULL",
                      !path ? "path" : "dtype");
        return OPTCL_ERROR_NULL_POINTER;
    }
    optcl__st_file f;
    parsed pc;
    optcl_status st = read_header(path, &f, &pc, local);
    if (st == OPTCL_SUCCESS) /* a parameter set has one type (check_listing) */
        *dtype = pc.param_dtype;
    else
        optcl__format(message, message_size, "%s", local);
    if (f.storage || f.tensors)
        optcl__st_free(&f);
    return st;
}

optcl_status optcl_checkpoint_inspect_progress(const char *path,
                                               optcl_checkpoint_progress *progress, char *message,
                                               size_t message_size)
{
    if (!path || !progress) {
        optcl__format(message, message_size, "optcl_checkpoint_inspect_progress: %s is NULL",
                      !path ? "path" : "progress");
        return OPTCL_ERROR_NULL_POINTER;
    }
    char local[OPTCL__MESSAGE_MAX] = "";
    optcl__st_file f;
    parsed pc;
    optcl_status st = read_header(path, &f, &pc, local);
    if (st == OPTCL_SUCCESS) {
        progress->steps = pc.steps;
        progress->skipped = pc.skipped;
        progress->loss_scale = pc.loss_scale;
        /* the next step's lr, as optcl_optimizer_get_lr gives it after a load */
        for (int g = 0; g < OPTCL_MAX_GROUPS; g++)
            progress->lr[g] = optcl__lr_at(&pc.config, &pc.plateau, g, pc.groups[g].lr, pc.steps);
    } else {
        optcl__format(message, message_size, "%s", local);
    }
    if (f.storage || f.tensors)
        optcl__st_free(&f);
    return st;
}
