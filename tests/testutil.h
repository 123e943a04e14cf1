/* testutil.h — helpers shared by the cmocka suites: temp folders, tolerances, backends. */
#ifndef OPTCL_TESTUTIL_H
#define OPTCL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "optcl.h"

/* A fresh folder under /tmp (malloc'd path) and its recursive removal. */
char *tu_make_tempdir(void);
void tu_remove_tree(const char *path);

/* Fails the test, printing the status name and the message, when st is not OPTCL_SUCCESS. */
#define TU_OK(st, msg)                                                                         \
    do {                                                                                       \
        optcl_status tu_st_ = (st);                                                            \
        if (tu_st_ != OPTCL_SUCCESS)                                                           \
            fail_msg("%s failed: %s (%s)", #st, optcl_status_name(tu_st_), (msg));             \
    } while (0)

/* A context on the given backend (OpenCL: the default device, honouring OPTCL_DEVICE). */
optcl_context *tu_context(optcl_backend backend);

/* Deterministic pseudo-random floats in [lo, hi) (xorshift; seed ≠ 0). */
void tu_fill_random(float *x, size_t n, uint64_t *seed, float lo, float hi);

/* Index of the first element with |a−e| > atol + rtol·|e| (NaNs must match), or (size_t)-1.
 * *worst receives the largest |a−e|. */
size_t tu_first_mismatch(const float *a, const float *e, size_t n, double atol, double rtol,
                         double *worst);

/* The optcl command and tests/golden, as built in; OPTCL_TEST_CLI / OPTCL_TEST_GOLDEN_DIR
 * override them (to run a copied build elsewhere, e.g. on a GPU machine). */
const char *tu_cli_path(void);
const char *tu_golden_dir(void);

/* Whether OpenCL runs may be skipped on a machine without any device: only when the
 * environment says OPTCL_TEST_ALLOW_NO_DEVICE=1. Otherwise a missing device is a failure. */
int tu_allow_no_device(void);

#endif
