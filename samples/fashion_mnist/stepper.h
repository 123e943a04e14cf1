/* stepper.h — the optimizer side of training, the same for one process and for data-parallel
 * ranks: the step after each batch, the lr, the plateau, best/last checkpoints and their
 * reloading. stepper.c wraps an optcl optimizer and tracker; stepper_mpi.c the sharded
 * optimizer of optcl_mpi (stepper_mpi_off.c when optcl is built without MPI). */
#ifndef FM_STEPPER_H
#define FM_STEPPER_H

#include "optcl.h"

#include <stddef.h>

typedef struct fm_stepper fm_stepper;

typedef struct fm_stepper_config {
    const char *dir;  /* the checkpoints' folder (exists) */
    int64_t patience; /* epochs without improvement before stopping; 0: never */
} fm_stepper_config;

/* A single-process stepper over params. Returns 0, or 1 with message. */
int fm_stepper_create(optcl_params *params, const optcl_optimizer_config *config,
                      const fm_stepper_config *sc, fm_stepper **out, char *message,
                      size_t message_size);
/* A data-parallel stepper: the optimizer state sharded over MPI_COMM_WORLD. Collective. */
int fm_stepper_create_distributed(optcl_params *params, const optcl_optimizer_config *config,
                                  const fm_stepper_config *sc, fm_stepper **out, char *message,
                                  size_t message_size);
void fm_stepper_destroy(fm_stepper *s);

/* One step after this rank's backward pass over `rows` rows (the weight of its mean gradient;
 * single process: enqueued, does not block). */
optcl_status fm_stepper_step(fm_stepper *s, size_t rows);
optcl_status fm_stepper_get_lr(fm_stepper *s, double *lr);
optcl_status fm_stepper_report_metric(fm_stepper *s, double metric);
/* Schedule-Free's train/eval switch (optcl_optimizer_set_mode): the validation and the
 * checkpoints see x, the training y. OPTCL_ERROR_UNSUPPORTED, noting nothing, for an optimizer
 * without modes. */
optcl_status fm_stepper_set_mode(fm_stepper *s, optcl_mode mode);
/* The tracker's epoch: "last" always, "best" on a better valid loss. */
optcl_status fm_stepper_epoch(fm_stepper *s, double train_loss, double valid_loss,
                              optcl_epoch_record *record);
/* Loads one of the two checkpoints into the optimizer and the model's parameters. */
optcl_status fm_stepper_load(fm_stepper *s, int best);
const char *fm_stepper_path(const fm_stepper *s, int best);
const char *fm_stepper_message(const fm_stepper *s);
/* The loss scale's device buffer (config.loss_scale), or NULL without loss scaling. */
cl_mem fm_stepper_loss_scale(const fm_stepper *s);

/* This process's rank and the number of ranks (0 and 1 for a single process), and sums over
 * ranks of n doubles in place (nothing to do for a single process). */
int fm_stepper_rank(const fm_stepper *s);
int fm_stepper_size(const fm_stepper *s);
int fm_stepper_sum(fm_stepper *s, double *values, int n);

/* MPI around a whole distributed run (stepper_mpi.c): start returns 0, or 1 with a message
 * when this build has no MPI; the rank of this process afterwards. */
int fm_distributed_start(int *argc, char ***argv, int *rank, char *message, size_t size);
void fm_distributed_finish(void);

#endif
