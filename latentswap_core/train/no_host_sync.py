"""A guard that makes every way a training step could wait for the device raise, so that the static step
(``static_step.py``) can be checked on the CPU to be what CUDA graphs capture.

Inside ``no_host_sync(allowed_generator)``:
- reading a tensor on the host raises: ``Tensor.item``, ``tolist``, ``numpy``, ``cpu``, ``__bool__`` (``if t:``),
  ``__int__``, ``__float__``, ``__index__``, ``nonzero`` (method and function);
- aten ops whose output shape depends on the data, or that read a value back, raise wherever they are called from
  Python code (boolean-mask indexing, ``masked_select``, ``bincount``, ``unique``, ``nonzero``,
  ``_local_scalar_dense``), seen by a ``TorchDispatchMode``;
- a random draw with any generator but ``allowed_generator`` (the step's device generator) raises: the host
  sampler's draws are Python-side choices a graph would freeze. Draws without a generator (torch's global one,
  which CUDA graphs handle) pass;
- on CUDA, torch's own sync debug mode is set to ``error`` as well.
Ops that wait inside C++ without going through Python (none known in the step) are not seen on the CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__", "nonzero")
RANDOM = ("rand", "randn", "randint", "randperm", "multinomial", "normal", "bernoulli")
SYNCING_OPS = ("_local_scalar_dense", "nonzero", "bincount", "masked_select", "_unique2", "unique_dim",
               "unique_consecutive", "repeat_interleave", "argwhere")


class HostSyncError(RuntimeError):
    """A step did something that makes the host wait for the device (or that a CUDA graph would freeze)."""


class _RefuseSyncingOps(TorchDispatchMode):
    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = func.__name__.split(".")[0]
        if name in SYNCING_OPS:
            raise HostSyncError(f"aten.{name} waits for the device (its result's shape or value is read back)")
        if name in ("index", "index_put", "index_put_") and any(
                isinstance(index, torch.Tensor) and index.dtype == torch.bool for index in _indices(args)):
            raise HostSyncError(f"aten.{name} with a boolean mask waits for the device (it counts the mask)")
        return func(*args, **(kwargs or {}))


def _indices(args: tuple) -> list:
    return list(args[1]) if len(args) > 1 and isinstance(args[1], list | tuple) else []


@contextmanager
def no_host_sync(allowed_generator: torch.Generator | None = None) -> Iterator[None]:
    """Raise HostSyncError on any host read of a tensor, data-dependent op or foreign-generator draw (see above), in
    the calling thread; other threads (the augmented pool's encoder) go on as before."""
    guarded_thread = threading.get_ident()

    def here() -> bool:
        return threading.get_ident() == guarded_thread

    with ExitStack() as stack:
        patch = stack.enter_context(_patches())
        for name in READS:
            patch(torch.Tensor, name, _refuse(getattr(torch.Tensor, name), f"Tensor.{name}", here))
        patch(torch, "nonzero", _refuse(torch.nonzero, "torch.nonzero", here))
        for name in RANDOM:
            patch(torch, name, _only_with(getattr(torch, name), allowed_generator, f"torch.{name}", here))
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            previous = torch.cuda.get_sync_debug_mode()
            torch.cuda.set_sync_debug_mode("error")
            stack.callback(torch.cuda.set_sync_debug_mode, previous)
        stack.enter_context(_RefuseSyncingOps())  # torch's modes are per thread
        yield


@contextmanager
def _patches() -> Iterator[Any]:
    undo: list[tuple[Any, str, bool, Any]] = []  # Tensor's methods live on its C base: put back by deleting

    def patch(owner: Any, name: str, value: Any) -> None:
        undo.append((owner, name, name in vars(owner), vars(owner).get(name)))
        setattr(owner, name, value)

    try:
        yield patch
    finally:
        for owner, name, had, original in reversed(undo):
            if had:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


def _refuse(original: Any, what: str, here: Callable[[], bool]) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        if here():
            raise HostSyncError(f"{what} reads a tensor on the host: the host would wait for the device")
        return original(*args, **kwargs)
    return refuse


def _only_with(draw: Any, allowed: torch.Generator | None, what: str, here: Callable[[], bool]) -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        generator = kwargs.get("generator")
        if here() and generator is not None and generator is not allowed:
            raise HostSyncError(f"{what} draws from a generator other than the step's device generator (a host "
                                "choice a CUDA graph would freeze)")
        return draw(*args, **kwargs)
    return guarded
