"""Finds and loads liboptcl, declares every function's prototype and checks that the structs in
_abi.py are the library's (a mismatch is refused with the names and sizes)."""
import ctypes
import os

from . import _abi

_HERE = os.path.dirname(os.path.abspath(__file__))


class OptclError(RuntimeError):
    """A failed optcl call: ``status`` is the C status code, ``name`` its identifier
    (``OPTCL_ERROR_INVALID_ARGUMENT``), and the message is optcl's own."""

    def __init__(self, status, name, message):
        super().__init__(f"{name}: {message}" if message else name)
        self.status, self.name, self.message = status, name, message


class AbiMismatch(ImportError):
    """The library's structs are not the ones this binding mirrors."""


def library_path():
    """Where the library comes from: $OPTCL_LIBRARY, else the copy shipped in the package."""
    path = os.environ.get("OPTCL_LIBRARY")
    if path:
        return path
    for name in ("liboptcl.so", "liboptcl.dylib"):
        candidate = os.path.join(_HERE, name)
        if os.path.exists(candidate):
            return candidate
    raise ImportError(
        f"optcl: no liboptcl in {_HERE} and OPTCL_LIBRARY is not set: install the package with "
        "`pip install .` from the repository, or point OPTCL_LIBRARY at a built liboptcl.so")


def check_abi(lib, structs=None):
    """Raises AbiMismatch unless every mirrored struct has the library's size."""
    wrong = []
    for s in structs if structs is not None else _abi.STRUCTS:
        theirs = lib.optcl_struct_size(s.__name__.encode())
        if theirs != ctypes.sizeof(s):
            wrong.append(f"{s.__name__}: {ctypes.sizeof(s)} bytes here, {theirs} in the library")
    if wrong:
        raise AbiMismatch(
            f"optcl: {getattr(lib, '_name', 'the library')} was built from another include/optcl.h "
            "than this Python package (" + "; ".join(wrong) + "): rebuild one of them")


def load(path=None):
    path = path or library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"optcl: cannot load {path}: {e}") from e
    if not hasattr(lib, "optcl_struct_size"):
        raise AbiMismatch(f"optcl: {path} has no optcl_struct_size: it is older than this "
                          "Python package (it needs optcl 0.2.0 with optcl_struct_size)")
    for name, (restype, argtypes) in _abi.PROTOTYPES.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, argtypes
    check_abi(lib)
    return lib


lib = load()


def status_name(status):
    return lib.optcl_status_name(status).decode()


def check(status, message=""):
    """Raises OptclError for a status other than OPTCL_SUCCESS."""
    if status != 0:
        if callable(message):
            message = message()
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        raise OptclError(status, status_name(status), message)
