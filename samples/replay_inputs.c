/* replay_inputs.c — writes the inputs of `optcl replay` (initial parameters P0.npy, shape (N,),
 * and gradients G.npy, shape (T, N)) with optcl's .npy writer: the smallest use of that API.
 * usage: replay_inputs FOLDER [N [T]] */
#include "optcl.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: replay_inputs FOLDER [N [T]]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t t = argc > 3 ? strtoul(argv[3], NULL, 10) : 50;
    float *p = malloc(n * sizeof *p), *g = malloc(n * t * sizeof *g);
    if (!n || !t || !p || !g) {
        fprintf(stderr, "replay_inputs: N and T must be positive and fit in memory\n");
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
    snprintf(path, sizeof path, "%s/p0.npy", argv[1]);
    if (optcl_npy_write(path, p, p_shape, 1, message, sizeof message) != OPTCL_SUCCESS)
        rc = fprintf(stderr, "replay_inputs: %s\n", message) > 0;
    snprintf(path, sizeof path, "%s/grads.npy", argv[1]);
    if (!rc && optcl_npy_write(path, g, g_shape, 2, message, sizeof message) != OPTCL_SUCCESS)
        rc = fprintf(stderr, "replay_inputs: %s\n", message) > 0;
    free(p);
    free(g);
    return rc;
}
