"""The core API with NumPy: parameter sets read and written as arrays (in place on the
reference backend), optimizers by keyword, state, schedules, plateau, Lookahead, the guard,
checkpoints read back with optcl.load_checkpoint, and a struct layout that is not the
library's refused at load."""
import ctypes
import gc
import json
import struct
import os
import subprocess
import sys

import numpy as np
import pytest

import optcl
from optcl import _abi, _lib
from conftest import HAS_OPENCL, device_of

TENSORS = [("w", (33, 65)), ("b", (7,), 1), ("s", ())]


def rig(backend, algorithm="adam", **kwargs):
    ctx = optcl.Context(device_of(backend))
    params = ctx.params(TENSORS)
    rng = np.random.default_rng(0)
    for name, shape, *_ in TENSORS:
        params.write(rng.standard_normal(shape).astype(np.float32), name)
    return ctx, params, params.optimizer(algorithm, **kwargs)


def test_devices_and_context():
    found = optcl.devices()
    assert found[-1]["device"] == "reference"
    for d in found[:-1]:
        ctx = optcl.Context(d["device"])
        assert ctx.backend == "opencl" and d["name"] in ctx.device_name
        assert ctx.int8_block_items in (1, 256 // ctx.vector_width)
        ctx.close()
    ref = optcl.Context("reference")
    assert ref.backend == "reference" and ref.work_group_size == 0 and ref.int8_block_items == 0
    assert optcl.version() == optcl.__version__


def test_numpy_round_trip_and_step(backend):
    ctx, params, opt = rig(backend, lr=0.1, betas=(0.8, 0.99))
    assert [t["name"] for t in params.tensors] == ["w", "b", "s"]
    assert params.read("w").shape == (33, 65) and params.read("s").shape == ()
    w0 = params.read("w")
    g = np.full((33, 65), 0.5, np.float32)
    params.write(g, "w", role="grads")
    opt.step()
    # Adam's first step moves every element with a gradient by lr (its sign)
    np.testing.assert_allclose(params.read("w"), w0 - 0.1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(opt.read_state("exp_avg", "w"), 0.2 * g, rtol=1e-6)
    assert opt.step_count == 1 and opt.state_names == ["exp_avg", "exp_avg_sq"]
    assert opt.option("beta1") == 0.8
    packed = params.read()
    assert packed.shape == (33 * 65 + 7 + 1,)
    np.testing.assert_array_equal(packed[:33 * 65], params.read("w").reshape(-1))
    with pytest.raises(ValueError, match="10 values where 2145"):
        params.write(np.zeros(10), "w")
    with pytest.raises(KeyError):
        params.read("nope")


def test_numpy_in_place_on_the_reference_backend():
    ctx, params, opt = rig("reference", algorithm="sgd", lr=0.5)
    w = params.host_view("params", "w")
    g = params.host_view("grads", "w")
    w[...] = 1.0  # written in place: no copy in
    g[...] = 2.0
    opt.step()
    np.testing.assert_array_equal(w, np.zeros((33, 65), np.float32))  # seen without a copy out
    np.testing.assert_array_equal(params.read("w"), w)


def test_options_schedule_plateau_lookahead_guard(backend):
    assert "amsgrad" in optcl.options("adam")
    assert optcl.options("rprop")["variant"]["choices"] == ["pytorch", "classic"]
    ctx, params, opt = rig(backend, lr=0.1, schedule={"kind": "step", "step_size": 2,
                                                      "gamma": 0.5},
                           plateau={"patience": 0, "factor": 0.1}, max_norm=1.0,
                           nonfinite="skip", lookahead={"k": 2, "alpha": 0.5})
    params.write(np.ones(33 * 65, np.float32), "w", role="grads")
    for _ in range(3):
        opt.step()
    assert opt.lr() == pytest.approx(0.05)
    opt.report_metric(1.0)
    opt.report_metric(2.0)
    assert opt.lr() == pytest.approx(0.005)
    params.write(np.full(33 * 65, np.inf, np.float32), "w", role="grads")
    opt.step()
    stats = opt.guard_stats()
    assert stats["steps"] == 3 and stats["skipped"] == 1
    assert opt.lookahead_alpha == 0.5
    assert "lookahead_slow" in opt.state_names
    with pytest.raises(ValueError, match="schedule kind"):
        params.optimizer("adam", schedule={"kind": "weekly"})
    with pytest.raises(ValueError, match="no option 'momentum'"):
        params.optimizer("adam", momentum=0.9)
    for call in (lambda: opt.set_option("momentum", 0.9), lambda: opt.option("momentum")):
        with pytest.raises(ValueError, match="no option 'momentum' .its options: weight_decay, "
                                             "beta1"):
            call()
    mine = optcl.options("rprop")  # a copy: changing it changes nothing optcl reads
    mine["variant"]["choices"].append("newest")
    mine["variant"]["type"] = "real"
    del mine["etaplus"]
    assert optcl.options("rprop")["variant"]["choices"] == ["pytorch", "classic"]
    assert "etaplus" in optcl.options("rprop")
    with pytest.raises(ValueError, match="variant='newest': one of pytorch, classic"):
        params.optimizer("rprop", variant="newest")


def test_running_values(backend):
    """NAdam's mu_product is torch's float32 product of the mu of the steps taken, from the
    beta1 each step had; set, the next step continues from it; names the rule does not keep,
    and reads before a step, are refused with the reason."""
    ctx, params, opt = rig(backend, "nadam", lr=0.01)
    with pytest.raises(optcl.OptclError, match="no step taken yet"):
        opt.running_value("mu_product")
    params.write(np.ones(33 * 65, np.float32), "w", role="grads")
    product = np.float32(1.0)
    for t, beta1 in enumerate((0.9, 0.9, 0.8), start=1):
        opt.set_option("beta1", beta1)
        opt.step()
        product = product * np.float32(beta1 * (1.0 - 0.5 * 0.96 ** (t * 4e-3)))
        assert opt.running_value("mu_product") == float(product)
    opt.set_running_value("mu_product", 0.5)
    assert opt.running_value("mu_product") == 0.5
    with pytest.raises(optcl.OptclError, match=r"keeps no running value 'eta' \(it keeps: "
                                               r"mu_product\)"):
        opt.running_value("eta")
    with pytest.raises(optcl.OptclError, match="not finite"):
        opt.set_running_value("mu_product", float("nan"))


def test_checkpoint_round_trip(backend, tmp_path):
    ctx, params, opt = rig(backend, lr=0.1)
    params.write(np.ones(33 * 65, np.float32), "w", role="grads")
    opt.step()
    path = tmp_path / "run.safetensors"
    opt.save(path)
    tensors, meta = optcl.load_checkpoint(path)
    np.testing.assert_array_equal(tensors["w"], params.read("w"))
    np.testing.assert_array_equal(tensors["optim.exp_avg.b"], opt.read_state("exp_avg", "b"))
    assert meta["optcl.step"] == "1"
    opt.step()
    opt.load(path)
    assert opt.step_count == 1
    np.testing.assert_array_equal(tensors["w"], params.read("w"))
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{nope")
    with pytest.raises(optcl.OptclError, match="bad.safetensors"):
        opt.load(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="not JSON"):
        optcl.load_checkpoint(tmp_path / "bad.safetensors")


def test_progress_read_from_the_header(backend, tmp_path):
    """optcl.read_progress: the saved run's step count and next lr (a cosine schedule here) as
    the optimizer gives them; a file that is no checkpoint raises OptclError naming it."""
    ctx, params, opt = rig(backend, lr=0.1, schedule={"kind": "cosine", "t_max": 10})
    params.write(np.ones(33 * 65, np.float32), "w", role="grads")
    for _ in range(3):
        opt.step()
    path = tmp_path / "run.safetensors"
    opt.save(path)
    progress = optcl.read_progress(path)
    assert progress["steps"] == 3 and progress["skipped"] == 0
    assert progress["loss_scale"] == 1.0
    assert progress["lr"][0] == opt.lr(0) == pytest.approx(0.1 * (1 + np.cos(np.pi * 3 / 10)) / 2)
    assert len(progress["lr"]) == 64
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{nope")
    with pytest.raises(optcl.OptclError, match="bad.safetensors"):
        optcl.read_progress(tmp_path / "bad.safetensors")


def test_wrong_struct_layout_refused():
    """A binding whose view of a struct is not the library's is refused with the sizes."""
    fields = [(n, ctypes.c_int64 * 4 if n == "shape" else t)  # a header with 4 dims at most
              for n, t in _abi.TensorSpec._fields_]
    Old = type("optcl_tensor_spec", (ctypes.Structure,), {"_fields_": fields})
    with pytest.raises(optcl.AbiMismatch, match=r"optcl_tensor_spec: \d+ bytes here, 88"):
        _lib.check_abi(_lib.lib, [Old])
    _lib.check_abi(_lib.lib)  # the package's own view passes


def test_library_from_environment(tmp_path):
    """OPTCL_LIBRARY names the library; one that is not there is a clear ImportError."""
    if "OPTCL_LIBRARY" not in os.environ:  # the installed package's own copy
        assert os.path.dirname(optcl.library_path()) == os.path.dirname(optcl.__file__)
    env = dict(os.environ, OPTCL_LIBRARY=str(tmp_path / "liboptcl.so"))
    out = subprocess.run([sys.executable, "-c", "import optcl"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "cannot load" in out.stderr
    env["OPTCL_LIBRARY"] = optcl.library_path()
    out = subprocess.run([sys.executable, "-c", "import optcl; print(optcl.library_path())"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == optcl.library_path()


@pytest.mark.skipif(not HAS_OPENCL, reason="no OpenCL device")
def test_shared_host_memory_on_opencl(tmp_path):
    """shared=True: the set's memory is host memory behind its buffers, so NumPy views are
    what the steps read and write; read, write, zero_grad and checkpoints still work, and the
    buffers themselves are not handed out while mapped for the host."""
    ctx = optcl.Context()
    plain = ctx.params(TENSORS)
    with pytest.raises(ValueError, match="shared=True"):
        plain.host_view("params", "w")
    params = ctx.params(TENSORS, shared=True)
    assert params.shared and not plain.shared
    opt = params.optimizer("sgd", lr=0.5, momentum=0.9)
    w, g = params.host_view("params", "w"), params.host_view("grads", "w")
    w[...] = 1.0
    g[...] = 2.0
    opt.step()
    np.testing.assert_array_equal(w, np.zeros((33, 65), np.float32))  # 1 - 0.5·2, no copy
    params.write(np.arange(7, dtype=np.float32), "b", role="grads")
    opt.step()
    np.testing.assert_array_equal(params.read("b"), params.host_view("params", "b"))
    assert params.read("b")[1] == -0.5 * 1.0
    params.zero_grad()
    assert not params.host_view("grads").any()
    saved = w.copy()
    opt.save(tmp_path / "shared.safetensors")
    w[...] = 7.0
    opt.load(tmp_path / "shared.safetensors")
    np.testing.assert_array_equal(w, saved)
    with pytest.raises(ValueError, match="host_view"):
        params.buffer("params")
    half = ctx.params(TENSORS, dtype="bf16", shared=True)
    bits = half.host_view("params", "b")
    assert bits.dtype == np.uint16 and bits.shape == (7,)
    half.write(np.full(7, 1.5, np.float32), "b")
    assert (bits == 0x3FC0).all()  # 1.5 in bfloat16, seen through the view


def test_host_views_keep_the_memory_alive():
    """A NumPy view of a reference-backend set keeps the set's memory: after the Params goes
    (or is closed) the view still holds its values, and writes through it reach no other
    set's memory."""
    ctx = optcl.Context("reference")

    def make():
        p = ctx.params([("w", (64, 64))])
        p.write(np.ones((64, 64), np.float32), "w")
        return p.host_view("params", "w")

    w = make()
    gc.collect()
    closed = ctx.params([("v", (8,))])
    v = closed.host_view("grads", "v")
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        closed.host_view("grads", "v")
    others = [ctx.params([("x", (64, 64))]) for _ in range(4)]
    for q in others:
        q.write(np.full((64, 64), 5, np.float32), "x")
    assert (w == 1).all() and (v == 0).all()
    w[...] = 123.0
    v[...] = 7.0
    for q in others:
        assert (q.read("x") == 5).all()


def _traced_destroys(monkeypatch):
    """Records (kind, status) of every destroy call optcl's objects make."""
    log = []
    for kind in ("context", "params", "optimizer"):
        name = f"optcl_{kind}_destroy"
        real = getattr(_lib.lib, name)

        def traced(handle, real=real, kind=kind):
            status = real(handle)
            log.append((kind, _lib.status_name(status)))
            return status
        monkeypatch.setattr(_lib.lib, name, traced)
    return log


def test_reference_cycles_free_every_handle(monkeypatch):
    """Objects in a reference cycle are finalized by the garbage collector in any order; every
    C object is still destroyed (children first), none refused with OPTCL_ERROR_IN_USE."""
    log = _traced_destroys(monkeypatch)

    class Trainer:
        def __init__(self):
            self.ctx = optcl.Context("reference")
            self.params = self.ctx.params([("w", (1000,))])
            self.opt = self.params.optimizer("adam", lr=1e-3)
            self.me = self  # a cycle
            self.params.back = self.opt  # and another, through the core objects

    gc.collect()
    for _ in range(3):
        t = Trainer()
        t.opt.step()
        del t
        gc.collect()
    assert sorted(log) == sorted([("optimizer", "OPTCL_SUCCESS"), ("params", "OPTCL_SUCCESS"),
                                  ("context", "OPTCL_SUCCESS")] * 3)
    for i in range(0, 9, 3):
        assert [k for k, _ in log[i:i + 3]] == ["optimizer", "params", "context"]


def test_context_with_block_closes_what_it_made(monkeypatch):
    """Leaving a with block closes the context's sets and optimizers first (no
    OPTCL_ERROR_IN_USE), and an exception leaving the block is the user's, unmasked."""
    log = _traced_destroys(monkeypatch)
    with optcl.Context("reference") as ctx:
        params = ctx.params([("w", (3, 4))])
        opt = params.optimizer("sgd", lr=0.1)
        opt.step()
    assert log == [("optimizer", "OPTCL_SUCCESS"), ("params", "OPTCL_SUCCESS"),
                   ("context", "OPTCL_SUCCESS")]
    assert ctx.closed and params.closed and opt.closed
    with pytest.raises(ValueError, match="5 values where 12") as caught:
        with optcl.Context("reference") as ctx:
            params = ctx.params([("w", (3, 4))])
            params.write(np.zeros(5), "w")
    assert caught.value.__context__ is None and params.closed


def test_context_exit_keeps_the_users_exception_when_close_fails(monkeypatch):
    """A with block left by an exception: a close() that fails itself (a destroy refused)
    does not replace the user's exception; without one, close()'s error is raised."""
    log = _traced_destroys(monkeypatch)
    traced = _lib.lib.optcl_params_destroy

    def failing(handle):
        traced(handle)
        return 1  # any error status

    monkeypatch.setattr(_lib.lib, "optcl_params_destroy", failing)
    with pytest.raises(optcl.OptclError, match="destroying an optcl.Params"):
        with optcl.Context("reference") as ctx:
            params = ctx.params([("w", (3, 4))])
    mine = KeyError("the user's")
    with pytest.raises(KeyError) as caught:
        with optcl.Context("reference") as ctx:
            params = ctx.params([("w", (3, 4))])
            raise mine
    assert params.closed
    assert caught.value is mine
    assert ("params", "OPTCL_SUCCESS") in log


def test_closed_objects_refuse_every_call():
    ctx = optcl.Context("reference")
    params = ctx.params([("w", (3, 4))])
    opt = params.optimizer("sgd", lr=0.1, momentum=0.9)
    opt.close()
    opt.close()  # idempotent
    for call in (opt.step, lambda: opt.step_count, lambda: opt.state_names, opt.lr,
                 lambda: opt.option("momentum"), lambda: opt.read_state("momentum_buffer")):
        with pytest.raises(ValueError, match="optcl.Optimizer is closed"):
            call()
    params.close()
    for call in (params.read, lambda: params.numel, lambda: params.optimizer("sgd"),
                 lambda: params.host_view("params", "w")):
        with pytest.raises(ValueError, match="optcl.Params is closed"):
            call()
    ctx.close()
    for call in (lambda: ctx.params([("a", (2,))]), lambda: ctx.device_name,
                 lambda: ctx.backend):
        with pytest.raises(ValueError, match="optcl.Context is closed"):
            call()


def test_bad_keywords_are_refused():
    ctx = optcl.Context("reference")
    params = ctx.params([("w", (3, 4)), ("b", (4,), 1)])
    with pytest.raises(ValueError, match=r"groups\[0\]: unknown keys \['lrr'\]"):
        params.optimizer("adam", groups=[{"lrr": 1}])
    with pytest.raises(ValueError, match="3 given, the parameter set has 2"):
        params.optimizer("adam", groups=[{}, {}, {}])
    with pytest.raises(TypeError, match="maximize: 'no' is not a bool"):
        params.optimizer("adam", maximize="no")
    with pytest.raises(TypeError, match="amsgrad: 'yes' is not a bool"):
        params.optimizer("adam", amsgrad="yes")
    opt = params.optimizer("adam", lr=0.1)
    for bad, error in ((-1, ValueError), (1.7, TypeError), ("3", TypeError)):
        with pytest.raises(error, match="step_count"):
            opt.step_count = bad
    assert opt.step_count == 0
    opt.set_option("weight_decay", 0.25)  # option() reads what set_option writes
    assert opt.option("weight_decay") == 0.25
    rprop = params.optimizer("rprop", variant="classic")
    assert rprop.option("variant") == 1
    rprop.set_option("variant", "classic")  # choice names, as the constructor takes them
    with pytest.raises(ValueError, match="variant='newest': one of pytorch, classic"):
        rprop.set_option("variant", "newest")


def test_buffers_and_raw_writes_are_checked():
    ctx = optcl.Context("reference")

    class FakeArray:  # what Params looks at before it reaches C: a dtype
        dtype = np.float64

    class FakeArray16:
        dtype = np.float16

    with pytest.raises(TypeError, match="Array of float64; a f32 set takes float32"):
        ctx.params([("w", (4,))], buffers=(FakeArray(), FakeArray()))
    with pytest.raises(ValueError, match="shared=True .* buffers="):
        ctx.params([("w", (4,))], buffers=(FakeArray(), FakeArray()), shared=True)
    bf16 = ctx.params([("w", (4,))], dtype="bf16")
    bf16.write(np.full(4, 1.5, np.float32), "w")
    with pytest.raises(TypeError, match="raw=True.*float32 values"):
        bf16.write(np.ones(4, np.float32), "w", raw=True)
    assert (bf16.read("w") == 1.5).all()
    bf16.write(bf16.read("w", raw=True), "w", raw=True)  # the stored bits round-trip
    with pytest.raises(TypeError, match="raw=True.*float16 values"):  # not bfloat16's bits
        bf16.write(np.full(4, 1.5, np.float16), "w", raw=True)
    assert (bf16.read("w") == 1.5).all()
    with pytest.raises(TypeError, match="Array of float16; a bf16 set takes uint16 or int16"):
        ctx.params([("w", (4,))], dtype="bf16", buffers=(FakeArray16(), FakeArray16()))
    f16 = ctx.params([("w", (4,))], dtype="f16")
    f16.write(np.full(4, 1.5, np.float16), "w", raw=True)  # float16 is an f16 set's element
    assert (f16.read("w") == 1.5).all()


def test_checkpoint_bf16_and_f16_tensors_read(tmp_path):
    """A BF16 tensor's 2-byte elements widened to float32 exactly (its size checked at 2 bytes
    each), an F16 one's read as stored; a bool in a shape or data_offsets is not a size."""
    def write(name, header, data):
        h = json.dumps(header).encode()
        path = tmp_path / name
        path.write_bytes(struct.pack("<Q", len(h)) + h + data)
        return str(path)

    bf16 = struct.pack("<3H", 0x3FC0, 0xC000, 0x4049)  # 1.5, -2.0, 3.140625
    f16 = np.array([0.5, -65504.0], "<f2").tobytes()
    path = write("ok", {"b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
                        "h": {"dtype": "F16", "shape": [2, 1], "data_offsets": [6, 10]}},
                 bf16 + f16)
    tensors, _ = optcl.load_checkpoint(path)
    assert tensors["b"].dtype == np.float32
    np.testing.assert_array_equal(tensors["b"], np.array([1.5, -2.0, 3.140625], np.float32))
    np.testing.assert_array_equal(tensors["h"], np.array([[0.5], [-65504.0]], np.float16))
    path = write("short", {"b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}},
                 bf16)
    with pytest.raises(ValueError, match="shape \\(3,\\) of BF16 needs 6 bytes"):
        optcl.load_checkpoint(path)
    path = write("bool", {"b": {"dtype": "BF16", "shape": [True], "data_offsets": [0, 2]}},
                 bf16)
    with pytest.raises(ValueError, match="shape \\[True\\] is not a list of sizes"):
        optcl.load_checkpoint(path)
    path = write("boolo", {"b": {"dtype": "BF16", "shape": [1], "data_offsets": [False, 2]}},
                 bf16)
    with pytest.raises(ValueError, match="is not a \\[begin, end\\] pair"):
        optcl.load_checkpoint(path)


def test_malformed_checkpoints_named(tmp_path):
    def write(name, header, data):
        h = json.dumps(header).encode()
        path = tmp_path / name
        path.write_bytes(struct.pack("<Q", len(h)) + h + data)
        return str(path)

    path = write("a", {"w": {"dtype": "F32"}}, b"")
    with pytest.raises(ValueError, match=f"{path}: tensor 'w': .*lacks shape, data_offsets"):
        optcl.load_checkpoint(path)
    path = write("b", {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8))
    with pytest.raises(ValueError, match=f"{path}: tensor 'w': shape \\(3,\\) of F32 needs "
                                         "12 bytes"):
        optcl.load_checkpoint(path)
    path = write("c", {"w": {"dtype": "F32", "shape": "3", "data_offsets": [0, 12]}},
                 bytes(12))
    with pytest.raises(ValueError, match=f"{path}: tensor 'w': shape '3'"):
        optcl.load_checkpoint(path)
