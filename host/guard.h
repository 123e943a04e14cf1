/* guard.h — what guard.c (the guard's kernels, decision and record) and guard_rows.c (the
 * ring of scalar rows the device picks from by its count, and lr changes in flight) share. */
#ifndef OPTCL_GUARD_H
#define OPTCL_GUARD_H
#include "internal.h"

static inline bool optcl__guard_on_device(const optcl_optimizer *opt)
{
    return opt->params->ctx->backend != OPTCL_BACKEND_REFERENCE;
}

/* "gradient guard: <what> failed: <status>" as the message, and the status. */
optcl_status optcl__guard_fail(char *message, cl_int err, const char *what);
/* guard.c: the device's record (a blocking read). */
cl_int optcl__guard_read_record(const optcl_optimizer *opt, optcl__guard *g);
/* guard.c: Lookahead's α of the last sync, from the count; settle: from the count settled on
 * the host, with the slow weights' start (optcl__lookahead_settle). */
double optcl__guard_alpha_at(const optcl_optimizer *opt, uint64_t steps);
void optcl__guard_settle_lookahead(optcl_optimizer *opt);
/* guard_rows.c: after a blocking call, every change's write and read has finished. */
void optcl__guard_rows_settled(optcl_optimizer *opt);
/* guard_rows.c: the record was replaced (a blocking write): what an lr change's read found is
 * moot, and the whole ring is written again from the count. */
optcl_status optcl__guard_rows_reset(optcl_optimizer *opt);
#endif /* OPTCL_GUARD_H */
