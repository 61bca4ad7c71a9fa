"""The one place where the sandbox picks a torch device.

Every CLI flag ``--device auto|cpu|cuda[:N]`` and every ``device=`` argument goes through
:func:`resolve_device`, so code runs unchanged on a CPU-only machine and on a CUDA machine.
"""

from __future__ import annotations

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


def cpu_threads_for_training(device: torch.device) -> None:
    """Use one torch thread for training on the CPU (small policies, many env processes: threads only
    contend), unless ``SANDBOX_TORCH_THREADS`` says otherwise. No effect on CUDA."""
    import os

    if device.type == "cpu":
        torch.set_num_threads(int(os.environ.get("SANDBOX_TORCH_THREADS", "1")))
