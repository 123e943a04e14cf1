#!/usr/bin/env python3
"""make_q8.py — bitsandbytes' 8-bit "dynamic" quantization maps and nearest-code rule, in NumPy.

Writes host/q8_maps.c (the maps as float32 bits, for the library) and tests/golden/q8/*.npy (test
inputs, the codes bitsandbytes stores for them). CI only reads these committed outputs. To redo:
    /tmp/torch2venv/bin/python tests/golden/make_q8.py [--out-dir ROOT] [--linspace fma|plain]
(venv: `bash ../shared/tools/torch2_env.sh`). NumPy is enough; when torch imports, the maps are
also checked bit for bit against torch. Sources: bitsandbytes' functional.py create_dynamic_map,
kernels.cu quantize_2D<SIGNED> and the sign fix after it (kOptimizerStatic8bit2StateBlockwise).
"""
import argparse
import os
import sys

import numpy as np

F = np.float32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def linspace(n, fma):
    """torch.linspace(0.1, 1, n, dtype=torch.float32) on the CPU (RangeFactoriesKernel.cpp): a
    float32 step, start + step*i below n/2 and end - step*(n-1-i) from there. torch builds that
    kernel per CPU capability: its AVX2/AVX512 builds fuse the multiply-add (one rounding), the
    DEFAULT one (ATEN_CPU_CAPABILITY=default) rounds twice: 42 signed, 31 unsigned codes move."""
    start, end = F(0.1), F(1.0)
    step = F((end - start) / F(n - 1))
    i = np.arange(n)
    if fma:  # step*i (<= 32 bits) and the sum (< 53 bits) are exact in float64: one rounding
        lo = (np.float64(start) + np.float64(step) * i).astype(F)
        hi = (np.float64(end) - np.float64(step) * (n - 1 - i)).astype(F)
    else:
        lo = start + step * i.astype(F)
        hi = end - step * (n - 1 - i).astype(F)
    return np.where(i < n // 2, lo, hi)


def dynamic_map(signed, fma):
    """create_dynamic_map(signed, 7, 8); its additional_items = 2**(7-7) - 1 = 0 adds nothing.
    python_scalar * float32 tensor rounds the scalar to float32 first (checked with torch)."""
    data = [np.array([0.0, 1.0], F)]
    for i in range(7):
        b = linspace(2 ** i + 1 if signed else 2 ** (i + 1) + 1, fma)
        means = (b[:-1] + b[1:]) / F(2.0)
        scale = 10 ** (-6 + i)  # a Python float (the int 1 at i = 6), as in bitsandbytes
        data += [F(scale) * means] + ([F(-scale) * means] if signed else [])
    return np.sort(np.concatenate(data))


def dynamic_map_torch(signed):
    """functional.py's create_dynamic_map(signed, 7, 8), run by torch itself."""
    import torch
    data = []
    for i in range(7):
        b = torch.linspace(0.1, 1, 2 ** i + 1 if signed else 2 ** (i + 1) + 1, dtype=torch.float32)
        means = (b[:-1] + b[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist() if signed else []
    return torch.tensor(sorted(data + [0, 1.0]), dtype=torch.float32).numpy()


def nearest(code, mid, x, signed):
    """Our rendering of quantize_2D + the sign fix, vectorised: the nearest code, a tie to the even
    code (where the binary search lands), and the signed map keeps a negative x negative."""
    c = np.searchsorted(mid[:255], x, side="left")  # midpoints strictly below x; NaN sorts last
    c += (c < 255) & (x == mid[np.minimum(c, 254)]) & (c % 2 == 1)
    if signed:
        c -= (x < 0) & (code[c] >= 0)
    return np.where(np.isnan(x), 0, c)


def bnb_code(code, x, signed):
    """kernels.cu quantize_2D<SIGNED> for one float32 x, then for state1 (signed) the fix that
    keeps the stored sign of the state. quantize_2D's quadrants[0..2] are code[63], code[127] and
    code[191], the entries at the pivots of its first two probes, so plain code[pivot] here."""
    pivot, lower_pivot, upper_pivot, lower, upper = 127, 0, 255, F(-1.0 if signed else 0.0), F(1)
    val = code[pivot]
    for i in (64, 32, 16, 8, 4, 2, 1):
        if x > val:
            lower_pivot, lower, pivot = pivot, val, pivot + i
        else:
            upper_pivot, upper, pivot = pivot, val, pivot - i
        val = code[pivot]
    if x > val:
        c = upper_pivot if x > F((upper + val) * F(0.5)) else pivot
    else:
        c = lower_pivot if x < F((lower + val) * F(0.5)) else pivot
    if signed and np.signbit(code[c]) != np.signbit(x):
        c += 1 if x > 0 else -1
    return c


def test_inputs(maps, rng, n=20000):
    special = []
    for code, mid in maps:  # the codes, the midpoints and 1, 2 and 3 ulps below and above them
        special += [code, mid[:255]]
        below = above = mid[:255]
        for _ in range(3):
            below, above = np.nextafter(below, F(-np.inf)), np.nextafter(above, F(np.inf))
            special += [below, above]
    special = np.concatenate(special)
    tiny, fmin = np.nextafter(F(0), F(1)), np.finfo(F).tiny
    edges = np.array([0.0, -0.0, 1.0, -1.0, tiny, -tiny, fmin, -fmin], F)
    uniform = rng.uniform(-1.0, 1.0, n).astype(F)
    logu = (np.exp(rng.uniform(np.log(1e-9), 0.0, n)) * rng.choice([-1.0, 1.0], n)).astype(F)
    x = np.concatenate([special, -special, edges, uniform, logu]).astype(F)
    return x[(x >= -1) & (x <= 1)]


def torch_check(maps, fma):
    try:
        import torch
    except ImportError:
        return "not cross-checked (torch not importable)"
    cap = torch.backends.cpu.get_cpu_capability()
    for name, (code, _, signed) in maps.items():
        ref = dynamic_map_torch(signed)
        if not np.array_equal(ref.view("<u4"), code.view("<u4")):
            sys.exit("%s map: %d entries differ from torch (CPU capability %s); try --linspace %s"
                     % (name, np.sum(ref != code), cap, "plain" if fma else "fma"))
    return "equal bit for bit to torch %s (CPU capability %s)" % (torch.__version__, cap)


def rule_check(name, code, mid, signed, x, got):
    """The rule against the kernel emulation on every input but -0.0 in the signed map: the sign
    fix (signbit(-0.0) != signbit(code[127] = +0.0)) moves it to 126, the smallest negative code;
    our rule keeps zeros at the zero code. (NaN is no input: bitsandbytes stores 255, we 0.)"""
    keep = ~(signed & (x == 0) & np.signbit(x))
    ref = np.array([bnb_code(code, v, signed) for v in x[keep]])
    bad = np.nonzero(got[keep] != ref)[0]
    for v, g, r in zip(x[keep][bad][:20], got[keep][bad], ref[bad]):
        print("%s: x = %r (0x%08X): rule %d, kernel %d" % (name, float(v), v.view("<u4"), g, r))
    assert bad.size == 0, "%s: rule and quantize_2D disagree on %d inputs" % (name, bad.size)
    if signed:
        assert bnb_code(code, F(-0.0), True) == 126 and nearest(code, mid, F([-0.0]), True) == 127


C_HEAD = """/* q8_maps.c — generated by tests/golden/make_q8.py; do not edit.
 * bitsandbytes' 8-bit dynamic quantization maps as float32 bit patterns: create_dynamic_map
 * (max_exponent_bits 7, total_bits 8), torch.linspace rounded as by torch's %s kernel.
 *   [0] signed codes, increasing: 0.0 at 127, 1.0 at 255
 *   [1] signed midpoints (code[k] + code[k+1]) * 0.5f in float32, k < 255; [255] = +inf
 *   [2] unsigned codes, increasing: 0.0 at 0, 1.0 at 255
 *   [3] unsigned midpoints likewise, ending in +inf */
#include "q8.h"

const uint32_t optcl__q8_maps[4][256] = {
"""


def c_table(rows, kernel):
    out = [C_HEAD % kernel]
    for row in rows:
        bits = ["0x%08Xu," % b for b in row.astype("<f4").view("<u4")]
        out += ["    {\n"] + ["        %s\n" % " ".join(bits[k:k + 6]) for k in range(0, 256, 6)]
        out += ["    },\n"]
    return "".join(out + ["};\n"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=ROOT, help="root for tests/golden/q8/ and host/q8_maps.c")
    ap.add_argument("--linspace", choices=("fma", "plain"), default="fma",
                    help="round torch.linspace as its AVX2/AVX512 (fma) or DEFAULT (plain) kernel")
    args = ap.parse_args()
    fma = args.linspace == "fma"
    maps = {}
    for name, signed in (("signed", True), ("unsigned", False)):
        code = dynamic_map(signed, fma)
        # quantize_2D's midpoints (code[k] + code[k+1]) * 0.5f in float32; +inf at 255 ends the row
        mid = np.append(((code[:-1] + code[1:]) * F(0.5)).astype(F), F(np.inf))
        assert code.size == 256 and np.all(np.diff(code) > 0) and code[255] == 1.0, name
        assert np.all((code[:-1] < mid[:255]) & (mid[:255] < code[1:])), name
        maps[name] = (code, mid, signed)
    print("linspace rounding: %s; maps %s" % (args.linspace, torch_check(maps, fma)))
    x = test_inputs([(c, m) for c, m, _ in maps.values()], np.random.default_rng(8))
    qdir = os.path.join(args.out_dir, "tests", "golden", "q8")
    os.makedirs(qdir, exist_ok=True)
    np.save(os.path.join(qdir, "x.npy"), x.astype("<f4"))
    for name, (code, mid, signed) in maps.items():
        got = nearest(code, mid, x, signed)
        rule_check(name, code, mid, signed, x, got)
        np.save(os.path.join(qdir, name + ".npy"), got.astype("<f4"))
        c = np.searchsorted(mid[:255], x, side="left")
        tie = (c < 255) & (x == mid[np.minimum(c, 254)])
        print("%-8s map: %d codes, 0.0 at index %d; tie inputs: %d moved up to the even code, "
              "%d kept" % (name, code.size, np.nonzero(code == 0)[0][0],
                           np.sum(tie & (c % 2 == 1)), np.sum(tie & (c % 2 == 0))))
    rows = [a for code, mid, _ in maps.values() for a in (code, mid)]
    np.save(os.path.join(qdir, "maps.npy"), np.concatenate(rows).astype("<f4"))
    os.makedirs(os.path.join(args.out_dir, "host"), exist_ok=True)
    with open(os.path.join(args.out_dir, "host", "q8_maps.c"), "w") as f:
        f.write(c_table(rows, "AVX2/AVX512" if fma else "DEFAULT"))
    print("test inputs: %d in [-1, 1], written to %s" % (x.size, qdir))


if __name__ == "__main__":
    main()
