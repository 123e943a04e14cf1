/* replay.h — what `optcl replay` shares between its single-process run (replay.c) and its
 * distributed run under MPI (replay_mpi.c; replay_mpi_off.c in builds without MPI). */
#ifndef OPTCL_CLI_REPLAY_H
#define OPTCL_CLI_REPLAY_H

#include "optcl.h"

#include "atomic_file.h" /* host/: the library's own temporaries */

#define OPTCL_REPLAY_MSG 4096
#define OPTCL_REPLAY_MAX_OPTIONS 256

typedef struct replay_args {
    const char *optimizer, *params, *grads, *out, *metrics, *save_state, *load_state;
    const char *scale_out; /* --scale-out: (T, 3) loss scale, growth tracker, skipped steps */
    const char *out_eval;  /* --out-eval: (T, N) the eval-mode parameters (Schedule-Free's x) */
    optcl_backend backend;
    int distributed;                         /* --distributed: under mpirun, sharded */
    char *options[OPTCL_REPLAY_MAX_OPTIONS]; /* KEY=VALUE, in order */
    int option_count;
} replay_args;

/* An output of the replay (replay_files.c): written to a temporary file next to path, and
 * renamed over path only when every output is written. */
typedef struct replay_output {
    const char *option;         /* "--out", …: for messages */
    const char *path;           /* NULL: not asked for */
    optcl__atomic_reserved tmp; /* tmp.tmp_path: NULL when there is none (made, or renamed) */
} replay_output;

/* Refuses outputs that name the same file (the same folder entry, whether or not it exists
 * yet, or two names of one existing file) and a path that is a folder. */
int optcl_cli_outputs_check(const replay_output *outs, size_t count, char *msg);
/* Reserves out->tmp, an empty, locked temporary file in path's folder (optcl__atomic_reserve);
 * non-zero with a message naming the option when it cannot. */
int optcl_cli_output_temp(replay_output *out, char *msg);
/* Once the library has saved into out->tmp: locks the file it left there (the save replaced
 * the reserved one); non-zero with a message when that file is gone. */
int optcl_cli_output_written(replay_output *out, char *msg);
/* Renames every temporary file over its path, in order (the checkpoint last); stops at the
 * first that fails, with a message — the outputs before it are replaced, the rest are not. */
int optcl_cli_outputs_commit(replay_output *outs, size_t count, char *msg);
/* Removes the temporary files still there. */
void optcl_cli_outputs_discard(replay_output *outs, size_t count);

/* Writes G row t into the gradients (replay.c): as it is, or — with dynamic loss scaling, where
 * G holds unscaled gradients — multiplied by scale, the one the step uses, in the gradients'
 * type (rounded to it, multiplied in float32, rounded again), as a scaled backward pass would
 * leave it. scratch holds n floats. */
optcl_status optcl_cli_write_gradient(optcl_params *params, const optcl_optimizer_config *config,
                                      double scale, const float *row, float *scratch, size_t n);

/* Starts MPI for --distributed (MPI_Init); *rank receives this process's rank. Non-zero with a
 * reason in msg when that is impossible (no MPI in this build). */
int optcl_cli_mpi_start(int *argc, char ***argv, int *rank, char *msg);
/* Agrees on every rank's rc: 0 when all are 0; otherwise non-zero everywhere, and *speak is 1
 * only on the lowest failing rank (the one whose message is printed). */
int optcl_cli_mpi_agree(int rc, int *speak);
void optcl_cli_mpi_finish(void);

/* With --distributed --load-state: N and the configuration from a sharded checkpoint. */
int optcl_cli_replay_inspect_sharded(const replay_args *a, size_t *n, optcl_optimizer_config *saved,
                                     char *msg);
/* The replay on the sharded optimizer: every rank feeds the same G[t]; out (T×N) is filled on
 * every rank, and written to out_file's temporary where that is not NULL (rank 0) before
 * --save-state's checkpoint is saved (only when every rank got that far). */
int optcl_cli_replay_sharded(const replay_args *a, const optcl_optimizer_config *config,
                             const optcl_array *p0, const optcl_array *g, const optcl_array *m,
                             float *out, replay_output *out_file, char *msg);

#endif
