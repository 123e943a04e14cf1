"""optcl's C API in Python's idiom: contexts, parameter sets and optimizers as objects that free
their C handles when they go, NumPy arrays in and out, and errors as OptclError with optcl's
message. Every call blocks or not as its C function does (include/optcl.h)."""
import ctypes as C
import weakref

import numpy as np

from . import _abi
from ._lib import OptclError, check, lib


def _names(name_of):
    """{name: value} of a C enum, from its name function (NULL past the last value)."""
    out, v = {}, 0
    while name_of(v):
        out[name_of(v).decode()] = v
        v += 1
    return out


ROLES = {"params": 0, "grads": 1}
DTYPES = _names(lib.optcl_dtype_name)  # "f32", "bf16", "f16"
SCHEDULES = _names(lib.optcl_schedule_name)  # "constant", "inverse_time", …
STATE_DTYPES = _names(lib.optcl_state_dtype_name)  # "same", "f32", "bf16", "int8"
LOSS_SCALING = _names(lib.optcl_loss_scaling_name)  # "off", "static", "dynamic"
ROUNDING = _names(lib.optcl_rounding_name)  # "nearest", "stochastic"
NONFINITE = _names(lib.optcl_nonfinite_name)  # "propagate", "skip"
MODES = {"train": 0, "eval": 1}
_RAW = {0: np.float32, 1: np.uint16, 2: np.uint16}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}  # 0: "f32", …


def _raw_dtypes(kind):
    """The NumPy dtypes whose elements a set of this kind stores as they are: float32 for f32;
    16-bit integers for bf16 and f16, and float16 for f16 only (a float16 is not a bfloat16)."""
    if kind == DTYPES["f32"]:
        return (np.dtype(np.float32),)
    bits = (np.dtype(np.uint16), np.dtype(np.int16))
    return bits + (np.dtype(np.float16),) if kind == DTYPES["f16"] else bits


def _choice(table, value, what):
    if isinstance(value, int) and value in table.values():
        return value
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError(f"{what}: {value!r} is not one of {', '.join(table)}") from None


def _role(role):
    """A role's number from its name ("params", "grads")."""
    try:
        return ROLES[role]
    except (KeyError, TypeError):
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}") from None


def _flag(value, what):
    """A bool (or 0/1) as 0 or 1; TypeError for anything else ("no" is not False)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, float, np.number))
                                               and value in (0, 1)):
        return int(value)
    raise TypeError(f"{what}: {value!r} is not a bool")


def _count(value, what):
    """A non-negative whole number (TypeError for a float or a string, ValueError below 0)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: {value!r} is not an int")
    if value < 0 or value >= 2 ** 64:
        raise ValueError(f"{what}: {value} is not in [0, 2**64)")
    return int(value)


def _option_info(algorithm, key):
    """An algorithm option's entry in options(algorithm); ValueError naming the options (and
    weight_decay, which every algorithm takes) for a key it does not have."""
    info = _options_table(algorithm).get(key)
    if info is None:
        raise ValueError(f"{algorithm} has no option {key!r} (its options: "
                         f"{', '.join(['weight_decay', *_options_table(algorithm)])})")
    return info


def _option_value(what, info, value):
    """An algorithm option's value (info: its _option_info) as the C API takes it: a choice by
    its name or index, a flag as a bool, a real as a number; ValueError/TypeError naming the
    option (what) otherwise."""
    if info["type"] == "choice":
        choices = info["choices"] or []
        if isinstance(value, str):
            if value not in choices:
                raise ValueError(f"{what}={value!r}: one of {', '.join(choices)}")
            return choices.index(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and 0 <= value < len(choices):
            return int(value)
        raise ValueError(f"{what}={value!r}: one of {', '.join(choices)}")
    if info["type"] == "flag":
        return _flag(value, what)
    return _real(value, what)


def _real(value, what):
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{what}: {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: {value!r} is not a number") from None


def _floats(array, count, what):
    a = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
    if a.size != count:
        raise ValueError(f"{what}: {a.size} values where {count} are needed")
    return a


class _Handle:
    """A C handle that is destroyed when its Python object goes, or at close() (also the end of
    a with block); _destroy names the C destroy function.

    A handle made from another (a parameter set from its context, an optimizer from its set)
    holds a strong reference to its parent, and the parent counts it: the C object of a parent
    is destroyed only once every child's is (and every NumPy view of a set's memory has gone),
    so that garbage collection, which finalizes the objects of a reference cycle in any order,
    frees them all. close() closes the live children first (an optimizer before its set, a set
    before its context); a closed object refuses every later call with ValueError."""

    _destroy = None
    _what = "object"

    def _init_handle(self, parent=None):
        self._c = C.c_void_p()  # the C handle
        self._closed = False  # close() was called, or the object is being finalized
        self._holds = 0  # children (and views) whose C objects need this one's
        self._parent = parent
        self._children = weakref.WeakSet()

    def _adopt(self):
        """Called once the C object exists: the parent now waits for it."""
        if self._parent is not None:
            self._parent._holds += 1
            self._parent._children.add(self)

    @property
    def _h(self):
        """The C handle; ValueError once closed."""
        if self.__dict__.get("_closed", True) or not self._c:
            raise ValueError(f"this optcl.{type(self).__name__} is closed")
        return self._c

    @property
    def closed(self):
        return self.__dict__.get("_closed", True)

    def close(self):
        """Closes the live children, then this object; its C object is destroyed at once (or,
        for a parameter set, when the last NumPy view of its memory goes). Idempotent."""
        if self.closed:
            return
        for child in list(self._children):
            child.close()
        self._closed = True
        self._release()

    def _release(self):
        """Destroys the C object once nothing needs it (closed, no child or view left), then
        lets the parent go on the same terms."""
        if self._holds > 0 or not self._c:
            return
        handle, self._c = self._c, C.c_void_p()
        try:
            status = getattr(lib, self._destroy)(handle)
        finally:
            self._destroyed()
        parent, self._parent = self._parent, None
        if parent is not None:
            parent._holds -= 1
            if parent._closed:
                parent._release()
        if status:
            check(status, f"destroying an optcl.{type(self).__name__}")

    def _unhold(self):
        self._holds -= 1
        if self._closed:
            self._release()

    def __del__(self):
        if "_c" not in self.__dict__:
            return  # __init__ failed before the handle existed
        self._closed = True
        try:
            self._release()
        except Exception:  # at interpreter exit the library may be gone first
            pass

    def _destroyed(self):
        """What goes after the C object (a parameter set's host buffers)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return
        try:  # never hide the exception leaving the block
            self.close()
        except Exception:
            pass


class _HostMemory:
    """The owner of a NumPy array over a reference-backend parameter set's memory: it keeps the
    set's C object alive as long as the array (or any view of it, torch's included) exists."""

    def __init__(self, params, address, count):
        self.__array_interface__ = {"data": (address, False), "shape": (count,),
                                    "typestr": np.dtype(np.float32).str, "version": 3}
        self._params = params
        params._holds += 1

    def __del__(self):
        try:
            self._params._unhold()
        except Exception:
            pass


class Context(_Handle):
    """An OpenCL device and its in-order queue, or the reference backend (plain C on the host).

    device: None (OPTCL_DEVICE when set, else the largest GPU, else the first device), "reference",
    "P:D" (platform and device index), or a case-insensitive substring of "<platform> <device>".
    """

    _destroy = "optcl_context_destroy"

    def __init__(self, device=None, _handle=None, _keep=None):
        self._init_handle()
        self._keep = _keep  # objects that must outlive the handle (PyOpenCL's context, queue)
        if _handle:
            self._c = C.c_void_p(_handle)
            return
        config = lib.optcl_context_config_default()
        if device is not None:
            config.ignore_environment = 1
            if device == "reference":
                config.backend = 1
            elif isinstance(device, str) and device.count(":") == 1 and \
                    all(x.strip().isdigit() for x in device.split(":")):
                config.platform_index, config.device_index = map(int, device.split(":"))
            else:
                config.device_name = str(device).encode()
        message = C.create_string_buffer(1024)
        check(lib.optcl_context_create(C.byref(config), C.byref(self._c), message, len(message)),
              message.value)

    @classmethod
    def from_pyopencl(cls, ctx, queue):
        """Wraps a PyOpenCL context and in-order queue (both retained by optcl, released when
        this Context goes; the Python objects are kept alive as long)."""
        device = queue.device
        h = C.c_void_p()
        message = C.create_string_buffer(1024)
        check(lib.optcl_context_wrap(C.c_void_p(ctx.int_ptr), C.c_void_p(device.int_ptr),
                                     C.c_void_p(queue.int_ptr), C.byref(h), message,
                                     len(message)), message.value)
        return cls(_handle=h.value, _keep=(ctx, queue))

    def _check(self, status):
        check(status, lambda: lib.optcl_context_message(self._h))

    @property
    def backend(self):
        return "reference" if lib.optcl_context_backend(self._h) == 1 else "opencl"

    @property
    def device_name(self):
        return lib.optcl_context_device_name(self._h).decode()

    @property
    def vector_width(self):
        return lib.optcl_context_vector_width(self._h)

    @property
    def work_group_size(self):
        return lib.optcl_context_work_group_size(self._h)

    @property
    def int8_block_items(self):
        """Work-items stepping one 256-element block of 8-bit state: 256 / vector_width on
        GPUs, 1 elsewhere, 0 on the reference backend (optcl_context_int8_block_items)."""
        return lib.optcl_context_int8_block_items(self._h)

    def finish(self):
        self._check(lib.optcl_context_finish(self._h))

    def params(self, tensors, dtype="f32", buffers=None, shared=False):
        """A parameter set of these tensors: see Params."""
        return Params(self, tensors, dtype, buffers, shared)


    def __repr__(self):
        if self.closed:
            return "optcl.Context(closed)"
        return f"optcl.Context({self.device_name!r})"


def _specs(tensors):
    """(name, shape[, group[, state_bits]]) tuples, or a {name: shape} dict, as C specs."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    specs = (_abi.TensorSpec * max(1, len(items)))()
    names = []
    for i, t in enumerate(items):
        name, shape, *rest = t
        shape = tuple(int(d) for d in (shape if hasattr(shape, "__len__") else (shape,)))
        if len(shape) > _abi.MAX_DIMS:
            raise ValueError(f"tensor {name!r}: {len(shape)} dims, at most {_abi.MAX_DIMS}")
        names.append(str(name).encode())
        specs[i].name = names[-1]
        specs[i].ndim = len(shape)
        specs[i].shape[:len(shape)] = shape
        specs[i].group = int(rest[0]) if rest else 0
        specs[i].state_bits = int(rest[1]) if len(rest) > 1 else 0
    return specs, len(items), names


class Params(_Handle):
    """Named tensors in flat parameter and gradient buffers (include/optcl.h, "Parameter sets").

    tensors: (name, shape[, group]) tuples or {name: shape}. dtype: "f32", "bf16" or "f16".
    buffers: (params, grads) to wrap the caller's OpenCL buffers (PyOpenCL Buffers or
    pyopencl.array.Arrays, laid out as Params.layout says) instead of allocating.
    shared=True (OpenCL): the parameters and gradients live in host memory of this set's that
    backs its buffers (CL_MEM_USE_HOST_PTR) and stays mapped for the host between optcl's
    calls, so host_view works as on the reference backend — no copies on a device that shares
    host memory, the driver's transfers around each call elsewhere. OSError when the device
    cannot keep the buffers there."""

    _destroy = "optcl_params_destroy"

    def __init__(self, ctx, tensors, dtype="f32", buffers=None, shared=False):
        self._init_handle(ctx)
        self.ctx = ctx
        self._shared = []  # HostBuffers, when shared
        self._host = None  # the flat host arrays by role, where there are any
        specs, n, self._names = _specs(tensors)
        kind = _choice(DTYPES, dtype, "dtype")
        if buffers is not None:
            buffers = tuple(buffers)
            if shared:
                raise ValueError("params: shared=True makes its own host buffers and buffers= "
                                 "wraps yours; give one of them")
            if len(buffers) != 2:
                raise ValueError(f"params: buffers= takes (params, grads), {len(buffers)} given")
            for role, b in zip(ROLES, buffers):
                _check_buffer_dtype(b, kind, role)
        self._keep = buffers
        if shared and ctx.backend == "opencl" and buffers is None:
            self._create_shared(specs, n, kind)
        elif buffers is None:
            ctx._check(lib.optcl_params_create_typed(ctx._h, specs, n, kind, C.byref(self._c)))
        else:
            handles = [C.c_void_p(_cl_mem(b)) for b in buffers]
            ctx._check(lib.optcl_params_wrap_typed(ctx._h, specs, n, kind, handles[0],
                                                   handles[1], C.byref(self._c)))
        self._adopt()
        self.tensors = [self.info(i) for i in range(n)]
        self._index = {t["name"]: i for i, t in enumerate(self.tensors)}
        self._reference = ctx.backend == "reference"

    def _create_shared(self, specs, n, kind):
        from . import _cl
        if _cl.cl is None:
            raise OSError("no OpenCL ICD loader to make shared buffers with")
        total = C.c_size_t()
        self.ctx._check(lib.optcl_params_layout(self.ctx._h, specs, n, None, C.byref(total)))
        host = [_aligned_zeros(total.value, _RAW[kind], 4096) for _ in ROLES]
        try:
            for a in host:
                self._shared.append(_cl.HostBuffer(lib.optcl_context_cl_context(self.ctx._h),
                                                   lib.optcl_context_cl_queue(self.ctx._h),
                                                   a.ctypes.data, a.nbytes))
            for b in self._shared:  # the wrap zeroes the padding on the device
                b.unmap()
            self.ctx._check(lib.optcl_params_wrap_typed(
                self.ctx._h, specs, n, kind, C.c_void_p(self._shared[0].mem),
                C.c_void_p(self._shared[1].mem), C.byref(self._c)))
            self._adopt()
            for b in self._shared:
                b.map()
        except (OSError, OptclError):
            self._destroyed()
            raise
        self._host = host

    def _destroyed(self):
        for b in self._shared:
            b.release()
        self._shared = []

    @property
    def shared(self):
        """Whether the parameters and gradients live in host memory the host may use
        between calls (shared=True on OpenCL, and the reference backend)."""
        return self._host is not None or self._reference

    def _device(self, call):
        """Runs a C call that touches the buffers with the shared ones unmapped, and maps them
        again after it (one wait)."""
        return device_section([self], call)

    @staticmethod
    def layout(ctx, tensors):
        """(offsets, total) in elements: where each tensor lies in buffers optcl would make."""
        specs, n, _ = _specs(tensors)
        offsets, total = (C.c_size_t * max(1, n))(), C.c_size_t()
        ctx._check(lib.optcl_params_layout(ctx._h, specs, n, offsets, C.byref(total)))
        return list(offsets[:n]), total.value

    def _check(self, status):
        check(status, lambda: lib.optcl_params_message(self._h))

    def info(self, index):
        i = _abi.TensorInfo()
        self._check(lib.optcl_params_info(self._h, index, C.byref(i)))
        return {"name": i.name.decode(), "shape": tuple(i.shape[:i.ndim]), "group": i.group,
                "offset": i.offset, "count": i.count}

    def index(self, tensor):
        """A tensor's index from its index or name (KeyError for an unknown name)."""
        if tensor is None or isinstance(tensor, int):
            return _abi.ALL if tensor is None else tensor
        return self._index[tensor]

    @property
    def numel(self):
        return lib.optcl_params_numel(self._h)

    @property
    def flat_size(self):
        return lib.optcl_params_flat_size(self._h)

    @property
    def dtype(self):
        return _DTYPE_NAMES[lib.optcl_params_dtype(self._h)]

    def _shape_and_count(self, index):
        if index == _abi.ALL:
            return (self.numel,), self.numel
        t = self.tensors[index]
        return t["shape"], t["count"]

    def read(self, tensor=None, role="params", raw=False):
        """A tensor's values (tensor: name or index) as a new array of its shape, or every
        tensor packed in creation order (tensor None). float32, or with raw=True the elements as
        stored (uint16 bits for bf16/f16). Blocks."""
        index = self.index(tensor)
        shape, count = self._shape_and_count(index)
        kind = lib.optcl_params_dtype(self._h)
        out = np.empty(count, dtype=_RAW[kind] if raw else np.float32)
        f = lib.optcl_params_read_raw if raw else lib.optcl_params_read
        self._check(self._device(lambda: f(self._h, _role(role), index, out.ctypes.data,
                                           count)))
        return out.reshape(shape)

    def write(self, values, tensor=None, role="params", raw=False):
        """The reverse of read: values of the tensor's element count (any shape). Blocks."""
        index = self.index(tensor)
        _, count = self._shape_and_count(index)
        if raw:
            kind = lib.optcl_params_dtype(self._h)
            a = np.asarray(values)
            if a.dtype not in _raw_dtypes(kind):
                raise TypeError(f"write(raw=True): {a.dtype} values, where the {self.dtype} "
                                f"set stores {np.dtype(_RAW[kind]).name} (give floats "
                                "without raw)")
            a = np.ascontiguousarray(a).view(_RAW[kind]).reshape(-1)
            if a.size != count:
                raise ValueError(f"write: {a.size} values where {count} are needed")
            f = lib.optcl_params_write_raw
        else:
            a = _floats(values, count, "write")
            f = lib.optcl_params_write
        self._check(self._device(lambda: f(self._h, _role(role), index, a.ctypes.data, count)))

    def _reference_host(self, role):
        """The flat host memory of a role on the reference backend, as an array that keeps this
        set's C object alive (see _HostMemory)."""
        ptr = C.POINTER(C.c_float)()
        self._check(lib.optcl_params_host(self._h, _role(role), _abi.ALL, C.byref(ptr)))
        return np.asarray(_HostMemory(self, C.cast(ptr, C.c_void_p).value, self.flat_size))

    def host_view(self, role="params", tensor=None):
        """A NumPy view (no copy) of the set's host memory — the flat buffer, padding included,
        or one tensor in its shape — on the reference backend (float32 whatever the dtype) and
        for a shared set (the elements as stored: uint16 bits for bf16/f16). Writes through it
        are what the next step reads. The array keeps the set's memory alive: after close() the
        set refuses calls, but its memory goes with the last view."""
        self._h  # ValueError once closed
        if self._reference:
            flat = self._reference_host(role)
        elif self._host is None:
            raise ValueError("host_view: this parameter set's memory is the device's (make it "
                             "with shared=True, or use read and write)")
        else:
            flat = self._host[_role(role)]
        index = self.index(tensor)
        if index == _abi.ALL:
            return flat
        t = self.tensors[index]
        return flat[t["offset"]:t["offset"] + t["count"]].reshape(t["shape"])

    def buffer(self, role="params", tensor=None):
        """The OpenCL buffer (cl_mem, as an int) of a role or of one tensor's view of it; owned
        by the set. With PyOpenCL: pyopencl.Buffer.from_int_ptr(value, retain=True)."""
        if self._shared:
            raise ValueError("a shared parameter set's buffers are mapped for the host between "
                             "optcl's calls: use host_view")
        out = C.c_void_p()
        self._check(lib.optcl_params_buffer(self._h, _role(role), self.index(tensor),
                                            C.byref(out)))
        return out.value

    def cl_array(self, tensor, role="params", queue=None):
        """A pyopencl.array.Array over one tensor of a role, in its shape, at its offset in the
        flat buffer (no copy; the buffer is retained by the Array). OpenCL backend only; queue
        defaults to the queue of a Context made with from_pyopencl."""
        import pyopencl as cl
        import pyopencl.array as cla
        queue = queue or _pyopencl_queue(self.ctx)
        flat = cl.Buffer.from_int_ptr(self.buffer(role), retain=True)
        t = self.tensors[self.index(tensor)]
        kind = np.float32 if self.dtype == "f32" else np.uint16
        return cla.Array(queue, t["shape"], kind, data=flat,
                         offset=t["offset"] * np.dtype(kind).itemsize)

    def zero_grad(self, wait_for=(), event=False):
        """Zeroes the whole gradient buffer (enqueued); with event=True returns its
        pyopencl.Event."""
        return self._device(lambda: _enqueue(
            self.ctx, lambda n, w, e: lib.optcl_params_zero_grad(self._h, n, w, e),
            self._check, wait_for, event))

    def optimizer(self, algorithm, **kwargs):
        return Optimizer(self, algorithm, **kwargs)


def device_section(param_sets, call):
    """Runs call (C calls that touch the sets' buffers) with the shared buffers of every set
    unmapped, and maps them all again after it with one wait per queue: an in-order queue maps
    the last buffer after everything before it, so several sets stepped together wait once."""
    shared = [b for s in param_sets for b in s._shared]
    if not shared:
        return call()
    unmapped = []
    try:
        for b in shared:
            b.unmap()
            unmapped.append(b)
        return call()
    finally:
        last = {b.queue: b for b in unmapped}  # each queue's last buffer maps blocking
        for b in unmapped:
            b.map(blocking=last[b.queue] is b)


def _aligned_zeros(count, dtype, alignment):
    """A zeroed array whose first element sits on an alignment-byte boundary."""
    size = np.dtype(dtype).itemsize
    base = np.zeros(count + alignment // size, dtype=dtype)
    skip = (-base.ctypes.data % alignment) // size
    return base[skip:skip + count]


def _pyopencl_queue(ctx):
    if ctx._keep is None:
        raise ValueError("no PyOpenCL queue: make the Context with Context.from_pyopencl, or "
                         "pass queue=")
    return ctx._keep[1]


def _enqueue(ctx, call, check_status, wait_for, want_event):
    """Runs an enqueueing C call with a wait list of pyopencl.Events, and takes its event as a
    pyopencl.Event that owns it (retain=False: the C call's reference is the Event's)."""
    wait_for = list(wait_for or ())
    waits = (C.c_void_p * max(1, len(wait_for)))(*[e.int_ptr for e in wait_for])
    out = C.c_void_p()
    check_status(call(len(wait_for), waits if wait_for else None,
                      C.byref(out) if want_event else None))
    if not want_event or not out.value:
        return None
    import pyopencl as cl
    return cl.Event.from_int_ptr(out.value, retain=False)


def _check_buffer_dtype(b, kind, role):
    """TypeError for a pyopencl Array whose elements are not the set's (float32; 16-bit for
    bf16 and f16)."""
    dtype = getattr(b, "dtype", None)
    if dtype is None:
        return  # a Buffer or a cl_mem: untyped
    ok = _raw_dtypes(kind)
    if np.dtype(dtype) not in ok:
        raise TypeError(f"params: the {role} buffer is an Array of {np.dtype(dtype).name}; a "
                        f"{_DTYPE_NAMES[kind]} set takes {' or '.join(t.name for t in ok)}")


def _cl_mem(b):
    """The cl_mem of a PyOpenCL Buffer or Array (an Array's offset must be 0: optcl wraps
    whole buffers), or an int."""
    if isinstance(b, int):
        return b
    if hasattr(b, "base_data"):  # pyopencl.array.Array
        if b.offset:
            raise ValueError("optcl wraps whole buffers: this pyopencl Array starts at offset "
                             f"{b.offset}; give its base_data and lay the tensors out in it")
        b = b.base_data
    return b.int_ptr


def algorithms():
    """Every algorithm's name, in the enum's order."""
    return list(_names(lib.optcl_algorithm_name))


def _algorithm(name):
    out = C.c_int()
    check(lib.optcl_algorithm_from_name(str(name).encode(), C.byref(out)),
          f"unknown algorithm {name!r}: one of {', '.join(algorithms())}")
    return out.value


_OPTION_TABLES = {}  # str(algorithm): _options_table's


def options(algorithm):
    """An algorithm's own options: {key: {"default", "min", "max", "type", "choices", "help"}}."""
    return {key: dict(info, choices=info["choices"] and list(info["choices"]))
            for key, info in _options_table(algorithm).items()}


def _options_table(algorithm):
    """options(algorithm), read from the C table once per algorithm (not to be changed)."""
    table = _OPTION_TABLES.get(str(algorithm))
    if table is None:
        table = _OPTION_TABLES[str(algorithm)] = _read_options(_algorithm(algorithm))
    return table


def _read_options(a):
    out = {}
    for i in range(lib.optcl_algorithm_option_count(a)):
        o = lib.optcl_algorithm_option(a, i).contents
        choices = []
        if o.choices:
            while o.choices[len(choices)]:
                choices.append(o.choices[len(choices)].decode())
        out[o.key.decode()] = {"default": o.default_value, "min": o.min, "max": o.max,
                               "type": ("real", "flag", "choice")[o.type],
                               "choices": choices or None, "help": o.help.decode()}
    return out


def _fill(struct, values, what, tables=None):
    for key, value in values.items():
        if not hasattr(struct, key) or key.startswith("_"):
            raise ValueError(f"{what} has no field {key!r}")
        if tables and key in tables:
            value = _choice(tables[key], value, f"{what}.{key}")
        if key == "milestones":
            struct.milestone_count = len(value)
            struct.milestones[:len(value)] = [int(v) for v in value]
            continue
        setattr(struct, key, value)


def _schedule(spec):
    spec = dict(spec)
    s = lib.optcl_schedule_default(_choice(SCHEDULES, spec.pop("kind", "constant"),
                                           "schedule kind"))
    _fill(s, spec, "schedule")
    return s


def make_config(algorithm, lr=None, weight_decay=None, maximize=False, betas=None, groups=None,
                schedule=None, plateau=None, lookahead=None, max_norm=0.0, nonfinite="propagate",
                state_dtype="same", master_weights=False, rounding="nearest", seed=0,
                loss_scale=None, **algorithm_options):
    """An optcl_optimizer_config from keyword arguments named as torch's (betas is a pair; the
    algorithm's other options by their keys, see options()). schedule: {"kind": "cosine",
    "t_max": 100, …}; plateau: ReduceLROnPlateau's fields; lookahead: {"k": 5, "alpha": 0.5};
    loss_scale: {"mode": "dynamic", "init_scale": 65536., …}; groups: [{"lr": …,
    "weight_decay": …}] per group (None or -1: the optimizer's)."""
    c = lib.optcl_optimizer_config_default(_algorithm(algorithm))
    if lr is not None:
        c.lr = lr
    if weight_decay is not None:
        c.weight_decay = weight_decay
    c.maximize = _flag(maximize, "maximize")
    if betas is not None:
        if len(betas) != 2:
            raise ValueError(f"betas: {betas!r} is not a pair")
        algorithm_options["beta1"], algorithm_options["beta2"] = betas
    for key, value in algorithm_options.items():
        value = _option_value(f"{algorithm}: option {key}", _option_info(algorithm, key), value)
        if lib.optcl_optimizer_config_set_option(C.byref(c), key.encode(), float(value)) != 0:
            raise ValueError(f"{algorithm} has no option {key!r} taking {value!r} (its options: "
                             f"{', '.join(_options_table(algorithm))})")
    keep = None
    if groups:
        keep = (_abi.GroupConfig * len(groups))()
        for g, spec in enumerate(groups):
            spec = spec or {}
            unknown = set(spec) - {"lr", "weight_decay", "exclude_from_trust_ratio"}
            if unknown:
                raise ValueError(f"groups[{g}]: unknown keys {sorted(unknown)} (a group takes "
                                 "lr, weight_decay and exclude_from_trust_ratio)")
            keep[g].lr = -1.0 if spec.get("lr") is None else spec["lr"]
            keep[g].weight_decay = -1.0 if spec.get("weight_decay") is None \
                else spec["weight_decay"]
            keep[g].exclude_from_trust_ratio = _flag(spec.get("exclude_from_trust_ratio", 0),
                                                     f"groups[{g}].exclude_from_trust_ratio")
        c.groups, c.group_count = keep, len(groups)
    if schedule:
        c.schedule = _schedule(schedule)
    if plateau:
        plateau = dict(plateau)
        c.plateau = lib.optcl_plateau_config_default()
        c.plateau.enabled = 1
        if "mode" in plateau:
            plateau["mode_max"] = _choice({"min": 0, "max": 1}, plateau.pop("mode"), "mode")
        if "threshold_mode" in plateau:
            plateau["threshold_abs"] = _choice({"rel": 0, "abs": 1},
                                               plateau.pop("threshold_mode"), "threshold_mode")
        _fill(c.plateau, plateau, "plateau")
    if lookahead:
        lookahead = dict(lookahead)
        c.lookahead.k = int(lookahead.pop("k", 5))
        c.lookahead.alpha = float(lookahead.pop("alpha", 0.5))
        if "alpha_schedule" in lookahead:
            c.lookahead.alpha_schedule = _schedule(lookahead.pop("alpha_schedule"))
        _fill(c.lookahead, lookahead, "lookahead")
    c.max_norm = max_norm
    c.nonfinite = _choice(NONFINITE, nonfinite, "nonfinite")
    c.state_dtype = _choice(STATE_DTYPES, state_dtype, "state_dtype")
    c.master_weights = _flag(master_weights, "master_weights")
    c.rounding = _choice(ROUNDING, rounding, "rounding")
    c.seed = _count(seed, "seed")
    if loss_scale:
        _fill(c.loss_scale, loss_scale, "loss_scale", {"mode": LOSS_SCALING})
    return c, keep


class Optimizer(_Handle):
    """An optimizer over a parameter set (include/optcl.h, "Optimizers"); see make_config for
    the keyword arguments. Keeps a reference on its Params."""

    _destroy = "optcl_optimizer_destroy"

    def __init__(self, params, algorithm, **kwargs):
        self._init_handle(params)
        self.params = params
        config, keep = make_config(algorithm, **kwargs)
        groups = 1 + max((t["group"] for t in params.tensors), default=0)
        if config.group_count > groups:
            raise ValueError(f"groups: {config.group_count} given, the parameter set has "
                             f"{groups}")
        params.ctx._check(lib.optcl_optimizer_create(params._h, C.byref(config),
                                                     C.byref(self._c)))
        self._adopt()
        del keep  # copied by create
        self.algorithm = algorithm

    def _check(self, status):
        check(status, lambda: lib.optcl_optimizer_message(self._h))

    def step(self, wait_for=(), event=False):
        """One step over every tensor, enqueued after the events of wait_for (pyopencl.Events);
        on the reference backend it runs at once. With event=True it returns the step's last
        launch as a pyopencl.Event (None on the reference backend)."""
        return self.params._device(lambda: _enqueue(
            self.params.ctx, lambda n, w, e: lib.optcl_optimizer_step(self._h, n, w, e),
            self._check, wait_for, event))

    @property
    def step_count(self):
        return lib.optcl_optimizer_step_count(self._h)

    @step_count.setter
    def step_count(self, steps):
        self._check(lib.optcl_optimizer_set_step_count(self._h, _count(steps, "step_count")))

    def lr(self, group=0):
        out = C.c_double()
        self._check(lib.optcl_optimizer_get_lr(self._h, group, C.byref(out)))
        return out.value

    def set_lr(self, lr, group=-1):
        self._check(lib.optcl_optimizer_set_lr(self._h, group, float(lr)))

    def set_option(self, key, value):
        """weight_decay or one of the algorithm's options (a choice by its name or index), from
        the next step on."""
        h = self._h
        if key == "weight_decay":
            value = _real(value, "weight_decay")
        else:
            value = _option_value(f"{self.algorithm}: option {key}",
                                  _option_info(self.algorithm, key), value)
        self._check(lib.optcl_optimizer_set_option(h, key.encode(), float(value)))

    def running_value(self, name, group=0):
        """A running value the rule keeps over the steps taken, by torch's name in its state
        (NAdam's "mu_product", ASGD's "eta", Schedule-Free's "weight_sum" and "lr_max")."""
        out = C.c_double()
        self._check(lib.optcl_optimizer_running_value(self._h, group, name.encode(),
                                                      C.byref(out)))
        return out.value

    def set_running_value(self, name, value, group=0):
        """Sets one, as load_state_dict does (after step_count): the next steps continue it."""
        self._check(lib.optcl_optimizer_set_running_value(self._h, group, name.encode(),
                                                          float(value)))

    def option(self, key):
        """What set_option set: weight_decay, or an algorithm option (a choice as its index)."""
        config = lib.optcl_optimizer_config_get(self._h)
        if key == "weight_decay":
            return config.contents.weight_decay
        _option_info(self.algorithm, key)
        out = C.c_double()
        check(lib.optcl_optimizer_config_get_option(config, key.encode(), C.byref(out)),
              f"{self.algorithm} has no option {key!r}")
        return out.value

    @property
    def state_names(self):
        return [lib.optcl_optimizer_state_name(self._h, i).decode()
                for i in range(lib.optcl_optimizer_state_count(self._h))]

    def state_shape(self, name, tensor):
        ndim, shape = C.c_int(), (C.c_int64 * _abi.MAX_DIMS)()
        self._check(lib.optcl_optimizer_state_shape(self._h, name.encode(),
                                                    self.params.index(tensor), C.byref(ndim),
                                                    shape))
        return tuple(shape[:ndim.value])

    def _state_count(self, name, index):
        if index != _abi.ALL:
            return int(np.prod(self.state_shape(name, index), dtype=np.int64))
        total = 0
        for i in range(len(self.params.tensors)):
            try:
                total += int(np.prod(self.state_shape(name, i), dtype=np.int64))
            except OptclError:
                pass  # a tensor without this state (Adafactor's row_var of a vector)
        return total

    def read_state(self, name, tensor=None):
        """A state's values for one tensor (in the state's shape), or all packed. Blocks."""
        index = self.params.index(tensor)
        count = self._state_count(name, index)
        out = np.empty(count, dtype=np.float32)
        self._check(lib.optcl_optimizer_read_state(self._h, name.encode(), index,
                                                   out.ctypes.data, count))
        return out if index == _abi.ALL else out.reshape(self.state_shape(name, index))

    def write_state(self, name, values, tensor=None):
        index = self.params.index(tensor)
        a = _floats(values, self._state_count(name, index), f"write_state({name!r})")
        self._check(lib.optcl_optimizer_write_state(self._h, name.encode(), index,
                                                    a.ctypes.data, a.size))

    @property
    def mode(self):
        return {v: k for k, v in MODES.items()}[lib.optcl_optimizer_mode(self._h)]

    def train(self):
        self._set_mode("train")

    def eval(self):
        self._set_mode("eval")

    def _set_mode(self, mode):
        self._check(self.params._device(
            lambda: lib.optcl_optimizer_set_mode(self._h, MODES[mode])))

    def guard_stats(self):
        s = _abi.GuardStats()
        self._check(lib.optcl_optimizer_guard_stats(self._h, C.byref(s)))
        return {k: getattr(s, k) for k, _ in s._fields_}

    @property
    def loss_scale(self):
        out = C.c_double()
        self._check(lib.optcl_optimizer_loss_scale(self._h, C.byref(out)))
        return out.value

    def set_loss_scale(self, scale):
        """The scale the next steps divide the gradients by (loss_scale on)."""
        self._check(lib.optcl_optimizer_set_loss_scale(self._h, float(scale)))

    def report_metric(self, metric):
        self._check(lib.optcl_optimizer_report_metric(self._h, float(metric)))

    def plateau_state(self):
        s = _abi.PlateauState()
        self._check(lib.optcl_optimizer_plateau_state(self._h, C.byref(s)))
        return {"best": s.best, "num_bad_epochs": s.num_bad_epochs,
                "cooldown_counter": s.cooldown_counter, "reports": s.reports,
                "scale": list(s.scale)}

    @property
    def lookahead_alpha(self):
        return lib.optcl_optimizer_lookahead_alpha(self._h)

    @property
    def launch_count(self):
        return lib.optcl_optimizer_launch_count(self._h)

    @property
    def bytes_per_step(self):
        return lib.optcl_optimizer_bytes_per_step(self._h)

    @property
    def state_bytes(self):
        return lib.optcl_optimizer_state_bytes(self._h)

    def save(self, path):
        """A crash-safe safetensors checkpoint (optcl_checkpoint_save). Blocks."""
        self._check(self.params._device(
            lambda: lib.optcl_checkpoint_save(self._h, str(path).encode())))

    def load(self, path):
        """Restores a checkpoint; on any error nothing changes. Blocks."""
        self._check(self.params._device(
            lambda: lib.optcl_checkpoint_load(self._h, str(path).encode())))

