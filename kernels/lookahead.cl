/* lookahead.cl — Lookahead's synchronisation of slow and fast weights, in one launch over the
 * whole flat buffer. Read side by side with host/reference/lookahead.c. */

/* v = slow + α·(fast − slow); the parameters become v, and with commit the slow weights too.
 * A plain sync passes the parameters as fast; the α line search blends from a saved copy of
 * the fast weights without committing, then commits the α it picked. */
__kernel void optcl_lookahead_f32(__global float *param, __global float *slow,
                                  __global const float *fast, float alpha, int commit)
{
    size_t i = get_global_id(0); /* launches cover their range exactly: no bounds check */
    floatv s = LOAD(slow, i);
    floatv v = s + alpha * (LOAD(fast, i) - s);
    STORE(param, i, v);
    if (commit)
        STORE(slow, i, v);
}
