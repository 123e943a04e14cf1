/* testutil.h — helpers shared by the cmocka suites: temp folders, whole files, child processes,
 * tolerances, backends. */
#ifndef OPTCL_TESTUTIL_H
#define OPTCL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "optcl.h"

/* A fresh folder under /tmp (malloc'd path) and its recursive removal. */
char *tu_make_tempdir(void);
void tu_remove_tree(const char *path);

/* Group fixtures for a suite that keeps its files in one temp folder, tu_group_dir(): the
 * setup creates it (returning -1 when it cannot), the teardown removes it with its contents. */
int tu_group_dir_setup(void **state);
int tu_group_dir_teardown(void **state);
const char *tu_group_dir(void);

/* "<tu_group_dir()>/<name>" in buf (failing the test when it does not fit); returns buf. */
const char *tu_path_in(char *buf, size_t size, const char *name);

/* Creates or replaces path with exactly len bytes; any I/O error fails the test. */
void tu_write_file(const char *path, const void *bytes, size_t len);

/* The whole file in a malloc'd buffer with a NUL after its *len bytes (not counted); any I/O
 * error fails the test. */
unsigned char *tu_read_file(const char *path, size_t *len);

/* A copy of the safetensors file from at to with the first occurrence of old in its JSON header
 * replaced by new_text (the header length adjusted, padded to 8 bytes with spaces); old
 * missing fails the test. tu_set_meta sets metadata key to value (a string), adding it when
 * the file has none. */
void tu_patch_header(const char *from, const char *to, const char *old, const char *new_text);
void tu_set_meta(const char *from, const char *to, const char *key, const char *value);

/* The names in folder other than "." and "..", sorted (strcmp) and comma-separated into out
 * (truncated to size − 1; out may be NULL when size is 0). Returns how many there are; a folder
 * that cannot be listed fails the test. */
size_t tu_list_folder(const char *folder, char *out, size_t size);

/* A FIFO at path (replacing what was there) that a forked child fills with len bytes and then
 * closes: a file without a size to check up front. Returns the child, for tu_fifo_reap, which
 * waits for it and removes the FIFO. */
pid_t tu_fifo_feed(const char *path, const void *bytes, size_t len);
void tu_fifo_reap(pid_t child, const char *path);

/* Runs argv (argv[0] = the program's path) with stdout discarded and stderr captured into err
 * (NUL-terminated, truncated to err_size − 1). Returns the exit status, 128 + signal for a
 * killed child, or -1 when the child could not be started (err then says why). */
int tu_run(char *const argv[], char *err, size_t err_size);
/* Like tu_run, with stdout written to the file out_path (created or truncated). */
int tu_run_to(char *const argv[], const char *out_path, char *err, size_t err_size);
/* Like tu_run, with stdout in *out (malloc'd, NUL-terminated; "" when it printed nothing). */
int tu_run_capture(char *const argv[], char **out, char *err, size_t err_size);

/* The NULL-terminated args joined with single spaces into buf (truncated to size − 1), to show
 * a command line in messages. */
void tu_join_args(char *buf, size_t size, const char *const *args);

/* Fails the test, printing the status name and the message, when st is not OPTCL_SUCCESS. */
#define TU_OK(st, msg)                                                                             \
    do {                                                                                           \
        optcl_status tu_st_ = (st);                                                                \
        if (tu_st_ != OPTCL_SUCCESS)                                                               \
            fail_msg("%s failed: %s (%s)", #st, optcl_status_name(tu_st_), (msg));                 \
    } while (0)

/* A context on the given backend (OpenCL: the default device, honouring OPTCL_DEVICE). The
 * first OpenCL one of a process whose device may not give the reference backend's bits prints
 * tu_exactness_note's sentence on stderr. */
optcl_context *tu_context(optcl_backend backend);
/* Why the OpenCL backend on ctx's device may differ from the reference backend in the last bits,
 * as a sentence for a failure message: what its float32 lacks of correctly rounded divide and
 * sqrt (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) and denormals (CL_FP_DENORM); "" when it lacks
 * neither, and on the reference backend (docs/PRECISION.md). */
const char *tu_exactness_note(const optcl_context *ctx);

/* What a suite steps: a context, a parameter set and an optimizer on it. */
typedef struct tu_rig {
    optcl_context *ctx;
    optcl_params *params;
    optcl_optimizer *opt;
} tu_rig;

/* Opens a rig of these tensors with parameters p0 (the whole flat set; NULL leaves them zero)
 * and an optimizer of config; fails the test when any part fails. */
tu_rig tu_rig_open(optcl_backend backend, const optcl_tensor_spec *specs, size_t count,
                   const float *p0, const optcl_optimizer_config *config);
/* The same with parameters and gradients of element type dtype (p0 as float32, rounded). */
tu_rig tu_rig_open_typed(optcl_backend backend, const optcl_tensor_spec *specs, size_t count,
                         optcl_dtype dtype, const float *p0, const optcl_optimizer_config *config);
/* Destroys what the rig holds (NULL parts too), failing the test when a destroy fails. */
void tu_rig_close(tu_rig *r);

/* The values of state `index` (optcl_optimizer_state_name) over all tensors, as
 * optcl_optimizer_read_state with OPTCL_ALL takes them: each tensor's state shape, tensors
 * without it (Adafactor's row_var of a vector) skipped. */
size_t tu_state_values(const optcl_params *params, const optcl_optimizer *opt, size_t index);

/* Whether this build refuses algorithm a on backend b: Muon on OpenCL without CLBlast (the
 * build's OPTCL_CLBLAST off or no libclblast-dev). Suites skip those runs, and
 * test_tensorwise checks the refusal. */
bool tu_muon_refused(optcl_backend b, optcl_algorithm a);

/* The same tensors as matrices, for the rules that take 2-D tensors only (Muon): a scalar
 * 1×1, a vector of n 1×n, more dims (…, C) as (product of the others)×C; names, groups and
 * element counts kept. */
void tu_as_matrices(const optcl_tensor_spec *in, size_t count, optcl_tensor_spec *out);

/* The next state of a xorshift generator (seed ≠ 0), which it also returns. */
uint64_t tu_next_random(uint64_t *seed);
/* Deterministic pseudo-random floats in [lo, hi), one generator step each. */
void tu_fill_random(float *x, size_t n, uint64_t *seed, float lo, float hi);
/* A float's bits, and the float of some bits. */
uint32_t tu_bits(float f);
float tu_float(uint32_t bits);
/* The test's own oracle of c10::BFloat16: float32 to bfloat16 bits, nearest even, every NaN
 * 0x7FC0. */
uint16_t tu_bf16_bits(float f);

/* Index of the first element with |a−e| > atol + rtol·|e| (equal values, infinities included,
 * and NaN against NaN match), or (size_t)-1. *worst (may be NULL) receives the largest |a−e|. */
size_t tu_first_mismatch(const float *a, const float *e, size_t n, double atol, double rtol,
                         double *worst);

/* The optcl command and tests/golden, as built in; OPTCL_TEST_CLI / OPTCL_TEST_GOLDEN_DIR
 * override them (to run a copied build elsewhere, e.g. on a GPU machine). */
const char *tu_cli_path(void);
const char *tu_golden_dir(void);
/* Runs `optcl COMMAND ARGS...` (args NULL-terminated, at most 40) as tu_run_capture does: the
 * exit status, stdout in *out (malloc'd; the test fails without it), stderr in err. */
int tu_cli_capture(const char *command, const char *const *args, char **out, char *err,
                   size_t err_size);

/* Whether OpenCL runs may be skipped on a machine without any device: only when the
 * environment says OPTCL_TEST_ALLOW_NO_DEVICE=1. Otherwise a missing device is a failure. */
int tu_allow_no_device(void);

/* Whether the OpenCL runs of a test are to be skipped: true (after printing a SKIP line) only
 * when no OpenCL platform or device exists and tu_allow_no_device(); a missing device fails the
 * test otherwise. Any other failure to open a context returns false, left for the run itself
 * to report. The device is probed once per process. */
bool tu_opencl_missing(void);

/* Sleeps for ms milliseconds. */
void tu_sleep_ms(int ms);

/* Asserts that a reference count read by EXPR reaches WANT. PoCL drops the references its
 * finished commands hold from its own thread, a moment after clFinish returns (under load the
 * lag was seen), so this polls for up to 5 s; a reference never released still fails. */
#define TU_AWAIT_EQUAL(expr, want)                                                                 \
    do {                                                                                           \
        for (int tu_wait_ = 0; tu_wait_ < 5000 && (expr) != (want); tu_wait_++)                    \
            tu_sleep_ms(1);                                                                        \
        assert_int_equal((expr), (want));                                                          \
    } while (0)

#endif
