"""The one place where the sandbox picks a torch device and sets torch's CPU threads.

Every CLI flag ``--device auto|cpu|cuda[:N]`` and every ``device=`` argument goes through
:func:`resolve_device`, so code runs unchanged on a CPU-only machine and on a CUDA machine.

Threads are decided here, in one place:

* **training** sets the process's count (:func:`cpu_threads_for_training`, :func:`set_threads`;
  ``SANDBOX_TORCH_THREADS``, default 1: the league ran about 7x faster on one thread than on one per core,
  docs/training.md);
* **inference** of an agent goes through :func:`inference`, around every forward pass an agent makes to act:
  in a process that has not chosen its count (no :func:`set_threads`, torch's default untouched), the first
  one decides it, once, for one thread; in a process that chose more (training with
  ``SANDBOX_TORCH_THREADS=2``), a batch of at most :data:`SMALL_BATCH` rows runs under one thread and the
  count is restored after it.

Why: a tiny matrix product gains nothing from a second thread, and once torch's count has been set above one
(``torch.set_num_threads(2)``, even to its own default) every small product wakes the other thread; on a busy
machine each wake-up waits for a core and an agent acting one observation at a time stalls (in
``experiments/bench/inference.py``, with two busy processes on two cores: 262 env steps/s against 837 on one
thread; docs/benchmarks.md). Switching costs under a microsecond; switching back to more than one thread is
what puts a process in that state, so it is done only where the process chose more.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device that ``device`` names.

    ``"auto"`` (or ``None``) is CUDA when it is available and the CPU otherwise. Asking for CUDA on a
    machine without it raises a ``ValueError`` that says so, instead of failing later inside torch.
    """
    if isinstance(device, torch.device):
        spec = device
    elif device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            spec = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from exc
    if spec.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!s} was asked for, but CUDA is not available here; use auto or cpu")
    if spec.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!s}; valid: auto, cpu, cuda, cuda:N")
    return spec


def describe(device: torch.device) -> str:
    """One line naming the device, for progress output ("cuda:0 (NVIDIA A100)" or "cpu")."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return "cpu"


def default_threads() -> int:
    """Torch CPU threads for the sandbox's small networks: ``SANDBOX_TORCH_THREADS`` if set, else 1
    (small policies beside env processes: extra threads only contend for the cores)."""
    value = os.environ.get("SANDBOX_TORCH_THREADS", "1")
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"SANDBOX_TORCH_THREADS must be a whole number, got {value!r}") from None
    if threads < 0:
        raise ValueError(f"SANDBOX_TORCH_THREADS must be >= 0 (0 = torch's default), got {threads}")
    return threads


_TORCH_DEFAULT = torch.get_num_threads()  # the count torch started with (one per core)
_decided = False  # whether this process chose its count (set_threads, or an agent's first forward pass)


def set_threads(threads: int | None = None) -> int:
    """The one place torch's CPU thread count is set. ``None``: :func:`default_threads`; 0: leave torch's
    default. Returns the count that was in force before, so a caller can restore it."""
    global _decided
    before = torch.get_num_threads()
    threads = default_threads() if threads is None else int(threads)
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = torch's default), got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
        _decided = True
    return before


@contextmanager
def threads(count: int | None = None) -> Iterator[None]:
    """``with threads(n):`` torch uses ``n`` CPU threads inside the block (see :func:`set_threads`), and
    what was in force before afterwards."""
    before = set_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


SMALL_BATCH = 256  # rows up to which an agent's forward pass runs under one intra-op thread


@contextmanager
def inference(rows: int = 1) -> Iterator[None]:
    """``with inference(rows):`` an agent's forward pass over ``rows`` rows: no autograd
    (``torch.inference_mode``) and one intra-op thread (see the module docstring): a process that has not
    chosen its thread count gets one thread from now on; one that chose more runs a batch of at most
    :data:`SMALL_BATCH` rows under one thread and gets its count back after it."""
    global _decided
    before = torch.get_num_threads()
    if not _decided and before == _TORCH_DEFAULT:  # nobody chose: agents run on one thread, decided once
        _decided = True
        if before > 1 and SMALL_BATCH > 0:
            torch.set_num_threads(1)
            before = 1
    single = before > 1 and rows <= SMALL_BATCH
    if single:
        torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        if single:
            torch.set_num_threads(before)


def cpu_threads_for_training(device: torch.device) -> None:
    """Set torch's CPU threads for a training run (:func:`set_threads`); no effect on CUDA."""
    if device.type == "cpu":
        set_threads()
