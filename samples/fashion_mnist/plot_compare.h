/* plot_compare.h — fashion_mnist --compare's picture: validation loss and validation accuracy
 * per epoch, one line per optimizer, and a legend with each one's hyperparameters (SVG text). */
#ifndef FM_PLOT_COMPARE_H
#define FM_PLOT_COMPARE_H

#include "plot.h"

#include <stddef.h>

typedef struct fm_compare_series {
    const char *name;   /* the legend's bold part: "sgd" */
    const char *detail; /* the line under it: the hyperparameters, "lr=0.05 momentum=0.9" */
    const fm_epoch_point *points;
    size_t n; /* epochs run so far (patience may stop a run early); 0: not run yet */
} fm_compare_series;

/* Writes the picture to path (through path.tmp and a rename). Each axis shows every run's
 * values except those of a run far worse than the rest (it leaves the frame, clipped): a
 * diverging optimizer does not squeeze the others into a flat band. Returns 0, or 1 with
 * message naming the path. */
int fm_plot_compare_write(const char *path, const char *title, const char *subtitle,
                          const fm_compare_series *series, size_t count, char *message,
                          size_t message_size);

#endif
