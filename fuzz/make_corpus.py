#!/usr/bin/env python3
"""fuzz/make_corpus.py — (re)writes the seed corpus of the fuzz targets (standard library only).

    fuzz/make_corpus.py BUILD_DIR     # BUILD_DIR holds the `optcl` command

corpus/npy: small valid .npy files of versions 1.0, 2.0 and 3.0 with 0 to 8 dimensions, an
empty array, the spellings numpy and hand-written files use (double quotes, "3L", no trailing
comma, extra spaces). corpus/checkpoint: checkpoints written by `optcl replay --save-state` for
every optimizer family with the options that change its state buffers. Kept small (< 200 KB).
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def npy(version, header, data=b""):
    """The bytes of a .npy file with this header dict text, padded as numpy pads it."""
    magic = b"\x93NUMPY" + bytes([version, 0])
    len_bytes = 2 if version == 1 else 4
    text = header.encode("utf-8" if version == 3 else "latin-1")
    pad = 64 - (len(magic) + len_bytes + len(text) + 1) % 64
    text += b" " * (pad % 64) + b"\n"
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return magic + length + text + data


def floats(n, start=0.5):
    return struct.pack("<%df" % n, *[start + 0.25 * i for i in range(n)])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_npy(out):
    cases = {
        "v1_scalar.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                             floats(1)),
        "v1_1d.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
                         floats(5)),
        "v1_2d.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                         floats(6)),
        "v1_empty.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }"),
        "v1_8d.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, "
                            "'shape': (1, 2, 1, 2, 1, 1, 2, 1), }", floats(8)),
        "v1_py2_long.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
                               floats(3)),
        "v2_3d.npy": npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }",
                         floats(8)),
        "v2_dquote.npy": npy(2, '{"shape": (4,), "descr": "<f4", "fortran_order": False}',
                             floats(4)),
        "v3_2d.npy": npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }",
                         floats(3)),
        "v3_spaces.npy": npy(3, "{ 'fortran_order' : False , 'shape' : ( 2 , ) , "
                                "'descr' : '<f4' }", struct.pack("<2f", float("nan"),
                                                                float("-inf"))),
    }
    for name, data in cases.items():
        write(os.path.join(out, name), data)


def make_checkpoints(cli, out):
    runs = {
        "adam_default.safetensors": ["adam"],  # what fuzz/harness.c's fixed optimizer loads
        "adam_amsgrad_lookahead.safetensors": ["adam", "amsgrad=1", "weight_decay=0.01",
                                               "lookahead_k=3", "lookahead_alpha=0.6"],
        "adamw_cosine.safetensors": ["adamw", "schedule=cosine", "t_max=10"],
        "sgd_nesterov.safetensors": ["sgd", "lr=0.05", "momentum=0.9", "nesterov=1"],
        "sgd_plain.safetensors": ["sgd"],
        "rmsprop_centered_momentum.safetensors": ["rmsprop", "centered=1", "momentum=0.5"],
        "rprop_classic.safetensors": ["rprop", "variant=classic"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        n, t = 6, 3
        p0 = os.path.join(tmp, "p0.npy")
        g = os.path.join(tmp, "g.npy")
        o = os.path.join(tmp, "out.npy")
        write(p0, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % n,
                      floats(n, -0.6)))
        write(g, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }"
                     % (t, n), floats(t * n, -1.0)))
        for name, args in runs.items():
            cmd = [cli, "replay", args[0], "--backend", "reference", "--params", p0,
                   "--grads", g, "--out", o, "--save-state", os.path.join(out, name)] + args[1:]
            subprocess.run(cmd, check=True)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    make_npy(os.path.join(HERE, "corpus", "npy"))
    make_checkpoints(os.path.join(sys.argv[1], "optcl"), os.path.join(HERE, "corpus",
                                                                       "checkpoint"))


if __name__ == "__main__":
    main()
