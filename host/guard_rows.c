/* guard_rows.c — the gradient guard's ring of scalar rows. With a guard on a device, the device
 * owns the step count (a skipped step leaves it alone), so each update kernel picks its scalars
 * (the lr through schedule and plateau, the bias corrections) from a ring of
 * OPTCL__GUARD_CAPACITY rows by the count it reads; the host writes the rows of every count the
 * device may reach next, a window at a time, each row's running values (memo) beside it. An lr
 * change writes the rows of every count the device may hold from a staged copy and reads the
 * record behind them without waiting; the blocking read comes only when the steps enqueued
 * could pass the last row written. */
#include "guard.h"
#include "rules/rule.h"

#include <stdlib.h>
#include <string.h>

/* The fewest rows written after a change of what they hold (an lr, a plateau reduction): a
 * loop that sets the lr every step pays for them every step (a row is a schedule's and the
 * bias corrections' arithmetic in double, 0.1–0.2 µs). */
#define ROWS_AFTER_A_CHANGE 16

/* An event's command status: CL_COMPLETE, an error (< 0: it failed), or not finished (a failed
 * query counts as not finished). */
static cl_int status_of(cl_event event)
{
    cl_int status = CL_QUEUED;
    cl_int err =
        clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    return err == CL_SUCCESS ? status : CL_QUEUED;
}

/* A staged copy's room whose write has finished: kept for the next change (one at a time). */
static void spare(optcl_optimizer *opt, optcl__step_scalars *rows)
{
    if (opt->guard_spare)
        free(rows);
    else
        opt->guard_spare = rows;
}

/* Lets go of the staged rows whose writes have finished (every one: after a blocking call). */
static void reap_staged(optcl_optimizer *opt, bool all)
{
    size_t kept = 0;
    for (size_t i = 0; i < opt->guard_staged_count; i++) {
        optcl__guard_staged s = opt->guard_staged[i];
        if (all || status_of(s.written) <= CL_COMPLETE) {
            clReleaseEvent(s.written);
            spare(opt, s.rows);
        } else {
            opt->guard_staged[kept++] = s;
        }
    }
    opt->guard_staged_count = kept;
}

/* Lets the last lr change's read go. */
static void drop_seen(optcl_optimizer *opt)
{
    if (opt->guard_seen_event)
        clReleaseEvent(opt->guard_seen_event);
    opt->guard_seen_event = NULL;
}

/* The last lr change's read is back (read_ok; else it failed on the device): the count its
 * rows found becomes steps, and pending loses the steps that were in flight then. Without it
 * the next step reads the count back and rewrites every row. */
static void settle_seen(optcl_optimizer *opt, bool read_ok)
{
    uint64_t c = opt->guard_seen.steps;
    if (read_ok && c >= opt->steps && c <= opt->steps + opt->guard_seen_pending) {
        opt->guard_pending -= opt->guard_seen_pending;
        opt->steps = c;
        optcl__guard_settle_lookahead(opt);
    } else {
        opt->guard_rows_to = 0;
    }
    drop_seen(opt);
}

void optcl__guard_rows_settled(optcl_optimizer *opt)
{
    if (opt->guard_seen_event)
        settle_seen(opt, status_of(opt->guard_seen_event) == CL_COMPLETE);
    reap_staged(opt, true);
}

/* The rows of the counts steps + 1 … steps + count into their ring slots (non-blocking): one
 * write, or two where they wrap past the ring's end, the rows up to it from head and the rest
 * from tail. *written (when not NULL): the last write's event, NULL when none was enqueued. */
static cl_int write_ring(optcl_optimizer *opt, size_t count, const optcl__step_scalars *head,
                         const optcl__step_scalars *tail, cl_event *written)
{
    cl_command_queue queue = opt->params->ctx->queue;
    size_t ranges = opt->params->range_count, row = sizeof(optcl__step_scalars) * ranges;
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    size_t up_to_end =
        count < OPTCL__GUARD_CAPACITY - first ? count : OPTCL__GUARD_CAPACITY - first;
    cl_event events[2] = {NULL, NULL};
    cl_int err = clEnqueueWriteBuffer(queue, opt->guard_table, CL_FALSE, first * row,
                                      up_to_end * row, head, 0, NULL, written ? &events[0] : NULL);
    if (err == CL_SUCCESS && up_to_end < count)
        err = clEnqueueWriteBuffer(queue, opt->guard_table, CL_FALSE, 0, (count - up_to_end) * row,
                                   tail, 0, NULL, written ? &events[1] : NULL);
    if (written) {
        *written = events[1] ? events[1] : events[0];
        if (events[1])
            clReleaseEvent(events[0]);
    }
    return err;
}

/* Range r's memo as the row of the count `steps` left it; NULL when the ring has none of it. */
static const optcl__rule_memo *held_memo(const optcl_optimizer *opt, size_t r)
{
    size_t ranges = opt->params->range_count;
    const optcl__rule_memo *m =
        opt->guard_memos ? &opt->guard_memos[(opt->steps % OPTCL__GUARD_CAPACITY) * ranges + r]
                         : NULL;
    return m && m->step == opt->steps && opt->steps > 0 ? m : NULL;
}

/* The rows of the counts steps + 1 … steps + count into out (the host copy, by ring slot; or
 * a staging copy, from its start), each row's memos beside it in the ring. The memos resume
 * from the count steps, as its row left them: rows written ahead of it may carry an lr that
 * the device never used (Schedule-Free's weight sum follows the lrs of the steps taken, as the
 * reference backend's does). */
static void compute_rows(optcl_optimizer *opt, size_t count, optcl__step_scalars *out, bool by_slot)
{
    optcl_params *p = opt->params;
    for (size_t r = 0; r < p->range_count; r++)
        if (held_memo(opt, r))
            opt->memo[p->ranges[r].group] = *held_memo(opt, r);
    for (uint64_t c = opt->steps + 1; c <= opt->steps + count; c++) {
        size_t row = (size_t)(c % OPTCL__GUARD_CAPACITY) * p->range_count;
        size_t at = by_slot ? row : (size_t)(c - opt->steps - 1) * p->range_count;
        for (size_t r = 0; r < p->range_count; r++) {
            int group = p->ranges[r].group;
            optcl__scalars_for_step(opt, group, c, &out[at + r]);
            opt->guard_memos[row + r] = opt->memo[group];
        }
    }
}

/* Writes the rows of the counts steps + 1 … steps + window, each in its ring slot (one write,
 * or two where the window wraps); the steps enqueued after it find their rows whatever the
 * device's count, up to that many. The count must be exact (nothing pending), and a blocking
 * call came first, so no earlier write still reads the host copy. */
static cl_int write_rows(optcl_optimizer *opt, size_t window)
{
    compute_rows(opt, window, opt->guard_rows, true);
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    cl_int err = write_ring(opt, window, opt->guard_rows + first * opt->params->range_count,
                            opt->guard_rows, NULL);
    opt->guard_rows_to = err == CL_SUCCESS ? opt->steps + window : 0; /* 0: refresh first */
    return err;
}

static optcl_status rows_written(optcl_optimizer *opt, cl_int err)
{
    return err == CL_SUCCESS ? OPTCL_SUCCESS
                             : optcl__guard_fail(opt->message, err, "writing the steps' scalars");
}

optcl_status optcl__guard_rows_reset(optcl_optimizer *opt)
{
    drop_seen(opt);
    reap_staged(opt, true);
    opt->guard_changed_at = opt->steps;
    return rows_written(opt, write_rows(opt, OPTCL__GUARD_CAPACITY));
}

/* The guard's memos: one per row of the ring and range. */
static size_t guard_memo_bytes(const optcl_optimizer *opt)
{
    return (size_t)OPTCL__GUARD_CAPACITY * opt->params->range_count * sizeof *opt->guard_memos;
}

void optcl__forget_memos(optcl_optimizer *opt)
{
    memset(opt->memo, 0, sizeof opt->memo);
    if (opt->guard_memos)
        memset(opt->guard_memos, 0, guard_memo_bytes(opt));
}

optcl_status optcl__save_memos(optcl_optimizer *opt, optcl__saved_memos *saved)
{
    memcpy(saved->memo, opt->memo, sizeof saved->memo);
    saved->guard_memos = NULL;
    if (!opt->guard_memos)
        return OPTCL_SUCCESS;
    saved->guard_memos = malloc(guard_memo_bytes(opt));
    if (!saved->guard_memos)
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "out of host memory for a copy of the running values");
    memcpy(saved->guard_memos, opt->guard_memos, guard_memo_bytes(opt));
    return OPTCL_SUCCESS;
}

void optcl__restore_memos(optcl_optimizer *opt, const optcl__saved_memos *saved)
{
    memcpy(opt->memo, saved->memo, sizeof opt->memo);
    if (opt->guard_memos && saved->guard_memos)
        memcpy(opt->guard_memos, saved->guard_memos, guard_memo_bytes(opt));
}

bool optcl__memo_now(const optcl_optimizer *opt, int group, optcl__rule_memo *out)
{
    const optcl_params *p = opt->params;
    for (size_t r = 0; r < p->range_count; r++)
        if (p->ranges[r].group == group && held_memo(opt, r)) {
            *out = *held_memo(opt, r);
            return true;
        }
    *out = opt->memo[group];
    return out->step != 0 && out->step == opt->steps;
}

void optcl__memo_set(optcl_optimizer *opt, int group, const optcl__rule_memo *memo)
{
    const optcl_params *p = opt->params;
    opt->memo[group] = *memo;
    size_t row = (size_t)(opt->steps % OPTCL__GUARD_CAPACITY) * p->range_count;
    for (size_t r = 0; opt->guard_memos && r < p->range_count; r++)
        if (p->ranges[r].group == group)
            opt->guard_memos[row + r] = *memo;
}

/* The rows a change of their values writes after the count `at`: twice the steps since the
 * last change, so that changes every step or every few cost a few rows each and rare ones the
 * whole ring (no more blocking reads than before). */
static size_t change_window(const optcl_optimizer *opt, uint64_t at)
{
    uint64_t since = at > opt->guard_changed_at ? at - opt->guard_changed_at : 0;
    size_t window = since >= OPTCL__GUARD_CAPACITY / 2 ? OPTCL__GUARD_CAPACITY : 2 * (size_t)since;
    return window < ROWS_AFTER_A_CHANGE ? ROWS_AFTER_A_CHANGE : window;
}

optcl_status optcl__guard_rows(optcl_optimizer *opt)
{
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    size_t window = change_window(opt, opt->steps);
    opt->guard_changed_at = opt->steps;
    return rows_written(opt, write_rows(opt, window));
}

optcl_status optcl__guard_lr_begin(optcl_optimizer *opt)
{
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    reap_staged(opt, false);
    /* a change's read that is back brings the count closer; one still on its way is left to
     * a later call (the rows cover every count the device may hold either way) */
    cl_int status = opt->guard_seen_event ? status_of(opt->guard_seen_event) : CL_QUEUED;
    if (status <= CL_COMPLETE)
        settle_seen(opt, status == CL_COMPLETE);
    return OPTCL_SUCCESS;
}

/* An lr change's write failed: the device keeps the rows from before, and the next step reads
 * the count back and rewrites every row. */
static optcl_status change_failed(optcl_optimizer *opt, cl_int err)
{
    opt->guard_rows_to = 0;
    return optcl__guard_fail(opt->message, err, "writing the steps' scalars");
}

/* Keeps rows whose write may be in flight until it has finished. */
static bool stage(optcl_optimizer *opt, cl_event written, optcl__step_scalars *rows)
{
    if (opt->guard_staged_count == opt->guard_staged_cap) {
        size_t cap = opt->guard_staged_cap ? 2 * opt->guard_staged_cap : 8;
        optcl__guard_staged *more = realloc(opt->guard_staged, cap * sizeof *more);
        if (!more)
            return false;
        opt->guard_staged = more;
        opt->guard_staged_cap = cap;
    }
    opt->guard_staged[opt->guard_staged_count++] = (optcl__guard_staged){written, rows};
    return true;
}

optcl_status optcl__guard_lr_end(optcl_optimizer *opt)
{
    if (!opt->guarded || !optcl__guard_on_device(opt))
        return OPTCL_SUCCESS;
    uint64_t ahead = opt->steps + opt->guard_pending; /* the window counts steps enqueued */
    size_t count = (size_t)opt->guard_pending + change_window(opt, ahead);
    if (opt->rule->lr_history || count > OPTCL__GUARD_CAPACITY) {
        /* rows that depend on the count the lr changed at, or more in flight than the ring
         * holds: read the count back */
        optcl_status st = optcl__guard_sync(opt);
        return st == OPTCL_SUCCESS ? optcl__guard_rows(opt) : st;
    }
    opt->guard_changed_at = ahead;
    size_t ranges = opt->params->range_count;
    /* room for a whole ring, so that one copy serves every change */
    optcl__step_scalars *rows = opt->guard_spare
                                    ? opt->guard_spare
                                    : malloc((size_t)OPTCL__GUARD_CAPACITY * ranges * sizeof *rows);
    opt->guard_spare = NULL;
    if (!rows) {
        opt->guard_rows_to = 0;
        return optcl__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                           "gradient guard: out of host memory for the steps' scalars");
    }
    compute_rows(opt, count, rows, false); /* every count the device may hold, and the window */
    cl_command_queue queue = opt->params->ctx->queue;
    size_t first = (size_t)((opt->steps + 1) % OPTCL__GUARD_CAPACITY);
    size_t up_to_end = OPTCL__GUARD_CAPACITY - first; /* the rows before the ring wraps */
    cl_event last = NULL;
    cl_int err = write_ring(opt, count, rows, rows + up_to_end * ranges, &last);
    if (!last) {
        spare(opt, rows);
        return change_failed(opt, err);
    }
    if (!stage(opt, last, rows)) { /* a write reads rows: wait for it before letting go */
        if (clWaitForEvents(1, &last) == CL_SUCCESS || clFinish(queue) == CL_SUCCESS)
            free(rows); /* else the queue is broken: rows stay, rather than be read freed */
        clReleaseEvent(last);
        return change_failed(opt, CL_OUT_OF_HOST_MEMORY);
    }
    if (err != CL_SUCCESS)
        return change_failed(opt, err);
    opt->guard_rows_to = opt->steps + count;
    if (opt->guard_seen_event) /* the last change's read is still on its way */
        return OPTCL_SUCCESS;
    opt->guard_seen_pending = opt->guard_pending;
    err = clEnqueueReadBuffer(queue, opt->guard_record, CL_FALSE, 0, sizeof opt->guard_seen,
                              &opt->guard_seen, 0, NULL, &opt->guard_seen_event);
    if (err != CL_SUCCESS) { /* nothing follows the rows yet: the count read now is theirs */
        opt->guard_seen_event = NULL;
        err = optcl__guard_read_record(opt, &opt->guard_seen);
        settle_seen(opt, err == CL_SUCCESS);
        return err == CL_SUCCESS
                   ? OPTCL_SUCCESS
                   : optcl__guard_fail(opt->message, err, "reading the step count back");
    }
    clFlush(queue); /* the read goes ahead without a later blocking call */
    return OPTCL_SUCCESS;
}

optcl_status optcl__guard_prepare(optcl_optimizer *opt)
{
    /* The device's count is somewhere in [steps, steps + pending]; this step may need the row
     * of the count one above. Past the rows written, read the count and write the next ring's
     * worth: one blocking read and one write per OPTCL__GUARD_CAPACITY steps. */
    if (opt->steps + opt->guard_pending + 1 <= opt->guard_rows_to)
        return OPTCL_SUCCESS;
    optcl_status st = optcl__guard_sync(opt);
    return st == OPTCL_SUCCESS ? rows_written(opt, write_rows(opt, OPTCL__GUARD_CAPACITY)) : st;
}
