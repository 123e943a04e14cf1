"""optcl.torch as training code uses it: LR schedulers and ReduceLROnPlateau through
param_groups, closures, zero_grad, add_param_group, state_dict round trips and swapping with
torch.optim mid-run, GradScaler's skipped step, and the errors."""
import copy
import gc
import subprocess
import sys

import numpy as np
import pytest
import torch

import optcl
import optcl.torch as ot
from optcl import _cl
from conftest import BACKENDS, RTOL, device_of
from test_torch_parity import TORCH2, gradient, make_params


def close(a, b, rtol):
    torch.testing.assert_close(a, b, rtol=rtol, atol=rtol)


def stepper(params, step):
    for i, p in enumerate(params):
        p.grad = gradient(p.shape, step, i)


def test_schedulers_and_plateau(backend):
    """StepLR, then ReduceLROnPlateau: the lr optcl steps with is the one torch's schedulers put
    in param_groups, so the parameters stay with torch.optim's."""
    theirs = [t.requires_grad_() for t in make_params()]
    ours = [t.clone().detach().requires_grad_() for t in make_params()]
    t_opt = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    o_opt = ot.SGD(ours, lr=0.1, momentum=0.9, device=device_of(backend))
    scheds = [torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5) for o in (t_opt, o_opt)]
    plateaus = [torch.optim.lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.1)
                for o in (t_opt, o_opt)]
    for step in range(12):
        stepper(theirs, step)
        stepper(ours, step)
        t_opt.step()
        o_opt.step()
        if step < 6:
            for s in scheds:
                s.step()
        else:
            for s in plateaus:
                s.step(1.0)  # never improves: the lr drops every other report
        assert o_opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"]
        for a, b in zip(theirs, ours):
            close(b, a, RTOL[backend])
    assert o_opt.param_groups[0]["lr"] < 0.1 * 0.25  # both schedulers acted


def test_closure_and_zero_grad(backend):
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = ot.Adam([w], lr=0.1, device=device_of(backend))
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        calls.append(float(loss))
        return loss

    losses = [float(opt.step(closure)) for _ in range(20)]
    assert len(calls) == 20 and losses == calls
    assert losses[-1] < 0.5 * losses[0]
    opt.zero_grad()
    assert w.grad is None or not w.grad.any()


def test_add_param_group_and_hyperparameter_edits(backend):
    """A group added mid-run steps from then on; an edited beta or weight decay takes effect at
    the next step. amsgrad switched on (which torch.optim itself cannot do mid-run) rebuilds the
    group's optimizer, its moments carried over."""
    theirs = [t.requires_grad_() for t in make_params()]
    ours = [t.clone().detach().requires_grad_() for t in make_params()]
    t_opt = torch.optim.Adam(theirs[:2], lr=0.01)
    o_opt = ot.Adam(ours[:2], lr=0.01, device=device_of(backend))
    for step in range(6):
        if step == 2:
            t_opt.add_param_group({"params": theirs[2:], "lr": 0.02})
            o_opt.add_param_group({"params": ours[2:], "lr": 0.02})
        if step == 3:
            for o in (t_opt, o_opt):
                o.param_groups[0]["betas"] = (0.8, 0.99)
                o.param_groups[1]["weight_decay"] = 0.1
        if step == 5:
            o_opt.param_groups[0]["amsgrad"] = True
        stepper(theirs, step)
        stepper(ours, step)
        t_opt.step()
        o_opt.step()
        if step < 5:
            for a, b in zip(theirs, ours):
                close(b, a, RTOL[backend])
    t_state, o_state = t_opt.state_dict()["state"], o_opt.state_dict()["state"]
    assert set(o_state[0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    for k in t_state:  # the moments do not depend on amsgrad
        for name in ("exp_avg", "exp_avg_sq"):
            close(o_state[k][name], t_state[k][name], RTOL[backend])
        assert float(o_state[k]["step"]) == float(t_state[k]["step"])


SWAP_CASES = [("Adam", {"lr": 0.01, "amsgrad": True}, None),
              ("SGD", {"lr": 0.05, "momentum": 0.9}, None),
              ("RMSprop", {"lr": 0.01, "centered": True}, None),
              ("Rprop", {"lr": 0.01}, None),
              ("NAdam", {"lr": 0.01}, "betas"),
              ("ASGD", {"lr": 0.01, "t0": 4}, "lr")]


@pytest.mark.parametrize("name,kwargs,change", SWAP_CASES,
                         ids=[f"{c[0]}-{c[2]}" if c[2] else c[0] for c in SWAP_CASES])
def test_swap_with_torch_mid_run(name, kwargs, change, backend):
    """torch.optim for 5 steps, optcl for 5 (from torch's state dict, then at step 8 from
    optcl's own), torch again for 5: the same parameters as 15 steps of torch.optim alone.
    Where `change` names a key, it changes every third step (β1 or the lr): torch's scalar state
    (NAdam's mu_product, ASGD's eta) keeps the terms of the steps taken with the values each
    had, and optcl's state_dict holds torch's values."""
    if name == "NAdam" and not TORCH2:
        pytest.skip("torch 1.x's NAdam counts mu twice")
    ref = [t.requires_grad_() for t in make_params()]
    run = [t.clone().detach().requires_grad_() for t in make_params()]
    r_opt = getattr(torch.optim, name)(ref, **kwargs)
    opt = getattr(torch.optim, name)(run, **kwargs)
    scalar = {"NAdam": "mu_product", "ASGD": "eta"}.get(name)
    for step in range(15):
        if step in (5, 8):
            o = getattr(ot, name)(run, device=device_of(backend), **kwargs)
            o.load_state_dict(opt.state_dict())
            opt = o
        if step == 10:
            o = getattr(torch.optim, name)(run, **kwargs)
            o.load_state_dict(opt.state_dict())
            opt = o
        if change and step % 3 == 2:
            for o in (r_opt, opt):
                g = o.param_groups[0]
                g[change] = (g["betas"][0] - 0.05, g["betas"][1]) if change == "betas" \
                    else g["lr"] * 0.7
        stepper(ref, step)
        stepper(run, step)
        r_opt.step()
        opt.step()
        for a, b in zip(ref, run):
            close(b, a, RTOL[backend])
        if scalar and 5 <= step < 10:
            theirs, ours = r_opt.state_dict()["state"], opt.state_dict()["state"]
            for i in theirs:
                close(ours[i][scalar], theirs[i][scalar], 1e-7)


def test_a_state_of_another_shape_is_refused(backend):
    """A state dict whose buffer has another shape than its tensor (here transposed, the same
    number of elements) is refused at the step that would take it, naming the state and the
    tensor, before anything moves; torch.optim's own step fails on it too."""
    torch.manual_seed(0)
    w, b = torch.randn(3, 5, requires_grad=True), torch.randn(5, requires_grad=True)
    t_opt = torch.optim.Adam([w, b], lr=0.01)
    for p in (w, b):
        p.grad = torch.ones_like(p)
    t_opt.step()
    saved = t_opt.state_dict()
    saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"].t().contiguous()
    opt = ot.Adam([w, b], lr=0.01, device=device_of(backend))
    opt.load_state_dict(saved)
    before = [w.detach().clone(), b.detach().clone()]
    with pytest.raises(RuntimeError, match=r"'exp_avg' of tensor 0 of param group 0 has shape "
                                           r"\(5, 3\), where the tensor needs \(3, 5\)"):
        opt.step()
    assert torch.equal(w, before[0]) and torch.equal(b, before[1])
    t_opt.load_state_dict(saved)
    with pytest.raises(RuntimeError):
        t_opt.step()


@pytest.mark.parametrize("name", ["AdamWScheduleFree", "SGDScheduleFree"])
def test_schedule_free_resumes_its_weighting(name, backend):
    """Schedule-Free's weight_sum and lr_max travel in the param groups, as schedulefree keeps
    them: a run saved after the lr grew and loaded into a new optimizer steps on bit for bit."""
    lrs = {"AdamWScheduleFree": (1e-3, 3e-3), "SGDScheduleFree": (0.1, 0.3)}[name]
    whole = [t.requires_grad_() for t in make_params()]
    parts = [t.clone().detach().requires_grad_() for t in make_params()]
    a = getattr(ot, name)(whole, lr=lrs[0], device=device_of(backend))
    b = getattr(ot, name)(parts, lr=lrs[0], device=device_of(backend))
    for step in range(8):
        if step == 3:  # lr_max grows: the weights of the later steps differ
            for o in (a, b):
                o.param_groups[0]["lr"] = lrs[1]
        if step == 5:
            saved = b.state_dict()
            assert saved["param_groups"][0]["lr_max"] == pytest.approx(lrs[1])
            b = getattr(ot, name)(parts, lr=lrs[1], device=device_of(backend))
            b.load_state_dict(saved)
        stepper(whole, step)
        stepper(parts, step)
        a.step()
        b.step()
    for x, y in zip(whole, parts):
        assert torch.equal(x.detach(), y.detach())


def test_fused_amp_contract(backend):
    """GradScaler's contract with optimizers that unscale themselves
    (_step_supports_amp_scaling): grad_scale and found_inf set on the optimizer before step().
    Scaled gradients step as torch.optim steps the unscaled ones; found_inf skips the step, the
    count included; grad_scale None (after unscale_) steps the gradients as they are."""
    theirs = [t.requires_grad_() for t in make_params()]
    ours = [t.clone().detach().requires_grad_() for t in make_params()]
    t_opt = torch.optim.Adam(theirs, lr=0.01)
    o_opt = ot.Adam(ours, lr=0.01, device=device_of(backend))
    assert o_opt._step_supports_amp_scaling
    for step, (scale, inf) in enumerate([(1024.0, 0.0), (8.0, 1.0), (8.0, 0.0), (None, 0.0)]):
        stepper(theirs, step)
        stepper(ours, step)
        for p in ours:
            p.grad.mul_(scale or 1.0)
        o_opt.grad_scale = None if scale is None else torch.tensor(scale)
        o_opt.found_inf = torch.tensor(inf)
        before = [p.detach().clone() for p in ours]
        o_opt.step()
        del o_opt.grad_scale, o_opt.found_inf
        if inf:
            assert all(torch.equal(p, b) for p, b in zip(ours, before))
            continue
        t_opt.step()
        for a, b in zip(theirs, ours):
            close(b, a, RTOL[backend])
    assert float(o_opt.state_dict()["state"][0]["step"]) == 3.0


def cpu_grad_scaler(init_scale):
    """torch's GradScaler for CPU tensors, where this torch has one (2.x)."""
    amp = getattr(torch, "amp", None)
    if amp is None or not hasattr(amp, "GradScaler"):
        return None
    try:
        scaler = amp.GradScaler("cpu", init_scale=init_scale)
    except (TypeError, RuntimeError):
        return None
    return scaler if scaler.is_enabled() else None


def test_grad_scaler(backend):
    """A GradScaler over optcl.torch.SGD: an Inf gradient skips the step (nothing changes) and
    halves the scale; finite steps go on, also after unscale_ and clipping."""
    scaler = cpu_grad_scaler(4.0)
    if scaler is None:
        pytest.skip(f"torch {torch.__version__} has no GradScaler for CPU tensors")
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = ot.SGD([w], lr=0.1, momentum=0.9, device=device_of(backend))
    scaler.scale((w * torch.tensor([1.0, float("inf")])).sum()).backward()
    before = w.detach().clone()
    scaler.step(opt)
    scaler.update()
    assert torch.equal(w.detach(), before) and scaler.get_scale() == 2.0
    opt.zero_grad()
    scaler.scale((w * w).sum()).backward()  # gradient 2w, scaled by 2
    scaler.step(opt)
    scaler.update()
    torch.testing.assert_close(w.detach(), before - 0.1 * 2 * before)
    opt.zero_grad()
    scaler.scale((w * w).sum()).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_([w], 1e9)
    after = w.detach().clone()
    scaler.step(opt)
    scaler.update()
    assert not torch.equal(w.detach(), after)


def test_errors_carry_optcl_messages():
    """Bad hyperparameters are refused by the constructor (ValueError, as torch's), with
    torch's message where torch checks the value and optcl's where only optcl does."""
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.5"):
        ot.Adam([w], betas=(1.5, 0.9), device="reference")
    with pytest.raises(ValueError, match="param group 0: .*alpha"):
        ot.RMSprop([w], alpha=1.5, device="reference")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ot.Adam([w], momentum=0.9)
    with pytest.raises(optcl.OptclError, match="OPTCL_ERROR_NO_DEVICE"):
        optcl.Context("no such device anywhere")


WITHOUT_GRAD_CASES = [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.05, momentum=0.9)),
                      ("NAdam", dict(lr=0.01)), ("Adagrad", dict(lr=0.05))]


@pytest.mark.parametrize("name,kwargs", WITHOUT_GRAD_CASES, ids=[c[0] for c in WITHOUT_GRAD_CASES])
def test_tensors_without_a_gradient_are_left_alone(name, kwargs, backend):
    """A group may hold tensors that get no gradient: frozen ones, and ones that miss some
    steps. As in torch.optim they do not move and their state and step count stay; each tensor
    keeps its own count (optcl splits the group's set where the counts part)."""
    if name == "NAdam" and not TORCH2:
        pytest.skip("torch 1.x's NAdam counts mu twice")
    theirs = [t.requires_grad_() for t in make_params()]
    ours = [t.clone().detach().requires_grad_() for t in make_params()]
    frozen = [torch.ones(4), torch.ones(4)]  # requires_grad=False: never a gradient
    t_opt = getattr(torch.optim, name)(theirs + frozen[:1], **kwargs)
    o_opt = getattr(ot, name)(ours + frozen[1:], device=device_of(backend), **kwargs)

    def has_grad(step, i):  # tensors 1 and 3 miss every third step, at different steps
        return i not in (1, 3) or (step + i) % 3 != 0

    for step in range(10):
        for params in (theirs, ours):
            for i, p in enumerate(params):
                p.grad = gradient(p.shape, step, i) if has_grad(step, i) else None
        t_opt.step()
        o_opt.step()
        for i, (a, b) in enumerate(zip(theirs, ours)):
            close(b, a, RTOL[backend])
        t_state, o_state = t_opt.state_dict()["state"], o_opt.state_dict()["state"]
        assert sorted(o_state) == sorted(t_state)  # the frozen tensor: none, or Adagrad's initial
        for i in t_state:
            assert sorted(o_state[i]) == sorted(t_state[i]), (step, i)
            for key, value in t_state[i].items():
                close(o_state[i][key].float(), value.float(), RTOL[backend])
    assert torch.equal(frozen[1], torch.ones(4))
    if name != "SGD":  # the counts parted: tensors 1 and 3 missed 3 and 4 steps
        assert [float(o_state[i]["step"]) for i in range(4)] == [10.0, 7.0, 10.0, 6.0]


def test_sparse_gradients_as_torch_takes_them(backend):
    """nn.Embedding(sparse=True): SGD and Adagrad step its sparse gradients as torch.optim does
    (made dense: their zeros leave those rows as torch's sparse update does); Adam, and weight
    decay with sparse gradients, are refused as torch refuses them, before anything moves."""
    for name, kwargs in (("SGD", dict(momentum=0.9, nesterov=True)),
                         ("Adagrad", dict(lr_decay=0.1, initial_accumulator_value=0.2))):
        torch.manual_seed(0)
        ours = torch.nn.Embedding(10, 4, sparse=True)
        theirs = torch.nn.Embedding(10, 4, sparse=True)
        theirs.load_state_dict(ours.state_dict())
        opts = (getattr(ot, name)(ours.parameters(), lr=0.1, device=device_of(backend), **kwargs),
                getattr(torch.optim, name)(theirs.parameters(), lr=0.1, **kwargs))
        for rows in ([1, 2], [2, 3, 3], [5]):
            for emb, opt in zip((ours, theirs), opts):
                opt.zero_grad()
                emb(torch.tensor(rows)).square().sum().backward()
                # later, optcl's kept gradient views take the sparse gradient in densely
                assert emb.weight.grad.is_sparse or (opt is opts[0] and rows != [1, 2])
                opt.step()
            close(ours.weight.detach(), theirs.weight.detach(), RTOL[backend])
        assert torch.equal(ours.weight[0], theirs.weight[0])  # a row never looked up
    emb = torch.nn.Embedding(10, 4, sparse=True)
    for opt, match in ((ot.Adam(emb.parameters(), device=device_of(backend)),
                        "Adam does not support sparse gradients"),
                       (ot.SGD(emb.parameters(), lr=0.1, weight_decay=0.1,
                               device=device_of(backend)), "weight_decay is not compatible")):
        before = emb.weight.detach().clone()
        emb.zero_grad()
        emb(torch.tensor([1])).sum().backward()
        with pytest.raises(RuntimeError, match=match):
            opt.step()
        assert torch.equal(emb.weight.detach(), before)


@pytest.mark.parametrize("name", ["AdamW", "Adafactor"])
def test_a_group_may_mix_dtypes(name, backend):
    """bfloat16 weights and float32 norms in one group step as they do in groups of their own
    (Adafactor's eps1 = None is each tensor's dtype's eps, as in torch); a tensor of a dtype
    optcl does not step is refused before anything moves."""
    made = [t.clone() for t in make_params()]
    dtypes = [torch.bfloat16 if t.dim() > 1 else torch.float32 for t in made]
    mixed = [t.to(d).requires_grad_() for t, d in zip(made, dtypes)]
    apart = [t.to(d).requires_grad_() for t, d in zip(made, dtypes)]
    o_mixed = getattr(ot, name)(mixed, lr=0.01, device=device_of(backend))
    o_apart = getattr(ot, name)([{"params": [t for t in apart if t.dtype == d]}
                                 for d in (torch.bfloat16, torch.float32)],
                                lr=0.01, device=device_of(backend))
    for step in range(4):
        for params in (mixed, apart):
            for i, p in enumerate(params):
                # small enough for bfloat16's eps1 (0.0078) to clamp Adafactor's variance
                p.grad = (1e-3 * gradient(p.shape, step, i)).to(p.dtype)
        o_mixed.step()
        o_apart.step()
    for a, b in zip(mixed, apart):
        assert a.dtype == b.dtype and torch.equal(a.detach(), b.detach())
    odd = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    o_mixed.add_param_group({"params": [odd]})
    odd.grad = torch.ones(3, dtype=torch.float64)
    before = [p.detach().clone() for p in mixed]
    with pytest.raises(TypeError, match="torch.float64"):
        o_mixed.step()
    assert all(torch.equal(a, p.detach()) for a, p in zip(before, mixed))


def test_zero_grad_set_to_none_leaves_unreached_tensors_alone(backend):
    """zero_grad(set_to_none=True) keeps optcl's gradient views, zeroed; a tensor that the next
    backward does not reach still steps as torch's None does: not at all (two heads used on
    alternate steps, Adam, whose zero-gradient step would move them)."""
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"trunk": torch.nn.Linear(6, 8), "a": torch.nn.Linear(8, 1),
                                 "b": torch.nn.Linear(8, 1)})
    ref = copy.deepcopy(model)
    o_opt = ot.Adam(model.parameters(), lr=0.01, device=device_of(backend))
    t_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    x = torch.randn(5, 6)
    for step in range(8):
        head = "a" if step % 3 else "b"
        for m, opt in ((model, o_opt), (ref, t_opt)):
            opt.zero_grad(set_to_none=True)
            m[head](torch.relu(m["trunk"](x))).square().mean().backward()
            opt.step()
        for (key, a), b in zip(ref.named_parameters(), model.parameters()):
            close(b.detach(), a.detach(), RTOL[backend])
    steps = {k: float(v["step"]) for k, v in o_opt.state_dict()["state"].items()}
    assert steps == {k: float(v["step"]) for k, v in t_opt.state_dict()["state"].items()}
    assert sorted(set(steps.values())) == [3.0, 5.0, 8.0]  # head b, head a, the trunk
    # a gradient written in place, not by backward, still steps (torch's would be assigned)
    o_opt.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in (model["a"].weight, model["trunk"].weight)]
    model["a"].weight.grad.add_(1.0)
    o_opt.step()
    assert not torch.equal(model["a"].weight.detach(), before[0])
    assert torch.equal(model["trunk"].weight.detach(), before[1])  # neither reached nor written


def test_params_and_grads_are_views_of_optcl_buffers(backend):
    """After a step the parameters are views of optcl's flat buffer, and after zero_grad and
    backward so are the gradients (a step copies nothing); the caller's in-place edits are
    seen, a replaced .data is copied in; all as torch.optim.Adam computes."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(33, 65)
    ref = copy.deepcopy(lin)
    opt = ot.Adam(lin.parameters(), lr=0.01, device=device_of(backend))
    t_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    x = torch.randn(8, 33)

    def step_both(opt):
        for model, o in ((lin, opt), (ref, t_opt)):
            o.zero_grad()
            model(x).square().mean().backward()
            o.step()
        for a, b in zip(ref.parameters(), lin.parameters()):
            close(b, a, RTOL[backend])

    for _ in range(4):
        step_both(opt)
    run = opt.runs_of(0)[0]
    for i, p in enumerate(opt.param_groups[0]["params"]):
        pv, gv = run.views(i)
        assert p.data_ptr() == pv.data_ptr() and p.grad.data_ptr() == gv.data_ptr()
    with torch.no_grad():
        lin.weight.mul_(0.5)
        ref.weight.mul_(0.5)
    lin.bias.data = lin.bias.data + 1.0
    ref.bias.data = ref.bias.data + 1.0
    step_both(opt)
    assert lin.bias.data_ptr() == run.views(1)[0].data_ptr()
    shared = run.views(0)[0].data_ptr()
    del opt, run  # its buffers go; the parameters keep their values
    if backend == "reference":  # that memory was the C set's: the tensors moved out first
        assert lin.weight.data_ptr() != shared
    torch.testing.assert_close(lin.weight, ref.weight, rtol=RTOL[backend], atol=RTOL[backend])


@pytest.mark.skipif("opencl" not in BACKENDS, reason="no OpenCL device")
@pytest.mark.parametrize("spin", [None, 0.0])
def test_every_group_steps_within_one_wait(monkeypatch, spin):
    """On OpenCL the parameters live in host memory the device shares: a step hands every
    group's buffers to the device and waits once for all of them, not once per group, and
    the wait (polled briefly, else blocking: spin 0) gives torch.optim.AdamW's values."""
    if spin is not None:
        monkeypatch.setattr(_cl, "SPIN_SECONDS", spin)
    waits = []
    real_wait = _cl.wait
    monkeypatch.setattr(_cl, "wait", lambda event: (waits.append(1), real_wait(event)))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(9, 17), torch.nn.Tanh(), torch.nn.Linear(17, 5))
    ref = copy.deepcopy(model)

    def groups(m):  # weights decayed, biases not, the last layer at its own lr
        return [{"params": [m[0].weight]}, {"params": [m[0].bias, m[2].bias], "weight_decay": 0},
                {"params": [m[2].weight], "lr": 0.003}]

    opt = ot.AdamW(groups(model), lr=0.01)
    t_opt = torch.optim.AdamW(groups(ref), lr=0.01)
    x = torch.randn(8, 9)
    for step in range(5):
        for m, o in ((model, opt), (ref, t_opt)):
            o.zero_grad()
            m(x).square().mean().backward()
        before = len(waits)
        opt.step()
        t_opt.step()
        if step:  # the first step also makes the sets, whose buffers wait as they are made
            assert len(waits) - before == 1, "one wait per step for the three groups"
        for a, b in zip(ref.parameters(), model.parameters()):
            close(b, a, RTOL["opencl"])
    assert all(r.params.shared for runs in opt._runs.values() for r in runs)


SCRIPT_LEFT_OPEN = """
import torch, optcl.torch as ot
model = torch.nn.Linear(4, 3)
opt = ot.Adam(model.parameters(), lr=0.01, device={device!r})
model(torch.ones(2, 4)).sum().backward()
opt.step()
print("stepped")
"""


def test_a_script_may_end_with_its_optimizer_open(backend):
    """A script that ends with the model and the optimizer still alive exits cleanly: the
    optimizers close before the interpreter tears objects down (on the reference backend the
    parameters move out of the C set's memory, which during teardown aborted torch 2.x)."""
    out = subprocess.run([sys.executable, "-c", SCRIPT_LEFT_OPEN.format(device=device_of(backend))],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "stepped"


def _bf16_adamw(params, **kwargs):
    return ot.AdamW(params, lr=1e-2, master_weights=True, device="reference", **kwargs)


def test_master_weights_survive_rebuilds():
    """The float32 master travels through self.state: a run split (one tensor misses a step),
    and a state_dict round trip, step on exactly as the optimizer that was never rebuilt; the
    master is in the state dict in float32, as is state_dtype="f32"'s state."""
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(16, generator=g).to(torch.bfloat16) for _ in range(2)]
    grads = [[torch.randn(16, generator=g).to(torch.bfloat16) for _ in range(2)]
             for _ in range(4)]
    alone = start[0].clone().requires_grad_()  # a's trajectory does not depend on b's
    o_alone = _bf16_adamw([alone])
    a, b = (t.clone().requires_grad_() for t in start)
    opt = _bf16_adamw([a, b])
    for step in range(4):
        alone.grad, a.grad = grads[step][0].clone(), grads[step][0].clone()
        b.grad = grads[step][1].clone() if step < 2 else None  # b misses steps 3 and 4
        o_alone.step()
        opt.step()
        if step == 1:
            opt.load_state_dict(opt.state_dict())
        assert torch.equal(a.detach(), alone.detach()), step
    state = opt.state_dict()["state"]
    assert state[0]["master"].dtype == torch.float32
    assert torch.equal(state[0]["master"], o_alone.state_dict()["state"][0]["master"])
    w = torch.ones(4, dtype=torch.bfloat16, requires_grad=True)
    f32 = ot.Adam([w], state_dtype="f32", device="reference")
    w.grad = torch.full((4,), 1e-3, dtype=torch.bfloat16)
    f32.step()
    exp_avg = f32.state_dict()["state"][0]["exp_avg"]
    assert exp_avg.dtype == torch.float32 and exp_avg[0].item() == pytest.approx(1e-4, rel=1e-2)
    # bf16 keeps its state in bfloat16 (a float32 parameter's too), int8 as floats: float32
    for kind, dtype, want in (("bf16", torch.float32, torch.bfloat16),
                              ("int8", torch.bfloat16, torch.float32)):
        w = torch.ones(4, dtype=dtype, requires_grad=True)
        o = ot.Adam([w], state_dtype=kind, device="reference")
        w.grad = torch.full((4,), 1e-3, dtype=dtype)
        o.step()
        for name in ("exp_avg", "exp_avg_sq"):
            value = o.state_dict()["state"][0][name]
            assert value.dtype == want, (kind, name)
        o.load_state_dict(o.state_dict())
        o.step()  # the rebuilt run steps on from them
        assert o.state_dict()["state"][0]["exp_avg"].dtype == want, kind


def test_master_weights_from_a_torch_optim_state_dict():
    """torch.optim.Adam's state dict of bfloat16 parameters has no "master": optcl's Adam with
    master_weights=True takes it from the parameter (not from zeros: the count is 2), as its
    first step would, and steps on as torch.optim.Adam on that parameter in float32 (state
    cast to float32) then rounded."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, generator=g).to(torch.bfloat16).requires_grad_()
    grads = [torch.randn(64, generator=g).to(torch.bfloat16) for _ in range(3)]
    torch_opt = torch.optim.Adam([w], lr=1e-2)
    for grad in grads[:2]:
        w.grad = grad.clone()
        torch_opt.step()
    saved = torch_opt.state_dict()
    expect = w.detach().float().clone().requires_grad_()
    ref = torch.optim.Adam([expect], lr=1e-2)
    # its state cast to float32, as the master's step takes it (a copy: torch 2.x's
    # load_state_dict keeps the "step" tensor itself, which its step then counts on in place)
    ref.load_state_dict(copy.deepcopy(saved))
    expect.grad = grads[2].float()
    ref.step()
    opt = ot.Adam([w], lr=1e-2, master_weights=True, device="reference")
    opt.load_state_dict(saved)
    # the saved group has no master_weights: the optimizer keeps its own
    assert "master_weights" not in saved["param_groups"][0]
    assert opt.param_groups[0]["master_weights"] is True
    w.grad = grads[2].clone()
    opt.step()
    master = opt.state_dict()["state"][0]["master"]
    torch.testing.assert_close(master, expect.detach(), rtol=1e-6, atol=1e-7)
    assert w.dtype == torch.bfloat16 and torch.equal(w.detach(), master.to(torch.bfloat16))


def test_master_weights_in_a_group_with_float32_tensors():
    """master_weights=True over a group of a bfloat16 weight and a float32 norm: the float32
    tensor is its own master (stepped as torch.optim.Adam steps it), the bfloat16 one steps
    its float32 master."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 4, generator=g).to(torch.bfloat16).requires_grad_()
    norm = torch.randn(4, generator=g).requires_grad_()
    weight.grad = torch.randn(8, 4, generator=g).to(torch.bfloat16)
    norm.grad = torch.randn(4, generator=g)
    expect = [weight.detach().float().clone().requires_grad_(), norm.detach().clone()
              .requires_grad_()]
    expect[0].grad, expect[1].grad = weight.grad.float(), norm.grad.clone()
    torch.optim.Adam(expect, lr=1e-2).step()
    opt = ot.Adam([{"params": [weight, norm]}], lr=1e-2, master_weights=True,
                  device="reference")
    opt.step()
    state = opt.state_dict()["state"]
    assert "master" in state[0] and "master" not in state[1]
    torch.testing.assert_close(state[0]["master"], expect[0].detach(), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(norm.detach(), expect[1].detach(), rtol=1e-6, atol=1e-7)
    assert weight.dtype == torch.bfloat16 and norm.dtype == torch.float32


def test_tensors_held_by_the_user_outlive_the_optimizer():
    """Views of optcl's memory the user still holds (a detached parameter, a gradient) keep
    it alive: a rebuild or del opt leaves them their values."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 64)
    opt = ot.AdamW(lin.parameters(), lr=1e-2, device="reference")
    lin(torch.randn(8, 64)).sum().backward()
    opt.step()
    snapshot, grad = lin.weight.detach(), lin.weight.grad
    before, grad_before = snapshot.clone(), grad.clone()
    opt.load_state_dict(opt.state_dict())
    del opt
    gc.collect()
    junk = [optcl.Context("reference").params([("x", (64, 64))]) for _ in range(4)]
    for j in junk:
        j.write(np.full((64, 64), 7.0, np.float32), "x")
    assert torch.equal(snapshot, before) and torch.equal(grad, grad_before)


@pytest.mark.parametrize("convert", ["bfloat16", "half", "double"])
def test_model_dtype_changed_after_a_step(convert):
    """model.bfloat16()/.half() after a step: the next step makes a new run for the new dtype
    (state carried); .double(): TypeError before any tensor moves."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = ot.SGD(model.parameters(), lr=0.1, momentum=0.9, device="reference")
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    opt.zero_grad()
    getattr(model, convert)()
    dtype = model.weight.dtype
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = [p.detach().clone() for p in model.parameters()]
    momentum = opt.state_dict()["state"][0]["momentum_buffer"].clone()
    if convert == "double":
        with pytest.raises(TypeError, match="torch.float64"):
            opt.step()
        assert all(p.dtype == dtype and torch.equal(p.detach(), b)
                   for p, b in zip(model.parameters(), before))
        return
    opt.step()
    expect = before[0].float() - 0.1 * (0.9 * momentum + 1.0)
    assert model.weight.dtype == dtype and model.weight.grad.dtype == dtype
    torch.testing.assert_close(model.weight.detach().float(), expect, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("set_to_none", [False, True])
def test_zero_grad_after_the_model_dtype_changed(set_to_none):
    """zero_grad() between model.half() and the next step: the gradients (float16 now) are
    zeroed or dropped as torch's are, not made views of the run's float32 buffer."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = ot.SGD(model.parameters(), lr=0.1, momentum=0.9, device="reference")
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    model.half()
    opt.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad.dtype == torch.float16 and not p.grad.any()
        p.grad = torch.ones_like(p)
    opt.step()
    assert model.weight.dtype == torch.float16


def test_tensor_lr_updated_in_place():
    """A tensor lr that a scheduler updates in place (torch 2.x's schedulers fill_ it) is
    the lr of the next step."""
    w = torch.zeros(1, requires_grad=True)
    opt = ot.SGD([w], lr=torch.tensor(1.0), device="reference")
    for lr in (1.0, 0.1, 0.01):
        opt.param_groups[0]["lr"].fill_(lr)
        w.grad = torch.ones(1)
        opt.step()
    assert w.item() == pytest.approx(-1.11, rel=1e-6)


@pytest.mark.parametrize("cls", ["AdamWScheduleFree", "SGDScheduleFree"])
def test_schedulefree_resumes_from_an_eval_checkpoint(cls):
    """A checkpoint taken in eval mode (the parameters hold x) resumes exactly: the new
    optimizer is in the saved mode, and train() blends the parameters back to y."""
    grads = [torch.randn(4, generator=torch.Generator().manual_seed(s)) for s in range(6)]
    w = torch.nn.Parameter(torch.ones(4))
    opt = getattr(ot, cls)([w], lr=0.1, device="reference")
    opt.train()
    for s in range(3):
        w.grad = grads[s].clone()
        opt.step()
    opt.eval()
    saved_w, saved = w.detach().clone(), opt.state_dict()
    assert saved["param_groups"][0]["train_mode"] is False
    opt.train()
    for s in range(3, 6):
        w.grad = grads[s].clone()
        opt.step()
    w2 = torch.nn.Parameter(saved_w)
    opt2 = getattr(ot, cls)([w2], lr=0.1, device="reference")
    opt2.load_state_dict(saved)
    opt2.train()
    for s in range(3, 6):
        w2.grad = grads[s].clone()
        opt2.step()
    torch.testing.assert_close(w2.detach(), w.detach(), rtol=1e-6, atol=1e-6)


def test_constructors_take_torch_positional_order_and_check_values():
    w = torch.nn.Parameter(torch.randn(3, 3))
    sgd = ot.SGD([w], 0.1, 0.9, device="reference")
    assert sgd.defaults["lr"] == 0.1 and sgd.defaults["momentum"] == 0.9
    adam = ot.Adam([w], 1e-3, (0.8, 0.9), 1e-6, 0.1, True, device="reference")
    assert adam.defaults["betas"] == (0.8, 0.9) and adam.defaults["amsgrad"] is True
    with pytest.raises(TypeError, match="multiple values"):
        ot.SGD([w], 0.1, lr=0.2, device="reference")
    ref = {"device": "reference"}
    for call, match in (
            (lambda: ot.Adam([w], betas=(1.5, 0.9), **ref), "Invalid beta parameter at index 0"),
            (lambda: ot.Adam([w], eps=-1.0, **ref), "Invalid epsilon value"),
            (lambda: ot.SGD([w], lr=0.1, nesterov=True, **ref), "Nesterov momentum requires"),
            (lambda: ot.Muon([torch.nn.Parameter(torch.randn(3))], **ref), "2D parameters"),
            (lambda: ot.Lion([w], betas=(0.9, 1.5), **ref), "beta"),
            (lambda: ot.RMSprop([w], alpha=2.0, **ref), "param group 0: .*alpha"),
            (lambda: ot.Adam([w], device="no such device anywhere"), "no such device")):
        with pytest.raises(ValueError, match=match):
            call()
    bad = ot.Adam([w], **ref)
    with pytest.raises(ValueError, match="param group 1: .*beta1"):
        bad.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "betas": (2, 0.9)})
    assert len(bad.param_groups) == 1  # the bad group not added


def test_adam_decoupled_weight_decay_is_adamw():
    """torch 2.x's Adam(decoupled_weight_decay=True) steps as AdamW does."""
    start = torch.randn(8, generator=torch.Generator().manual_seed(1))
    a, b = start.clone().requires_grad_(), start.clone().requires_grad_()
    adam = ot.Adam([a], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True,
                   device="reference")
    adamw = ot.AdamW([b], lr=0.1, weight_decay=0.5, device="reference")
    for s in range(3):
        a.grad = b.grad = torch.full((8,), 0.5)
        adam.step()
        adamw.step()
    assert torch.equal(a.detach(), b.detach())
    adam.param_groups[0]["decoupled_weight_decay"] = False  # back to Adam's coupled decay
    a.grad = torch.full((8,), 0.5)
    before = a.detach().clone()
    adam.step()
    assert not torch.equal(a.detach(), before)


def test_non_contiguous_bfloat16_parameter():
    base = torch.randn(4, 3).to(torch.bfloat16)
    w = torch.nn.Parameter(base.t())
    assert not w.is_contiguous()
    opt = ot.SGD([w], lr=0.5, device="reference")
    w.grad = torch.ones(3, 4, dtype=torch.bfloat16)
    before = w.detach().clone()
    opt.step()
    opt.step()
    torch.testing.assert_close(w.detach(), (before.float() - 1.0).to(torch.bfloat16))


def test_deleting_a_param_group_after_a_step():
    """del opt.param_groups[0] after a step: the other groups step on, as torch's do."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 1))
    ours = copy.deepcopy(theirs)
    x = torch.randn(8, 5)
    opts = []
    for model, cls, kw in ((theirs, torch.optim.Adam, {}),
                           (ours, ot.Adam, {"device": "reference"})):
        opts.append(cls([{"params": model[0].parameters()},
                         {"params": model[1].parameters(), "lr": 0.05}], lr=0.01, **kw))
    for step in range(4):
        for model, opt in zip((theirs, ours), opts):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            if step == 1:
                del opt.param_groups[0]
    for a, b in zip(theirs.parameters(), ours.parameters()):
        close(b, a, 1e-6)
