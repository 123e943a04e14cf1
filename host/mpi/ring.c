/* ring.c — reduce-scatter and all-gather as rings of MPI_Sendrecv (OPTCL_MPI_COLLECTIVES_RING):
 * K−1 steps each, every step sending one block to the right neighbour and receiving one from
 * the left — (K−1)/K of the buffer per rank each way, like the best MPI algorithms, with no
 * temporary buffer inside MPI and the same order of addition on any MPI library. */
#include "sharded.h"

static size_t wrap(int i, int k)
{
    return (size_t)(((i % k) + k) % k);
}

optcl_status optcl_mpi__ring_reduce_scatter(optcl_mpi_optimizer *opt, void *buf)
{
    const optcl_mpi__layout *l = &opt->layout;
    int k = l->size, r = l->rank, right = (r + 1) % k, left = (r + k - 1) % k;
    bool dbl = opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE;
    MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
    size_t elem = dbl ? sizeof(double) : sizeof(float), longest = 0;
    for (int j = 0; j < k; j++)
        longest = (size_t)opt->counts[j] > longest ? (size_t)opt->counts[j] : longest;
    /* Step s passes block r − s − 1 on and adds the incoming one into block r − s − 2: after
     * K − 1 steps block r has collected every rank's part (started at rank r + 1). Blocks
     * travel in pieces of at most OPTCL_MPI__RING_PIECE elements, the size of `incoming`; every
     * rank takes as many pieces as the longest block needs (those past a shorter block's end
     * are empty), so each send meets its receive. */
    for (int s = 0; s + 1 < k; s++) {
        size_t out_block = wrap(r - s - 1, k), into_block = wrap(r - s - 2, k);
        size_t out_count = (size_t)opt->counts[out_block],
               into_count = (size_t)opt->counts[into_block];
        for (size_t p0 = 0; p0 < longest; p0 += OPTCL_MPI__RING_PIECE) {
            size_t out_n = out_count > p0 ? out_count - p0 : 0;
            size_t into_n = into_count > p0 ? into_count - p0 : 0;
            out_n = out_n < OPTCL_MPI__RING_PIECE ? out_n : OPTCL_MPI__RING_PIECE;
            into_n = into_n < OPTCL_MPI__RING_PIECE ? into_n : OPTCL_MPI__RING_PIECE;
            char *out = (char *)buf + ((size_t)opt->displs[out_block] + p0) * elem;
            char *into = (char *)buf + ((size_t)opt->displs[into_block] + p0) * elem;
            int err = MPI_Sendrecv(out, (int)out_n, type, right, 0, opt->incoming, (int)into_n,
                                   type, left, 0, opt->comm, MPI_STATUS_IGNORE);
            if (err != MPI_SUCCESS)
                return optcl_mpi__check(opt->message, err, "MPI_Sendrecv");
            if (dbl) {
                double *d = (double *)into;
                const double *in = opt->incoming;
                for (size_t e = 0; e < into_n; e++)
                    d[e] += in[e];
            } else {
                float *d = (float *)into;
                const float *in = opt->incoming;
                for (size_t e = 0; e < into_n; e++)
                    d[e] += in[e];
            }
        }
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi__ring_allgather(optcl_mpi_optimizer *opt, size_t c0)
{
    const optcl_mpi__layout *l = &opt->layout;
    int k = l->size, r = l->rank, right = (r + 1) % k, left = (r + k - 1) % k;
    /* Step s passes block r − s on and receives block r − s − 1 in its place. */
    for (int s = 0; s + 1 < k; s++) {
        size_t out = wrap(r - s, k), in = wrap(r - s - 1, k);
        int err = MPI_Sendrecv(opt->full + opt->starts[out] + c0, opt->counts[out], MPI_FLOAT,
                               right, 1, opt->full + opt->starts[in] + c0, opt->counts[in],
                               MPI_FLOAT, left, 1, opt->comm, MPI_STATUS_IGNORE);
        if (err != MPI_SUCCESS)
            return optcl_mpi__check(opt->message, err, "MPI_Sendrecv");
    }
    return OPTCL_SUCCESS;
}
