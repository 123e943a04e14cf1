/* segments.cl — each tensor's sums from its blocks' (host/segments.h): work-item t adds the n
 * sums of segment first + t's blocks [b0, b1), block b into lane (b − b0) % 8, each lane in
 * order, then lane i += lane i + w for w = 4, 2, 1 — host/segments.c's
 * optcl__reference_segment_sums. The launch is padded to whole work-groups: items past end
 * return. */

__kernel void optcl_segment_sums(__global const float *restrict block_sums,
                                 __global const uint *restrict segment_blocks,
                                 __global float *restrict sums, uint n, uint first, uint end)
{
    uint t = first + (uint)get_global_id(0);
    if (t >= end)
        return;
    uint b0 = segment_blocks[2 * t], b1 = segment_blocks[2 * t + 1];
    for (uint k = 0; k < n; k++) {
        float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (uint b = b0; b < b1; b++)
            lane[(b - b0) % 8] += block_sums[(size_t)b * n + k];
        for (uint w = 4; w >= 1; w /= 2)
            for (uint i = 0; i < w; i++)
                lane[i] += lane[i + w];
        sums[(size_t)t * n + k] = lane[0];
    }
}
