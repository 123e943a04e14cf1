"""torch.optim drop-ins whose step runs on optcl: an OpenCL device or the reference backend.

    import optcl.torch
    opt = optcl.torch.Adam(model.parameters(), lr=1e-3)          # device=None: OPTCL_DEVICE,
    ...                                                          # else the largest GPU, else any
    loss.backward(); opt.step(); opt.zero_grad()

Each param group is one optcl parameter set and optimizer (one per run of tensors stepped
together, where tensors lack gradients), made at the group's first step from its
hyperparameters, which are re-read before every step (so torch's LR schedulers,
ReduceLROnPlateau and edits of param_groups work). state_dict() and load_state_dict() use
torch.optim's keys and state names, with "step" a float32 0-d tensor, so a run can move between
torch.optim.Adam and optcl.torch.Adam in either direction. docs/PYTHON.md."""
import atexit
import operator
import weakref

import numpy as np
import torch

from . import core
from ._lib import OptclError, lib

_TORCH2 = int(torch.__version__.split(".")[0]) >= 2
# The optimizers that hold optcl sets: closed before the interpreter starts tearing objects
# down, when moving a parameter's data out of the reference backend's memory (close) aborts
# torch 2.x (THPVariable_clear's use_count assertion) if the parameter is being cleared too
_LIVE = weakref.WeakSet()
_PARAM_DTYPES = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}
_RAW_VIEW = {torch.float32: torch.float32, torch.bfloat16: torch.int16, torch.float16: torch.int16}
_data_ptr, _is_contiguous = torch.Tensor.data_ptr, torch.Tensor.is_contiguous


class _GroupRun:
    """Tensors of one param group stepped together on optcl (the whole group, unless some of
    its tensors lack gradients or their dtypes differ): its parameter set, its optimizer, the
    hyperparameters it was made with, and the tensors' element type.

    Where it can, the run's parameters and gradients live in optcl's flat buffers and the
    torch tensors are views of them, as apex's and FSDP's flat parameters are: on the reference
    backend the set's host memory (float32 groups), on OpenCL host memory that backs the
    buffers (CL_MEM_USE_HOST_PTR, mapped for the host outside steps). A step then copies
    nothing where the device shares host memory. Elsewhere (a bfloat16 group on the reference
    backend) each step copies the tensors in and out."""

    def __init__(self, ctx, group, index, optimizer, members, checked=False):
        """checked: the tensors already passed _check_tensor (else they are checked here)."""
        self.members = members  # the tensors' indices in the group, in the set's order
        params = self.tensors = [group["params"][i] for i in members]
        self.index = index  # the group's, when the run was made (names and messages)
        self.group = group  # runs are keyed by the group itself (its index may change)
        self.ids = list(map(id, params))
        self.whole = members == list(range(len(group["params"])))  # the group's every tensor
        if not checked:
            for p in params:
                _check_tensor(p, index)
        self.dtype = params[0].dtype  # a run's tensors share their dtype
        tensors = [(f"{index}.{i}", tuple(p.shape)) for i, p in zip(members, params)]
        self.flat, self.attached, self._views, self._ptrs = None, [], [], []
        self._param_ptrs, self._grad_views = [], []
        self.checked_params = self.checked_views = False  # steps_whole's findings, for attach
        self.zeroed, self.reached, self._hooks = False, set(), []
        kind = _PARAM_DTYPES[self.dtype]
        try:
            self.params = core.Params(ctx, tensors, kind, shared=True)
        except (OSError, OptclError):  # no shared storage on this device: copies
            self.params = core.Params(ctx, tensors, kind)
        if self.params.shared and (ctx.backend == "opencl" or self.dtype == torch.float32):
            self.flat = [_as_torch(self.params.host_view(r), self.dtype) for r in core.ROLES]
        self.kwargs = optimizer._optcl_kwargs(group, self.dtype)
        try:
            self.opt = core.Optimizer(self.params, optimizer._algorithm_of(group), **self.kwargs)
        except BaseException:
            self.params.close()
            raise

    def matches(self, group):
        """Whether the group still holds the tensors this run was made for, where it had them,
        in the dtype it was made for (model.half() after a step makes a new run)."""
        return self.holds(group) and not self.retyped()

    def holds(self, group):
        """Whether the group still holds the tensors this run was made for, where it had them."""
        params = group["params"]
        if self.whole:
            return self.ids == list(map(id, params))
        return all(i < len(params) and params[i] is t for i, t in zip(self.members, self.tensors))

    def params_are_views(self):
        """Whether the tensors' data are the parameter views themselves (one pass in C)."""
        return self.flat is not None and bool(self._param_ptrs) and \
            list(map(_data_ptr, self.tensors)) == self._param_ptrs

    def retyped(self, views=None):
        """Whether a tensor's dtype is no longer the run's (cheap in the steady state, where the
        tensors are still views of the flat buffer; views: params_are_views(), if known)."""
        if self.params_are_views() if views is None else views:
            return False
        dtype = self.dtype
        return any(p.dtype != dtype or (p.grad is not None and p.grad.dtype != dtype)
                   for p in self.tensors)

    def steps_whole(self, group, grads):
        """The common case, checked without a Python loop per tensor where it can be: the run
        is the group's tensors, all of which have a dense gradient (grads: the group's .grad),
        each reached by backward since zero_grad(set_to_none=True) if that came last. Records
        what it found of the views (checked_params, checked_views) for attach, which is next."""
        self.checked_params = self.checked_views = False
        if not self.whole or not self.holds(group):
            return False
        params_views = self.params_are_views()
        if self.retyped(params_views):
            return False
        grads_views = self.grads_are_views(grads)  # attach need not look again
        if not grads_views and any(g is None or g.layout != torch.strided for g in grads):
            return False
        if self.zeroed and len(self.reached) != len(self.members):
            return False
        self.zeroed = False
        self.checked_params, self.checked_views = params_views, grads_views
        return True

    def views(self, i):
        """Tensor i's parameter and gradient as views of the flat buffers."""
        if not self._views:
            for t in self.params.tensors:
                self._views.append([f[t["offset"]:t["offset"] + t["count"]].view(t["shape"])
                                    for f in self.flat])
                self._ptrs.append([v.data_ptr() for v in self._views[-1]])
            self._param_ptrs = [ptrs[0] for ptrs in self._ptrs]
            self._grad_views = [views[1] for views in self._views]
        return self._views[i]

    def grads_are_views(self, grads):
        """Whether grads (the tensors' .grad) are the gradient views themselves: dense, there,
        and nothing to copy (one pass in C, no Python loop per tensor)."""
        return self.flat is not None and bool(self._views) and \
            all(map(operator.is_, grads, self._grad_views))

    def attach(self, grads=True):
        """Makes the torch tensors (and their gradients) views of the flat buffers, copying in
        whatever is not one already (a new gradient, a replaced .data); else copies them in."""
        tensors = self.tensors
        if self.flat is None:
            self.copy(tensors, "params", True)
            if grads:
                self.copy([p.grad for p in tensors], "grads", True)
            return
        self.attached = tensors
        self.views(0)
        params_checked, grads_checked = self.checked_params, self.checked_views
        self.checked_params = self.checked_views = False
        if (params_checked or list(map(_data_ptr, tensors)) == self._param_ptrs) and \
                all(map(_is_contiguous, tensors)) and \
                (not grads or grads_checked or self.grads_are_views([p.grad for p in tensors])):
            return  # views already, all of them (the steady state)
        for p, (pv, gv), (pp, gp) in zip(tensors, self._views, self._ptrs):
            if p.data_ptr() != pp or not p.is_contiguous():
                pv.copy_(p.detach())
                p.data = pv
            if grads and (p.grad.data_ptr() != gp or not p.grad.is_contiguous()):
                gv.copy_(p.grad)
                p.grad = gv

    def enqueue_step(self):
        """Enqueues the step (inside a device section: core.device_section)."""
        self.opt._check(lib.optcl_optimizer_step(self.opt._h, 0, None, None))

    def copy_out(self):
        """Where the tensors are not views of the flat buffers, the new parameters into them."""
        if self.flat is None:
            self.copy(self.tensors, "params", False)

    def zero_grad(self, set_to_none):
        """Zeroes the gradients in place and keeps them views (of the tensors that had one);
        False when not shared. With set_to_none, a tensor that backward does not reach before
        the next step is then taken as without a gradient, as torch's None would be: hooks note
        the tensors whose .grad backward accumulates. False, before the buffer is zeroed, for a
        tensor whose dtype (or its gradient's) is no longer the run's."""
        if self.flat is None:
            return False
        dtype = self.dtype
        self.views(0)
        for p, view in zip(self.tensors, self._grad_views):
            if p.dtype != dtype:  # retyped (model.half()): the caller zeroes it as torch does
                return False
            grad = p.grad
            if grad is not None and grad is not view:  # the view already: nothing to set
                if grad.dtype != dtype:
                    return False
                p.grad = view
        self.flat[1].zero_()
        self.zeroed = set_to_none
        if set_to_none:
            self.reached.clear()
            if not self._hooks:
                self._hooks = [_on_accumulate(p, self.reached, i)
                               for i, p in enumerate(self.tensors)]
        return True

    def without_grad(self):
        """The positions of the tensors that have no gradient for this step: None, or the
        zeroed view that backward has not reached since zero_grad(set_to_none=True) and that
        still holds only zeros (made None, as torch would have it; one the caller wrote into
        in place steps)."""
        missing = set()
        for i, p in enumerate(self.tensors):
            if p.grad is not None and self.zeroed and i not in self.reached \
                    and p.grad is self.views(i)[1] and not p.grad.any():
                p.grad = None
            if p.grad is None:
                missing.add(i)
        self.zeroed = False  # from here on the gradients are the caller's, zero or not
        return missing

    def close(self):
        if self.flat is not None and self.params.ctx.backend == "reference":
            # the reference backend's memory is the C set's own: the parameters move out, so
            # that the model does not pin it; views the user still holds (a detached
            # parameter, a .grad) keep it alive until they go (core._HostMemory)
            for p in self.attached:
                p.data = p.data.clone()
                if p.grad is not None:
                    p.grad = p.grad.clone()
        for hook in self._hooks:
            hook.remove()
        self.flat, self._views, self._ptrs, self._hooks = None, [], [], []
        self._param_ptrs, self._grad_views = [], []
        self.opt.close()
        self.params.close()

    def copy(self, tensors, role, to_optcl):
        raw = self.dtype != torch.float32
        # the call, the handle and the role once for every tensor
        f = (lib.optcl_params_write_raw if raw else lib.optcl_params_write) if to_optcl \
            else (lib.optcl_params_read_raw if raw else lib.optcl_params_read)
        handle, role, check = self.params._h, core.ROLES[role], self.params._check
        for i, t in enumerate(tensors):
            t = t.detach()
            target = t
            if not t.is_contiguous():  # in through a contiguous copy, out through copy_
                t = t.contiguous() if to_optcl else torch.empty(t.shape, dtype=t.dtype)
            ptr = t.view(_RAW_VIEW[self.dtype]).data_ptr() if raw else t.data_ptr()
            check(f(handle, role, i, ptr, t.numel()))
            if t is not target and not to_optcl:
                target.copy_(t)

    def update(self, kwargs, algorithm):
        """Brings the optimizer's hyperparameters to kwargs; False when one of them needs a new
        optimizer (a change of its state buffers or kernel, a key gone or new, another
        algorithm: Adam's decoupled_weight_decay)."""
        if set(kwargs) != set(self.kwargs) or algorithm != self.opt.algorithm:
            return False
        for key, value in kwargs.items():
            if self.kwargs.get(key) == value:
                continue
            try:
                if key == "lr":
                    self.opt.set_lr(value)
                elif key in ("weight_decay",) or key in core._options_table(self.opt.algorithm):
                    self.opt.set_option(key, value)
                else:
                    return False
            except OptclError as e:
                if e.name == "OPTCL_ERROR_UNSUPPORTED":
                    return False
                raise
            self.kwargs[key] = value
        return True


def _check_tensor(p, index):
    """TypeError for a tensor optcl does not step (before anything moves). A run's tensors share
    their dtype by construction (runs are made per dtype)."""
    if p.dtype not in _PARAM_DTYPES:
        raise TypeError(f"optcl.torch: param group {index} has a tensor of {p.dtype}; "
                        "optcl steps float32, bfloat16 and float16 tensors")
    if p.device.type != "cpu":
        raise TypeError(f"optcl.torch: param group {index} has tensors off the CPU; optcl "
                        "steps CPU tensors (the step itself runs on its OpenCL device)")
    if p.grad is not None and p.grad.dtype != p.dtype:
        raise TypeError(f"optcl.torch: param group {index} has a tensor of {p.dtype} whose "
                        f"gradient is {p.grad.dtype}")


def _state_dtype(run, name):
    """The dtype a state is kept in: its own (float32 for the master and for state_dtype f32
    and int8, read back as floats; bfloat16 for bf16), or the parameters' for "same" — float32
    with master weights, where optcl keeps it so."""
    kind = run.kwargs.get("state_dtype", "same")
    if name == "master" or kind in ("f32", "int8"):
        return torch.float32
    if kind == "bf16":
        return torch.bfloat16
    return torch.float32 if run.kwargs.get("master_weights") else run.dtype


def _on_accumulate(tensor, reached, i):
    """A hook that adds i to reached when backward gives the tensor a gradient."""
    def note(*_):
        reached.add(i)
    if hasattr(tensor, "register_post_accumulate_grad_hook"):  # torch >= 2.1
        return tensor.register_post_accumulate_grad_hook(note)
    return tensor.register_hook(note)


_VALIDATION = []


def _validation_context():
    """The reference backend's context that constructors check their hyperparameters on."""
    if not _VALIDATION:
        _VALIDATION.append(core.Context("reference"))
    return _VALIDATION[0]


def _as_torch(array, dtype):
    """A torch view of a flat host array: float32 as it is, bfloat16/float16 from their bits."""
    if dtype == torch.float32:
        return torch.from_numpy(array)
    return torch.from_numpy(array.view(np.int16)).view(dtype)


class OptclOptimizer(torch.optim.Optimizer):
    """The base of the drop-ins: a subclass names its optcl algorithm, torch's defaults, and how
    torch's group keys map onto optcl's options (_keys: torch key → optcl key, or a tuple of
    keys for a tuple value such as betas)."""

    algorithm = None
    _keys = {}
    _has_step = True  # torch keeps state["step"] (SGD does not)
    _running_state = ()  # optcl's running values that torch keeps in each tensor's state
    _sparse_grads = False  # torch.optim's class takes sparse gradients (SGD, Adagrad)
    # GradScaler's fused contract: it sets grad_scale (None once unscale_ ran) and found_inf on
    # the optimizer before step(); the step skips on found_inf, else divides the gradients by
    # grad_scale on the device (optcl's static loss scale, set each step)
    _step_supports_amp_scaling = True

    def __init__(self, params, defaults, device=None):
        self._device = device
        self._ctx = None
        self._runs = {}
        _LIVE.add(self)
        self._state_fresh = True  # self.state holds the truth: optcl takes it at the next step
        self._amp = False
        if not isinstance(device, core.Context):  # an unknown device: ValueError now
            try:
                self._context()
            except OptclError as e:
                raise ValueError(f"optcl.torch: device {device!r}: {e}") from None
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        """torch's, and the group's hyperparameters checked as optcl will take them (ValueError
        naming the bad value, the group not added), as torch's constructors check theirs."""
        super().add_param_group(param_group)
        try:
            self._validate(self.param_groups[-1], len(self.param_groups) - 1)
        except BaseException:
            del self.param_groups[-1]
            raise

    def _validate(self, group, index):
        """Builds the group's optcl optimizer once over a tiny parameter set of each of its
        dtypes on the reference backend: what optcl would refuse at the first step is refused
        here."""
        dtypes = {p.dtype for p in group["params"] if p.dtype in _PARAM_DTYPES} or \
            {torch.float32}
        for dtype in sorted(dtypes, key=str):
            try:
                kwargs = self._optcl_kwargs(group, dtype)
                with _validation_context().params([("v", (2, 2))],
                                                  _PARAM_DTYPES[dtype]) as probe:
                    probe.optimizer(self._algorithm_of(group), **kwargs).close()
            except OptclError as e:
                raise ValueError(f"optcl.torch.{type(self).__name__}: param group {index}: "
                                 f"{e}") from None
            except TypeError as e:
                raise TypeError(f"optcl.torch.{type(self).__name__}: param group {index}: "
                                f"{e}") from None

    # -- optcl's side ------------------------------------------------------------------------
    def _context(self):
        if self._ctx is None:
            self._ctx = self._device if isinstance(self._device, core.Context) \
                else core.Context(self._device)
        return self._ctx

    @property
    def context(self):
        """The optcl.Context the steps run on."""
        return self._context()

    def _optcl_kwargs(self, group, dtype):
        """optcl's options for the group's tensors of this dtype."""
        kw = {"lr": float(group["lr"])}
        if "weight_decay" in group:
            kw["weight_decay"] = float(group["weight_decay"])
        kw["maximize"] = bool(group.get("maximize", False))
        if self._amp:
            kw["loss_scale"] = {"mode": "static"}
        for key in _PRECISION:
            if key in group:
                kw[key] = group[key]
        if dtype == torch.float32:  # float32 tensors are their own master (a mixed group's)
            kw.pop("master_weights", None)
        for key, target in self._keys.items():
            value = group[key]
            if isinstance(target, tuple):
                for k, v in zip(target, value):
                    kw[k] = float(v)
            else:
                kw[target] = value if isinstance(value, str) else float(value)
        return kw

    # -- the sets that step a group ----------------------------------------------------------
    # torch keeps a step count per tensor and leaves a tensor without a gradient alone; optcl
    # counts per set. So a group is stepped by one or more runs, each over tensors that have
    # been stepped together every time: a tensor frozen or unused from the start is in none,
    # and when only some of a run's tensors have a gradient the run is split (the state and
    # counts move through self.state), so every tensor keeps torch's count.

    def _count_reached(self, p):
        """The count a tensor's state in self.state has reached (without a step, as SGD's: 1
        with a buffer, which is no longer the first step's)."""
        state = self.state.get(p) or {}
        if "step" in state:
            return int(float(state["step"]))
        return int(any(torch.is_tensor(v) for v in state.values()))

    def _new_run(self, index, group, members, checked=False):
        run = _GroupRun(self._context(), group, index, self, members, checked)
        try:
            self._push_state(run, group)
            self._start_run(run, group)
        except BaseException:
            run.close()  # nothing has moved: the tensors are not attached before a step
            raise
        run.seen = self._seen(group)
        return run

    def _start_run(self, run, group):
        """What a new run needs beyond its state before its first step (Schedule-Free's
        mode)."""

    def _algorithm_of(self, group):
        """The optcl algorithm that steps a group (Adam's decoupled_weight_decay: AdamW's)."""
        return self.algorithm

    def runs_of(self, index):
        """The runs (parameter set and optimizer each: .params, .opt) that step param group
        index, for a look inside; [] before its first step."""
        return list(self._runs_of(self.param_groups[index]))

    def _runs_of(self, group):
        """The runs made for this group (keyed by the group's id: deleting or reordering
        param_groups leaves every group its own runs; each run holds its group, so no other
        group can have that id while they are kept)."""
        return self._runs.get(id(group), [])

    def _drop_stale_runs(self):
        """Closes the runs of groups no longer in param_groups (their state is kept in
        self.state, as torch keeps it)."""
        live = {id(g) for g in self.param_groups}
        stale = [key for key in self._runs if key not in live]
        if stale:
            self._pull_state()
            for key in stale:
                for run in self._runs.pop(key):
                    run.close()

    @staticmethod
    def _plain(value):
        """A hyperparameter as it is compared between steps: a tensor (a scheduler updates a
        tensor lr in place) by its value at this moment."""
        if torch.is_tensor(value):
            return value.item() if value.numel() == 1 else tuple(value.reshape(-1).tolist())
        if isinstance(value, (tuple, list)):
            return tuple(OptclOptimizer._plain(v) for v in value)
        return value

    def _seen(self, group):
        return [(k, self._plain(v)) for k, v in group.items() if k != "params"] + \
            [("amp", self._amp)]

    def _group_runs(self, index, group):
        """The runs that step this group now: each run whose tensors all have a gradient, made
        or remade as the gradients and the hyperparameters ask."""
        params = group["params"]
        runs = self._runs_of(group)
        seen = self._seen(group)
        if len(runs) == 1 and runs[0].steps_whole(group, [p.grad for p in params]):
            return [self._refreshed(index, group, runs[0], seen, False)]
        self._densify_sparse_grads(group)
        # a tensor optcl cannot step (model.double()) is refused before any run is remade
        for p in params:
            if p.grad is not None:
                _check_tensor(p, index)
        missing = {r: {r.members[i] for i in r.without_grad()} if r.matches(group) else None
                   for r in runs}
        split = [r for r in runs if missing[r] is None or 0 < len(missing[r]) < len(r.members)]
        if split:  # tensors gone from the group, or a run's tensors stepping apart
            self._pull_state()
            for r in split:
                r.close()
            runs = [r for r in runs if r not in split]
        covered = {i for r in runs for i in r.members}
        fresh = {}  # tensors with a gradient and no run, by dtype and the count they reached
        for i, p in enumerate(params):
            if i not in covered and p.grad is not None:
                fresh.setdefault((p.dtype, self._count_reached(p)), []).append(i)
        runs += [self._new_run(index, group, members, True) for members in fresh.values()]
        self._runs[id(group)] = runs
        stepping = [r for r in runs if not missing.get(r)]
        return [self._refreshed(index, group, r, seen, True) for r in stepping]

    def _refreshed(self, index, group, run, seen, checked):
        """The run with the group's hyperparameters (seen: _seen(group)): set on its optimizer,
        or a new run where they change its state buffers or kernel (checked: its tensors
        passed _check_tensor in this step)."""
        if run.seen == seen:
            return run  # nothing changed since the last step
        if not run.update(self._optcl_kwargs(group, run.dtype), self._algorithm_of(group)):
            self._pull_state()  # the state moves into the new optimizer through self.state
            run.close()
            runs = self._runs[id(group)]
            runs[runs.index(run)] = run = self._new_run(index, group, run.members, checked)
        run.seen = seen
        return run

    # -- the step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        found_inf = getattr(self, "found_inf", None)
        self._amp = found_inf is not None
        if self._amp and float(found_inf) > 0:
            return loss  # GradScaler found Inf/NaN: nothing changes, the count included
        scale = getattr(self, "grad_scale", None)
        scale = 1.0 if scale is None else float(scale)
        # every run made first: a tensor optcl refuses stops the step before anything moved
        self._drop_stale_runs()
        runs = [(group, run) for index, group in enumerate(self.param_groups)
                for run in self._group_runs(index, group)]
        for group, run in runs:
            if self._amp:
                run.opt.set_loss_scale(scale)
            run.attach()
        if runs:
            self._state_fresh = False
        # every run's step in one device section: one wait for the device, not one per run
        core.device_section([run.params for _, run in runs],
                            lambda: [run.enqueue_step() for _, run in runs])
        for _, run in runs:
            run.copy_out()
        return loss

    def _densify_sparse_grads(self, group):
        """Sparse gradients (nn.Embedding(sparse=True)) made dense where torch's class takes
        them: their zeros step as torch's sparse update leaves those elements, unchanged;
        refused, before anything moves (no group steps before every group's runs are made),
        where it does not."""
        name = type(self).__name__
        for p in group["params"]:
            if p.grad is not None and p.grad.layout != torch.strided:
                if not self._sparse_grads:
                    raise RuntimeError(f"optcl.torch.{name} does not support sparse gradients, "
                                       f"as torch.optim.{name} does not")
                if group["weight_decay"] != 0:  # torch's sparse update has no weight decay
                    raise RuntimeError(f"optcl.torch.{name}: weight_decay is not compatible "
                                       f"with sparse gradients, as in torch.optim.{name}")
                p.grad = p.grad.to_dense()

    def zero_grad(self, set_to_none=_TORCH2):
        """torch's zero_grad (set_to_none by default from torch 2.0 on, as torch's), except that
        the gradients that are views of optcl's buffers stay views, zeroed in place, so that
        backward accumulates straight into optcl's buffer. With set_to_none a tensor that the
        next backward does not reach still steps as torch's None would: not at all."""
        for index, group in enumerate(self.param_groups):
            kept = set()
            for run in self._runs_of(group):
                if run.holds(group) and run.zero_grad(set_to_none):
                    kept.update(run.members)
            for i, p in enumerate(group["params"]):
                if i in kept or p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    def _close_runs(self):
        for runs in self._runs.values():
            for run in runs:
                run.close()
        self._runs = {}

    def __del__(self):
        try:
            self._close_runs()
        except Exception:  # at interpreter exit the library may be gone first
            pass

    # -- state in torch's form ---------------------------------------------------------------
    def _torch_extra(self, run, group):
        """torch's scalar state beyond the buffers and step (NAdam's mu_product, ASGD's eta and
        mu), from optcl's running values; {} for most."""
        return {}

    def _pull_state(self):
        """Copies optcl's state of every group into self.state, as torch.optim keeps it."""
        if self._state_fresh:
            return
        for runs in self._runs.values():
            for run in runs:
                self._pull_run(run, run.group)
        self._state_fresh = True

    def _pull_run(self, run, group):
        steps = run.opt.step_count
        if steps == 0:
            return  # not stepped yet: the state is what was pushed, or none
        names = [n for n in run.opt.state_names if n != "lookahead_slow"]
        extra = self._torch_extra(run, group)
        for i, p in enumerate(run.tensors):
            state = self.state[p]
            state.clear()
            if self._has_step:
                state["step"] = torch.tensor(float(steps), dtype=torch.float32)
            for name in names:
                try:
                    values = run.opt.read_state(name, i)
                except OptclError:
                    continue  # a tensor without this state (Adafactor's row_var of a vector)
                state[name] = torch.from_numpy(values).to(_state_dtype(run, name))
            state.update({k: v.clone() if torch.is_tensor(v) else v for k, v in extra.items()})
            self._torch_state_fixup(state, group)
            if not state:
                del self.state[p]

    def _initial_state(self):
        """The state torch's constructor makes (Adagrad's); none for most."""

    def _torch_state_fixup(self, state, group):
        """Where torch's state differs in form from optcl's (SGD without momentum keeps None)."""

    def _push_state(self, run, group):
        """Writes self.state's buffers and step count for the run's tensors into its optcl
        optimizer (new: a run's tensors have reached the same count). With master weights, a
        tensor whose state has no "master" (torch.optim's state dict) takes it from the
        parameter, as optcl's first step would."""
        steps = max(self._count_reached(p) for p in run.tensors)
        for i, p in enumerate(run.tensors):
            state = self.state.get(p) or {}
            for name in run.opt.state_names:
                value = state.get(name)
                if name == "master" and not torch.is_tensor(value) and steps:
                    value = p.detach()
                if not torch.is_tensor(value):
                    continue
                shape = run.opt.state_shape(name, i)
                if tuple(value.shape) != shape:  # torch's step would fail on it; so does this
                    raise RuntimeError(
                        f"optcl.torch: the state '{name}' of tensor {run.members[i]} of param "
                        f"group {run.index} has shape {tuple(value.shape)}, where the tensor "
                        f"needs {shape} (a state dict of another model?)")
                run.opt.write_state(name, value.detach().float().cpu().numpy(), i)
        if steps:
            run.opt.step_count = steps
            for name in self._running_state:  # torch's scalar state: NAdam's mu_product, …
                value = next((s[name] for s in map(self.state.get, run.tensors)
                              if s and torch.is_tensor(s.get(name))), None)
                if value is not None:
                    run.opt.set_running_value(name, float(value))

    def state_dict(self):
        self._pull_state()
        return super().state_dict()

    def load_state_dict(self, state_dict):
        before = [dict(g) for g in self.param_groups]
        super().load_state_dict(state_dict)
        # torch takes the saved groups whole: a key they lack (a torch.optim state dict has no
        # master_weights or state_dtype, torch 1.13's no decoupled_weight_decay) keeps this
        # optimizer's value, so master weights are not dropped by a resume from torch.optim
        for group, old in zip(self.param_groups, before):
            for key in self.defaults:
                if key not in group:
                    group[key] = old.get(key, self.defaults[key])
        self._close_runs()  # rebuilt from self.state at the next step
        self._state_fresh = True
        # torch casts every state tensor to its parameter's dtype; optcl's keep their own (the
        # float32 master of a bfloat16 parameter, state_dtype="f32"), so a resume is exact
        saved = [i for g in state_dict["param_groups"] for i in g["params"]]
        mine = [p for g in self.param_groups for p in g["params"]]
        for key, p in zip(saved, mine):
            for name, value in state_dict["state"].get(key, {}).items():
                now = self.state.get(p, {}).get(name)
                if name != "step" and torch.is_tensor(value) and torch.is_tensor(now) and \
                        value.dtype != now.dtype and value.is_floating_point():
                    self.state[p][name] = value.detach().to(now.device, copy=True)

    def sync_state(self):
        """Brings self.state up to date with optcl's buffers (state_dict() does it itself)."""
        self._pull_state()

    def __getstate__(self):  # pickling: torch's fields, the state brought up to date
        self._pull_state()
        return super().__getstate__()

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_device", None)
        self._ctx, self._runs, self._state_fresh, self._amp = None, {}, True, False

    def __deepcopy__(self, memo):
        raise TypeError("optcl.torch optimizers hold device handles: copy their state_dict()")


def _drop_in(name, algorithm, defaults, keys, doc, has_step=True, extra=None, fixup=None,
             positional=None, running=(), fixed=None):
    """A torch.optim-style class: __init__(params, <hyperparameters, positionally in torch's
    order (positional; by default the defaults' order) or by keyword>, device=None). fixed:
    group keys the class sets that its constructor does not take (AdamW's
    decoupled_weight_decay, as torch 2.x's)."""
    if positional is None:
        positional = tuple(k for k in defaults if k not in _COMPAT)

    def __init__(self, params, *args, device=None, **kwargs):
        values = dict(defaults, **_PRECISION)
        if len(args) > len(positional):
            raise TypeError(f"{name}() takes {len(positional)} positional hyperparameters "
                            f"({', '.join(positional)}), {len(args)} given")
        given = dict(zip(positional, args))
        twice = set(given) & set(kwargs)
        if twice:
            raise TypeError(f"{name}() got multiple values for {sorted(twice)}")
        unknown = set(kwargs) - set(values)
        if unknown:
            raise TypeError(f"{name}() got unexpected keyword arguments {sorted(unknown)}")
        values.update(given)
        values.update(kwargs)
        values.update(fixed or {})
        _check_hyperparameters(name, values)
        OptclOptimizer.__init__(self, params, values, device)
        self._initial_state()

    body = {"__init__": __init__, "__doc__": doc, "algorithm": algorithm, "_keys": keys,
            "_has_step": has_step}
    if extra:
        body["_torch_extra"] = extra
        body["_running_state"] = running
    if fixup:
        body["_torch_state_fixup"] = fixup
    return type(name, (OptclOptimizer,), body)


_ADAM_KEYS = {"betas": ("beta1", "beta2"), "eps": "eps"}


def _check_hyperparameters(name, values):
    """torch's constructors' checks, with torch's messages (ValueError), for what optcl's own
    validation cannot see or words otherwise."""
    lr = values.get("lr")
    if lr is None or (not torch.is_tensor(lr) and not isinstance(lr, (int, float))):
        raise ValueError(f"Invalid learning rate: {lr}")
    if float(lr) < 0:
        raise ValueError(f"Invalid learning rate: {float(lr)}")
    eps = values.get("eps")
    if isinstance(eps, (int, float)) and eps < 0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(values.get("betas") or ()):
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {float(beta)}")
    if float(values.get("weight_decay", 0.0)) < 0:
        raise ValueError(f"Invalid weight_decay value: {values['weight_decay']}")
    if float(values.get("momentum", 0.0)) < 0:
        raise ValueError(f"Invalid momentum value: {values['momentum']}")
    if name == "SGD" and values["nesterov"] and (values["momentum"] <= 0 or
                                                 values["dampening"] != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


def _muon_validate(self, group, index):
    """torch's Muon takes 2-D parameters only (ValueError at construction, as torch's)."""
    for p in group["params"]:
        if p.ndim != 2:
            raise ValueError("Muon only supports 2D parameters whereas we found a parameter "
                             f"with size: {tuple(p.shape)}")
    OptclOptimizer._validate(self, group, index)


def _adam_algorithm(self, group):
    """torch 2.x's Adam(decoupled_weight_decay=True) is AdamW, and an AdamW group with it False
    (a loaded Adam state dict) Adam, as torch's AdamW steps it; optcl has both rules."""
    decoupled = group.get("decoupled_weight_decay")
    if decoupled is None:
        return self.algorithm
    return "adamw" if decoupled else "adam"


def _sgd_fixup(self, state, group):
    """Without momentum torch 1.x keeps {"momentum_buffer": None}, torch 2.x no entry."""
    if group["momentum"] == 0:
        state.clear()
        if not _TORCH2:
            state["momentum_buffer"] = None


def _running(run, name):
    """optcl's running value as torch's float32 0-d state tensor."""
    return torch.tensor(run.opt.running_value(name), dtype=torch.float32)


def _nadam_extra(self, run, group):
    return {"mu_product": _running(run, "mu_product")}


def _asgd_extra(self, run, group):
    mu = 1.0 / max(1.0, run.opt.step_count - group["t0"])  # a function of the count alone
    return {"eta": _running(run, "eta"), "mu": torch.tensor(mu, dtype=torch.float32)}


_COMPAT = {"foreach": None, "differentiable": False, "fused": None}  # accepted, ignored
# optcl's precision modes, every class's and per group (docs/PRECISION.md): the state's element
# type ("same" is the parameters', as torch keeps it), float32 master weights for
# bfloat16/float16 parameters, and how they are rounded
_PRECISION = {"state_dtype": "same", "master_weights": False, "rounding": "nearest", "seed": 0}

SGD = _drop_in("SGD", "sgd", dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                  nesterov=False, maximize=False, **_COMPAT),
               {"momentum": "momentum", "dampening": "dampening", "nesterov": "nesterov"},
               "torch.optim.SGD on optcl.", has_step=False, fixup=_sgd_fixup,
               positional=("lr", "momentum", "dampening", "weight_decay", "nesterov"))
SGD._sparse_grads = True
_ADAM_ORDER = ("lr", "betas", "eps", "weight_decay", "amsgrad")
Adam = _drop_in("Adam", "adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                     amsgrad=False, maximize=False, capturable=False,
                                     decoupled_weight_decay=False, **_COMPAT),
                dict(_ADAM_KEYS, amsgrad="amsgrad"), "torch.optim.Adam on optcl "
                "(decoupled_weight_decay=True: AdamW, as torch 2.x's).", positional=_ADAM_ORDER)
AdamW = _drop_in("AdamW", "adamw", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                        weight_decay=1e-2, amsgrad=False, maximize=False,
                                        capturable=False, **_COMPAT),
                 dict(_ADAM_KEYS, amsgrad="amsgrad"), "torch.optim.AdamW on optcl.",
                 positional=_ADAM_ORDER, fixed={"decoupled_weight_decay": True})
Adam._algorithm_of = AdamW._algorithm_of = _adam_algorithm
RMSprop = _drop_in("RMSprop", "rmsprop", dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                                              momentum=0.0, centered=False, maximize=False,
                                              capturable=False, **_COMPAT),
                   {"alpha": "alpha", "eps": "eps", "momentum": "momentum",
                    "centered": "centered"}, "torch.optim.RMSprop on optcl.",
                   positional=("lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                               "capturable", "foreach", "maximize", "differentiable"))
Rprop = _drop_in("Rprop", "rprop", dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0),
                                        maximize=False, capturable=False, **_COMPAT),
                 {"etas": ("etaminus", "etaplus"), "step_sizes": ("step_min", "step_max")},
                 "torch.optim.Rprop on optcl.", positional=("lr", "etas", "step_sizes"))
Adagrad = _drop_in("Adagrad", "adagrad", dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                                              initial_accumulator_value=0.0, eps=1e-10,
                                              maximize=False, **_COMPAT),
                   {"lr_decay": "lr_decay", "initial_accumulator_value":
                    "initial_accumulator_value", "eps": "eps"}, "torch.optim.Adagrad on optcl.",
                   positional=("lr", "lr_decay", "weight_decay", "initial_accumulator_value",
                               "eps", "foreach"))
Adagrad._sparse_grads = True


def _adagrad_initial_state(self):
    """torch's Adagrad gives every tensor its state at construction: step 0 and the sum."""
    for group in self.param_groups:
        for p in group["params"]:
            self.state[p] = {"step": torch.tensor(0.0),
                             "sum": torch.full_like(p.detach(), group["initial_accumulator_value"])}


Adagrad._initial_state = _adagrad_initial_state
Adadelta = _drop_in("Adadelta", "adadelta", dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
                                                 maximize=False, capturable=False, **_COMPAT),
                    {"rho": "rho", "eps": "eps"}, "torch.optim.Adadelta on optcl.",
                    positional=("lr", "rho", "eps", "weight_decay", "foreach"))
Adamax = _drop_in("Adamax", "adamax", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=0.0, maximize=False, capturable=False,
                                           **_COMPAT),
                  _ADAM_KEYS, "torch.optim.Adamax on optcl.",
                  positional=("lr", "betas", "eps", "weight_decay", "foreach"))
NAdam = _drop_in("NAdam", "nadam", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                        momentum_decay=4e-3, decoupled_weight_decay=False,
                                        maximize=False, capturable=False, **_COMPAT),
                 dict(_ADAM_KEYS, momentum_decay="momentum_decay",
                      decoupled_weight_decay="decoupled_weight_decay"),
                 "torch.optim.NAdam on optcl.", extra=_nadam_extra, running=("mu_product",),
                 positional=("lr", "betas", "eps", "weight_decay", "momentum_decay",
                             "decoupled_weight_decay"))
RAdam = _drop_in("RAdam", "radam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                        decoupled_weight_decay=False, maximize=False,
                                        capturable=False, **_COMPAT),
                 dict(_ADAM_KEYS, decoupled_weight_decay="decoupled_weight_decay"),
                 "torch.optim.RAdam on optcl.",
                 positional=("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay"))
ASGD = _drop_in("ASGD", "asgd", dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                                     maximize=False, capturable=False, **_COMPAT),
                {"lambd": "lambd", "alpha": "alpha", "t0": "t0"},
                "torch.optim.ASGD on optcl.", extra=_asgd_extra, running=("eta",),
                positional=("lr", "lambd", "alpha", "t0", "weight_decay", "foreach", "maximize",
                            "differentiable", "capturable"))
Lion = _drop_in("Lion", "lion", dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0,
                                     maximize=False),
                {"betas": ("beta1", "beta2")}, "Lion (Chen et al. 2023) on optcl.")
LAMB = _drop_in("LAMB", "lamb", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, eps_root=0.0,
                                     weight_decay=0.0, maximize=False),
                dict(_ADAM_KEYS, eps_root="eps_root"), "LAMB (optax.lamb) on optcl.")
LARS = _drop_in("LARS", "lars", dict(lr=0.1, momentum=0.9, trust_coefficient=1e-3, eps=0.0,
                                     nesterov=False, weight_decay=0.0, maximize=False),
                {"momentum": "momentum", "trust_coefficient": "trust_coefficient", "eps": "eps",
                 "nesterov": "nesterov"}, "LARS (optax.lars) on optcl.")
Adafactor = _drop_in("Adafactor", "adafactor", dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3),
                                                    d=1.0, weight_decay=0.0, maximize=False,
                                                    **_COMPAT),
                     {"beta2_decay": "beta2_decay", "d": "d"},
                     "torch.optim.Adafactor on optcl.",
                     positional=("lr", "beta2_decay", "eps", "d", "weight_decay"))
Muon = _drop_in("Muon", "muon", dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                                     ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7,
                                     ns_steps=5, adjust_lr_fn=None),
                {"momentum": "momentum", "nesterov": "nesterov",
                 "ns_coefficients": ("ns_a", "ns_b", "ns_c"), "eps": "eps",
                 "ns_steps": "ns_steps"}, "torch.optim.Muon on optcl (2-D parameters only).",
                has_step=False)
Muon._validate = _muon_validate


def _adafactor_kwargs(self, group, dtype):
    kw = OptclOptimizer._optcl_kwargs(self, group, dtype)
    eps1, eps2 = group["eps"]
    if eps1 is None:  # torch's None: the tensor's dtype's eps
        eps1 = torch.finfo(dtype).eps
    kw["eps1"], kw["eps2"] = float(eps1), float(eps2)
    return kw


def _muon_kwargs(self, group, dtype):
    kw = OptclOptimizer._optcl_kwargs(self, group, dtype)
    kw.pop("maximize", None)
    kw["adjust_lr_fn"] = group["adjust_lr_fn"] or "original"
    return kw


Adafactor._optcl_kwargs = _adafactor_kwargs
Muon._optcl_kwargs = _muon_kwargs


def _trust_kwargs(self, group, dtype):
    kw = OptclOptimizer._optcl_kwargs(self, group, dtype)
    if group.get("exclude_from_trust_ratio"):
        kw["groups"] = [{"exclude_from_trust_ratio": 1}]
    return kw


LAMB._optcl_kwargs = LARS._optcl_kwargs = _trust_kwargs


class _ScheduleFree(OptclOptimizer):
    """schedulefree's train()/eval(): the parameters hold y while training, x to evaluate; and
    its param groups' weight_sum and lr_max, optcl's running values, so that a state dict
    resumes the weighting of the steps taken (after lr changes too)."""

    _group_running = ("weight_sum", "lr_max")

    def _pull_run(self, run, group):
        super()._pull_run(run, group)
        if run.opt.step_count:
            for name in self._group_running:
                group[name] = run.opt.running_value(name)

    def _push_state(self, run, group):
        super()._push_state(run, group)
        if run.opt.step_count and all(name in group for name in self._group_running):
            for name in self._group_running:
                run.opt.set_running_value(name, float(group[name]))

    def _start_run(self, run, group):
        """A new run is in its group's saved mode (a checkpoint taken in eval mode: the
        parameters hold x), so that train() blends them back to y as schedulefree's does. Its
        buffer is not the tensors' yet (attach copies them in), so the switch's blend of it
        changes nothing."""
        if group.get("train_mode", True) is False and run.opt.step_count:
            run.opt.eval()

    def train(self):
        self._mode("train")

    def eval(self):
        self._mode("eval")

    def _mode(self, mode):
        want = mode == "train"
        for index, group in enumerate(self.param_groups):
            if group.get("train_mode", True) != want and not self._runs_of(group):
                self._runs_from_state(index, group)
        for run in (run for runs in self._runs.values() for run in runs):
            run.attach(grads=False)
            getattr(run.opt, mode)()
            if run.flat is None:
                run.copy(run.tensors, "params", False)
        for group in self.param_groups:
            group["train_mode"] = want

    def _runs_from_state(self, index, group):
        """The runs of a group that has state but no runs (a loaded state dict), made now so
        that a mode switch blends its parameters with z; tensors without state have no z."""
        fresh = {}
        for i, p in enumerate(group["params"]):
            count = self._count_reached(p)
            if count and p.dtype in _PARAM_DTYPES:
                fresh.setdefault((p.dtype, count), []).append(i)
        if fresh:
            self._runs[id(group)] = [self._new_run(index, group, members)
                                     for members in fresh.values()]


def _sf(name, algorithm, defaults, keys, doc):
    cls = _drop_in(name, algorithm, defaults, keys, doc)
    return type(name, (_ScheduleFree, cls), {"__doc__": doc})


AdamWScheduleFree = _sf("AdamWScheduleFree", "adamw_schedulefree",
                        dict(lr=2.5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                             warmup_steps=0, r=0.0, weight_lr_power=2.0, train_mode=True),
                        dict(_ADAM_KEYS, warmup_steps="warmup_steps", r="r",
                             weight_lr_power="weight_lr_power"),
                        "schedulefree.AdamWScheduleFree on optcl.")
SGDScheduleFree = _sf("SGDScheduleFree", "sgd_schedulefree",
                      dict(lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
                           weight_lr_power=2.0, train_mode=True),
                      {"momentum": "momentum", "warmup_steps": "warmup_steps", "r": "r",
                       "weight_lr_power": "weight_lr_power"},
                      "schedulefree.SGDScheduleFree on optcl.")

__all__ = ["OptclOptimizer", "SGD", "Adam", "AdamW", "RMSprop", "Rprop", "Adagrad", "Adadelta",
           "Adamax", "NAdam", "RAdam", "ASGD", "Lion", "LAMB", "LARS", "Adafactor", "Muon",
           "AdamWScheduleFree", "SGDScheduleFree"]


@atexit.register
def _close_all_runs():
    for optimizer in list(_LIVE):
        try:
            optimizer._close_runs()
        except Exception:
            pass
