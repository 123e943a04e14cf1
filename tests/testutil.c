/* testutil.c — helpers shared by the cmocka suites. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *tu_make_tempdir(void)
{
    char *path = strdup("/tmp/optcl-test-XXXXXX");
    if (!path || !mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void tu_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            size_t len = strlen(path) + strlen(e->d_name) + 2;
            char *child = malloc(len);
            if (!child)
                continue;
            snprintf(child, len, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                tu_remove_tree(child);
            else
                unlink(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* ---------------------------------------------------------------------------------------- */
/* Files                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static char *g_group_dir; /* tu_group_dir_setup's folder */

int tu_group_dir_setup(void **state)
{
    (void)state;
    g_group_dir = tu_make_tempdir();
    return g_group_dir ? 0 : -1;
}

int tu_group_dir_teardown(void **state)
{
    (void)state;
    if (g_group_dir)
        tu_remove_tree(g_group_dir);
    free(g_group_dir);
    g_group_dir = NULL;
    return 0;
}

const char *tu_group_dir(void)
{
    return g_group_dir;
}

const char *tu_path_in(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", g_group_dir, name);
    assert_true(n > 0 && (size_t)n < size);
    return buf;
}

void tu_write_file(const char *path, const void *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    if (fwrite(bytes, 1, len, fp) != len)
        fail_msg("cannot write %s", path);
    if (fclose(fp) != 0)
        fail_msg("cannot close %s", path);
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        size = ftell(fp);
    if (size < 0 || fseek(fp, 0, SEEK_SET) != 0)
        fail_msg("cannot find the size of %s", path);
    unsigned char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)size, fp);
    if (*len != (size_t)size)
        fail_msg("cannot read %s: %zu of %ld bytes", path, *len, size);
    fclose(fp);
    buf[*len] = '\0';
    return buf;
}

/* A safetensors file's JSON header (NUL-ended; the caller frees it and *file), its length in
 * *n and the whole file in *file, *len bytes. */
static char *tu_read_header(const char *path, unsigned char **file, size_t *len, uint64_t *n)
{
    *file = tu_read_file(path, len);
    assert_true(*len >= 8);
    *n = 0;
    for (int i = 7; i >= 0; i--)
        *n = *n << 8 | (*file)[i];
    assert_true(*n <= *len - 8);
    char *header = strndup((const char *)*file + 8, (size_t)*n); /* the file's NUL ends the data */
    assert_non_null(header);
    return header;
}

/* Writes to the file b (len bytes, its header n bytes, read as header) with the old_len bytes
 * of header at at replaced by new_text. */
static void tu_write_patched(const char *to, const unsigned char *b, size_t len, uint64_t n,
                             const char *header, const char *at, size_t old_len,
                             const char *new_text)
{
    size_t before = (size_t)(at - header), after = strlen(at + old_len);
    size_t size = before + strlen(new_text) + after, padded = (size + 7) / 8 * 8;
    unsigned char *out = malloc(8 + padded + (len - 8 - n));
    assert_non_null(out);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, header, before);
    memcpy(out + 8 + before, new_text, strlen(new_text));
    memcpy(out + 8 + before + strlen(new_text), at + old_len, after);
    memset(out + 8 + size, ' ', padded - size);
    memcpy(out + 8 + padded, b + 8 + n, len - 8 - n);
    tu_write_file(to, out, 8 + padded + (len - 8 - n));
    free(out);
}

void tu_patch_header(const char *from, const char *to, const char *old, const char *new_text)
{
    size_t len = 0;
    uint64_t n = 0;
    unsigned char *b = NULL;
    char *header = tu_read_header(from, &b, &len, &n);
    char *at = strstr(header, old);
    if (!at)
        fail_msg("%s: '%s' is not in the header", from, old);
    tu_write_patched(to, b, len, n, header, at, strlen(old), new_text);
    free(header);
    free(b);
}

void tu_set_meta(const char *from, const char *to, const char *key, const char *value)
{
    size_t len = 0;
    uint64_t n = 0;
    unsigned char *b = NULL;
    char *header = tu_read_header(from, &b, &len, &n);
    char entry[512], *at = strstr(header, "\"__metadata__\":{");
    assert_non_null(at);
    snprintf(entry, sizeof entry, "\"%s\":\"", key);
    char *found = strstr(at, entry);
    size_t old_len = 0;
    if (found) { /* "key":"value": the value ends at the next quote (ours have none inside) */
        const char *end = strchr(found + strlen(entry), '"');
        assert_non_null(end);
        at = found;
        old_len = (size_t)(end + 1 - found);
        snprintf(entry, sizeof entry, "\"%s\":\"%s\"", key, value);
    } else {
        old_len = strlen("\"__metadata__\":{");
        snprintf(entry, sizeof entry, "\"__metadata__\":{\"%s\":\"%s\",", key, value);
    }
    tu_write_patched(to, b, len, n, header, at, old_len, entry);
    free(header);
    free(b);
}

static int tu_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_list_folder(const char *folder, char *out, size_t size)
{
    DIR *d = opendir(folder);
    if (!d)
        fail_msg("cannot list %s: %s", folder, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, tu_compare_names);
    if (size)
        out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (used + 1 < size) {
            int w = snprintf(out + used, size - used, "%s%s", i ? "," : "", names[i]);
            used = w < 0 ? size : used + (size_t)w;
        }
        free(names[i]);
    }
    free(names);
    return n;
}

pid_t tu_fifo_feed(const char *path, const void *bytes, size_t len)
{
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* The reader may stop early and close; dying of SIGPIPE then is fine. */
        FILE *fp = fopen(path, "wb");
        if (fp) {
            fwrite(bytes, 1, len, fp);
            fclose(fp);
        }
        _exit(0);
    }
    return child;
}

void tu_fifo_reap(pid_t child, const char *path)
{
    int wstatus;
    assert_int_equal(waitpid(child, &wstatus, 0), child);
    unlink(path);
}

/* ---------------------------------------------------------------------------------------- */
/* Child processes                                                                          */
/* ---------------------------------------------------------------------------------------- */

int tu_run(char *const argv[], char *err, size_t err_size)
{
    return tu_run_to(argv, "/dev/null", err, err_size);
}

/* LeakSanitizer's stop-the-world tracer sometimes crashes at a child's exit while threads (PoCL's,
 * Open MPI's) wind down: "Tracer caught signal 11 ... LeakSanitizer has encountered a fatal
 * error" (google/sanitizers#1353). That is the sanitizer failing, not the program, so a child
 * that fails with exactly that signature runs again, at most twice; any other failure stands. */
static int sanitizer_tracer_crashed(const char *err)
{
    return strstr(err, "Tracer caught signal") &&
           strstr(err, "LeakSanitizer has encountered a fatal error");
}

static int run_once(char *const argv[], const char *out_path, char *err, size_t err_size);

int tu_run_to(char *const argv[], const char *out_path, char *err, size_t err_size)
{
    int rc = run_once(argv, out_path, err, err_size);
    for (int retry = 0; retry < 2 && rc != 0 && sanitizer_tracer_crashed(err); retry++) {
        fprintf(stderr, "note: %s: LeakSanitizer's tracer crashed at exit; running it again\n",
                argv[0]);
        rc = run_once(argv, out_path, err, err_size);
    }
    return rc;
}

int tu_run_capture(char *const argv[], char **out, char *err, size_t err_size)
{
    char path[] = "/tmp/optcl-stdout-XXXXXX";
    int fd = mkstemp(path);
    *out = NULL;
    if (fd < 0) {
        snprintf(err, err_size, "mkstemp: %s", strerror(errno));
        return -1;
    }
    close(fd);
    int rc = tu_run_to(argv, path, err, err_size);
    size_t len = 0;
    unsigned char *bytes = tu_read_file(path, &len);
    unlink(path);
    *out = realloc(bytes, len + 1);
    if (*out)
        (*out)[len] = '\0';
    return rc;
}

static int run_once(char *const argv[], const char *out_path, char *err, size_t err_size)
{
    int fds[2];
    err[0] = '\0';
    if (pipe(fds) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, err_size, "posix_spawn %s: %s", argv[0], strerror(rc));
        return -1;
    }
    size_t used = 0;
    char chunk[1024];
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = (size_t)n;
        if (take > err_size - 1 - used)
            take = err_size - 1 - used;
        memcpy(err + used, chunk, take);
        used += take;
    }
    err[used] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

void tu_join_args(char *buf, size_t size, const char *const *args)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; args[i]; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i > 0 ? " " : "", args[i]);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Contexts and data                                                                        */
/* ---------------------------------------------------------------------------------------- */

const char *tu_exactness_note(const optcl_context *ctx)
{
    static char note[1024];
    cl_device_fp_config fp = 0;
    if (optcl_context_backend(ctx) != OPTCL_BACKEND_OPENCL ||
        clGetDeviceInfo(optcl_context_cl_device(ctx), CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp,
                        NULL) != CL_SUCCESS)
        return "";
    bool rounded = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0,
         denormals = (fp & CL_FP_DENORM) != 0;
    if (rounded && denormals)
        return "";
    snprintf(note, sizeof note,
             "%s lacks %s%s%s, which bit-for-bit agreement with the reference backend needs "
             "(docs/PRECISION.md)",
             optcl_context_device_name(ctx),
             rounded
                 ? ""
                 : "correctly rounded float32 divide/sqrt (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT)",
             rounded || denormals ? "" : " and ", denormals ? "" : "denormals (CL_FP_DENORM)");
    return note;
}

optcl_context *tu_context(optcl_backend backend)
{
    static bool noted;
    optcl_context_config cfg = optcl_context_config_default();
    cfg.backend = backend;
    char message[512] = "";
    optcl_context *ctx = NULL;
    optcl_status st = optcl_context_create(&cfg, &ctx, message, sizeof message);
    if (st != OPTCL_SUCCESS)
        fail_msg("optcl_context_create: %s (%s)", optcl_status_name(st), message);
    if (!noted && *tu_exactness_note(ctx)) { /* once: why bit-for-bit checks may fail here */
        fprintf(stderr, "NOTE: %s\n", tu_exactness_note(ctx));
        noted = true;
    }
    return ctx;
}

tu_rig tu_rig_open(optcl_backend backend, const optcl_tensor_spec *specs, size_t count,
                   const float *p0, const optcl_optimizer_config *config)
{
    return tu_rig_open_typed(backend, specs, count, OPTCL_DTYPE_F32, p0, config);
}

tu_rig tu_rig_open_typed(optcl_backend backend, const optcl_tensor_spec *specs, size_t count,
                         optcl_dtype dtype, const float *p0, const optcl_optimizer_config *config)
{
    tu_rig r = {tu_context(backend), NULL, NULL};
    TU_OK(optcl_params_create_typed(r.ctx, specs, count, dtype, &r.params),
          optcl_context_message(r.ctx));
    if (p0)
        TU_OK(optcl_params_write(r.params, OPTCL_ROLE_PARAMS, OPTCL_ALL, p0,
                                 optcl_params_numel(r.params)),
              optcl_params_message(r.params));
    TU_OK(optcl_optimizer_create(r.params, config, &r.opt), optcl_context_message(r.ctx));
    return r;
}

void tu_rig_close(tu_rig *r)
{
    assert_int_equal(optcl_optimizer_destroy(r->opt), OPTCL_SUCCESS);
    assert_int_equal(optcl_params_destroy(r->params), OPTCL_SUCCESS);
    assert_int_equal(optcl_context_destroy(r->ctx), OPTCL_SUCCESS);
}

uint64_t tu_next_random(uint64_t *seed)
{
    uint64_t s = *seed;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return *seed = s;
}

void tu_fill_random(float *x, size_t n, uint64_t *seed, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((tu_next_random(seed) >> 40) * (1.0 / 16777216.0));
}

uint32_t tu_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float tu_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t tu_bf16_bits(float f)
{
    uint32_t u = tu_bits(f);
    return isnan(f) ? 0x7FC0 : (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

size_t tu_first_mismatch(const float *a, const float *e, size_t n, double atol, double rtol,
                         double *worst)
{
    size_t first = (size_t)-1;
    double w = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == e[i] || (isnan(a[i]) && isnan(e[i])))
            continue; /* equal infinities too, whose difference is NaN */
        double d = fabs((double)a[i] - (double)e[i]);
        if (d > w)
            w = d;
        if ((isnan(d) || d > atol + rtol * fabs((double)e[i])) && first == (size_t)-1)
            first = i;
    }
    if (worst)
        *worst = w;
    return first;
}

const char *tu_cli_path(void)
{
    const char *env = getenv("OPTCL_TEST_CLI");
    return env && *env ? env : OPTCL_CLI_PATH;
}

int tu_cli_capture(const char *command, const char *const *args, char **out, char *err,
                   size_t err_size)
{
    char *argv[43];
    int argc = 0;
    argv[argc++] = (char *)tu_cli_path();
    argv[argc++] = (char *)command;
    for (size_t i = 0; args[i]; i++) {
        assert_true(argc < 42);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    int rc = tu_run_capture(argv, out, err, err_size);
    assert_non_null(*out);
    return rc;
}

const char *tu_golden_dir(void)
{
    const char *env = getenv("OPTCL_TEST_GOLDEN_DIR");
    return env && *env ? env : OPTCL_GOLDEN_DIR;
}

int tu_allow_no_device(void)
{
    const char *env = getenv("OPTCL_TEST_ALLOW_NO_DEVICE");
    return env && strcmp(env, "1") == 0;
}

bool tu_opencl_missing(void)
{
    static int probed, missing;
    static char why[512];
    if (!probed) {
        optcl_context_config cfg = optcl_context_config_default();
        cfg.backend = OPTCL_BACKEND_OPENCL;
        optcl_context *ctx = NULL;
        optcl_status st = optcl_context_create(&cfg, &ctx, why, sizeof why);
        optcl_context_destroy(ctx);
        missing = st == OPTCL_ERROR_NO_DEVICE || st == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */;
        probed = 1;
    }
    if (!missing)
        return false;
    if (!tu_allow_no_device())
        fail_msg("no OpenCL device: %s (OPTCL_TEST_ALLOW_NO_DEVICE=1 skips)", why);
    print_message("[  SKIP    ] no OpenCL device: %s\n", why);
    return true;
}

void tu_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

size_t tu_state_values(const optcl_params *params, const optcl_optimizer *opt, size_t index)
{
    const char *name = optcl_optimizer_state_name(opt, index);
    size_t total = 0;
    for (size_t i = 0; name && i < optcl_params_count(params); i++) {
        int ndim = 0;
        int64_t shape[OPTCL_MAX_DIMS];
        optcl_status st = optcl_optimizer_state_shape(opt, name, i, &ndim, shape);
        if (st == OPTCL_ERROR_NOT_FOUND)
            continue;
        TU_OK(st, optcl_optimizer_message(opt));
        size_t n = 1;
        for (int d = 0; d < ndim; d++)
            n *= (size_t)shape[d];
        total += n;
    }
    return total;
}

void tu_as_matrices(const optcl_tensor_spec *in, size_t count, optcl_tensor_spec *out)
{
    for (size_t i = 0; i < count; i++) {
        out[i] = in[i];
        int64_t rows = 1, cols = in[i].ndim > 0 ? in[i].shape[in[i].ndim - 1] : 1;
        for (int d = 0; d + 1 < in[i].ndim; d++)
            rows *= in[i].shape[d];
        out[i].ndim = 2;
        out[i].shape[0] = rows;
        out[i].shape[1] = cols;
    }
}

bool tu_muon_refused(optcl_backend b, optcl_algorithm a)
{
    return !OPTCL_TEST_CLBLAST && a == OPTCL_MUON && b == OPTCL_BACKEND_OPENCL;
}
