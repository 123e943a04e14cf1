/* mpitest.h — a small harness for the suites that run under mpirun: a failed check prints the
 * rank, place and reason and aborts the whole job (MPI_Abort), so no rank is left waiting in a
 * collective; models, gradients and comparisons shared by the suites. */
#ifndef OPTCL_MPITEST_H
#define OPTCL_MPITEST_H

#include "optcl_mpi.h"
#include "testutil.h" /* the generator, comparisons and skip rule of the cmocka suites */

#include <stdbool.h>
#include <stdio.h>

extern int mt_rank, mt_size;

void mt_fail(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

#define MT_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            mt_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
    } while (0)

/* A call that must succeed; msg is the message to show when it does not. */
#define MT_OK(st, msg)                                                                             \
    do {                                                                                           \
        optcl_status mt_st_ = (st);                                                                \
        if (mt_st_ != OPTCL_SUCCESS)                                                               \
            mt_fail(__FILE__, __LINE__, #st, "%s (%s)", optcl_status_name(mt_st_), (msg));         \
    } while (0)

/* MPI_Init, and the rank and size into mt_rank, mt_size. */
void mt_init(int *argc, char ***argv, const char *suite);
/* Prints the suite's verdict on rank 0 and finalizes MPI; returns main's exit status. */
int mt_finish(void);
/* Rank 0 prints one line (a case's name, a figure). */
void mt_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A context on a backend; NULL (after a note) when OpenCL has no device and
 * OPTCL_TEST_ALLOW_NO_DEVICE=1 says that may be skipped. */
optcl_context *mt_context(optcl_backend backend);

/* Floats in [lo, hi) from seed (the same on every rank for the same seed). */
void mt_fill(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Dyadic floats k/1024, |k| ≤ 4096: sums and sums of squares of a few thousand of them are
 * exact in double in any order, so averages and norms do not depend on how MPI adds. */
void mt_fill_dyadic(float *x, size_t n, uint64_t seed);

/* The model of the suites: six tensors of odd sizes (a scalar among them) in three groups,
 * 212 elements; with K = 3 the shards hold 80, 80 and 52. */
#define MT_MODEL_COUNT 6
extern const optcl_tensor_spec mt_model[MT_MODEL_COUNT];
/* One tensor of five elements: with K > 1 some shards are empty. */
extern const optcl_tensor_spec mt_tiny[1];

optcl_params *mt_params(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count);

#endif
