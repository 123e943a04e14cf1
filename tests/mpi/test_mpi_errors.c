/* test_mpi_errors.c — under mpirun -np K: every bad input to the sharded optimizer is refused
 * with a status and a message — on every rank together where the call is collective, the
 * rank that was wrong saying what and the others naming it — and nothing waits forever. */
#include "mpitest.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static optcl_context *ctx;

/* optcl_mpi_optimizer_create on every rank, with this rank's own arguments; it must fail with
 * expected and a message that contains text on the rank that was wrong (last_rank_only: the
 * last rank; else every rank) and "rank <last>: " on the others. */
static void create_fails(optcl_params *params, const optcl_optimizer_config *c,
                         const optcl_mpi_config *mc, bool last_rank_only, optcl_status expected,
                         const char *text)
{
    optcl_mpi_optimizer *s = (optcl_mpi_optimizer *)&s; /* must come back NULL */
    char msg[2048] = "";
    optcl_status st =
        optcl_mpi_optimizer_create(MPI_COMM_WORLD, params, c, mc, &s, msg, sizeof msg);
    MT_CHECK(st == expected, "%s: %s (%s)", text, optcl_status_name(st), msg);
    MT_CHECK(s == NULL, "%s: *out not NULL", text);
    bool wrong_here = !last_rank_only || mt_rank == mt_size - 1;
    MT_CHECK(strstr(msg, text) != NULL, "message '%s' lacks '%s'", msg, text);
    if (!wrong_here) {
        char who[32];
        snprintf(who, sizeof who, "rank %d: ", mt_size - 1);
        MT_CHECK(strncmp(msg, who, strlen(who)) == 0, "message '%s' does not name the rank", msg);
    }
}

/* Rank 0's configuration base and the last rank's differs, refused on every rank with a
 * message that names the first field that differs (what: "lr is 0.5 here"). */
static void config_differs(optcl_params *params, const optcl_optimizer_config *base,
                           const optcl_optimizer_config *differs, const char *what)
{
    char text[256];
    snprintf(text, sizeof text, "configuration differs from rank 0's: %s", what);
    create_fails(params, mt_rank == mt_size - 1 ? differs : base, NULL, true,
                 OPTCL_ERROR_INVALID_ARGUMENT, text);
}

static void bad_creates(void)
{
    optcl_params *p = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    optcl_params *other = mt_params(ctx, mt_tiny, 1);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_ADAM);
    bool last = mt_rank == mt_size - 1;

    create_fails(last ? NULL : p, &c, NULL, true, OPTCL_ERROR_NULL_POINTER, "params is NULL");
    create_fails(p, last ? NULL : &c, NULL, true, OPTCL_ERROR_NULL_POINTER, "config is NULL");
    optcl_optimizer_config bad = c;
    bad.max_norm = -1.0;
    create_fails(p, last ? &bad : &c, NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                 "invalid max_norm: -1");
    bad = c;
    bad.max_norm = INFINITY;
    create_fails(p, &bad, NULL, false, OPTCL_ERROR_INVALID_ARGUMENT, "invalid max_norm: inf");
    bad = c;
    bad.nonfinite = (optcl_nonfinite)7;
    create_fails(p, &bad, NULL, false, OPTCL_ERROR_INVALID_ARGUMENT, "invalid nonfinite: 7");
    bad = c;
    bad.adam.beta1 = 1.5; /* refused by optcl_optimizer_create, on the shard */
    create_fails(p, last ? &bad : &c, NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                 "invalid beta1: 1.5");
    optcl_mpi_config mc = optcl_mpi_config_default();
    mc.reduce = (optcl_mpi_reduce)7;
    create_fails(p, &c, &mc, false, OPTCL_ERROR_INVALID_ARGUMENT, "invalid reduce: 7");
    mc = optcl_mpi_config_default();
    mc.collectives = (optcl_mpi_collectives)9;
    create_fails(p, &c, &mc, false, OPTCL_ERROR_INVALID_ARGUMENT, "invalid collectives: 9");
    mc = optcl_mpi_config_default();
    mc.max_count = (size_t)INT_MAX + 1;
    create_fails(p, &c, &mc, false, OPTCL_ERROR_INVALID_ARGUMENT, "invalid max_count");
    if (mt_size > 1) {
        create_fails(last ? other : p, &c, NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                     "the parameter set differs from rank 0's");
        bad = c;
        bad.lr = 0.5;
        config_differs(p, &c, &bad, "lr is 0.5 here");
        /* Every field counts — the rule's own, the schedule's, the plateau's, Lookahead's —
         * and the message names the first that differs. */
        bad = c;
        bad.adam.beta1 = 0.5;
        config_differs(p, &c, &bad, "adam.beta1 is 0.5 here");
        bad = c;
        bad.adam.amsgrad = 1;
        config_differs(p, &c, &bad, "adam.amsgrad is 1 here");
        optcl_optimizer_config cosine = c;
        cosine.schedule = optcl_schedule_default(OPTCL_SCHEDULE_COSINE);
        cosine.schedule.t_max = 1000;
        bad = cosine;
        bad.schedule.t_max = 7;
        config_differs(p, &cosine, &bad, "schedule.t_max is 7 here");
        optcl_optimizer_config plateau = c;
        plateau.plateau.enabled = 1;
        bad = plateau;
        bad.plateau.factor = 0.25;
        config_differs(p, &plateau, &bad, "plateau.factor is 0.25 here");
        optcl_optimizer_config lookahead = c;
        lookahead.lookahead.k = 5;
        bad = lookahead;
        bad.lookahead.alpha = 0.25;
        config_differs(p, &lookahead, &bad, "lookahead.alpha is 0.25 here");
        bad = optcl_optimizer_config_default(OPTCL_ADAMW); /* another algorithm, lr alike */
        bad.lr = c.lr;
        config_differs(p, &c, &bad, "algorithm is");
        mc = optcl_mpi_config_default();
        mc.collectives = OPTCL_MPI_COLLECTIVES_RING;
        create_fails(p, &c, last ? &mc : NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                     "mpi_config differs from rank 0's");
        /* a group left out of LAMB's trust ratio on one rank only */
        optcl_group_config in[3] = {{-1, -1, 0}, {-1, -1, 0}, {-1, -1, 0}}, out[3];
        memcpy(out, in, sizeof in);
        out[1].exclude_from_trust_ratio = 1;
        optcl_optimizer_config lamb = optcl_optimizer_config_default(OPTCL_LAMB);
        lamb.groups = last ? out : in;
        lamb.group_count = 3;
        create_fails(p, &lamb, NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                     "configuration differs from rank 0's: its groups");
    }
    optcl_params *half = NULL;
    MT_OK(optcl_params_create_typed(ctx, mt_model, MT_MODEL_COUNT, OPTCL_DTYPE_BF16, &half),
          optcl_context_message(ctx));
    if (mt_size > 1) /* one rank's set of another type */
        create_fails(last ? half : p, &c, NULL, true, OPTCL_ERROR_INVALID_ARGUMENT,
                     "the parameter set differs from rank 0's");
    MT_OK(optcl_params_destroy(half), "destroy");
    bad = c;
    bad.loss_scale.mode = OPTCL_LOSS_SCALE_DYNAMIC;
    bad.loss_scale.write_unscaled = 1;
    create_fails(p, last ? &bad : &c, NULL, true, OPTCL_ERROR_UNSUPPORTED,
                 "loss_scale.write_unscaled is not available with the sharded optimizer");
    /* Muon over a model with vectors: the lowest rank whose shard holds one (whole, as every
     * tensor-wise rule takes tensors) refuses it, naming the tensor, and every rank says so. */
    bad = optcl_optimizer_config_default(OPTCL_MUON);
    optcl_mpi_optimizer *muon = (optcl_mpi_optimizer *)&muon;
    char muon_msg[2048] = "";
    optcl_status st =
        optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &bad, NULL, &muon, muon_msg, sizeof muon_msg);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT && muon == NULL &&
                 strstr(muon_msg, "steps 2-D matrices only; tensor '"),
             "muon: %s (%s)", optcl_status_name(st), muon_msg);
    optcl_mpi_optimizer *s = NULL;
    char msg[256] = "";
    MT_CHECK(optcl_mpi_optimizer_create(MPI_COMM_NULL, p, &c, NULL, &s, msg, sizeof msg) ==
                     OPTCL_ERROR_INVALID_ARGUMENT &&
                 strstr(msg, "MPI_COMM_NULL"),
             "MPI_COMM_NULL: %s", msg);
    /* No message buffer is fine, and so is a tiny one. */
    MT_CHECK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, NULL, &c, NULL, &s, NULL, 0) ==
                 OPTCL_ERROR_NULL_POINTER,
             "without a message buffer");
    MT_CHECK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, NULL, &c, NULL, &s, msg, 4) ==
                     OPTCL_ERROR_NULL_POINTER &&
                 strlen(msg) == 3,
             "a 4-byte message buffer: '%s'", msg);
    MT_OK(optcl_params_destroy(p), "destroy");
    MT_OK(optcl_params_destroy(other), "destroy");
    mt_note("bad creations: refused on every rank, the wrong rank named");
}

static void bad_calls(void)
{
    optcl_params *p = mt_params(ctx, mt_model, MT_MODEL_COUNT);
    optcl_optimizer_config c = optcl_optimizer_config_default(OPTCL_SGD);
    optcl_mpi_optimizer *s = NULL;
    char msg[2048] = "";
    MT_OK(optcl_mpi_optimizer_create(MPI_COMM_WORLD, p, &c, NULL, &s, msg, sizeof msg), msg);
    /* The optimizer is params' dependant: destroying the set first is refused (it would free
     * what every step reads), and the optimizer still steps. */
    MT_CHECK(optcl_params_destroy(p) == OPTCL_ERROR_IN_USE &&
                 strstr(optcl_params_message(p), "1 other dependant(s)"),
             "params destroyed under the sharded optimizer: %s", optcl_params_message(p));
    MT_OK(optcl_mpi_optimizer_step(s), optcl_mpi_optimizer_message(s));
    optcl_status st = optcl_mpi_optimizer_report_metric(s, 1.0);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT &&
                 strstr(optcl_mpi_optimizer_message(s), "plateau.enabled is 0"),
             "metric without a plateau: %s", optcl_mpi_optimizer_message(s));
    st = optcl_mpi_optimizer_set_lr(s, 0, -1.0);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT && strstr(optcl_mpi_optimizer_message(s), "lr"),
             "negative lr: %s", optcl_mpi_optimizer_message(s));
    st = optcl_mpi_optimizer_set_lr(s, 99, 0.1);
    MT_CHECK(st == OPTCL_ERROR_INVALID_ARGUMENT, "group 99: %s", optcl_status_name(st));
    double lr = 0.0;
    MT_OK(optcl_mpi_optimizer_set_lr(s, -1, 0.25), optcl_mpi_optimizer_message(s));
    MT_OK(optcl_mpi_optimizer_get_lr(s, 3, &lr), "get_lr");
    MT_CHECK(lr == 0.25 && optcl_mpi_optimizer_config_get(s)->lr == 0.25, "lr %g", lr);
    MT_CHECK(optcl_mpi_optimizer_get_lr(s, 64, &lr) == OPTCL_ERROR_INVALID_ARGUMENT, "group 64");
    optcl_mpi_memory m;
    optcl_mpi_timings tm;
    MT_CHECK(optcl_mpi_optimizer_step(NULL) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_step_weighted(NULL, 1.0) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_report_metric(NULL, 1.0) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_get_lr(NULL, 0, &lr) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_get_lr(s, 0, NULL) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_set_lr(NULL, 0, 0.1) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_memory(NULL, &m) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_memory(s, NULL) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_timings(NULL, &tm) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_checkpoint_load(NULL, "x") == OPTCL_ERROR_NULL_POINTER,
             "NULL handles");
    MT_CHECK(optcl_mpi_optimizer_step_count(NULL) == 0 &&
                 optcl_mpi_optimizer_guard_stats(NULL, NULL) == OPTCL_ERROR_NULL_POINTER &&
                 optcl_mpi_optimizer_config_get(NULL) == NULL &&
                 optcl_mpi_optimizer_shard(NULL) == NULL &&
                 optcl_mpi_optimizer_shard_params(NULL) == NULL &&
                 !strcmp(optcl_mpi_optimizer_message(NULL), ""),
             "queries on NULL");
    MT_CHECK(optcl_mpi_checkpoint_inspect(NULL, NULL, NULL, NULL, msg, sizeof msg) ==
                 OPTCL_ERROR_NULL_POINTER,
             "inspect NULL");
    MT_CHECK(optcl_mpi_checkpoint_inspect("/nonexistent/ck", NULL, NULL, NULL, msg, sizeof msg) ==
                     OPTCL_ERROR_IO &&
                 strstr(msg, "/nonexistent/ck"),
             "inspect a missing file: %s", msg);
    MT_OK(optcl_mpi_optimizer_destroy(s), "destroy");
    MT_OK(optcl_mpi_optimizer_destroy(NULL), "destroy NULL");
    MT_OK(optcl_params_destroy(p), "destroy after the sharded optimizer");
    mt_note("bad calls: refused with a message");
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv, "test_mpi_errors");
    ctx = mt_context(OPTCL_BACKEND_REFERENCE);
    bad_creates();
    bad_calls();
    optcl_context_destroy(ctx);
    return mt_finish();
}
