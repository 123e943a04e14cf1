/* stepper_mpi.h — the data-parallel side of the stepper (stepper_mpi.c, built with MPI only):
 * the sharded optimizer of optcl_mpi, and best/last checkpoints kept by hand (optcl's tracker
 * works on a single-process optimizer). */
#ifndef FM_STEPPER_MPI_H
#define FM_STEPPER_MPI_H

#include "stepper.h"

typedef struct fm_dist fm_dist;

int fm_dist_create(optcl_params *params, const optcl_optimizer_config *config,
                   const fm_stepper_config *sc, fm_dist **out, char *message, size_t size);
void fm_dist_destroy(fm_dist *d);
optcl_status fm_dist_step(fm_dist *d, size_t rows);
optcl_status fm_dist_get_lr(fm_dist *d, double *lr);
optcl_status fm_dist_report_metric(fm_dist *d, double metric);
optcl_status fm_dist_set_mode(fm_dist *d, optcl_mode mode);
optcl_status fm_dist_epoch(fm_dist *d, double train_loss, double valid_loss,
                           optcl_epoch_record *record);
optcl_status fm_dist_load(fm_dist *d, int best);
const char *fm_dist_path(const fm_dist *d, int best);
const char *fm_dist_message(const fm_dist *d);
int fm_dist_rank(const fm_dist *d);
int fm_dist_size(const fm_dist *d);
/* The loss scale's device buffer (the shard optimizer's scaler), or NULL without scaling. */
cl_mem fm_dist_loss_scale(const fm_dist *d);
int fm_dist_sum(fm_dist *d, double *values, int n);

#endif
