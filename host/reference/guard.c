/* guard.c — reference of kernels/guard.cl: the same sums in the same order (per worker: 16 lane
 * sums over its chunk, then a halving tree; finalize: partials l, l + 256, … in turn, then a
 * halving tree of 256), so both backends reach the same norm and decision bit for bit. */
#include "reference.h"

#include <math.h>
#include <string.h>

size_t optcl__guard_chunk(size_t n)
{
    size_t n16 = n / 16, chunk = (n16 + 65535) / 65536;
    return chunk < 16 ? 16 : chunk;
}

size_t optcl__guard_workers(size_t n)
{
    size_t n16 = n / 16, chunk = optcl__guard_chunk(n);
    return optcl__round_up(n16 == 0 ? 1 : (n16 + chunk - 1) / chunk, OPTCL__GUARD_FINAL);
}

/* The halving tree of width sums, in place; the total ends in v[0]. */
static void halve(float *v, size_t width)
{
    for (width /= 2; width > 0; width /= 2)
        for (size_t l = 0; l < width; l++)
            v[l] = v[l] + v[l + width];
}

/* The 16 lane sums of f(g) over worker w's chunk, reduced by the tree: squares of g·inv (the
 * unscaled gradient; inv is 1 without loss scaling, which changes nothing), or g·0. */
static float worker_sum(const float *grad, size_t n16, size_t chunk, size_t w, bool squares,
                        float inv)
{
    float lanes[16] = {0};
    for (size_t v = w * chunk; v < (w + 1) * chunk && v < n16; v++) {
        const float *g = grad + 16 * v;
        for (size_t k = 0; k < 16; k++) {
            float u = g[k] * inv;
            lanes[k] = lanes[k] + (squares ? u * u : g[k] * 0.0f);
        }
    }
    halve(lanes, 16);
    return lanes[0];
}

void optcl__reference_guard_stats(const float *grad, size_t n, float inv, float *partial)
{
    size_t n16 = n / 16, chunk = optcl__guard_chunk(n), workers = optcl__guard_workers(n);
    for (size_t w = 0; w < workers; w++) {
        partial[w] = worker_sum(grad, n16, chunk, w, true, inv);
        /* the bad sum only where the squares are not finite, as the kernel does */
        partial[workers + w] =
            isfinite(partial[w]) ? 0.0f : worker_sum(grad, n16, chunk, w, false, inv);
    }
}

void optcl__reference_guard_finalize(const float *partial, size_t blocks, float *norm, bool *bad)
{
    float sq[OPTCL__GUARD_FINAL] = {0}, nan_sum[OPTCL__GUARD_FINAL] = {0};
    for (size_t l = 0; l < OPTCL__GUARD_FINAL; l++)
        for (size_t i = l; i < blocks; i += OPTCL__GUARD_FINAL) {
            sq[l] = sq[l] + partial[i];
            nan_sum[l] = nan_sum[l] + partial[blocks + i];
        }
    halve(sq, OPTCL__GUARD_FINAL);
    halve(nan_sum, OPTCL__GUARD_FINAL);
    *norm = sqrtf(sq[0]);
    *bad = nan_sum[0] != nan_sum[0];
}
