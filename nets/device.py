"""The one place where the sandbox picks a torch device and sets torch's CPU threads.

Every CLI flag ``--device auto|cpu|cuda[:N]`` and every ``device=`` argument goes through
:func:`resolve_device`, so code runs unchanged on a CPU-only machine and on a CUDA machine.

Threads are decided here, twice:

* **training** sets the process's count once (:func:`cpu_threads_for_training`, :func:`set_threads`;
  ``SANDBOX_TORCH_THREADS``, default 1, the count ``experiments/bench/ppo.py`` found fastest);
* **inference** of an agent (:func:`inference`, around every forward pass an agent makes to act) runs a
  batch of at most :data:`SMALL_BATCH` rows under one intra-op thread and restores the count after,
  whoever built the agent and whatever the process set: a tiny matrix product gains nothing from a second
  thread, and on a busy machine its threads wait on each other. Switching costs two
  ``torch.set_num_threads`` calls (well under a microsecond; ``experiments/bench/inference.py``).
"""

from __future__ import annotations

import os
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


def set_threads(threads: int | None = None) -> int:
    """The one place torch's CPU thread count is set. ``None``: :func:`default_threads`; 0: leave torch's
    default. Returns the count that was in force before, so a caller can restore it."""
    before = torch.get_num_threads()
    threads = default_threads() if threads is None else int(threads)
    if threads < 0:
        raise ValueError(f"threads must be >= 0 (0 = torch's default), got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
    return before


@contextmanager
def threads(count: int | None = None):
    """``with threads(n):`` torch uses ``n`` CPU threads inside the block (see :func:`set_threads`), and
    what was in force before afterwards."""
    before = set_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


SMALL_BATCH = 256  # rows up to which an agent's forward pass runs under one intra-op thread


@contextmanager
def inference(rows: int = 1):
    """``with inference(rows):`` an agent's forward pass over ``rows`` rows: no autograd
    (``torch.inference_mode``) and, for ``rows <= SMALL_BATCH``, one intra-op thread inside the block
    (the process's count is restored after it). Larger batches keep the process's count."""
    before = torch.get_num_threads()
    single = rows <= SMALL_BATCH and before > 1
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
