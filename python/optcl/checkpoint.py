"""Reads the safetensors checkpoints optcl writes (optcl_checkpoint_save, the tracker's best and
last files) without a context: the parameters under their names, each optimizer state as
"optim.<state>.<tensor>", and the "optcl.*" metadata, or only the run's progress; and gathers
a sharded checkpoint (optcl_mpi_checkpoint_save: a manifest and a file per rank) into the same
whole tensors."""
import ctypes
import json
import os
import re
import struct

import numpy as np

from ._abi import CheckpointProgress
from ._lib import check, lib

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
    if not isinstance(header, dict):
        raise ValueError(f"{path}: a header that is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: __metadata__ is not a JSON object")
    tensors = {}
    for name, t in header.items():
        tensors[name] = _tensor(path, name, t, data)
    return tensors, metadata


def _is_int(value):
    """A JSON integer (not a bool, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor(path, name, t, data):
    """One header entry's tensor, every field checked (ValueError naming the file and the
    tensor)."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(t, dict):
        raise ValueError(f"{where}: its header entry is not a JSON object")
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in t]
    if missing:
        raise ValueError(f"{where}: its header entry lacks {', '.join(missing)}")
    shape, offsets = t["shape"], t["data_offsets"]
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"{where}: shape {shape!r} is not a list of sizes")
    if not isinstance(offsets, list) or len(offsets) != 2 or \
            not all(map(_is_int, offsets)):
        raise ValueError(f"{where}: data_offsets {offsets!r} is not a [begin, end] pair")
    begin, end = offsets
    if not 0 <= begin <= end <= len(data):
        raise ValueError(f"{where} lies outside the file")
    bf16 = t["dtype"] == "BF16"  # its bits, the upper half of a float32's
    if bf16:
        dtype = np.dtype("<u2")
    elif t["dtype"] in _DTYPES:
        dtype = np.dtype(_DTYPES[t["dtype"]]).newbyteorder("<")
    else:
        raise ValueError(f"{where} has dtype {t['dtype']}")
    size = dtype.itemsize
    count = int(np.prod(shape, dtype=np.int64))
    if end - begin != count * size:
        raise ValueError(f"{where}: shape {tuple(shape)} of {t['dtype']} needs "
                         f"{count * size} bytes, its data_offsets give {end - begin}")
    a = np.frombuffer(data[begin:end], dtype=dtype)
    if bf16:
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.reshape(shape).copy()


def read_progress(path):
    """How far the run a checkpoint holds had gone, read from its header by the library
    (optcl_checkpoint_inspect_progress, with its checks): {"steps", "skipped", "loss_scale",
    "lr"}, lr[g] being group g's lr for the next step (schedule and plateau applied), for all
    64 groups. OptclError names a file that is not a checkpoint."""
    progress, message = CheckpointProgress(), ctypes.create_string_buffer(2048)
    check(lib.optcl_checkpoint_inspect_progress(os.fsencode(path), ctypes.byref(progress),
                                                 message, len(message)),
          message.value)
    return {"steps": progress.steps, "skipped": progress.skipped,
            "loss_scale": progress.loss_scale, "lr": list(progress.lr)}


_PIECE = re.compile(r"^(.*)\[(\d+):(\d+)\]$")  # a shard's piece: elements [a, b) of a tensor
_KEYS = ("generation", "world_size", "numel", "shard_size", "step", "skipped", "last_norm",
         "last_clip_coef", "max_norm", "nonfinite", "tensors")
_REAL_KEYS = ("last_norm", "last_clip_coef", "max_norm")


def _unescape(word, path):
    """A tensor name from the manifest's word: %XX escapes to their bytes."""
    try:
        raw = re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), word)
        return raw.decode()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: a tensor name that is not UTF-8") from None


def read_manifest(path):
    """A sharded checkpoint's manifest (optcl_mpi_checkpoint_save, docs/CHECKPOINTS.md) as a
    dict of its keys, with "tensors" the model's tensors as (name, shape, group, state_bits)
    in creation order ([] in a manifest of the first version, which does not list them).
    ValueError names a file that is not one."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    version = {b"optcl-mpi-checkpoint 1": 1, b"optcl-mpi-checkpoint 2": 2}.get(lines[0])
    if version is None:
        raise ValueError(f"{path}: not a sharded optcl checkpoint (expected the manifest that "
                         "optcl_mpi_checkpoint_save writes)")
    manifest, tensors = {"version": version}, []
    for line in filter(None, lines[1:]):
        key, _, value = line.decode("latin-1").partition(" ")
        try:
            if key == "tensor":
                group, bits, shape, word = value.split(" ", 3)
                dims = () if shape == "-" else tuple(int(d) for d in shape.split("x"))
                tensors.append((_unescape(word.encode("latin-1"), path), dims, int(group),
                                int(bits)))
            elif key in _KEYS:
                number = float(value) if key in _REAL_KEYS else int(value)
                manifest["tensor_count" if key == "tensors" else key] = number
        except ValueError:
            raise ValueError(f"{path}: a malformed manifest line: {line[:200]!r}") from None
    if "generation" not in manifest or "world_size" not in manifest:
        raise ValueError(f"{path}: the manifest names no generation or world size")
    if len(tensors) != manifest.pop("tensor_count", 0):
        raise ValueError(f"{path}: the manifest's tensor list does not have the tensors it "
                         "declares")
    manifest["tensors"] = tensors
    return manifest


def load_sharded(path, states=False):
    """A sharded checkpoint — the manifest at path and one file per rank — gathered into whole
    tensors without MPI, as one process would have saved them: ({name: array in its shape},
    manifest). The parameters under their names, and with states=True every optimizer state
    as "optim.<state>.<tensor>" (8-bit state is refused: its codes are per block). Needs a
    manifest that lists the model's tensors (its second version); ValueError names what is
    missing or does not fit."""
    manifest = read_manifest(path)
    tensors = manifest["tensors"]
    if not tensors:
        raise ValueError(f"{path}: the manifest does not list the model's tensors (written "
                         "before it did), so their shapes are unknown")
    # a piece is named after its tensor, or after the first 180 bytes of a long name and the
    # tensor's index (host/mpi/layout.c, optcl_mpi__piece_name)
    bases = {}
    for i, (name, *_rest) in enumerate(tensors):
        bases[name] = i
        bases[name.encode()[:180].decode("utf-8", "ignore") + f"~{i}"] = i
    counts = [int(np.prod(shape, dtype=np.int64)) for _, shape, _, _ in tensors]
    gathered = {}  # (role, tensor index) -> [flat values, elements filled, a whole piece]
    for rank in range(manifest["world_size"]):
        name = f"{path}.{manifest['generation']}.rank{rank}-of-{manifest['world_size']}" \
               ".safetensors"
        if not os.path.exists(name):
            raise ValueError(f"{name}: missing; a sharded checkpoint needs the file of every "
                             f"one of its {manifest['world_size']} ranks")
        pieces, _ = load_checkpoint(name)
        for key, values in pieces.items():
            _place(gathered, bases, counts, key, values, states, name)
    out = {}
    for (role, i), (flat, filled, whole) in gathered.items():
        tensor, shape = tensors[i][0], tensors[i][1]
        if whole is None and not filled.all():
            raise ValueError(f"{path}: {np.count_nonzero(~filled)} elements of tensor "
                             f"'{tensor}' ({role or 'parameters'}) are in none of the rank "
                             "files")
        out[tensor if role is None else f"optim.{role}.{tensor}"] = \
            whole if whole is not None else flat.reshape(shape)
    missing = [t[0] for i, t in enumerate(tensors) if (None, i) not in gathered]
    if missing:
        raise ValueError(f"{path}: no rank file holds tensor '{missing[0]}'")
    return out, manifest


def _place(gathered, bases, counts, key, values, states, file):
    """Puts a rank file's piece (parameters, or with states a state's) where it belongs."""
    match = _PIECE.match(key)
    if not match:
        return  # the empty shard's placeholder, an 8-bit state's absmaxes
    base, first, end = match.group(1), int(match.group(2)), int(match.group(3))
    role = None
    if base not in bases:
        state, _, base = base.partition(".")[2].partition(".")
        if not (states and key.startswith("optim.") and base in bases):
            return
        role = state
        if values.dtype == np.uint8:
            raise ValueError(f"{file}: '{key}' is 8-bit state, which is kept per block of its "
                             "tensor; load_sharded gathers float state only")
    i = bases[base]
    flat, filled, whole = gathered.setdefault(
        (role, i), [np.zeros(counts[i], values.dtype), np.zeros(counts[i], bool), None])
    if first == 0 and end == counts[i] and values.size != counts[i]:
        gathered[(role, i)][2] = values  # a whole tensor's state of its own shape (Adafactor's)
        return
    if end > counts[i] or values.size != end - first or filled[first:end].any():
        raise ValueError(f"{file}: '{key}' does not fit tensor '{key[:key.rindex('[')]}' of "
                         f"{counts[i]} elements")
    flat[first:end] = values.reshape(-1)
    filled[first:end] = True
