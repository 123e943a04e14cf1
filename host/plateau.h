/* plateau.h — ReduceLROnPlateau's bookkeeping, shared by the optimizer (which reports metrics
 * and asks for each group's lr) and by checkpoints (which save the state). Pure host code. */
#ifndef OPTCL_PLATEAU_H
#define OPTCL_PLATEAU_H

#include "internal.h"

/* The state before any report: best = ±inf by mode, counters 0, every scale 1. */
void optcl__plateau_init(optcl_plateau_state *s, const optcl_plateau_config *c);

/* Validates a configuration; the message names the field and value. */
optcl_status optcl__plateau_validate(const optcl_plateau_config *c, char *message);

/* Takes one metric (PyTorch's ReduceLROnPlateau.step). current_lr[g] is the lr group g would
 * use for the next step (schedule and earlier reductions included) for g < group_count.
 * Returns true when the groups were reduced (scales updated). A NaN metric counts as bad. */
bool optcl__plateau_report(optcl_plateau_state *s, const optcl_plateau_config *c, double metric,
                           const double *current_lr, size_t group_count);

/* Group g's lr after reductions, given the lr its schedule asks for. */
double optcl__plateau_lr(const optcl_plateau_state *s, const optcl_plateau_config *c, int group,
                         double scheduled_lr);

#endif
