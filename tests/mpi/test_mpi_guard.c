/* test_mpi_guard.c — under mpirun -np K: the gradient guard and the weighted mean on the
 * sharded optimizer. Every rank feeds a gradient of its own, built so that the exact mean is
 * known (g_r = d + c_r·e with Σ w_r·c_r = 0, all dyadic): the global norm is then exact in any
 * order of addition, and the expected trajectory is an unsharded optimizer stepping on d
 * clipped by the same float formula. Clipping, skipping and the norm must agree on every rank. */
#include "mpitest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 8

/* c_r for weights w_r with Σ w_r·c_r = 0 (K ≤ 3 here; beyond that the ranks agree, c_r = 0). */
static double offset(int r, const double *w)
{
    if (mt_size == 2)
        return r == 0 ? w[1] : -w[0];
    if (mt_size == 3 && w[2] != 0.0)
        return r == 2 ? -(w[0] + w[1]) / w[2] : 1.0;
    if (mt_size == 3) /* rank 2 weighs nothing: ranks 0 and 1 cancel */
        return r == 0 ? w[1] : r == 1 ? -w[0] : 1000.0;
    return 0.0;
}

/* The exact mean d of step t (scaled by 2^(t mod 3 − 2) so that some steps clip and some do
 * not) and this rank's share of it. */
static void gradient(float *mine, float *mean, size_t n, int t, const double *w)
{
    float *e = malloc(n * sizeof *e);
    MT_CHECK(e != NULL, "out of memory");
    mt_fill_dyadic(mean, n, 500 + (uint64_t)t);
    mt_fill_dyadic(e, n, 900 + (uint64_t)t);
    float scale = ldexpf(1.0f, t % 3 - 2);
    double c = offset(mt_rank, w);
    for (size_t i = 0; i < n; i++) {
        mean[i] *= scale;
        mine[i] = (float)((double)mean[i] + c * (double)e[i] / 64.0);
    }
    free(e);
}

static float norm_of(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return (float)sqrt(s);
}

/* Every rank has the same bits. */
static void check_agreed(double value, const char *what)
{
    double lo = value, hi = value;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MT_CHECK((isnan(value) && isnan(lo) && isnan(hi)) || (lo == value && hi == value),
             "%s: %.17g here, %.17g … %.17g across ranks", what, value, lo, hi);
}

typedef struct guard_case {
    const char *label;
    double max_norm;
    optcl_nonfinite nonfinite;
    bool weighted, zero_weight;
    int bad_step;              /* a NaN from the last rank at this step (−1: none) */
    int inf_step;              /* an Inf from rank 0 at this step (−1: none) */
    optcl_algorithm algorithm; /* SGD with momentum 0.9, or this rule with its defaults */
} guard_case;

static void run(const guard_case *gc)
{
    optcl_context *ctx = mt_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *ref = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    optcl_params *mod = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    size_t n = optcl_params_numel(ref);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g), *d = malloc(n * sizeof *d);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    MT_CHECK(p0 && g && d && a && b, "out of memory");
    mt_fill(p0, n, 3, -1.0f, 1.0f);
    MT_OK(optcl_params_write(ref, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), gc->label);
    MT_OK(optcl_params_write(mod, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), gc->label);
    optcl_optimizer_config c = optcl_optimizer_config_default(gc->algorithm);
    if (gc->algorithm == OPTCL_SGD) {
        c.lr = 0.05;
        c.sgd.momentum = 0.9;
    }
    optcl_optimizer *u = NULL, *v = NULL;
    MT_OK(optcl_optimizer_create(ref, &c, &u), optcl_context_message(ctx));
    c.max_norm = gc->max_norm;
    c.nonfinite = gc->nonfinite;
    /* The single-process guard on the same mean: the same skips; the same clipping up to its
     * norm, a float sum where the sharded one adds in double (the last bit may differ). */
    optcl_params *guarded = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    MT_OK(optcl_params_write(guarded, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0, n), gc->label);
    MT_OK(optcl_optimizer_create(guarded, &c, &v), optcl_context_message(ctx));
    float *gv = malloc(n * sizeof *gv);
    MT_CHECK(gv != NULL, "out of memory");
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, mod, &c, NULL, &s, msg, sizeof msg), msg);
    double w[3] = {1.0, 2.0, 3.0};
    if (gc->zero_weight)
        w[mt_size - 1] = 0.0;
    if (!gc->weighted)
        w[0] = w[1] = w[2] = 1.0;
    uint64_t steps = 0, skipped = 0;
    int clipped = 0;
    for (int t = 0; t < STEPS; t++) {
        gradient(g, d, n, t, w);
        bool nan_here = t == gc->bad_step, inf_here = t == gc->inf_step;
        if (nan_here && mt_rank == mt_size - 1)
            g[0] = NAN; /* in rank 0's shard */
        if (inf_here && mt_rank == 0)
            g[n - 1] = INFINITY; /* in the last rank's shard */
        if (nan_here)
            d[0] = NAN;
        if (inf_here)
            d[n - 1] = INFINITY;
        MT_OK(optcl_params_write(guarded, OPTCL_ROLE_GRADS, OPTCL_ALL, d, n), gc->label);
        MT_OK(optcl_optimizer_step(v, 0, NULL, NULL), optcl_optimizer_message(v));
        float norm = norm_of(d, n), expected_coef = 1.0f;
        bool skip = !isfinite(norm) && gc->nonfinite == OPTCL_NONFINITE_SKIP;
        if (!skip) {
            if (gc->max_norm > 0.0) {
                /* clip_grad_norm_ in float32, as the single-process guard computes it */
                float coef = (1.0f / (norm + 1e-6f)) * (float)gc->max_norm;
                coef = coef > 1.0f ? 1.0f : coef;
                expected_coef = coef;
                clipped += coef < 1.0f;
                for (size_t i = 0; i < n; i++)
                    d[i] *= coef;
            }
            MT_OK(optcl_params_write(ref, OPTCL_ROLE_GRADS, OPTCL_ALL, d, n), gc->label);
            MT_OK(optcl_optimizer_step(u, 0, NULL, NULL), optcl_optimizer_message(u));
            steps++;
        }
        skipped += skip;
        MT_OK(optcl_params_write(mod, OPTCL_ROLE_GRADS, OPTCL_ALL, g, n), gc->label);
        MT_OK(gc->weighted ? optcl_mpi_optimizer_step_weighted(s, w[mt_rank])
                           : optcl_mpi_optimizer_step(s),
              optcl_mpi_optimizer_message(s));
        optcl_guard_stats gs;
        MT_OK(optcl_mpi_optimizer_guard_stats(s, &gs), "guard stats");
        check_agreed(gs.last_norm, "last_norm");
        check_agreed(gs.last_clip_coef, "last_clip_coef");
        MT_CHECK(gs.last_norm == (double)norm || (isnan(gs.last_norm) && isnan(norm)),
                 "%s, step %d: norm %.9g, expected %.9g", gc->label, t + 1, gs.last_norm,
                 (double)norm);
        MT_CHECK(skip || gs.last_clip_coef == (double)expected_coef ||
                     (isnan(gs.last_clip_coef) && isnan(expected_coef)),
                 "%s, step %d: coefficient %.9g, expected %.9g", gc->label, t + 1,
                 gs.last_clip_coef, (double)expected_coef);
        MT_CHECK(optcl_mpi_optimizer_step_count(s) == steps && gs.steps == steps,
                 "%s, step %d: %llu steps", gc->label, t + 1,
                 (unsigned long long)optcl_mpi_optimizer_step_count(s));
        MT_CHECK(gs.skipped == skipped, "%s, step %d: %llu skipped", gc->label, t + 1,
                 (unsigned long long)gs.skipped);
        MT_OK(optcl_params_read(ref, OPTCL_ROLE_PARAMS, OPTCL_ALL, a, n), gc->label);
        MT_OK(optcl_params_read(mod, OPTCL_ROLE_PARAMS, OPTCL_ALL, b, n), gc->label);
        size_t bad = tu_first_mismatch(b, a, n, 0.0, 0.0, NULL);
        MT_CHECK(bad == (size_t)-1, "%s, step %d, element %zu: sharded %.9g, expected %.9g",
                 gc->label, t + 1, bad, (double)b[bad], (double)a[bad]);
        optcl_guard_stats vs;
        MT_OK(optcl_optimizer_guard_stats(v, &vs), optcl_optimizer_message(v));
        MT_CHECK(vs.skipped == gs.skipped && vs.steps == gs.steps,
                 "%s, step %d: the single-process guard skipped %llu", gc->label, t + 1,
                 (unsigned long long)vs.skipped);
        MT_OK(optcl_params_read(guarded, OPTCL_ROLE_PARAMS, OPTCL_ALL, gv, n), gc->label);
        bool clipping = gc->max_norm > 0.0;
        bad = tu_first_mismatch(b, gv, n, clipping ? 1e-5 : 0.0, clipping ? 1e-4 : 0.0, NULL);
        MT_CHECK(bad == (size_t)-1,
                 "%s, step %d, element %zu: sharded %.9g, single-process "
                 "guard %.9g",
                 gc->label, t + 1, bad, (double)b[bad], (double)gv[bad]);
        bool guarded_on = clipping || gc->nonfinite == OPTCL_NONFINITE_SKIP; /* else it is 0 */
        MT_CHECK(!guarded_on || !isfinite(gs.last_norm) || gs.last_norm == vs.last_norm ||
                     fabs(gs.last_norm - vs.last_norm) <= 1e-6 * fabs(vs.last_norm),
                 "%s, step %d: norm %.9g, single-process %.9g", gc->label, t + 1, gs.last_norm,
                 vs.last_norm);
    }
    optcl_optimizer_destroy(v);
    optcl_params_destroy(guarded);
    free(gv);
    if (gc->max_norm > 0.0)
        MT_CHECK(clipped > 0 && clipped < STEPS,
                 "%s: %d of %d steps clipped: the case tests "
                 "nothing",
                 gc->label, clipped, STEPS);
    mt_note("%s: equal on every step (%llu skipped, %d clipped)", gc->label,
            (unsigned long long)skipped, clipped);
    optcl_mpi_optimizer_destroy(s);
    optcl_optimizer_destroy(u);
    optcl_params_destroy(ref);
    optcl_params_destroy(mod);
    optcl_context_destroy(ctx);
    free(p0);
    free(g);
    free(d);
    free(a);
    free(b);
}

/* Bad weights fail on every rank and change nothing. */
static void bad_weights(void)
{
    optcl_context *ctx = mt_context(OPTCL_BACKEND_REFERENCE);
    optcl_params *p = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &c, NULL, &s, msg, sizeof msg), msg);
    optcl_status st = optcl_mpi_optimizer_step_weighted(s, mt_rank == mt_size - 1 ? -1.0 : 1.0);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT, "negative weight: %s", optcl_status_name(st));
    const char *m = optcl_mpi_optimizer_message(s);
    MT_CHECK(strstr(m, "invalid weight: -1"), "message: %s", m);
    if (mt_rank != mt_size - 1) {
        char expect[32];
        snprintf(expect, sizeof expect, "rank %d: ", mt_size - 1);
        MT_CHECK(strncmp(m, expect, strlen(expect)) == 0, "names the rank: %s", m);
    }
    st = optcl_mpi_optimizer_step_weighted(s, 0.0);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT, "zero weights: %s", optcl_status_name(st));
    MT_CHECK(strstr(optcl_mpi_optimizer_message(s), "sum to 0"), "message: %s",
             optcl_mpi_optimizer_message(s));
    st = optcl_mpi_optimizer_step_weighted(s, NAN);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT, "NaN weight: %s", optcl_status_name(st));
    /* Two ranks wrong in different ways: each keeps its own message, the others name the
     * lowest. */
    if (mt_size > 1) {
        double weight = mt_rank == 0 ? -1.0 : mt_rank == 1 ? NAN : 1.0;
        st = optcl_mpi_optimizer_step_weighted(s, weight);
        m = optcl_mpi_optimizer_message(s);
        const char *expect = mt_rank == 0   ? "invalid weight: -1 "
                             : mt_rank == 1 ? "invalid weight: nan "
                                            : "rank 0: invalid weight: -1 ";
        MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT && strncmp(m, expect, strlen(expect)) == 0,
                 "weights -1 and NaN: %s '%s', expected '%s…'", optcl_status_name(st), m, expect);
    }
    MT_CHECK(optcl_mpi_optimizer_step_count(s) == 0, "a refused step changed the count");
    optcl_mpi_timings tm;
    MT_OK(optcl_mpi_optimizer_timings(s, &tm), "timings");
    MT_CHECK(tm.steps == 0 && tm.read_grads == 0.0 && tm.reduce_scatter == 0.0 && tm.guard == 0.0 &&
                 tm.update == 0.0 && tm.allgather == 0.0 && tm.write_params == 0.0,
             "refused steps were timed: %llu steps", (unsigned long long)tm.steps);
    MT_OK(optcl_mpi_optimizer_step_weighted(s, 1.0), optcl_mpi_optimizer_message(s));
    MT_CHECK(optcl_mpi_optimizer_step_count(s) == 1, "a good step after refused ones");
    MT_OK(optcl_mpi_optimizer_timings(s, &tm), "timings");
    MT_CHECK(tm.steps == 1 && tm.read_grads + tm.reduce_scatter + tm.guard + tm.update +
                                      tm.allgather + tm.write_params >
                                  0.0,
             "the good step's timings: %llu steps", (unsigned long long)tm.steps);
    optcl_mpi_optimizer_destroy(s);
    optcl_params_destroy(p);
    optcl_context_destroy(ctx);
    mt_note("bad weights: refused on every rank");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv, "test_mpi_guard");
    const guard_case cases[] = {
        {"clip max_norm=12", 12.0, OPTCL_NONFINITE_PROPAGATE, false, false, -1, -1, OPTCL_SGD},
        {"skip NaN and Inf", 0.0, OPTCL_NONFINITE_SKIP, false, false, 2, 5, OPTCL_SGD},
        {"clip and skip", 12.0, OPTCL_NONFINITE_SKIP, false, false, 3, 6, OPTCL_SGD},
        {"propagate NaN", 0.0, OPTCL_NONFINITE_PROPAGATE, false, false, 4, -1, OPTCL_SGD},
        {"weighted", 0.0, OPTCL_NONFINITE_PROPAGATE, true, false, -1, -1, OPTCL_SGD},
        {"weighted, one rank weighs 0", 0.0, OPTCL_NONFINITE_PROPAGATE, true, true, -1, -1,
         OPTCL_SGD},
        {"weighted, clip", 12.0, OPTCL_NONFINITE_SKIP, true, false, 1, -1, OPTCL_SGD},
        /* whole-tensor shards of uneven lengths */
        {"lamb: weighted, clip and skip", 12.0, OPTCL_NONFINITE_SKIP, true, false, 3, 6,
         OPTCL_LAMB},
        {"adafactor: weighted, one rank weighs 0", 0.0, OPTCL_NONFINITE_PROPAGATE, true, true, -1,
         -1, OPTCL_ADAFACTOR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!(cases[i].zero_weight && mt_size == 1))
            run(&cases[i]);
    bad_weights();
    return mt_finish();
}
