"""optcl: neural-network optimizer steps as OpenCL kernels, with a CPU reference backend.

    import optcl
    ctx = optcl.Context()                      # or Context(device="reference"), "0:1", "NVIDIA"
    params = ctx.params([("w", (33, 65)), ("b", (65,), 1)])
    opt = params.optimizer("adam", lr=1e-3, betas=(0.9, 0.999))
    params.write(w0, "w"); params.write(g, "w", role="grads"); opt.step()
    params.read("w")                           # NumPy

optcl.torch has torch.optim drop-ins. docs/PYTHON.md."""
from ._lib import AbiMismatch, OptclError, library_path, lib
from .checkpoint import load_checkpoint, load_sharded, read_manifest, read_progress
from .core import Context, Optimizer, Params, algorithms, make_config, options
from .devices import devices

__version__ = "0.2.0"
__all__ = ["AbiMismatch", "Context", "OptclError", "Optimizer", "Params", "algorithms",
           "devices", "library_path", "load_checkpoint", "load_sharded", "make_config", "options",
           "read_manifest", "read_progress", "version"]


def version():
    """The C library's version as "major.minor.patch"."""
    v = lib.optcl_version()
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"
