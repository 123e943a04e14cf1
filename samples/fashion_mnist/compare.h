/* compare.h — `fashion_mnist --compare LIST`: the same training run once per optimizer (the
 * same data, split, initial weights and batches: the seed decides them all), drawn together
 * in one picture. */
#ifndef FM_COMPARE_H
#define FM_COMPARE_H

#include "train.h"

#define FM_COMPARE_MAX 32 /* entries in a list */

/* Trains base once per entry of list, "NAME[:KEY=VALUE...]" separated by commas (a comma
 * followed by a digit continues a value: milestones=5,20). Each optimizer starts from torch's
 * defaults; its entry's keys and then the common ones (the --state-dtype... flags' keys) are
 * applied. Every entry is parsed and its values checked first: a bad one is refused, naming
 * it, before any run, and nothing is written. Then each run keeps its checkpoints and
 * curves.svg in base->out_dir/<name> (<name>-2 for a name's second entry), prints a line per
 * epoch on stdout, and <out_dir>/compare.svg is drawn again after each run; a summary table
 * ends. Returns the exit status: 0, 1 when a run failed (its message on stderr), 2 for a bad
 * list. */
int fm_compare(const char *list, const fm_train_config *base, char *const *common,
               int common_count);

#endif
