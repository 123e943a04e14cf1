/* sharded.c — creating and destroying the sharded optimizer (layout, the shard's parameter set
 * and ordinary optimizer, host staging), and its queries. */
#include "sharded.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

optcl_mpi_config optcl_mpi_config_default(void)
{
    optcl_mpi_config c;
    c.reduce = OPTCL_MPI_REDUCE_DOUBLE;
    c.collectives = OPTCL_MPI_COLLECTIVES_MPI;
    c.max_count = 0;
    return c;
}

static optcl_status validate(optcl_params *params, const optcl_optimizer_config *config,
                             const optcl_mpi_config *mpi, optcl_mpi_optimizer **out, char *message)
{
    if (!params || !config || !out)
        return optcl_mpi__fail(message, OPTCL_ERROR_NULL_POINTER,
                               "optcl_mpi_optimizer_create: %s is NULL",
                               !params   ? "params"
                               : !config ? "config"
                                         : "out");
    if (config->loss_scale.mode != OPTCL_LOSS_SCALE_OFF && config->loss_scale.write_unscaled)
        return optcl_mpi__fail(message, OPTCL_ERROR_UNSUPPORTED,
                               "loss_scale.write_unscaled is not available with the sharded "
                               "optimizer: the gradient it unscales is the shard's mean, not "
                               "the caller's buffer");
    /* The guard runs here, on the averaged gradient; the rest is optcl_optimizer_create's. */
    if (!isfinite(config->max_norm) || config->max_norm < 0.0)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid max_norm: %g (must be finite and >= 0; 0 turns "
                               "clipping off)",
                               config->max_norm);
    if (config->nonfinite != OPTCL_NONFINITE_PROPAGATE && config->nonfinite != OPTCL_NONFINITE_SKIP)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid nonfinite: %d (must be PROPAGATE or SKIP)",
                               (int)config->nonfinite);
    if (mpi->reduce != OPTCL_MPI_REDUCE_DOUBLE && mpi->reduce != OPTCL_MPI_REDUCE_FLOAT)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid reduce: %d (must be OPTCL_MPI_REDUCE_DOUBLE or _FLOAT)",
                               (int)mpi->reduce);
    if (mpi->collectives != OPTCL_MPI_COLLECTIVES_MPI &&
        mpi->collectives != OPTCL_MPI_COLLECTIVES_RING)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid collectives: %d (must be OPTCL_MPI_COLLECTIVES_MPI or "
                               "_RING)",
                               (int)mpi->collectives);
    if (mpi->max_count > (size_t)INT_MAX)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "invalid max_count: %zu (an MPI count is an int: at most %d)",
                               mpi->max_count, INT_MAX);
    return OPTCL_SUCCESS;
}

/* FNV-1a over what must be equal on every rank. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#define FNV_BASIS 14695981039346656037ull
/* More than the shared fields and any rule's own (about 60); more would share the last. */
#define FIELDS_MAX 96

/* What every rank must have alike, rank 0's sent to all: a hash each of the parameter set, the
 * MPI settings and the groups, and one per configuration field — every field a checkpoint
 * records (optcl_optimizer_config_field), so that none is missed and a rank that differs can
 * name the first field that does. */
typedef struct fingerprint {
    uint64_t params, mpi, groups, field_count;
    uint64_t fields[FIELDS_MAX];
} fingerprint;

static void fingerprint_of(fingerprint *f, optcl_params *params, const optcl_optimizer_config *c,
                           const optcl_mpi_config *mpi)
{
    memset(f, 0, sizeof *f);
    uint64_t h = FNV_BASIS;
    for (size_t i = 0; i < optcl_params_count(params); i++) {
        optcl_tensor_info t;
        optcl_params_info(params, i, &t);
        h = fnv(h, t.name, strlen(t.name) + 1);
        h = fnv(h, &t.ndim, sizeof t.ndim);
        h = fnv(h, t.shape, (size_t)t.ndim * sizeof t.shape[0]);
        h = fnv(h, &t.group, sizeof t.group);
        h = fnv(h, &t.state_bits, sizeof t.state_bits);
    }
    int dtype = (int)optcl_params_dtype(params);
    f->params = fnv(h, &dtype, sizeof dtype);
    double settings[] = {(double)mpi->reduce, (double)mpi->collectives, (double)mpi->max_count};
    f->mpi = fnv(FNV_BASIS, settings, sizeof settings);
    h = fnv(FNV_BASIS, &c->group_count, sizeof c->group_count);
    for (size_t g = 0; c->groups && g < c->group_count; g++) {
        double group[] = {c->groups[g].lr, c->groups[g].weight_decay,
                          (double)c->groups[g].exclude_from_trust_ratio};
        h = fnv(h, group, sizeof group);
    }
    f->groups = h;
    f->field_count = optcl_optimizer_config_field_count(c);
    for (size_t i = 0; i < f->field_count; i++) {
        const char *name = "";
        char value[OPTCL_CONFIG_VALUE_MAX] = "";
        optcl_optimizer_config_field(c, i, &name, value, sizeof value);
        uint64_t *slot = &f->fields[i < FIELDS_MAX ? i : FIELDS_MAX - 1];
        if (i < FIELDS_MAX)
            *slot = FNV_BASIS;
        *slot = fnv(fnv(*slot, name, strlen(name) + 1), value, strlen(value));
    }
}

/* Rank 0's fingerprint against everyone's: a rank that differs says in what. */
static optcl_status check_same(optcl_mpi_optimizer *opt, optcl_status local)
{
    fingerprint mine, root;
    fingerprint_of(&mine, opt->params, &opt->config, &opt->mpi);
    root = mine;
    int err = MPI_Bcast(&root, (int)sizeof root, MPI_BYTE, 0, opt->comm);
    if (err != MPI_SUCCESS)
        return optcl_mpi__check(opt->message, err, "MPI_Bcast");
    size_t slots = mine.field_count < FIELDS_MAX ? (size_t)mine.field_count : FIELDS_MAX;
    size_t field = 0; /* the first field that differs */
    while (field < slots && mine.fields[field] == root.fields[field])
        field++;
    if (local == OPTCL_SUCCESS && mine.params != root.params)
        local = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                                "the parameter set differs from rank 0's (every rank needs the "
                                "same tensors in the same order, with the same shapes, groups "
                                "and element type)");
    if (local == OPTCL_SUCCESS && mine.mpi != root.mpi)
        local = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                                "mpi_config differs from rank 0's (reduce, collectives or "
                                "max_count)");
    if (local == OPTCL_SUCCESS && mine.groups != root.groups)
        local = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                                "the optimizer configuration differs from rank 0's: its groups "
                                "(group_count, or a group's lr, weight_decay or "
                                "exclude_from_trust_ratio)");
    if (local == OPTCL_SUCCESS && (field < slots || mine.field_count != root.field_count)) {
        /* (counts differ with every common field equal only if the table were reordered: the
         * algorithm, which decides the count, is its first field) */
        const char *name = "the field count";
        char value[OPTCL_CONFIG_VALUE_MAX];
        snprintf(value, sizeof value, "%llu", (unsigned long long)mine.field_count);
        if (field < slots)
            optcl_optimizer_config_field(&opt->config, field, &name, value, sizeof value);
        local = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                                "the optimizer configuration differs from rank 0's: %s is %s "
                                "here (every rank needs the same configuration)",
                                name, value);
    }
    return optcl_mpi__agree(opt->comm, local, opt->message);
}

static optcl_status create_shard(optcl_mpi_optimizer *opt)
{
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_status st =
        optcl_mpi__pieces(opt->params, &opt->layout, &opt->pieces, &opt->piece_count, opt->message);
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__shard_specs(opt->params, opt->pieces, opt->piece_count, opt->layout.whole,
                                    &specs, &count, opt->message);
    opt->placeholder = opt->piece_count == 0;
    if (st == OPTCL_SUCCESS) /* the shard's set: pieces of the model's tensors, of its type */
        st = optcl_params_create_typed(opt->ctx, specs, count, optcl_params_dtype(opt->params),
                                       &opt->inner);
    free(specs);
    optcl_optimizer_config inner = opt->config;
    inner.max_norm = 0.0; /* the guard runs on the averaged gradient, before the shard's step */
    inner.nonfinite = OPTCL_NONFINITE_PROPAGATE;
    /* loss scaling stays: the shard's optimizer unscales its part of the mean and keeps the
     * scaler, stepped with a NaN when any rank's part was not finite (step.c) */
    if (st == OPTCL_SUCCESS)
        st = optcl_optimizer_create(opt->inner, &inner, &opt->shard);
    if (st != OPTCL_SUCCESS && opt->message[0] == '\0')
        optcl_mpi__fail(opt->message, st, "%s", optcl_context_message(opt->ctx));
    for (size_t i = 0; i < opt->piece_count && st == OPTCL_SUCCESS; i++) {
        optcl_tensor_info info;
        optcl_params_info(opt->inner, i, &info);
        opt->pieces[i].inner_offset = info.offset;
    }
    return st;
}

static void *alloc_counted(optcl_mpi_optimizer *opt, size_t count, size_t size)
{
    opt->host_bytes += count * size;
    return calloc(count ? count : 1, size);
}

static optcl_status alloc_host(optcl_mpi_optimizer *opt)
{
    const optcl_mpi__layout *l = &opt->layout;
    size_t k = (size_t)l->size, elem = opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE ? 8 : 4;
    bool chunked = l->chunk < l->shard;
    opt->starts = alloc_counted(opt, k + 1, sizeof *opt->starts);
    opt->counts = alloc_counted(opt, k, sizeof *opt->counts);
    opt->displs = alloc_counted(opt, k, sizeof *opt->displs);
    if (!opt->starts || !opt->counts || !opt->displs)
        return optcl_mpi__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
    optcl_mpi__layout_starts(opt->params, l, opt->starts);
    opt->full = alloc_counted(opt, opt->starts[k], sizeof(float));
    opt->shard_host = alloc_counted(opt, l->shard, sizeof(float));
    opt->scratch = alloc_counted(opt, k * (OPTCL_MPI__EXCHANGE_MAX + 1), sizeof(double));
    /* Floats in one chunk are reduced in full itself; weighted float steps allocate it later. */
    if (elem == 8 || chunked)
        opt->send = alloc_counted(opt, optcl_mpi__chunk_room(opt), elem);
    bool ring = opt->mpi.collectives == OPTCL_MPI_COLLECTIVES_RING;
    if (chunked)
        opt->recv = alloc_counted(opt, l->shard, elem);
    if (chunked && !ring)
        opt->gather = alloc_counted(opt, optcl_mpi__chunk_room(opt), sizeof(float));
    if (ring && l->size > 1) /* the piece arriving from the left neighbour */
        opt->incoming = alloc_counted(
            opt, l->chunk < OPTCL_MPI__RING_PIECE ? l->chunk : OPTCL_MPI__RING_PIECE, elem);
    if (!opt->full || !opt->shard_host || !opt->scratch || ((elem == 8 || chunked) && !opt->send) ||
        (chunked && !opt->recv) || (chunked && !ring && !opt->gather) ||
        (ring && l->size > 1 && !opt->incoming))
        return optcl_mpi__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                               "cannot allocate %zu bytes of host staging for the sharded step",
                               opt->host_bytes);
    return OPTCL_SUCCESS;
}

static void release(optcl_mpi_optimizer *opt)
{
    optcl_optimizer_destroy(opt->shard);
    optcl_params_destroy(opt->inner);
    if (opt->params) /* set only once the dependant was added */
        optcl_params_remove_dependant(opt->params);
    free(opt->pieces);
    free(opt->starts);
    free(opt->counts);
    free(opt->displs);
    free(opt->full);
    free(opt->send);
    free(opt->recv);
    free(opt->shard_host);
    free(opt->gather);
    free(opt->incoming);
    free(opt->scratch);
    if (opt->comm != MPI_COMM_NULL)
        MPI_Comm_free(&opt->comm);
    free(opt);
}

/* What must hold before any collective: without them no rank can take part. */
static optcl_status check_mpi(MPI_Comm comm, char *message)
{
    int ready = 0, done = 0;
    MPI_Initialized(&ready);
    MPI_Finalized(&done);
    if (!ready || done)
        return optcl_mpi__fail(message, OPTCL_ERROR_UNSUPPORTED,
                               "optcl_mpi_optimizer_create: MPI is %s",
                               done ? "already finalized" : "not initialised (call MPI_Init)");
    if (comm == MPI_COMM_NULL)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT,
                               "optcl_mpi_optimizer_create: comm is MPI_COMM_NULL");
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_optimizer_create(MPI_Comm comm, optcl_params *params,
                                        const optcl_optimizer_config *config,
                                        const optcl_mpi_config *mpi_config,
                                        optcl_mpi_optimizer **out, char *message,
                                        size_t message_size)
{
    char local[OPTCL_MPI__MESSAGE_MAX] = "";
    if (out)
        *out = NULL;
    optcl_status st = check_mpi(comm, local);
    MPI_Comm dup = MPI_COMM_NULL;
    if (st == OPTCL_SUCCESS) /* collective: every rank from here on takes part in each step */
        st = optcl_mpi__check(local, MPI_Comm_dup(comm, &dup), "MPI_Comm_dup");
    if (st != OPTCL_SUCCESS) {
        if (message && message_size)
            snprintf(message, message_size, "%s", local);
        return st;
    }
    optcl_mpi_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        st = optcl_mpi__fail(local, OPTCL_ERROR_OUT_OF_HOST_MEMORY, "out of host memory");
        optcl_mpi__agree(dup, st, local);
        MPI_Comm_free(&dup);
    } else {
        opt->comm = dup;
        optcl_mpi_config mpi = mpi_config ? *mpi_config : optcl_mpi_config_default();
        st = validate(params, config, &mpi, out, opt->message);
        if (st == OPTCL_SUCCESS) {
            /* params is read and written at every step: destroying it first is refused with
             * OPTCL_ERROR_IN_USE, as while an ordinary optimizer uses it */
            optcl_params_add_dependant(params);
            opt->params = params;
            opt->ctx = optcl_params_context(params);
            opt->config = *config;
            opt->mpi = mpi;
            int rank = 0, size = 1;
            MPI_Comm_rank(dup, &rank);
            MPI_Comm_size(dup, &size);
            /* 8-bit state: shards start and end on the tensors' blocks; tensor-wise rules take
             * whole tensors */
            size_t block = config->state_dtype == OPTCL_STATE_INT8 ? OPTCL_INT8_BLOCK : 1;
            optcl_mpi__layout_compute(&opt->layout, rank, size, params, mpi.max_count, block,
                                      optcl_algorithm_is_tensor_wise(config->algorithm));
            st = create_shard(opt);
        }
        if (st == OPTCL_SUCCESS)
            st = alloc_host(opt);
        st = optcl_mpi__agree(dup, st, opt->message);
        if (st == OPTCL_SUCCESS)
            st = check_same(opt, st);
        /* The caller's groups array may go away: the shard's optimizer has resolved it. */
        opt->config.groups = NULL;
        opt->config.group_count = 0;
        snprintf(local, sizeof local, "%s", opt->message);
        opt->message[0] = '\0';
        if (st != OPTCL_SUCCESS)
            release(opt);
    }
    if (st != OPTCL_SUCCESS) {
        if (message && message_size)
            snprintf(message, message_size, "%s", local);
        return st;
    }
    *out = opt;
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_optimizer_destroy(optcl_mpi_optimizer *opt)
{
    if (opt)
        release(opt);
    return OPTCL_SUCCESS;
}

/* ---- queries ---------------------------------------------------------------------------- */

uint64_t optcl_mpi_optimizer_step_count(const optcl_mpi_optimizer *opt)
{
    return opt ? optcl_optimizer_step_count(opt->shard) : 0;
}

optcl_status optcl_mpi_optimizer_guard_stats(const optcl_mpi_optimizer *opt,
                                             optcl_guard_stats *stats)
{
    if (!opt || !stats)
        return OPTCL_ERROR_NULL_POINTER;
    stats->steps = optcl_optimizer_step_count(opt->shard);
    stats->skipped = opt->skipped;
    stats->last_norm = opt->last_norm;
    stats->last_clip_coef = opt->last_coef;
    stats->loss_scale = 1.0;
    stats->growth_tracker = 0;
    if (opt->config.loss_scale.mode == OPTCL_LOSS_SCALE_OFF)
        return OPTCL_SUCCESS;
    optcl_guard_stats shard; /* the scaler is the shard optimizer's */
    optcl_status st = optcl_optimizer_guard_stats(opt->shard, &shard);
    stats->loss_scale = shard.loss_scale;
    stats->growth_tracker = shard.growth_tracker;
    return st;
}

optcl_status optcl_mpi_optimizer_get_lr(const optcl_mpi_optimizer *opt, int group, double *lr)
{
    return opt ? optcl_optimizer_get_lr(opt->shard, group, lr) : OPTCL_ERROR_NULL_POINTER;
}

optcl_status optcl_mpi_optimizer_set_lr(optcl_mpi_optimizer *opt, int group, double lr)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = optcl_optimizer_set_lr(opt->shard, group, lr);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(opt->shard));
    if (group == -1)
        opt->config.lr = lr;
    return OPTCL_SUCCESS;
}

const optcl_optimizer_config *optcl_mpi_optimizer_config_get(const optcl_mpi_optimizer *opt)
{
    return opt ? &opt->config : NULL;
}

optcl_status optcl_mpi_optimizer_memory(const optcl_mpi_optimizer *opt, optcl_mpi_memory *m)
{
    if (!opt || !m)
        return OPTCL_ERROR_NULL_POINTER;
    const optcl_mpi__layout *l = &opt->layout;
    memset(m, 0, sizeof *m);
    m->rank = l->rank;
    m->world_size = l->size;
    m->numel = optcl_params_numel(opt->params);
    m->shard_size = l->shard;
    m->shard_begin = l->begin < l->numel ? l->begin : l->numel;
    m->shard_end = m->shard_begin + l->real;
    /* the rule's states as the shard's optimizer keeps them, Lookahead's slow weights and master
     * weights in float32 per element; the unsharded figure scales the shard's bytes per element
     * (exact for the element types, within the absmaxes' rounding for 8-bit state) */
    size_t inner = optcl_params_flat_size(opt->inner), outer = optcl_params_flat_size(opt->params);
    size_t rule = optcl_optimizer_state_bytes(opt->shard);
    const optcl_optimizer_config *c = optcl_optimizer_config_get(opt->shard);
    size_t slow_per_element = ((c->lookahead.k > 0) + (c->master_weights != 0)) * sizeof(float);
    m->state_bytes = rule + slow_per_element * inner;
    m->unsharded_state_bytes =
        (size_t)((double)rule * (double)outer / (double)inner) + slow_per_element * outer;
    m->shard_params_bytes =
        2 * optcl_params_flat_size(opt->inner) * optcl_dtype_size(optcl_params_dtype(opt->inner));
    m->host_bytes = opt->host_bytes;
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_optimizer_timings(const optcl_mpi_optimizer *opt, optcl_mpi_timings *t)
{
    if (!opt || !t)
        return OPTCL_ERROR_NULL_POINTER;
    *t = opt->timings;
    return OPTCL_SUCCESS;
}

optcl_optimizer *optcl_mpi_optimizer_shard(const optcl_mpi_optimizer *opt)
{
    return opt ? opt->shard : NULL;
}

optcl_params *optcl_mpi_optimizer_shard_params(const optcl_mpi_optimizer *opt)
{
    return opt ? opt->inner : NULL;
}

const char *optcl_mpi_optimizer_message(const optcl_mpi_optimizer *opt)
{
    return opt ? opt->message : "";
}
