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


def test_precision_modes():
    """optcl's precision keywords on a drop-in: bfloat16 parameters with float32 master weights
    step as the float32 optimizer does (the parameters are its result rounded), and 8-bit
    state takes a quarter of the bytes."""
    g = torch.Generator().manual_seed(5)
    w32 = (torch.rand(4096, generator=g) * 2 - 1).requires_grad_()
    w16 = w32.detach().to(torch.bfloat16).requires_grad_()
    start = w16.detach().float().clone().requires_grad_()
    w8 = w32.detach().clone().requires_grad_()
    full = ot.Adam([start], lr=0.01, device="reference")
    master = ot.Adam([w16], lr=0.01, master_weights=True, device="reference")
    int8 = ot.Adam([w8], lr=0.01, state_dtype="int8", device="reference")
    plain = ot.Adam([w32], lr=0.01, device="reference")
    for step in range(5):
        grad = gradient((4096,), step, 0).to(torch.bfloat16).float()  # the same for all
        start.grad, w16.grad = grad.clone(), grad.to(torch.bfloat16)
        w8.grad, w32.grad = grad.clone(), grad.clone()
        for o in (full, master, int8, plain):
            o.step()
    assert w16.dtype == torch.bfloat16
    assert torch.equal(w16.detach(), start.detach().to(torch.bfloat16))
    saved = master.state_dict()["state"][0]  # the master too, in float32: a resume is exact
    assert saved["master"].dtype == torch.float32 and saved["exp_avg"].dtype == torch.float32
    assert torch.equal(saved["master"], start.detach())
    # 8-bit state (test_q8 checks its numbers): a quarter of the bytes, and a step that stays
    # near float32's (5 steps of at most lr = 0.01 each)
    assert int8.runs_of(0)[0].opt.state_bytes * 3 < plain.runs_of(0)[0].opt.state_bytes
    assert (w8 - w32).abs().mean() < 1e-3
    with pytest.raises(Exception, match="state_dtype"):
        bad = ot.Adam([w32.detach().clone().requires_grad_()], state_dtype="int4",
                      device="reference")
        bad.param_groups[0]["params"][0].grad = torch.ones(4096)
        bad.step()
