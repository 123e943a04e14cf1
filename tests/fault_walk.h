/* fault_walk.h — what the fault-injection suites share: the walk (run a scenario once to count
 * its calls, then once per call with that call failing, checking each outcome), a small
 * optimizer to walk over, and bit-exact snapshots of everything a failure must leave alone. */
#ifndef OPTCL_FAULT_WALK_H
#define OPTCL_FAULT_WALK_H

#include "fault_seam.h"
#include "testutil.h"

/* Three tensors in two groups: "w" (5, 7) in group 0, "b" (300: two 256-element blocks, the
 * others one) and the scalar "s" in group 1. */
extern const optcl_tensor_spec fw_specs[];
#define FW_NTENSORS 3
#define FW_NUMEL (35 + 300 + 1)
#define FW_GROUP0_END 35 /* packed: group 0 is [0, 35), group 1 [35, FW_NUMEL) */
#define FW_B_END 335     /* packed: b is [35, 335), s [335, FW_NUMEL) */
/* The same elements and groups in matrices only (Muon's): "w" (5, 7), "v" (3, 100), "u" (1, 1). */
extern const optcl_tensor_spec fw_matrix_specs[];
#define FW_MATRIX_NTENSORS 3
#define FW_ROLES 5       /* parameters and up to four states */

/* One scenario. setup and teardown run unarmed around each run; check gets the run's status
 * and the fault (NULL in the counting run, which must succeed). */
typedef struct fw_walk {
    const char *name;
    void *fx;
    void (*setup)(void *fx);
    optcl_status (*run)(void *fx);
    void (*check)(void *fx, optcl_status st, const fault_shot *shot);
    void (*teardown)(void *fx);
    /* Calls whose failure the scenario absorbs by design, finishing correctly without them
     * (space-separated names; see the FW_ABSORB_ lists). */
    const char *absorbs;
} fw_walk;

/* What scenarios may absorb. Creating: the build log (shown only after a failed build),
 * platform and device names and types while listing devices (a device is chosen without them;
 * clGetDeviceInfo asking for what the layout needs fails the create, and then the status is
 * checked). Writing: the new file's permissions, closing the folder after its sync, the scan that removes
 * abandoned temporaries first (best effort: a failure only leaves a stray file). Reading:
 * closing a read-only stream, the file's size (it is then read like a pipe). */
#define FW_ABSORB_CREATE "clGetProgramBuildInfo clGetPlatformInfo clGetDeviceInfo"
#define FW_ABSORB_WRITE "fchmod close opendir readdir openat unlinkat"
#define FW_ABSORB_READ "fclose fstat"

/* Counts the scenario's calls (N), then runs it N more times with call n failing. Each time
 * the status must be the failed call's (OPTCL_ERROR_IO for a file operation,
 * OPTCL_ERROR_BUILD_FAILED for clBuildProgram, the OpenCL status otherwise, a callback's own)
 * or success where absorbed, and no OpenCL object may outlive teardown. Prints a line. */
void fw_walk_all(const fw_walk *w);
void fw_no_teardown(void *fx);
/* Whether the OpenCL walks are skipped (after printing why): no device and
 * OPTCL_TEST_ALLOW_NO_DEVICE=1 (tu_opencl_missing), or OPTCL_DEVICE=reference, which turns the
 * default context into a reference one that makes no OpenCL call to fail. */
bool fw_opencl_skipped(void);
/* Prints the suite's totals; call after the tests. */
void fw_summary(void);

/* An optimizer over fw_specs (or fw_matrix_specs). */
typedef struct fw_fixture {
    optcl_context *ctx;
    optcl_params *params;
    optcl_optimizer *opt;
    const optcl_tensor_spec *specs;
    size_t tensors;
} fw_fixture;

/* Adam with AMSGrad, Lookahead (k = 2), two groups and a plateau: four state buffers, one launch
 * per group, a sync launch every second step. */
optcl_optimizer_config fw_rich_config(void);
/* A rule that looks at whole tensors (Adafactor, Muon) in the same two groups, with weight
 * decay and a plateau (patience 0); guarded: with clipping. */
optcl_optimizer_config fw_tensorwise_config(optcl_algorithm a, bool guarded);
/* The specs an algorithm takes: fw_matrix_specs for Muon (2-D only), else fw_specs. */
const optcl_tensor_spec *fw_specs_for(optcl_algorithm a, size_t *tensors);
/* FW_NUMEL pseudo-random floats in [lo, 1). */
void fw_fill(float *x, uint64_t seed, float lo);
/* Creates the parameter set and optimizer on ctx with random parameters, gradients and
 * states (states >= 0, as Adam's second moments must be). */
void fw_fixture_open(fw_fixture *f, optcl_context *ctx, const optcl_optimizer_config *c);
/* The same over the given tensors (FW_NUMEL elements, FW_GROUP0_END of them in group 0). */
void fw_fixture_open_on(fw_fixture *f, optcl_context *ctx, const optcl_optimizer_config *c,
                        const optcl_tensor_spec *specs, size_t tensors);
/* Writes every state from v[k] (state k): each tensor's values from the tensor's first packed
 * element, as many as optcl_optimizer_state_shape gives (a factored state's are fewer). */
void fw_write_states(const fw_fixture *f, float (*v)[FW_NUMEL]);
/* Destroys the optimizer and parameter set; the context too when own_ctx. */
void fw_fixture_close(fw_fixture *f, bool own_ctx);

/* Everything a failed call must leave alone. */
typedef struct fw_snap {
    float v[FW_ROLES][FW_NUMEL]; /* parameters, then each state as fw_write_states lays it */
    size_t roles;
    bool slow;          /* the last role is Lookahead's slow weights */
    char message[1024]; /* the optimizer's message as the snapshot found it (its own calls may
                           leave another: a state a tensor does not keep) */
    uint64_t steps;
    double lr[2], alpha;
    optcl_plateau_state plateau;
    double scale;     /* the loss scale (1 without loss scaling) */
    uint32_t tracker; /* and its growth tracker */
} fw_snap;

void fw_take(const fw_fixture *f, fw_snap *s);
/* Bit for bit: roles [first, last) over the packed elements [begin, end). */
bool fw_same_values(const fw_snap *a, const fw_snap *b, size_t first, size_t last, size_t begin,
                    size_t end);
bool fw_same_snap(const fw_snap *a, const fw_snap *b);

#endif
