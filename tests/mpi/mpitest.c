/* mpitest.c — the harness behind mpitest.h. */
#include "mpitest.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int mt_rank, mt_size;
static const char *suite_name = "";

void mt_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] rank %d of %d: %s:%d: %s: ", suite_name, mt_rank, mt_size, file, line,
            what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* not reached */
}

void mt_init(int *argc, char ***argv, const char *suite)
{
    suite_name = suite;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
}

int mt_finish(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
    mt_note("[%s] passed on %d rank(s)", suite_name, mt_size);
    MPI_Finalize();
    return 0;
}

void mt_note(const char *fmt, ...)
{
    if (mt_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

optcl_context *mt_context(optcl_backend backend)
{
    optcl_context_config cfg = optcl_context_config_default();
    cfg.backend = backend;
    char message[512] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(&cfg, &ctx, message, sizeof message);
    bool missing = st == OPTCL_ERROR_NO_DEVICE || st == -1001; /* CL_PLATFORM_NOT_FOUND_KHR */
    if (missing && tu_allow_no_device()) {
        mt_note("SKIP OpenCL: %s", message);
        return NULL;
    }
    MT_OK(st, message);
    return ctx;
}

/* Each seed starts its own stream of testutil's generator. */
void mt_fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    tu_fill_random(x, n, &s, lo, hi);
}

void mt_fill_dyadic(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int)(tu_next_random(&s) % 8193) - 4096) / 1024.0f;
}

const optcl_tensor_spec mt_model[MT_MODEL_COUNT] = {
    {.name = "fc1.weight", .ndim = 2, .shape = {7, 13}, .group = 0},
    {.name = "fc1.bias", .ndim = 1, .shape = {13}, .group = 1},
    {.name = "fc2.weight", .ndim = 2, .shape = {13, 5}, .group = 0},
    {.name = "fc2.bias", .ndim = 1, .shape = {5}, .group = 1},
    {.name = "embedding", .ndim = 1, .shape = {37}, .group = 2},
    {.name = "temperature", .ndim = 0, .group = 0},
};

const optcl_tensor_spec mt_tiny[1] = {{.name = "w", .ndim = 1, .shape = {5}, .group = 0}};

optcl_params *mt_params(optcl_context *ctx, const optcl_tensor_spec *specs, size_t count)
{
    optcl_params *p = NULL;
    MT_OK(optcl_params_create(ctx, specs, count, &p), optcl_context_message(ctx));
    return p;
}
