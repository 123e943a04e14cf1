/* stepper_mpi.c — data-parallel training's optimizer side: every rank computes the mean
 * gradient of its part of the batch, and the sharded optimizer (optcl_mpi) averages the parts
 * weighted by their rows — the whole batch's mean — updates each rank's shard and gathers the
 * model back. Best/last checkpoints are sharded checkpoints, kept as optcl's tracker keeps
 * them (a lower valid loss is better). */
#include "stepper_mpi.h"

#include "optcl_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct fm_dist {
    optcl_mpi_optimizer *opt;
    int rank, size;
    int64_t patience, epochs, best_epoch, since_best;
    double best;
    char best_path[4096], last_path[4096];
    char message[2048];
};

int fm_distributed_start(int *argc, char ***argv, int *rank, char *message, size_t size)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        snprintf(message, size, "MPI_Init failed");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return 0;
}

void fm_distributed_finish(void)
{
    fflush(stdout);
    fflush(stderr);
    MPI_Barrier(MPI_COMM_WORLD); /* every rank's lines out before mpirun stops anyone */
    MPI_Finalize();
}

int fm_dist_create(optcl_params *params, const optcl_optimizer_config *config,
                   const fm_stepper_config *sc, fm_dist **out, char *message, size_t size)
{
    fm_dist *d = calloc(1, sizeof *d);
    char why[2048] = "";
    optcl_status st = optcl_mpi_optimizer_create(MPI_COMM_WORLD, d ? params : NULL, config, NULL,
                                                 d ? &d->opt : NULL, why, sizeof why);
    if (st != OPTCL_SUCCESS) {
        snprintf(message, size, "optcl_mpi_optimizer_create: %s: %s", optcl_status_name(st),
                 d ? why : "out of host memory");
        free(d);
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->patience = sc->patience;
    d->best = INFINITY;
    snprintf(d->best_path, sizeof d->best_path, "%s/best", sc->dir);
    snprintf(d->last_path, sizeof d->last_path, "%s/last", sc->dir);
    *out = d;
    return 0;
}

void fm_dist_destroy(fm_dist *d)
{
    if (!d)
        return;
    optcl_mpi_optimizer_destroy(d->opt);
    free(d);
}

static optcl_status note(fm_dist *d, optcl_status st, const char *call)
{
    if (st != OPTCL_SUCCESS)
        snprintf(d->message, sizeof d->message, "%s: %s: %s", call, optcl_status_name(st),
                 optcl_mpi_optimizer_message(d->opt));
    return st;
}

optcl_status fm_dist_step(fm_dist *d, size_t rows)
{
    return note(d, optcl_mpi_optimizer_step_weighted(d->opt, (double)rows),
                "optcl_mpi_optimizer_step_weighted");
}

optcl_status fm_dist_get_lr(fm_dist *d, double *lr)
{
    return note(d, optcl_mpi_optimizer_get_lr(d->opt, 0, lr), "optcl_mpi_optimizer_get_lr");
}

optcl_status fm_dist_set_mode(fm_dist *d, optcl_mode mode)
{
    optcl_status st = optcl_mpi_optimizer_set_mode(d->opt, mode);
    if (st == OPTCL_ERROR_UNSUPPORTED)
        return st; /* no modes: nothing to note */
    return note(d, st, "optcl_mpi_optimizer_set_mode");
}

optcl_status fm_dist_report_metric(fm_dist *d, double metric)
{
    return note(d, optcl_mpi_optimizer_report_metric(d->opt, metric),
                "optcl_mpi_optimizer_report_metric");
}

optcl_status fm_dist_epoch(fm_dist *d, double train_loss, double valid_loss,
                           optcl_epoch_record *record)
{
    /* Every rank evaluated the same model on the same images: the same losses everywhere. */
    optcl_epoch_record rec = {.epoch = ++d->epochs,
                              .train_loss = train_loss,
                              .valid_metric = valid_loss,
                              .gap = valid_loss - train_loss};
    rec.improved = valid_loss < d->best;
    if (rec.improved) {
        d->best = valid_loss;
        d->best_epoch = rec.epoch;
        d->since_best = 0;
    } else {
        d->since_best++;
    }
    rec.best_epoch = d->best_epoch;
    rec.best_metric = d->best;
    rec.should_stop = d->patience > 0 && d->since_best >= d->patience;
    optcl_status st = optcl_mpi_checkpoint_save(d->opt, d->last_path);
    if (st == OPTCL_SUCCESS && rec.improved)
        st = optcl_mpi_checkpoint_save(d->opt, d->best_path);
    if (record)
        *record = rec;
    return note(d, st, "optcl_mpi_checkpoint_save");
}

optcl_status fm_dist_load(fm_dist *d, int best)
{
    return note(d, optcl_mpi_checkpoint_load(d->opt, fm_dist_path(d, best)),
                "optcl_mpi_checkpoint_load");
}

const char *fm_dist_path(const fm_dist *d, int best)
{
    return best ? d->best_path : d->last_path;
}

const char *fm_dist_message(const fm_dist *d)
{
    return d->message;
}

int fm_dist_rank(const fm_dist *d)
{
    return d->rank;
}

int fm_dist_size(const fm_dist *d)
{
    return d->size;
}

cl_mem fm_dist_loss_scale(const fm_dist *d)
{
    cl_mem scale = NULL;
    optcl_optimizer *shard = optcl_mpi_optimizer_shard(d->opt);
    return optcl_optimizer_loss_scale_buffer(shard, &scale) == OPTCL_SUCCESS ? scale : NULL;
}

int fm_dist_sum(fm_dist *d, double *values, int n)
{
    (void)d;
    return MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
           MPI_SUCCESS;
}
