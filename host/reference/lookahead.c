/* lookahead.c — reference Lookahead synchronisation; mirrors kernels/lookahead.cl. */
#include "reference.h"

void optcl__reference_lookahead(float *param, float *slow, const float *fast, float alpha,
                                bool commit, size_t end)
{
    for (size_t i = 0; i < end; i++) {
        float s = slow[i];
        float v = s + alpha * (fast[i] - s);
        param[i] = v;
        if (commit)
            slow[i] = v;
    }
}
