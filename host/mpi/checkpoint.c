/* checkpoint.c — sharded checkpoints: every rank saves its shard's optimizer as an ordinary
 * optcl checkpoint, rank 0 then writes the manifest that names them; loading checks every rank
 * before any rank changes anything. */
#include "sharded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATH_MAX_ 4096

/* The manifest as rank 0 reads it, on every rank (st: rank 0's status, agreed). To load
 * (must_exist), rank 0 also checks that the model is the one saved, where the manifest lists
 * its tensors (the same model on every rank: optcl_mpi_optimizer_create checked). */
static optcl_status read_manifest(optcl_mpi_optimizer *opt, const char *path, bool must_exist,
                                  optcl_mpi__manifest *m)
{
    optcl_status st = OPTCL_SUCCESS;
    memset(m, 0, sizeof *m);
    if (opt->layout.rank == 0) {
        optcl_mpi__tensor_list saved = {0}; /* only a load compares the model */
        char before[OPTCL_MPI__MESSAGE_MAX];
        memcpy(before, opt->message, sizeof before);
        st = optcl_mpi__manifest_read(path, m, must_exist ? &saved : NULL, opt->message);
        if (!must_exist && st == OPTCL_ERROR_IO && access(path, F_OK) != 0) {
            st = OPTCL_SUCCESS; /* a first save: generation 0 is "none" */
            memset(m, 0, sizeof *m);
            /* no failure, so not its message: the last failure's stays */
            memcpy(opt->message, before, sizeof before);
        }
        if (st == OPTCL_SUCCESS && must_exist && m->tensors)
            st = optcl_mpi__tensors_compare(&saved, opt->params, path, opt->message);
        optcl_mpi__tensor_list_free(&saved);
    }
    if ((st = optcl_mpi__agree(opt->comm, st, opt->message)) != OPTCL_SUCCESS)
        return st;
    int err = MPI_Bcast(m, (int)sizeof *m, MPI_BYTE, 0, opt->comm);
    return optcl_mpi__check(opt->message, err, "MPI_Bcast");
}

/* Removes the files of a generation that no manifest names any more: each rank its own, rank 0
 * also those of ranks this world does not have. Missing files are fine. */
static void remove_generation(const optcl_mpi_optimizer *opt, const char *path, uint64_t gen,
                              uint64_t world_size)
{
    char name[PATH_MAX_];
    const optcl_mpi__layout *l = &opt->layout;
    for (uint64_t r = 0; gen > 0 && r < world_size; r++) {
        bool mine = r == (uint64_t)l->rank || (l->rank == 0 && r >= (uint64_t)l->size);
        if (!mine)
            continue;
        optcl_mpi__rank_file(name, sizeof name, path, gen, (int)r, world_size);
        unlink(name);
    }
}

/* A path every rank can build its file names from, the same on every rank (the manifest and
 * every rank's file are named after it; a rank with another one would write a checkpoint that
 * nobody can load): rank 0's, sent to all, against each rank's own. Agreed before anything is
 * read or written, so all ranks refuse together, the rank that differs named. */
static optcl_status check_path(optcl_mpi_optimizer *opt, const char *path)
{
    optcl_status st = OPTCL_SUCCESS;
    if (!path)
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_NULL_POINTER, "path is NULL");
    else if (!path[0])
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT, "path is empty");
    else if (strlen(path) > PATH_MAX_ - 64)
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT, "path is too long");
    char root[PATH_MAX_] = ""; /* "" when rank 0's is NULL or too long: nothing to compare */
    if (opt->layout.rank == 0 && st == OPTCL_SUCCESS)
        snprintf(root, sizeof root, "%s", path);
    int err = MPI_Bcast(root, (int)sizeof root, MPI_CHAR, 0, opt->comm);
    if (err != MPI_SUCCESS)
        return optcl_mpi__check(opt->message, err, "MPI_Bcast");
    root[sizeof root - 1] = '\0';
    if (st == OPTCL_SUCCESS && root[0] && strcmp(path, root) != 0)
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                             "path '%s' differs from rank 0's '%s' (every rank must pass the "
                             "same path)",
                             path, root);
    return optcl_mpi__agree(opt->comm, st, opt->message);
}

optcl_status optcl_mpi_checkpoint_save(optcl_mpi_optimizer *opt, const char *path)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    const optcl_mpi__layout *l = &opt->layout;
    optcl_status st = check_path(opt, path);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_mpi__manifest old, m;
    if ((st = read_manifest(opt, path, false, &old)) != OPTCL_SUCCESS)
        return st;
    char name[PATH_MAX_];
    optcl_mpi__rank_file(name, sizeof name, path, old.generation + 1, l->rank, (uint64_t)l->size);
    /* The shard's parameters as the caller's set holds them now, then the shard's file. */
    st = optcl_mpi__params_to_shard(opt);
    if (st == OPTCL_SUCCESS && (st = optcl_checkpoint_save(opt->shard, name)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(opt->shard));
    if ((st = optcl_mpi__agree(opt->comm, st, opt->message)) == OPTCL_SUCCESS) {
        m = (optcl_mpi__manifest){.generation = old.generation + 1,
                                  .world_size = (uint64_t)l->size,
                                  .numel = optcl_params_numel(opt->params),
                                  .shard_size = l->shard,
                                  .step = optcl_optimizer_step_count(opt->shard),
                                  .skipped = opt->skipped,
                                  .last_norm = opt->last_norm,
                                  .last_clip_coef = opt->last_coef,
                                  .max_norm = opt->config.max_norm,
                                  .nonfinite = (int)opt->config.nonfinite};
        if (l->rank == 0)
            st = optcl_mpi__manifest_write(path, &m, opt->params, opt->message);
        st = optcl_mpi__agree(opt->comm, st, opt->message);
    }
    if (st != OPTCL_SUCCESS) {
        unlink(name); /* the manifest still names the previous generation */
        return st;
    }
    remove_generation(opt, path, old.generation, old.world_size);
    return OPTCL_SUCCESS;
}

/* A fresh shard set and optimizer loaded from this rank's file: the live ones stay untouched
 * until every rank has loaded its file. */
optcl_status optcl_mpi__fresh_shard(optcl_mpi_optimizer *opt, const optcl_mpi__piece *pieces,
                                    size_t piece_count, optcl_params **inner,
                                    optcl_optimizer **shard)
{
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_status st = optcl_mpi__shard_specs(opt->params, pieces, piece_count, opt->layout.whole,
                                             &specs, &count, opt->message);
    if (st == OPTCL_SUCCESS &&
        (st = optcl_params_create_typed(opt->ctx, specs, count, optcl_params_dtype(opt->params),
                                        inner)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_context_message(opt->ctx));
    free(specs);
    if (st == OPTCL_SUCCESS &&
        (st = optcl_optimizer_create(*inner, optcl_optimizer_config_get(opt->shard), shard)) !=
            OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_context_message(opt->ctx));
    return st;
}

optcl_status optcl_mpi__same_step(optcl_mpi_optimizer *opt, optcl_optimizer *loaded,
                                  const char *name, const optcl_mpi__manifest *m)
{
    uint64_t steps = optcl_optimizer_step_count(loaded);
    if (steps == m->step)
        return OPTCL_SUCCESS;
    return optcl_mpi__fail(opt->message, OPTCL_ERROR_FORMAT,
                           "%s holds step %llu but the manifest says %llu: the files come from "
                           "different saves",
                           name, (unsigned long long)steps, (unsigned long long)m->step);
}

static optcl_status load_fresh(optcl_mpi_optimizer *opt, const char *name,
                               const optcl_mpi__manifest *m, optcl_params **inner,
                               optcl_optimizer **shard)
{
    optcl_status st = optcl_mpi__fresh_shard(opt, opt->pieces, opt->piece_count, inner, shard);
    if (st == OPTCL_SUCCESS && (st = optcl_checkpoint_load(*shard, name)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(*shard));
    return st == OPTCL_SUCCESS ? optcl_mpi__same_step(opt, *shard, name, m) : st;
}

static optcl_status check_manifest(optcl_mpi_optimizer *opt, const char *path,
                                   const optcl_mpi__manifest *m)
{
    const optcl_mpi__layout *l = &opt->layout;
    optcl_mpi__layout saved = *l; /* the shards of the world that saved it */
    if (m->world_size != (uint64_t)l->size)
        optcl_mpi__layout_compute(&saved, 0, (int)m->world_size, opt->params, 0, l->block,
                                  l->whole);
    size_t numel = optcl_params_numel(opt->params);
    if (m->numel != numel || m->shard_size != saved.shard)
        return optcl_mpi__fail(opt->message, OPTCL_ERROR_SIZE_MISMATCH,
                               "%s holds a model of %llu elements in shards of %llu; this one has "
                               "%zu, in shards of %zu over %llu rank(s)",
                               path, (unsigned long long)m->numel,
                               (unsigned long long)m->shard_size, numel, saved.shard,
                               (unsigned long long)m->world_size);
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_checkpoint_load(optcl_mpi_optimizer *opt, const char *path)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = check_path(opt, path);
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_mpi__manifest m;
    if ((st = read_manifest(opt, path, true, &m)) != OPTCL_SUCCESS)
        return st;
    if ((st = check_manifest(opt, path, &m)) != OPTCL_SUCCESS)
        return st; /* the same manifest on every rank: the same verdict */
    char name[PATH_MAX_];
    optcl_mpi__rank_file(name, sizeof name, path, m.generation, opt->layout.rank, m.world_size);
    optcl_params *inner = NULL;
    optcl_optimizer *shard = NULL;
    if (m.world_size == (uint64_t)opt->layout.size)
        st = load_fresh(opt, name, &m, &inner, &shard);
    else /* this rank's pieces from the files whose shards held them */
        st = optcl_mpi__reshard(opt, path, &m, &inner, &shard);
    if ((st = optcl_mpi__agree(opt->comm, st, opt->message)) != OPTCL_SUCCESS) {
        optcl_optimizer_destroy(shard);
        optcl_params_destroy(inner);
        return st;
    }
    /* Every rank has its file: swap in the loaded shard (same specs, so the same offsets). */
    optcl_optimizer_destroy(opt->shard);
    optcl_params_destroy(opt->inner);
    opt->shard = shard;
    opt->inner = inner;
    opt->skipped = m.skipped;
    opt->last_norm = m.last_norm;
    opt->last_coef = m.last_clip_coef;
    opt->config = *optcl_optimizer_config_get(shard);
    opt->config.max_norm = m.max_norm;
    opt->config.nonfinite = (optcl_nonfinite)m.nonfinite;
    return optcl_mpi__shard_to_params(opt, OPTCL_SUCCESS);
}

/* The manifest at path and the name of rank 0's file beside it: what the calls that read a
 * sharded checkpoint without MPI start from. */
static optcl_status manifest_and_rank0(const char *path, optcl_mpi__manifest *m, char *rank0,
                                       size_t size, char *message)
{
    if (strlen(path) > PATH_MAX_ - 64)
        return optcl_mpi__fail(message, OPTCL_ERROR_INVALID_ARGUMENT, "path is too long");
    optcl_status st = optcl_mpi__manifest_read(path, m, NULL, message);
    if (st == OPTCL_SUCCESS)
        optcl_mpi__rank_file(rank0, size, path, m->generation, 0, m->world_size);
    return st;
}

optcl_status optcl_mpi_checkpoint_inspect(const char *path, int *world_size, size_t *numel,
                                          optcl_optimizer_config *config, char *message,
                                          size_t message_size)
{
    char local[OPTCL_MPI__MESSAGE_MAX] = "", rank0[PATH_MAX_];
    optcl_mpi__manifest m;
    optcl_status st = path ? manifest_and_rank0(path, &m, rank0, sizeof rank0, local)
                           : optcl_mpi__fail(local, OPTCL_ERROR_NULL_POINTER, "path is NULL");
    optcl_tensor_spec *specs = NULL;
    size_t count = 0;
    optcl_optimizer_config saved;
    if (st == OPTCL_SUCCESS) {
        st = optcl_checkpoint_inspect(rank0, &specs, &count, &saved, local, sizeof local);
        free(specs);
    }
    if (st != OPTCL_SUCCESS) {
        if (message && message_size)
            snprintf(message, message_size, "%s", local);
        return st;
    }
    saved.max_norm = m.max_norm;
    saved.nonfinite = (optcl_nonfinite)m.nonfinite;
    if (world_size)
        *world_size = (int)m.world_size;
    if (numel)
        *numel = (size_t)m.numel;
    if (config)
        *config = saved;
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_checkpoint_inspect_progress(const char *path,
                                                   optcl_checkpoint_progress *progress,
                                                   char *message, size_t message_size)
{
    char local[OPTCL_MPI__MESSAGE_MAX] = "", rank0[PATH_MAX_];
    optcl_mpi__manifest m;
    optcl_checkpoint_progress got;
    optcl_status st = path && progress ? manifest_and_rank0(path, &m, rank0, sizeof rank0, local)
                                       : optcl_mpi__fail(local, OPTCL_ERROR_NULL_POINTER,
                                                         "%s is NULL", !path ? "path" : "progress");
    if (st == OPTCL_SUCCESS)
        st = optcl_checkpoint_inspect_progress(rank0, &got, local, sizeof local);
    if (st != OPTCL_SUCCESS) {
        if (message && message_size)
            snprintf(message, message_size, "%s", local);
        return st;
    }
    got.skipped = m.skipped; /* the sharded guard's count; the shards' own guard is off */
    *progress = got;
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_checkpoint_tensors(const char *path, optcl_tensor_spec **specs,
                                          size_t *count, char *message, size_t message_size)
{
    char local[OPTCL_MPI__MESSAGE_MAX] = "";
    optcl_mpi__manifest m;
    optcl_mpi__tensor_list list = {0};
    optcl_status st = OPTCL_SUCCESS;
    if (!path || !specs || !count)
        st = optcl_mpi__fail(local, OPTCL_ERROR_NULL_POINTER, "%s is NULL",
                             !path    ? "path"
                             : !specs ? "specs"
                                      : "count");
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__manifest_read(path, &m, &list, local);
    if (st == OPTCL_SUCCESS && m.tensors == 0)
        st = optcl_mpi__fail(local, OPTCL_ERROR_NOT_FOUND,
                             "%s does not list its model's tensors (saved by an optcl before "
                             "the manifest held them): give the model's layout yourself",
                             path);
    if (st == OPTCL_SUCCESS &&
        (st = optcl_mpi__tensor_list_pack(&list, specs, local)) == OPTCL_SUCCESS)
        *count = list.count;
    optcl_mpi__tensor_list_free(&list);
    if (st != OPTCL_SUCCESS && message && message_size)
        snprintf(message, message_size, "%s", local);
    return st;
}
