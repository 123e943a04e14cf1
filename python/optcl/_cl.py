"""The few OpenCL calls the binding makes itself, through the ICD loader: listing the devices
(devices.py), and host memory as the storage of a buffer (CL_MEM_USE_HOST_PTR) and mapping
it, so that NumPy or torch and optcl's kernels share one copy of the parameters and gradients
(core.Params(shared=True), optcl.torch)."""
import ctypes as C
import ctypes.util
import time

CL_MEM_READ_WRITE = 1 << 0
CL_MEM_USE_HOST_PTR = 1 << 3
CL_MAP_READ, CL_MAP_WRITE = 1 << 0, 1 << 1


def _load():
    path = C.util.find_library("OpenCL") or "libOpenCL.so.1"
    try:
        cl = C.CDLL(path)
    except OSError:
        return None
    cl.clCreateBuffer.restype = C.c_void_p
    cl.clCreateBuffer.argtypes = [C.c_void_p, C.c_uint64, C.c_size_t, C.c_void_p,
                                  C.POINTER(C.c_int32)]
    cl.clEnqueueMapBuffer.restype = C.c_void_p
    cl.clEnqueueMapBuffer.argtypes = [C.c_void_p, C.c_void_p, C.c_uint32, C.c_uint64,
                                      C.c_size_t, C.c_size_t, C.c_uint32, C.c_void_p, C.c_void_p,
                                      C.POINTER(C.c_int32)]
    cl.clEnqueueUnmapMemObject.restype = C.c_int32
    cl.clEnqueueUnmapMemObject.argtypes = [C.c_void_p, C.c_void_p, C.c_void_p, C.c_uint32,
                                           C.c_void_p, C.c_void_p]
    cl.clReleaseMemObject.restype = C.c_int32
    cl.clReleaseMemObject.argtypes = [C.c_void_p]
    for name in ("clFinish", "clFlush", "clReleaseEvent"):
        getattr(cl, name).restype = C.c_int32
        getattr(cl, name).argtypes = [C.c_void_p]
    cl.clWaitForEvents.restype = C.c_int32
    cl.clWaitForEvents.argtypes = [C.c_uint32, C.POINTER(C.c_void_p)]
    cl.clGetEventInfo.restype = C.c_int32
    cl.clGetEventInfo.argtypes = [C.c_void_p, C.c_uint32, C.c_size_t, C.c_void_p, C.c_void_p]
    for name in ("clGetPlatformIDs", "clGetDeviceIDs", "clGetPlatformInfo", "clGetDeviceInfo"):
        getattr(cl, name).restype = C.c_int32
    cl.clGetPlatformIDs.argtypes = [C.c_uint32, C.c_void_p, C.POINTER(C.c_uint32)]
    cl.clGetDeviceIDs.argtypes = [C.c_void_p, C.c_uint64, C.c_uint32, C.c_void_p,
                                  C.POINTER(C.c_uint32)]
    for name in ("clGetPlatformInfo", "clGetDeviceInfo"):
        getattr(cl, name).argtypes = [C.c_void_p, C.c_uint32, C.c_size_t, C.c_void_p,
                                      C.POINTER(C.c_size_t)]
    return cl


cl = _load()
CL_EVENT_COMMAND_EXECUTION_STATUS = 0x11D3
# How long a blocking map polls its event before it sleeps in clWaitForEvents: a short step
# (a small model's) is done within it, and the host is not put to sleep and woken again, which
# on PoCL costs about as much as the step itself (docs/PYTHON.md, "Speed")
SPIN_SECONDS = 100e-6


def wait(event):
    """Waits for event: polls its status for up to SPIN_SECONDS, then blocks; releases it."""
    err, status, deadline = 0, C.c_int32(1), time.perf_counter() + SPIN_SECONDS
    try:
        while time.perf_counter() < deadline:
            err = cl.clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, 4,
                                    C.byref(status), None)
            if err or status.value <= 0:
                break
        if err or status.value > 0:
            err = cl.clWaitForEvents(1, C.byref(event))
        if err or status.value < 0:
            raise OSError(f"waiting for the device failed: {err or status.value}")
    finally:
        cl.clReleaseEvent(event)


class HostBuffer:
    """A cl_mem over bytes of host memory at ptr, mapped for the host between device sections:
    `with buf.device(): <enqueue work on it>` unmaps, runs, and maps it again (blocking), so
    the host may read and write ptr whenever it is outside such a section. Raises OSError when
    the device cannot map it at ptr itself (then sharing is impossible and the caller copies)."""

    def __init__(self, cl_context, queue, ptr, size):
        self.queue, self.ptr, self.size = queue, ptr, size
        err = C.c_int32()
        self.mem = cl.clCreateBuffer(cl_context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, size,
                                     C.c_void_p(ptr), C.byref(err))
        if err.value:
            raise OSError(f"clCreateBuffer(CL_MEM_USE_HOST_PTR) failed: {err.value}")
        self.mapped = False
        try:
            self.map()
        except OSError:
            cl.clReleaseMemObject(self.mem)
            self.mem = None
            raise

    def map(self, blocking=True):
        """Maps the buffer for the host; blocking=False leaves the wait to a later blocking
        call on the same in-order queue (the host must not touch ptr before it)."""
        err, event = C.c_int32(), C.c_void_p()
        got = cl.clEnqueueMapBuffer(self.queue, self.mem, 0, CL_MAP_READ | CL_MAP_WRITE, 0,
                                    self.size, 0, None, C.byref(event) if blocking else None,
                                    C.byref(err))
        if err.value:
            raise OSError(f"clEnqueueMapBuffer failed: {err.value}")
        self.mapped = True
        if blocking:
            cl.clFlush(self.queue)
            wait(event)
        if got != self.ptr:
            self.unmap(got)
            raise OSError("the device maps its copy elsewhere: no shared storage")

    def unmap(self, at=None):
        err = cl.clEnqueueUnmapMemObject(self.queue, self.mem, C.c_void_p(at or self.ptr), 0,
                                         None, None)
        if err:
            raise OSError(f"clEnqueueUnmapMemObject failed: {err}")
        self.mapped = False

    def release(self):
        if self.mem:
            if self.mapped:
                self.unmap()
            cl.clFinish(self.queue)
            cl.clReleaseMemObject(self.mem)
            self.mem = None
