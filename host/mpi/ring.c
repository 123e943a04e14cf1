/* ring.c — reduce-scatter and all-gather as rings of MPI_Sendrecv (OPTCL_MPI_COLLECTIVES_RING):
 * K−1 steps each, every step sending one block to the right neighbour and receiving one from
 * the left — (K−1)/K of the buffer per rank each way, like the best MPI algorithms, with no
 * temporary buffer inside MPI and the same order of addition on any MPI library. */
#include "sharded.h"

static size_t wrap(int i, int k)
{
    return (size_t)(((i % k) + k) % k);
}

optcl_status optcl_mpi__ring_reduce_scatter(optcl_mpi_optimizer *opt, void *buf, size_t cs)
{
    const optcl_mpi__layout *l = &opt->layout;
    int k = l->size, r = l->rank, right = (r + 1) % k, left = (r + k - 1) % k;
    bool dbl = opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE;
    MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
    size_t elem = dbl ? sizeof(double) : sizeof(float);
    /* Step s passes block r − s − 1 on and adds the incoming one into block r − s − 2: after
     * K − 1 steps block r has collected every rank's part (started at rank r + 1). Blocks
     * travel in pieces of at most OPTCL_MPI__RING_PIECE elements, the size of `incoming`. */
    for (int s = 0; s + 1 < k; s++) {
        for (size_t p0 = 0; p0 < cs; p0 += OPTCL_MPI__RING_PIECE) {
            size_t ps = cs - p0 < OPTCL_MPI__RING_PIECE ? cs - p0 : OPTCL_MPI__RING_PIECE;
            char *out = (char *)buf + (wrap(r - s - 1, k) * cs + p0) * elem;
            char *into = (char *)buf + (wrap(r - s - 2, k) * cs + p0) * elem;
            int err = MPI_Sendrecv(out, (int)ps, type, right, 0, opt->incoming, (int)ps, type, left,
                                   0, opt->comm, MPI_STATUS_IGNORE);
            if (err != MPI_SUCCESS)
                return optcl_mpi__check(opt->message, err, "MPI_Sendrecv");
            if (dbl) {
                double *d = (double *)into;
                const double *in = opt->incoming;
                for (size_t e = 0; e < ps; e++)
                    d[e] += in[e];
            } else {
                float *d = (float *)into;
                const float *in = opt->incoming;
                for (size_t e = 0; e < ps; e++)
                    d[e] += in[e];
            }
        }
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi__ring_allgather(optcl_mpi_optimizer *opt, size_t c0, size_t cs)
{
    const optcl_mpi__layout *l = &opt->layout;
    int k = l->size, r = l->rank, right = (r + 1) % k, left = (r + k - 1) % k;
    /* Step s passes block r − s on and receives block r − s − 1 in its place. */
    for (int s = 0; s + 1 < k; s++) {
        float *out = opt->full + wrap(r - s, k) * l->shard + c0;
        float *in = opt->full + wrap(r - s - 1, k) * l->shard + c0;
        int err = MPI_Sendrecv(out, (int)cs, MPI_FLOAT, right, 1, in, (int)cs, MPI_FLOAT, left, 1,
                               opt->comm, MPI_STATUS_IGNORE);
        if (err != MPI_SUCCESS)
            return optcl_mpi__check(opt->message, err, "MPI_Sendrecv");
    }
    return OPTCL_SUCCESS;
}
