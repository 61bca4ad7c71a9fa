"""The contract every sandbox env keeps: how actions and arguments are checked, and what stepping a
finished episode does. One module, so that the duel, the stealth grid and the director answer a bad
input with the same kind of one-line error.

* **Actions.** A discrete action is a Python or numpy integer (or a 0-d integer array); a pair is a
  length-2 sequence or array of integers; a continuous action is a finite number in its bounds.
  Floats, strings and booleans are refused, never truncated or clipped: ``ValueError`` saying what
  is valid.
* **Finished episodes.** ``step()`` after ``terminated`` or ``truncated`` raises
  ``RuntimeError(episode_over_message(env_id))`` until ``reset()``.
* **Arguments.** :func:`check_int` and :func:`check_number` refuse booleans, non-integral numbers where
  an integer is asked for, NaN and infinities, and values out of range, naming the argument.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np


def episode_over_message(env_id: str) -> str:
    """The one message every env raises (as ``RuntimeError``) when stepped after its episode ended."""
    return f"{env_id}: the episode is over (terminated or truncated); call reset() before step()"


def _as_int(value: Any) -> int | None:
    """``value`` as an int when it is an integer (Python, numpy, 0-d integer array), else None."""
    if isinstance(value, bool | np.bool_):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def discrete_action(action: Any, n: int, env_id: str, valid: str) -> int:
    """``action`` as an int in ``[0, n)``; anything else (a float, a string, out of range) raises
    ``ValueError`` naming ``env_id`` and saying what is ``valid``."""
    index = _as_int(action)
    if index is None or not 0 <= index < n:
        raise ValueError(f"{env_id}: invalid action {action!r}; valid: {valid}")
    return index


def pair_action(action: Any, nvec: Sequence[int], env_id: str, valid: str) -> np.ndarray:
    """``action`` as an int64 array of shape ``(len(nvec),)`` with ``0 <= action[i] < nvec[i]``:
    integers only (no floats, strings or booleans), else ``ValueError`` as :func:`discrete_action`.
    The message is formatted only when the action is refused (a valid action costs no ``repr``)."""
    if isinstance(action, np.ndarray):
        if action.shape == (len(nvec),) and action.dtype.kind in "iu":
            values = action.tolist()
            if all(0 <= v < k for v, k in zip(values, nvec, strict=True)):
                return action.astype(np.int64, copy=False)
        raise _bad_action(action, env_id, valid)
    if isinstance(action, str | bytes):
        raise _bad_action(action, env_id, valid)
    try:
        items = list(action)
    except TypeError:
        raise _bad_action(action, env_id, valid) from None
    values = [_as_int(v) for v in items]
    if len(values) != len(nvec) or any(v is None or not 0 <= v < k for v, k in zip(values, nvec, strict=False)):
        raise _bad_action(action, env_id, valid)
    return np.asarray(values, dtype=np.int64)


def _bad_action(action: Any, env_id: str, valid: str) -> ValueError:
    return ValueError(f"{env_id}: invalid action {action!r}; valid: {valid}")


def box_action(action: Any, low: float, high: float, size: int, env_id: str) -> np.ndarray:
    """``action`` as a float64 array of ``size`` finite numbers in ``[low, high]``; out of range,
    NaN, the wrong size or a non-number raise ``ValueError`` (never clipped)."""
    what = "one finite number" if size == 1 else f"{size} finite numbers"
    bad = ValueError(f"{env_id}: invalid action {action!r}; valid: {what} in [{low:g}, {high:g}]")
    if isinstance(action, str | bytes | bool | np.bool_):
        raise bad
    try:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise bad from None
    if a.shape != (size,) or not np.isfinite(a).all() or (a < low).any() or (a > high).any():
        raise bad
    return a


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (either bound optional); booleans, floats such as 2.5 or
    2.0, strings and out-of-range values raise ``ValueError`` naming ``name``."""
    index = _as_int(value)
    if index is not None and (lo is None or index >= lo) and (hi is None or index <= hi):
        return index
    span = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if index is None:
        raise ValueError(f"{name} must be an integer in {span}; got {value!r}")
    raise ValueError(f"{name} must be in {span}; got {index}")


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); booleans, strings,
    NaN and infinities raise ``ValueError`` naming ``name``."""
    if not isinstance(value, bool | np.bool_ | str | bytes):
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        if math.isfinite(x):
            if (lo is None or (x > lo if lo_open else x >= lo)) and (hi is None or x <= hi):
                return x
            raise ValueError(f"{name} must be in {_span(lo, hi, lo_open)}; got {value!r}")
    raise ValueError(f"{name} must be a finite number in {_span(lo, hi, lo_open)}; got {value!r}")


def _span(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    return f"{'(' if lo_open else '['}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"


def check_difficulty(value: Any, name: str = "difficulty") -> float:
    """A difficulty (or any probability): a finite number in [0, 1], else ``ValueError`` naming ``name``."""
    return check_number(name, value, 0.0, 1.0)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with ``==``, strings only match strings), else
    ``ValueError`` naming ``name`` and listing the valid values."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    valid = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{name} must be one of {valid}; got {value!r}")
