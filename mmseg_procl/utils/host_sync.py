"""forbid_host_sync: make every read of tensor values by the host fail inside a block (also on the CPU).

On a GPU, the host waits for the device whenever it needs a tensor's value: ``.item()``, ``bool(t)``
(Python control flow on a tensor), ``.cpu()`` / ``.numpy()`` / ``.tolist()``, and every operation whose
output size depends on the data (``nonzero``, boolean-mask indexing ``x[mask]``, ``masked_select``,
``unique``, ``bincount``, ``repeat_interleave`` without ``output_size``).  Each stalls the pipeline of
queued kernels.  ``torch.cuda.set_sync_debug_mode('error')`` catches them only on a GPU; this context
manager catches them on any device with a ``TorchDispatchMode`` (every ATen operation is inspected) plus
guards on the three tensor methods that copy to the host without an ATen operation on a CPU tensor.

    with forbid_host_sync():
        algo.train_step(batch, optim_wrapper)      # raises HostSyncError at the first host read

Reads outside the block (logging after the step) are unaffected.  Out of scope: reads made inside a kernel
that the dispatcher never shows (e.g. ``narrow`` with a tensor start, linear-algebra error checks).  The three
tensor methods are replaced process-wide while the block runs (the dispatch mode is per thread): use it in
tests and benchmarks, not around multi-threaded code.  Code that reads *host* tensors on
purpose (random draws made with a CPU generator, e.g. the DACS colour-jitter parameters, which must stay
on the CPU to reproduce kornia's draws) says so with ``with host_values():``; it must check itself that
the tensors it reads are on the CPU (a device tensor there would be a real synchronisation).
"""
import contextlib
import threading
from typing import Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

# Operations whose result the host must wait for (a Python scalar, or an output shape set by the data).
SYNCING_OPS = {aten._local_scalar_dense, aten.is_nonzero, aten.equal, aten.nonzero, aten.masked_select,
               aten._unique, aten._unique2, aten.unique_dim, aten.unique_consecutive,
               aten.unique_dim_consecutive, aten.bincount, aten.repeat_interleave, aten.argwhere}
# Indexing operations that sync when an index is a boolean / uint8 mask (it becomes nonzero()); a single
# boolean mask with one host value (``x[mask] = 0.0``) is a masked_fill_ instead, without a sync.
MASK_INDEXING_OPS = {aten.index, aten.index_put, aten.index_put_, aten._index_put_impl_}
PUT_OPS = {aten.index_put, aten.index_put_, aten._index_put_impl_}
COPY_OPS = {aten._to_copy, aten.copy_}
HOST_COPY_METHODS = ('cpu', 'numpy', 'tolist')


_STATE = threading.local()


class HostSyncError(RuntimeError):
    """A tensor value was read by the host inside :func:`forbid_host_sync`."""


def _reading_host_values() -> bool:
    """True inside :func:`host_values` (on this thread)."""
    return getattr(_STATE, 'host_values', 0) > 0


@contextlib.contextmanager
def host_values() -> Iterator[None]:
    """Mark a block that reads CPU tensors on purpose (not checked by :func:`forbid_host_sync`)."""
    _STATE.host_values = getattr(_STATE, 'host_values', 0) + 1
    try:
        yield
    finally:
        _STATE.host_values -= 1


def _is_mask(index) -> bool:
    """True for a boolean / uint8 index tensor (indexing with it needs ``nonzero``)."""
    return isinstance(index, torch.Tensor) and index.dtype in (torch.bool, torch.uint8)


def _is_masked_fill(packet, args) -> bool:
    """``x[mask] = <one host value>``: ATen fills through ``masked_fill_`` (no output size to read)."""
    indices = args[1] if len(args) > 1 else ()
    values = args[2] if len(args) > 2 else None
    return (packet in PUT_OPS and len(indices or ()) == 1 and isinstance(indices[0], torch.Tensor)
            and indices[0].dtype == torch.bool and isinstance(values, torch.Tensor) and values.numel() == 1
            and values.device.type == 'cpu')


def _is_device_to_host_copy(packet, args, kwargs) -> bool:
    """A copy of a non-CPU tensor into host memory (``.to('cpu')``, ``cpu_tensor.copy_(device_tensor)``)."""
    if packet is aten._to_copy:
        device = kwargs.get('device')
        return (isinstance(args[0], torch.Tensor) and args[0].device.type != 'cpu' and device is not None
                and torch.device(device).type == 'cpu')
    if packet is aten.copy_:
        return (args[0].device.type == 'cpu' and isinstance(args[1], torch.Tensor)
                and args[1].device.type != 'cpu')
    return False


class HostSyncGuard(TorchDispatchMode):
    """Dispatch mode raising :class:`HostSyncError` on :data:`SYNCING_OPS` and mask indexing."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        if _reading_host_values():
            return func(*args, **kwargs)
        if packet is aten.repeat_interleave and kwargs.get('output_size') is not None:
            return func(*args, **kwargs)
        if packet in SYNCING_OPS:
            raise HostSyncError(f'host synchronisation: {func} reads tensor values on the host')
        if packet in COPY_OPS and _is_device_to_host_copy(packet, args, kwargs):
            raise HostSyncError(f'host synchronisation: {func} copies a device tensor to the host')
        if (packet in MASK_INDEXING_OPS and len(args) > 1 and any(_is_mask(i) for i in args[1] or ())
                and not _is_masked_fill(packet, args)):
            raise HostSyncError(f'host synchronisation: {func} with a boolean mask index (its output size '
                                'depends on the data; use torch.where / multiplication by the mask)')
        return func(*args, **kwargs)


def _refuse(name: str, original):
    """A replacement tensor method that raises for ``name`` (outside :func:`host_values`; on a machine with
    a GPU only for GPU tensors, on a CPU-only machine for every tensor, standing in for device tensors)."""
    def method(self, *args, **kwargs):
        if _reading_host_values() or (self.device.type == 'cpu' and torch.cuda.is_available()):
            return original(self, *args, **kwargs)
        raise HostSyncError(f'host synchronisation: Tensor.{name}() copies tensor values to the host')
    return method


@contextlib.contextmanager
def forbid_host_sync() -> Iterator[None]:
    """Raise :class:`HostSyncError` at the first host read of tensor values inside the block."""
    originals = {name: getattr(torch.Tensor, name) for name in HOST_COPY_METHODS}
    try:
        for name in HOST_COPY_METHODS:
            setattr(torch.Tensor, name, _refuse(name, originals[name]))
        with HostSyncGuard():
            yield
    finally:
        for name, method in originals.items():
            setattr(torch.Tensor, name, method)
