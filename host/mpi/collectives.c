/* collectives.c — the MPI traffic of the sharded optimizer: status agreement, and the chunked
 * reduce-scatter of gradients and all-gather of parameters. */
#include "sharded.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The lowest failing rank tells everyone its status and message; a rank that failed itself
 * keeps its own (it says what failed there), the others take the lowest's, naming it. */
static optcl_status broadcast_failure(MPI_Comm comm, int failed, optcl_status local, char *message)
{
    int me = 0;
    MPI_Comm_rank(comm, &me);
    struct {
        int status;
        char text[OPTCL_MPI__MESSAGE_MAX];
    } what;
    memset(&what, 0, sizeof what);
    if (me == failed) {
        what.status = (int)local;
        snprintf(what.text, sizeof what.text, "%s", message);
    }
    int err = MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, failed, comm);
    if (err != MPI_SUCCESS)
        return optcl_mpi__check(message, err, "MPI_Bcast");
    if (local != OPTCL_SUCCESS)
        return local;
    what.text[sizeof what.text - 1] = '\0';
    return optcl_mpi__fail(message, (optcl_status)what.status, "rank %d: %s", failed, what.text);
}

optcl_status optcl_mpi__agree(MPI_Comm comm, optcl_status local, char *message)
{
    int me = 0, failed = INT_MAX;
    MPI_Comm_rank(comm, &me);
    int mine = local == OPTCL_SUCCESS ? INT_MAX : me;
    int err = MPI_Allreduce(&mine, &failed, 1, MPI_INT, MPI_MIN, comm);
    if (err != MPI_SUCCESS)
        return optcl_mpi__check(message, err, "MPI_Allreduce");
    return failed == INT_MAX ? OPTCL_SUCCESS : broadcast_failure(comm, failed, local, message);
}

optcl_status optcl_mpi__exchange(MPI_Comm comm, optcl_status local, const double *mine, int n,
                                 double *scratch, double *all, char *message)
{
    int size = 0;
    MPI_Comm_size(comm, &size);
    double row[OPTCL_MPI__EXCHANGE_MAX + 1] = {(double)local};
    for (int i = 0; i < n; i++)
        row[i + 1] = mine[i];
    int err = MPI_Allgather(row, n + 1, MPI_DOUBLE, scratch, n + 1, MPI_DOUBLE, comm);
    if (err != MPI_SUCCESS)
        return optcl_mpi__check(message, err, "MPI_Allgather");
    size_t w = (size_t)n + 1;
    for (int r = 0; r < size; r++)
        if (scratch[(size_t)r * w] != 0.0)
            return broadcast_failure(comm, r, local, message);
    /* Compacting forwards is safe when all aliases scratch: each row moves to a lower index. */
    for (size_t r = 0; r < (size_t)size; r++)
        for (size_t i = 0; i < (size_t)n; i++)
            all[r * (size_t)n + i] = scratch[r * w + i + 1];
    return OPTCL_SUCCESS;
}

/* ---- gradients and parameters ---------------------------------------------------------- */

size_t optcl_mpi__chunk_room(const optcl_mpi_optimizer *opt)
{
    size_t all = (size_t)opt->layout.size * opt->layout.chunk,
           total = opt->starts[opt->layout.size];
    return all < total ? all : total;
}

/* The chunk at c0 of every rank's region: rank j's count (what of its region lies past c0, at
 * most C) into opt->counts and, packed one after another, its place into opt->displs; true
 * when every rank has the same count (element-wise rules always). */
static bool chunk_counts(optcl_mpi_optimizer *opt, size_t c0)
{
    const optcl_mpi__layout *l = &opt->layout;
    bool equal = true;
    size_t at = 0;
    for (size_t j = 0; j < (size_t)l->size; j++) {
        size_t length = opt->starts[j + 1] - opt->starts[j];
        size_t cs = length > c0 ? length - c0 : 0;
        cs = cs < l->chunk ? cs : l->chunk;
        opt->counts[j] = (int)cs;
        opt->displs[j] = (int)at;
        at += cs;
        equal = equal && opt->counts[j] == opt->counts[0];
    }
    return equal;
}

/* One chunk's send buffer: for every owner j, its chunk of the gradients in the layout,
 * weighted, in the reduction type, at displs[j]. */
static void fill_chunk(const optcl_mpi_optimizer *opt, size_t c0, double weight)
{
    const optcl_mpi__layout *l = &opt->layout;
    for (size_t j = 0; j < (size_t)l->size; j++) {
        const float *src = opt->full + opt->starts[j] + c0;
        size_t cs = (size_t)opt->counts[j], at = (size_t)opt->displs[j];
        if (opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE) {
            double *dst = (double *)opt->send + at;
            if (weight == 1.0)
                for (size_t e = 0; e < cs; e++)
                    dst[e] = (double)src[e];
            else
                for (size_t e = 0; e < cs; e++)
                    dst[e] = (double)src[e] * weight;
        } else {
            float *dst = (float *)opt->send + at, w = (float)weight;
            if (weight == 1.0)
                memcpy(dst, src, cs * sizeof *dst);
            else
                for (size_t e = 0; e < cs; e++)
                    dst[e] = src[e] * w;
        }
    }
}

optcl_status optcl_mpi__reduce_scatter(optcl_mpi_optimizer *opt, double weight)
{
    const optcl_mpi__layout *l = &opt->layout;
    bool dbl = opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE, chunked = l->chunk < l->shard;
    MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
    size_t elem = dbl ? sizeof(double) : sizeof(float);
    void *buf = opt->full;
    for (size_t c0 = 0; c0 < l->shard; c0 += l->chunk) {
        bool equal = chunk_counts(opt, c0);
        /* Unweighted floats in one chunk are already laid out as MPI wants them: the regions
         * one after another. */
        if (dbl || weight != 1.0 || chunked) {
            fill_chunk(opt, c0, weight);
            buf = opt->send;
        }
        /* In place: MPI leaves this rank's sums at the start of the buffer, the ring in the
         * rank's own block. */
        char *sums = buf;
        int err = MPI_SUCCESS;
        if (opt->mpi.collectives == OPTCL_MPI_COLLECTIVES_RING) {
            optcl_status st = optcl_mpi__ring_reduce_scatter(opt, buf);
            if (st != OPTCL_SUCCESS)
                return st;
            sums += (size_t)opt->displs[l->rank] * elem;
        } else if (equal) {
            err = MPI_Reduce_scatter_block(MPI_IN_PLACE, buf, opt->counts[0], type, MPI_SUM,
                                           opt->comm);
        } else { /* whole tensors: shards of uneven lengths */
            err = MPI_Reduce_scatter(MPI_IN_PLACE, buf, opt->counts, type, MPI_SUM, opt->comm);
        }
        if (err != MPI_SUCCESS)
            return optcl_mpi__check(opt->message, err,
                                    equal ? "MPI_Reduce_scatter_block" : "MPI_Reduce_scatter");
        if (chunked)
            memcpy((char *)opt->recv + c0 * elem, sums, (size_t)opt->counts[l->rank] * elem);
        opt->sums = chunked ? opt->recv : sums;
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi__allgather(optcl_mpi_optimizer *opt)
{
    const optcl_mpi__layout *l = &opt->layout;
    bool ring = opt->mpi.collectives == OPTCL_MPI_COLLECTIVES_RING;
    for (size_t c0 = 0; c0 < l->shard; c0 += l->chunk) {
        bool equal = chunk_counts(opt, c0);
        int err = MPI_SUCCESS;
        if (ring) { /* in place in full */
            optcl_status st = optcl_mpi__ring_allgather(opt, c0);
            if (st != OPTCL_SUCCESS)
                return st;
        } else if (l->chunk == l->shard) { /* in place in full, which is then below 2^31 */
            for (size_t j = 0; j < (size_t)l->size; j++)
                opt->displs[j] = (int)opt->starts[j];
            if (equal) {
                err = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, opt->full, opt->counts[0],
                                    MPI_FLOAT, opt->comm);
            } else {
                err = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, opt->full, opt->counts,
                                     opt->displs, MPI_FLOAT, opt->comm);
            }
        } else { /* through gather, then each rank's chunk to its place */
            const float *mine = opt->full + l->begin + c0;
            if (equal)
                err = MPI_Allgather(mine, opt->counts[0], MPI_FLOAT, opt->gather, opt->counts[0],
                                    MPI_FLOAT, opt->comm);
            else
                err = MPI_Allgatherv(mine, opt->counts[l->rank], MPI_FLOAT, opt->gather,
                                     opt->counts, opt->displs, MPI_FLOAT, opt->comm);
            for (size_t j = 0; j < (size_t)l->size && err == MPI_SUCCESS; j++)
                memcpy(opt->full + opt->starts[j] + c0, opt->gather + opt->displs[j],
                       (size_t)opt->counts[j] * sizeof(float));
        }
        if (err != MPI_SUCCESS)
            return optcl_mpi__check(opt->message, err, equal ? "MPI_Allgather" : "MPI_Allgatherv");
    }
    return OPTCL_SUCCESS;
}
