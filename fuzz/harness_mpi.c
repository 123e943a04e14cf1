/* harness_mpi.c — the check of one sharded-checkpoint manifest (see harness.h), apart from
 * harness.c because it needs optcl_mpi (built where MPI is found). Public API only; MPI is never
 * initialised: optcl_mpi_checkpoint_tensors does not use it. */
#include "harness.h"

#include "optcl.h"
#include "optcl_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE 1024
#define broken optcl_fuzz__broken

int optcl_fuzz_manifest(const char *path, const char *scratch, char *why, size_t why_size)
{
    (void)scratch;
    optcl_tensor_spec *const untouched = (optcl_tensor_spec *)&untouched;
    optcl_tensor_spec *specs = untouched;
    size_t count = 12345;
    char msg[MESSAGE] = "";
    optcl_status st = optcl_mpi_checkpoint_tensors(path, &specs, &count, msg, sizeof msg);
    if (st != OPTCL_SUCCESS) {
        if (specs != untouched || count != 12345)
            return broken(why, why_size, "refused (%s) but the outputs changed",
                          optcl_status_name(st));
        if (!strstr(msg, path))
            return broken(why, why_size, "refused (%s) without naming the file: %s",
                          optcl_status_name(st), msg);
        return 0;
    }
    /* Accepted: the list makes a model, as the program resuming from it will create. */
    optcl_context_config cc = optcl_context_config_default();
    cc.backend = OPTCL_BACKEND_REFERENCE;
    optcl_context *ctx = NULL;
    int rc = 0;
    size_t total = 0;
    if (optcl_context_create(&cc, &ctx, msg, sizeof msg) != OPTCL_SUCCESS)
        rc = broken(why, why_size, "no reference context: %s", msg);
    else if (optcl_params_layout(ctx, specs, count, NULL, &total) != OPTCL_SUCCESS)
        rc = broken(why, why_size, "accepted %zu tensors that make no model: %s", count,
                    optcl_context_message(ctx));
    optcl_context_destroy(ctx);
    free(specs);
    return rc;
}
