/* cli.h — the subcommands of the `optcl` command. */
#ifndef OPTCL_CLI_H
#define OPTCL_CLI_H

#include "optcl.h"

#include <stdio.h>

int optcl_cli_devices(int argc, char **argv);
int optcl_cli_replay(int argc, char **argv);
int optcl_cli_bench(int argc, char **argv);
int optcl_cli_inspect(int argc, char **argv);
/* inspect.c: a configuration as `optcl replay` keys (with its group's trust_ratio_mask), and
 * tensors one per line, on stdout. */
void optcl_cli_print_config(const optcl_optimizer_config *config, optcl_dtype param_dtype,
                            int trust_ratio_mask);
void optcl_cli_print_tensors(const optcl_tensor_spec *specs, size_t count);
/* The steps taken and skipped, the next step's lr of the groups the tensors use (one value when
 * they share it) and, with loss scaling, the scale. */
void optcl_cli_print_progress(const optcl_checkpoint_progress *progress,
                              const optcl_tensor_spec *specs, size_t count, int loss_scaling);
/* checkpoint_meta.c: whether the file at path starts as a sharded checkpoint's manifest; and
 * the trust_ratio_mask of group 0 (replay's one group) a checkpoint was saved with — 0 when it
 * was left out of the trust ratio, else 1 — read from its safetensors header (a sharded one's:
 * rank 0's file); non-zero with a message when the file cannot be read. */
int optcl_cli_is_manifest(const char *path);
int optcl_cli_saved_trust_ratio_mask(const char *path, int *mask, char *msg, size_t size);
/* inspect_mpi.c (inspect_mpi_off.c without MPI): prints a sharded checkpoint; non-zero with a
 * message when it cannot. */
int optcl_cli_inspect_sharded(const char *path, char *msg, size_t size);

/* Applies one KEY=VALUE hyperparameter (PyTorch's constructor names) to config. On error
 * returns non-zero and writes a one-line reason into message. */
int optcl_cli_apply_option(optcl_optimizer_config *config, const char *key_value, char *message,
                           size_t message_size);

/* The parameter set's element type from the options' param_dtype key (the last one wins, as
 * for every key); f32 without one. The keys must have passed optcl_cli_apply_option. */
optcl_dtype optcl_cli_param_dtype(char *const *options, int count);
/* A whole number written in digits alone (no sign, no space) up to max, at c, into *out; *end
 * past it. Non-zero when c does not start with a digit or the number exceeds max. */
int optcl_cli_scan_whole(const char *c, char **end, unsigned long long max,
                         unsigned long long *out);
/* v as the shortest text that strtod reads back as v (%.15g, %.16g or %.17g) into out (size
 * bytes; 32 hold any); returns out. inspect prints numbers so that resuming with them agrees. */
const char *optcl_cli_real(char *out, size_t size, double v);
/* The value of the last KEY=VALUE among the options for this key, or NULL. */
const char *optcl_cli_option_value(char *const *options, int count, const char *key);
/* replay_layout.c: tensors=4x5,12,5 or shape=R,C — checked (non-zero with a message when
 * malformed), and the set's tensors for N parameters (one "param" of shape (N,) without either;
 * *specs is one block for free(); non-zero with a message when the sizes do not add up to N);
 * and the configuration with replay's one group: trust_ratio_mask=0 leaves it out of LAMB's
 * and LARS's trust ratio (held in *group, which must outlive the result). */
int optcl_cli_check_layout(const char *key, const char *value, char *message, size_t size);
int optcl_cli_tensor_specs(char *const *options, int count, size_t n, optcl_tensor_spec **specs,
                     size_t *spec_count, char *message, size_t size);
optcl_optimizer_config optcl_cli_grouped(char *const *options, int count,
                                         const optcl_optimizer_config *config,
                                         optcl_group_config *group);
/* Whether tensors= or shape= is among the options (without them, --load-state takes the
 * checkpoint's tensors). */
int optcl_cli_layout_given(char *const *options, int count);

/* The optimizers' names on one line (" sgd, adam, …\n"), and each one's own keys with their
 * defaults, one line per optimizer, for the help texts; from the descriptors. */
void optcl_cli_print_names(FILE *f);
/* The same on one line, "sgd, adam, …", into out (size bytes); returns out. */
const char *optcl_cli_names(char *out, size_t size);
/* Prints " KEY=VALUE" for every replay key of the training procedure (schedule, plateau,
 * Lookahead, guard, precision, loss scaling) whose value in config is not the default; returns
 * how many. */
int optcl_cli_print_training(const optcl_optimizer_config *config);
void optcl_cli_print_keys(FILE *f);

/* Refuses keys that the configuration would ignore (gamma without a schedule that uses it,
 * plateau keys without schedule=plateau, lookahead_alpha without lookahead_k,
 * warmup_start_factor without warmup_steps, grad_scale undone by loss_scale=off|dynamic). */
int optcl_cli_check_options(const optcl_optimizer_config *config, char *const *options, int count,
                            char *message, size_t message_size);

#endif
