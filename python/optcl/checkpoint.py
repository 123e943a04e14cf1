"""Reads the safetensors checkpoints optcl writes (optcl_checkpoint_save, the tracker's best and
last files) without a context: the parameters under their names, each optimizer state as
"optim.<state>.<tensor>", and the "optcl.*" metadata."""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "U8": np.uint8, "I64": np.int64,
           "F64": np.float64}


def load_checkpoint(path):
    """(tensors, metadata): {name: np.ndarray} (float32 for F32; bfloat16 tensors widened to
    float32, exactly) and the metadata strings. ValueError names a malformed file."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (length,) = struct.unpack("<Q", head)
        try:
            header = json.loads(f.read(length))
        except ValueError as e:
            raise ValueError(f"{path}: a header that is not JSON ({e})") from None
        data = f.read()
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor {name!r} lies outside the file")
        raw = data[begin:end]
        if t["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = bits.view(np.float32)
        elif t["dtype"] in _DTYPES:
            a = np.frombuffer(raw, dtype=np.dtype(_DTYPES[t["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has dtype {t['dtype']}")
        tensors[name] = a.reshape(t["shape"]).copy()
    return tensors, metadata
