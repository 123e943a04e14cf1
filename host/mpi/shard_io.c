/* shard_io.c — moving the shard between the model's parameter set and the shard's own set:
 * parameters in (device to device, no host copy), and the gathered model back out. */
#include "sharded.h"

#include <string.h>

static optcl_status copy_pieces_cl(optcl_mpi_optimizer *opt)
{
    cl_mem src = NULL, dst = NULL;
    optcl_status st = optcl_params_buffer(opt->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, &src);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_buffer(opt->inner, OPTCL_ROLE_PARAMS, OPTCL_ALL, &dst);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "%s", optcl_params_message(opt->params));
    cl_command_queue queue = optcl_context_cl_queue(opt->ctx);
    size_t elem = optcl_dtype_size(optcl_params_dtype(opt->params)); /* the shard's type too */
    cl_int err = CL_SUCCESS;
    /* Enqueued on optcl's in-order queue: after the caller's kernels that wrote the parameters,
     * before the shard's update. */
    for (size_t i = 0; i < opt->piece_count && err == CL_SUCCESS; i++) {
        const optcl_mpi__piece *p = &opt->pieces[i];
        err = clEnqueueCopyBuffer(queue, src, dst, p->outer_offset * elem, p->inner_offset * elem,
                                  p->count * elem, 0, NULL, NULL);
    }
    if (err != CL_SUCCESS)
        return optcl_mpi__fail(opt->message, (optcl_status)err,
                               "copying the shard's parameters on the device failed: %s",
                               optcl_status_name((optcl_status)err));
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi__params_to_shard(optcl_mpi_optimizer *opt)
{
    if (optcl_context_backend(opt->ctx) == OPTCL_BACKEND_OPENCL)
        return copy_pieces_cl(opt);
    float *src = NULL, *dst = NULL;
    optcl_status st = optcl_params_host(opt->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, &src);
    if (st == OPTCL_SUCCESS)
        st = optcl_params_host(opt->inner, OPTCL_ROLE_PARAMS, OPTCL_ALL, &dst);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "the shard's parameters: %s",
                               optcl_status_name(st));
    for (size_t i = 0; i < opt->piece_count; i++) {
        const optcl_mpi__piece *p = &opt->pieces[i];
        memcpy(dst + p->inner_offset, src + p->outer_offset, p->count * sizeof(float));
    }
    return OPTCL_SUCCESS;
}

void optcl_mpi__shard_compact(const optcl_mpi_optimizer *opt, float *x)
{
    if (opt->layout.block <= 1)
        return;
    size_t to = 0;
    for (size_t i = 0; i < opt->piece_count; i++) { /* pieces only move left */
        const optcl_mpi__piece *p = &opt->pieces[i];
        memmove(x + to, x + (p->packed - opt->layout.begin), p->count * sizeof *x);
        to += p->count;
    }
}

void optcl_mpi__shard_expand(const optcl_mpi_optimizer *opt, float *x)
{
    const optcl_mpi__layout *l = &opt->layout;
    if (l->block <= 1)
        return;
    size_t from = 0;
    for (size_t i = 0; i < opt->piece_count; i++)
        from += opt->pieces[i].count;
    for (size_t i = opt->piece_count; i-- > 0;) { /* backwards: pieces only move right */
        const optcl_mpi__piece *p = &opt->pieces[i];
        from -= p->count;
        memmove(x + (p->packed - l->begin), x + from, p->count * sizeof *x);
    }
    size_t end = 0; /* the gaps: tensors' padding to the block */
    for (size_t i = 0; i < opt->piece_count; i++) {
        const optcl_mpi__piece *p = &opt->pieces[i];
        memset(x + end, 0, (p->packed - l->begin - end) * sizeof *x);
        end = p->packed - l->begin + p->count;
    }
    memset(x + end, 0, (l->real - end) * sizeof *x);
}

optcl_status optcl_mpi__shard_to_params(optcl_mpi_optimizer *opt, optcl_status local)
{
    const optcl_mpi__layout *l = &opt->layout;
    double t0 = MPI_Wtime();
    /* The shard's parameters in packed order, straight into this rank's block of the model:
     * the pieces are the shard set's tensors in creation order, so reading the whole set
     * gives exactly the shard's real elements. */
    float *block = opt->full + l->begin;
    if (local == OPTCL_SUCCESS && !opt->placeholder) {
        local = optcl_params_read(opt->inner, OPTCL_ROLE_PARAMS, OPTCL_ALL, block,
                                  optcl_params_numel(opt->inner));
        if (local != OPTCL_SUCCESS)
            optcl_mpi__fail(opt->message, local, "reading the shard's parameters: %s",
                            optcl_params_message(opt->inner));
        optcl_mpi__shard_expand(opt, block);
    }
    /* the padding of the last shards (none with whole tensors: a shard is its tensors) */
    size_t region = opt->starts[l->rank + 1] - opt->starts[l->rank];
    memset(block + l->real, 0, (region - l->real) * sizeof(float));
    optcl_status st = optcl_mpi__allgather(opt);
    /* Nobody writes a model with another rank's shard missing. */
    if (st == OPTCL_SUCCESS)
        st = optcl_mpi__agree(opt->comm, local, opt->message);
    double t1 = MPI_Wtime();
    opt->timings.allgather += t1 - t0;
    if (st != OPTCL_SUCCESS)
        return st;
    optcl_mpi__pack(opt->params, l->block, opt->full);
    st = optcl_params_write(opt->params, OPTCL_ROLE_PARAMS, OPTCL_ALL, opt->full,
                            optcl_params_numel(opt->params));
    opt->timings.write_params += MPI_Wtime() - t1;
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "writing the gathered parameters: %s",
                               optcl_params_message(opt->params));
    return OPTCL_SUCCESS;
}
