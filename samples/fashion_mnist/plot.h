/* plot.h — the learning curves of a run as one SVG file (text, no dependency): train and valid
 * loss, valid accuracy and the learning rate per epoch. */
#ifndef FM_PLOT_H
#define FM_PLOT_H

#include <stddef.h>

typedef struct fm_epoch_point {
    double train_loss, valid_loss, valid_accuracy, lr, seconds;
    int best; /* this epoch wrote the "best" checkpoint */
} fm_epoch_point;

/* Writes the picture to path (through path.tmp and a rename, so a reader never sees half a
 * file); title and subtitle go on top. Returns 0, or 1 with message naming the path. */
int fm_plot_write(const char *path, const char *title, const char *subtitle,
                  const fm_epoch_point *points, size_t n, char *message, size_t message_size);

#endif
