/* replay_inputs.c — writes the inputs of `optcl replay` into FOLDER with optcl's .npy writer:
 * p0.npy, the initial parameters (float32, shape (N,)), and grads.npy, the gradients (float32,
 * shape (T, N)), for `optcl replay OPTIMIZER --params FOLDER/p0.npy --grads FOLDER/grads.npy`.
 * The smallest use of that API. N defaults to 1000, T to 50.
 * usage: replay_inputs FOLDER [N [T]]
 * A bad argument (not a whole number, 0, or N × T floats more than this machine can address)
 * exits with status 2 and a line on stderr, writing nothing; a failed allocation or write, 1. */
#include "optcl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A whole number ≥ 1 in *out, or 0 with a message naming the argument. */
static int parse_size(const char *name, const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (!end || *end || errno || v < 1 || v > SIZE_MAX) {
        fprintf(stderr, "replay_inputs: %s '%s': expected a whole number ≥ 1\n", name, text);
        return 0;
    }
    *out = (size_t)v;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: replay_inputs FOLDER [N [T]]\n");
        return 2;
    }
    size_t n = 1000, t = 50;
    if ((argc > 2 && !parse_size("N", argv[2], &n)) || (argc > 3 && !parse_size("T", argv[3], &t)))
        return 2;
    /* N × T floats in bytes must fit in a size_t (else the product wraps and the buffer is
     * smaller than the loop below writes) and in a .npy shape. */
    if (t > SIZE_MAX / sizeof(float) / n) {
        fprintf(stderr,
                "replay_inputs: N = %zu and T = %zu: N × T floats are more bytes than this "
                "machine can address\n",
                n, t);
        return 2;
    }
    float *p = malloc(n * sizeof *p), *g = malloc(n * t * sizeof *g);
    if (!p || !g) {
        fprintf(stderr, "replay_inputs: N = %zu, T = %zu: out of host memory (%zu bytes)\n", n, t,
                (n + n * t) * sizeof(float));
        free(p);
        free(g);
        return 1;
    }
    uint32_t s = 1;
    for (size_t i = 0; i < n * t; i++) {
        s = s * 1103515245u + 12345u; /* a fixed LCG: the same files on every machine */
        g[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = 0.5f * g[(i * 7919) % (n * t)];
    size_t p_shape[1] = {n}, g_shape[2] = {t, n};
    char path[4096], message[512];
    int rc = 0;
    if (snprintf(path, sizeof path, "%s/grads.npy", argv[1]) >= (int)sizeof path) {
        fprintf(stderr, "replay_inputs: the folder's name is too long\n");
        rc = 2;
    }
    snprintf(path, sizeof path, "%s/p0.npy", argv[1]);
    if (!rc && optcl_npy_write(path, p, p_shape, 1, message, sizeof message) != OPTCL_SUCCESS)
        rc = 1;
    snprintf(path, sizeof path, "%s/grads.npy", argv[1]);
    if (!rc && optcl_npy_write(path, g, g_shape, 2, message, sizeof message) != OPTCL_SUCCESS)
        rc = 1;
    if (rc == 1)
        fprintf(stderr, "replay_inputs: %s\n", message);
    free(p);
    free(g);
    return rc;
}
