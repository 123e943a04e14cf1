"""Every optcl.torch class steps, keeps torch.optim's state names, and gives the same bits on
the reference backend and on OpenCL (optcl's backends agree bit for bit), including bfloat16
parameters with float32 master weights' rules, and Schedule-Free's train/eval switch."""
import pytest
import torch

import optcl.torch as ot
from conftest import HAS_OPENCL
from test_torch_parity import gradient

CLASSES = [name for name in ot.__all__ if name != "OptclOptimizer"]
SHAPES = [(33, 65), (7, 13), (5,), ()]


def tensors(names, dtype=torch.float32):
    g = torch.Generator().manual_seed(3)
    shapes = [s for s in SHAPES if len(s) == 2] if names == "Muon" else SHAPES
    return [(torch.rand(s, generator=g) * 2 - 1).to(dtype).requires_grad_() for s in shapes]


def run(name, device, dtype=torch.float32, steps=4):
    params = tensors(name, dtype)
    opt = getattr(ot, name)([{"params": params[:2]}, {"params": params[2:]}]
                            if len(params) > 2 else params, device=device)
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = gradient(p.shape, step, i).to(dtype)
        opt.step()
    if hasattr(opt, "eval"):
        opt.eval()  # Schedule-Free: the parameters become x
    return [p.detach().clone() for p in params], opt.state_dict()


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_steps(name):
    before = tensors(name)
    after, state = run(name, "reference")
    assert any(not torch.equal(a, b) for a, b in zip(after, before)), f"{name} moved nothing"
    assert all(torch.isfinite(a).all() for a in after)
    if name in ("SGD", "Muon"):
        return  # SGD without momentum keeps no state; Muon keeps no step (torch's)
    assert all("step" in s and s["step"].dtype == torch.float32 for s in state["state"].values())


@pytest.mark.skipif(not HAS_OPENCL, reason="no OpenCL device")
@pytest.mark.parametrize("name", CLASSES)
def test_backends_agree_bit_for_bit(name):
    if name == "Muon":
        pytest.skip("Muon's matrix products differ in rounding between CLBlast and the plain "
                    "C GEMM (test_golden checks both against torch)")
    ref, ref_state = run(name, "reference")
    dev, dev_state = run(name, None)
    for a, b in zip(ref, dev):
        assert torch.equal(a, b), name
    for k in ref_state["state"]:
        for key, value in ref_state["state"][k].items():
            other = dev_state["state"][k][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other


@pytest.mark.skipif(not HAS_OPENCL, reason="no OpenCL device")
def test_bfloat16_parameters():
    """bfloat16 groups: copied on the reference backend (its memory is float32), shared on
    OpenCL; the same bits on both, and bfloat16 state as torch keeps it."""
    ref, ref_state = run("Adam", "reference", torch.bfloat16)
    dev, dev_state = run("Adam", None, torch.bfloat16)
    for a, b in zip(ref, dev):
        assert a.dtype == torch.bfloat16 and torch.equal(a, b)
    assert ref_state["state"][0]["exp_avg"].dtype == torch.bfloat16
    assert torch.equal(ref_state["state"][0]["exp_avg"], dev_state["state"][0]["exp_avg"])
