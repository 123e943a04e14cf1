#!/usr/bin/env python3
# check_safetensors.py — manual cross-check of optcl's safetensors files against the reference
# implementation (pip install safetensors numpy); not run by ctest, which needs no Python.
"""Cross-check optcl's safetensors reader and writer with Hugging Face's safetensors.

Both sides use one fixed reference set (REFERENCE below), which a C program builds the same way
with optcl__st_write and checks after optcl__st_read:

    check_safetensors.py write  PATH   # Python writes the reference set to PATH (optcl reads it)
    check_safetensors.py verify PATH   # Python loads PATH (optcl wrote it) and compares exactly
    check_safetensors.py dump   PATH   # prints any file's tensors and metadata (a checkpoint)

Exit status 0 means the file matched (verify) or was written/loaded (write, dump).
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def reference():
    """The tensors and metadata both sides write: a scalar, 1-d, 3-d and two empty tensors,
    and metadata that needs escaping (quotes, backslash, control characters, non-ASCII)."""
    f32 = np.float32
    tensors = {
        "step": np.array(3.5, dtype=f32),
        "w": np.arange(5, dtype=f32) * f32(0.5) - f32(1),
        "optim.exp_avg.w": (np.arange(24, dtype=f32) / f32(7)).reshape(2, 3, 4),
        "empty": np.zeros((0,), dtype=f32),
        "empty3d": np.zeros((3, 0, 2), dtype=f32),
    }
    metadata = {
        "format": "pt",
        "quote": 'a "b" \\ c\nd\te\x01',
        "unicode": "\u00e9\u2211\U0001F600",
    }
    return tensors, metadata


def verify(path):
    tensors, metadata = reference()
    loaded = load_file(path)
    with safe_open(path, framework="np") as f:
        meta = f.metadata() or {}
    ok = True
    if sorted(loaded) != sorted(tensors):
        print(f"tensor names differ: {sorted(loaded)} != {sorted(tensors)}")
        ok = False
    for name, want in tensors.items():
        got = loaded.get(name)
        if got is None:
            continue
        if got.dtype != np.float32 or got.shape != want.shape:
            print(f"{name}: {got.dtype} {got.shape} != float32 {want.shape}")
            ok = False
        elif got.tobytes() != want.tobytes():
            print(f"{name}: values differ: {got.ravel()[:8]} != {want.ravel()[:8]}")
            ok = False
    if meta != metadata:
        print(f"metadata differs: {meta!r} != {metadata!r}")
        ok = False
    print(f"{path}: {'matches' if ok else 'DIFFERS from'} the reference set")
    return 0 if ok else 1


def dump(path):
    with safe_open(path, framework="np") as f:
        for key, value in sorted((f.metadata() or {}).items()):
            print(f"__metadata__ {key!r}: {value!r}")
        for name in f.keys():
            t = f.get_tensor(name)
            print(f"{name}: {t.dtype} {list(t.shape)} sum={float(t.sum(dtype=np.float64))!r}")
    return 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "verify", "dump"):
        print(__doc__)
        return 2
    if argv[1] == "write":
        tensors, metadata = reference()
        save_file(tensors, argv[2], metadata=metadata)
        print(f"{argv[2]}: wrote the reference set")
        return 0
    return verify(argv[2]) if argv[1] == "verify" else dump(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
