"""optcl.load_sharded: a sharded checkpoint (2 ranks, tests/data/make_sharded.sh) gathered into
whole tensors equals, bit for bit, the ordinary checkpoint one process saved after the same
steps — element-wise AMSGrad, whose shards cut a matrix, and LAMB and Adafactor, whose shards
keep tensors whole (Adafactor's factored state in its own shape); and what it cannot gather is
refused by name."""
import os
import shutil

import numpy as np
import pytest

import optcl

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@pytest.mark.parametrize("rule", ["adam", "lamb", "adafactor"])
def test_gathered_equals_one_process(rule):
    gathered, manifest = optcl.load_sharded(os.path.join(DATA, f"sharded_{rule}", "ck"),
                                            states=True)
    single, _ = optcl.load_checkpoint(os.path.join(DATA, f"single_{rule}.safetensors"))
    assert manifest["world_size"] == 2 and manifest["step"] == 8 and manifest["version"] == 2
    assert manifest["tensors"] == [("param.0", (13, 17), 0, 0), ("param.1", (17,), 0, 0),
                                   ("param.2", (91,), 0, 0)]
    assert sorted(gathered) == sorted(single)
    for name, want in single.items():
        got = gathered[name]
        assert got.shape == want.shape and got.dtype == want.dtype, name
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), name
    params, _ = optcl.load_sharded(os.path.join(DATA, f"sharded_{rule}", "ck"))
    assert sorted(params) == ["param.0", "param.1", "param.2"]


def copy_of(tmp_path, rule="adam"):
    folder = tmp_path / rule
    shutil.copytree(os.path.join(DATA, f"sharded_{rule}"), folder)
    return folder / "ck"


def test_what_cannot_be_gathered_is_refused(tmp_path):
    ck = copy_of(tmp_path)
    text = ck.read_text()
    (tmp_path / "first").write_text("".join(
        line for line in text.replace("checkpoint 2", "checkpoint 1").splitlines(True)
        if not line.startswith("tensor")))
    with pytest.raises(ValueError, match="does not list the model's tensors"):
        optcl.load_sharded(str(tmp_path / "first"))
    assert optcl.read_manifest(str(tmp_path / "first"))["tensors"] == []
    (tmp_path / "cut").write_text(text.replace("tensor 0 0 91 param.2\n", ""))
    with pytest.raises(ValueError, match="does not have the tensors it declares"):
        optcl.read_manifest(str(tmp_path / "cut"))
    (tmp_path / "other").write_text("generation 1\n")
    with pytest.raises(ValueError, match="not a sharded optcl checkpoint"):
        optcl.load_sharded(str(tmp_path / "other"))
    # a model whose tensor is larger than the pieces hold: its elements are missing
    (tmp_path / "ck").write_text(text.replace("numel 329", "numel 330")
                                 .replace("tensor 0 0 91 param.2", "tensor 0 0 92 param.2"))
    for rank in (0, 1):
        shutil.copy(f"{ck}.1.rank{rank}-of-2.safetensors", tmp_path)
    with pytest.raises(ValueError, match="1 elements of tensor 'param.2'"):
        optcl.load_sharded(str(tmp_path / "ck"))
    os.remove(f"{ck}.1.rank1-of-2.safetensors")
    with pytest.raises(ValueError, match=r"rank1-of-2.safetensors: missing"):
        optcl.load_sharded(str(ck))
