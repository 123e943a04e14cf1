/* step.c — one data-parallel step: gradients to host, reduce-scatter to their owners, the
 * gradient guard on the averaged shard, the ordinary update of the shard, parameters gathered
 * back; and the plateau metric agreed across ranks. */
#include "sharded.h"

#include <math.h>
#include <stdlib.h>

float optcl_mpi__clip_coef(double max_norm, float total_norm)
{
    /* torch.nn.utils.clip_grad_norm_ in float32, and host/guard.c: max_norm / (norm + 1e-6)
     * as torch evaluates a scalar over a tensor (reciprocal, then product), clamped to at most
     * 1 (a NaN stays NaN, as torch.clamp leaves it). */
    float coef = (1.0f / (total_norm + 1e-6f)) * (float)max_norm;
    return coef > 1.0f ? 1.0f : coef;
}

/* The averaged shard gradient (sum / total weight, rounded to float once) into shard_host, and
 * the sum of squares in double over the real elements of it times unscale (1, or 1 / the loss
 * scale), in order, in the same pass. */
static double average(optcl_mpi_optimizer *opt, double total_weight, float unscale)
{
    const optcl_mpi__layout *l = &opt->layout;
    float *g = opt->shard_host, w = (float)total_weight;
    bool dbl = opt->mpi.reduce == OPTCL_MPI_REDUCE_DOUBLE;
    const double *dsum = opt->sums;
    const float *fsum = opt->sums;
    double sumsq = 0.0;
    for (size_t e = 0; e < l->real; e++) {
        g[e] = dbl ? (float)(dsum[e] / total_weight) : fsum[e] / w;
        double u = unscale == 1.0f ? (double)g[e] : (double)(g[e] * unscale);
        sumsq += u * u;
    }
    for (size_t e = l->real; e < l->shard; e++) /* padding: zero sums, zero gradients */
        g[e] = 0.0f;
    return sumsq;
}

/* The shard's update from the averaged gradient in shard_host: current parameters in, guard
 * applied, one ordinary step. */
static optcl_status update_shard(optcl_mpi_optimizer *opt, float clip, bool nonfinite)
{
    float zero = 0.0f, *g = opt->placeholder ? &zero : opt->shard_host;
    size_t n = opt->placeholder ? 1 : optcl_params_numel(opt->inner);
    if (!opt->placeholder) /* the shard's pieces, in the shard set's order */
        optcl_mpi__shard_compact(opt, g);
    if (opt->config.max_norm > 0.0 && !opt->placeholder && !nonfinite)
        for (size_t e = 0; e < n; e++)
            g[e] *= clip;
    if (nonfinite) /* some rank's part was not finite: the shard's scaler sees it too */
        g[0] = NAN;
    optcl_status st = optcl_params_write(opt->inner, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "writing the shard's gradients: %s",
                               optcl_params_message(opt->inner));
    if ((st = optcl_mpi__params_to_shard(opt)) != OPTCL_SUCCESS)
        return st;
    st = optcl_optimizer_step(opt->shard, 0, NULL, NULL);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "the shard's step: %s",
                               optcl_optimizer_message(opt->shard));
    /* The read that follows waits anyway; waiting here puts the update's time in its phase. */
    st = optcl_context_finish(opt->ctx);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "the shard's step: %s",
                               optcl_context_message(opt->ctx));
    return OPTCL_SUCCESS;
}

static optcl_status step(optcl_mpi_optimizer *opt, double weight, bool weighted)
{
    const optcl_mpi__layout *l = &opt->layout;
    optcl_status st = OPTCL_SUCCESS;
    if (weighted && !(isfinite(weight) && weight >= 0.0))
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                             "invalid weight: %g (must be finite and >= 0)", weight);
    if (weighted && st == OPTCL_SUCCESS && !opt->send) { /* float reduction, one chunk */
        size_t room = optcl_mpi__chunk_room(opt);
        opt->send = calloc(room, sizeof(float));
        opt->host_bytes += opt->send ? room * sizeof(float) : 0;
        if (!opt->send)
            st = optcl_mpi__fail(opt->message, OPTCL_ERROR_OUT_OF_HOST_MEMORY,
                                 "out of host memory for the weighted reduction");
    }
    optcl_mpi_timings *tm = &opt->timings;
    double t0 = MPI_Wtime(), t1;
    if (st == OPTCL_SUCCESS) {
        st = optcl_params_read(opt->params, OPTCL_ROLE_GRADS, OPTCL_ALL, opt->full,
                               optcl_params_numel(opt->params));
        if (st != OPTCL_SUCCESS)
            optcl_mpi__fail(opt->message, st, "reading the gradients: %s",
                            optcl_params_message(opt->params));
        optcl_mpi__spread(opt->params, l->block, opt->full);
    }
    t1 = MPI_Wtime();
    tm->read_grads += t1 - t0;
    double total_weight = (double)l->size;
    if (weighted) {
        /* The weights' sum, in rank order: the same bits everywhere. */
        double *w = opt->scratch;
        if ((st = optcl_mpi__exchange(opt->comm, st, &weight, 1, opt->scratch, w, opt->message)) !=
            OPTCL_SUCCESS)
            return st;
        total_weight = 0.0;
        for (int r = 0; r < l->size; r++)
            total_weight += w[r];
        if (!(total_weight > 0.0) || !isfinite(total_weight))
            return optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                                   "the weights of all ranks sum to %g (must be > 0 and finite)",
                                   total_weight);
    }
    if (st != OPTCL_SUCCESS) /* a rank that failed still moves its (stale) part */
        weight = 1.0;
    t0 = MPI_Wtime();
    tm->guard += t0 - t1;
    optcl_status mpi = optcl_mpi__reduce_scatter(opt, weighted ? weight : 1.0);
    if (st == OPTCL_SUCCESS)
        st = mpi;
    t1 = MPI_Wtime();
    tm->reduce_scatter += t1 - t0;
    /* with loss scaling the norm that clipping uses is the unscaled gradient's, as in torch's
     * unscale_ + clip_grad_norm_; the shard's optimizer unscales the gradient itself */
    bool scaled = opt->config.loss_scale.mode != OPTCL_LOSS_SCALE_OFF;
    float unscale = 1.0f;
    if (scaled && opt->config.max_norm > 0.0 && st == OPTCL_SUCCESS) {
        double scale = 1.0;
        st = optcl_optimizer_loss_scale(opt->shard, &scale);
        if (st != OPTCL_SUCCESS)
            optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(opt->shard));
        unscale = 1.0f / (float)scale;
    }
    double sumsq = st == OPTCL_SUCCESS ? average(opt, total_weight, unscale) : 0.0;
    double *all = opt->scratch;
    if ((st = optcl_mpi__exchange(opt->comm, st, &sumsq, 1, opt->scratch, all, opt->message)) !=
        OPTCL_SUCCESS)
        return st;
    double total = 0.0;
    for (int r = 0; r < l->size; r++)
        total += all[r];
    /* Squares of floats cannot overflow a double: the sum is finite exactly when every element
     * of the averaged gradient is. */
    float norm = (float)sqrt(total);
    opt->last_norm = norm;
    t0 = MPI_Wtime();
    tm->guard += t0 - t1;
    bool nonfinite = !isfinite(total);
    if (nonfinite && (opt->config.nonfinite == OPTCL_NONFINITE_SKIP || scaled)) {
        opt->skipped++;
        if (!scaled)
            return OPTCL_SUCCESS;
        /* the shard's optimizer skips too, and its scaler backs off */
        st = update_shard(opt, 1.0f, true);
        tm->update += MPI_Wtime() - t0;
        return optcl_mpi__agree(opt->comm, st, opt->message);
    }
    float coef = optcl_mpi__clip_coef(opt->config.max_norm, norm);
    opt->last_coef = opt->config.max_norm > 0.0 ? coef : 1.0;
    st = update_shard(opt, coef, false);
    tm->update += MPI_Wtime() - t0;
    return optcl_mpi__shard_to_params(opt, st);
}

/* A step's timings count only when it succeeds (skipped or not): a refused or failed call
 * changes nothing. */
static optcl_status timed_step(optcl_mpi_optimizer *opt, double weight, bool weighted)
{
    optcl_mpi_timings before = opt->timings;
    optcl_status st = step(opt, weight, weighted);
    if (st == OPTCL_SUCCESS)
        opt->timings.steps++;
    else
        opt->timings = before;
    return st;
}

optcl_status optcl_mpi_optimizer_step(optcl_mpi_optimizer *opt)
{
    return opt ? timed_step(opt, 1.0, false) : OPTCL_ERROR_NULL_POINTER;
}

optcl_status optcl_mpi_optimizer_step_weighted(optcl_mpi_optimizer *opt, double weight)
{
    return opt ? timed_step(opt, weight, true) : OPTCL_ERROR_NULL_POINTER;
}

optcl_status optcl_mpi_optimizer_report_metric(optcl_mpi_optimizer *opt, double metric)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    optcl_status st = OPTCL_SUCCESS;
    if (!opt->config.plateau.enabled)
        st = optcl_mpi__fail(opt->message, OPTCL_ERROR_INVALID_ARGUMENT,
                             "optcl_mpi_optimizer_report_metric: config.plateau.enabled is 0");
    double *all = opt->scratch;
    if ((st = optcl_mpi__exchange(opt->comm, st, &metric, 1, opt->scratch, all, opt->message)) !=
        OPTCL_SUCCESS)
        return st;
    /* The mean in rank order; the value itself when all agree (K·m / K need not be m). */
    double sum = 0.0;
    bool equal = true;
    for (int r = 0; r < opt->layout.size; r++) {
        sum += all[r];
        equal = equal && (all[r] == all[0] || (isnan(all[r]) && isnan(all[0])));
    }
    double agreed = equal ? all[0] : sum / opt->layout.size;
    st = optcl_optimizer_report_metric(opt->shard, agreed);
    if (st != OPTCL_SUCCESS)
        return optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(opt->shard));
    return OPTCL_SUCCESS;
}

optcl_status optcl_mpi_optimizer_set_mode(optcl_mpi_optimizer *opt, optcl_mode mode)
{
    if (!opt)
        return OPTCL_ERROR_NULL_POINTER;
    /* every rank blends its shard of the parameters with its shard of z, then all gather */
    optcl_status st = optcl_mpi__params_to_shard(opt);
    if (st == OPTCL_SUCCESS && (st = optcl_optimizer_set_mode(opt->shard, mode)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "%s", optcl_optimizer_message(opt->shard));
    if (st == OPTCL_SUCCESS && (st = optcl_context_finish(opt->ctx)) != OPTCL_SUCCESS)
        optcl_mpi__fail(opt->message, st, "the shard's mode switch: %s",
                        optcl_context_message(opt->ctx));
    return optcl_mpi__shard_to_params(opt, st);
}
