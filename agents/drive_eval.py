"""What a character with drives does differently: the measures of docs/drives.md, over recorded episodes.

The measures, each a pure function of arrays (so the tests work them by hand):

* :func:`band_fraction`: the share of steps each drive spends in its comfortable band, within ``band`` of
  its set point (as a share of its range ``high - low``);
* :func:`conditioned_difference`: a state-conditioned action difference, e.g.
  ``P(stay | fear high) - P(stay | fear low)``;
* :func:`action_entropy`: the entropy (bits) of the actions taken, e.g. the duel's move usage.

:func:`record_episodes` plays an agent (``predict``) in a single env made with ``drives=`` for a few seeded
episodes and returns the levels, actions and successes these read. A task-only agent is measured the same
way in an env with the same table, on the same seeds (its reward is ignored; the levels are what its play
does to the body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


def band_fraction(levels: npt.ArrayLike, set_point: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike,
                  band: float = 0.2) -> np.ndarray:
    """(D,): per drive, the share of the rows of ``levels`` (T, D) with ``|h - set_point| <= band * (high -
    low)``."""
    h = np.asarray(levels, dtype=np.float64)
    width = band * (np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64))
    return (np.abs(h - np.asarray(set_point, dtype=np.float64)) <= width + 1e-12).mean(axis=0)


def conditioned_difference(level: npt.ArrayLike, actions: npt.ArrayLike, action: int, threshold: float) -> float:
    """``P(action | level > threshold) - P(action | level <= threshold)`` over paired rows; NaN when either
    side has no rows."""
    h, a = np.asarray(level, dtype=np.float64), np.asarray(actions)
    high, low = h > threshold, h <= threshold
    if not high.any() or not low.any():
        return float("nan")
    return float(np.mean(a[high] == action) - np.mean(a[low] == action))


def action_entropy(actions: npt.ArrayLike, n: int) -> float:
    """The entropy in bits of the empirical distribution of ``actions`` over ``0..n-1``."""
    counts = np.bincount(np.asarray(actions, dtype=np.int64).reshape(-1), minlength=n).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


@dataclass
class Episodes:
    """What :func:`record_episodes` recorded: per step the drive levels seen before acting (T, D) and the
    flat action; per episode its success."""

    names: tuple[str, ...]
    levels: np.ndarray
    actions: np.ndarray
    success: list[bool] = field(default_factory=list)


def record_episodes(env: Any, agent: Any, episodes: int, seed: int = 0, deterministic: bool = True,
                    observe: Any = None) -> Episodes:
    """Play ``agent`` in ``env`` (a single env made with ``drives=``) for ``episodes`` episodes seeded
    ``seed + k``. ``observe(obs)`` is what the agent is given (default: the whole observation; a task-only
    agent may take the game's part). A duel action ``[stick, button]`` is recorded flat,
    ``stick * 4 + button``."""
    base = env.unwrapped
    if getattr(base, "drives", None) is None:
        raise ValueError("record_episodes needs an env made with drives= (the levels are what it measures)")
    levels, actions, success = [], [], []
    for k in range(episodes):
        obs, info = env.reset(seed=seed + k)
        if hasattr(agent, "reset"):
            agent.reset()
        done = False
        while not done:
            levels.append(np.asarray(info["drives"], dtype=np.float64))
            action, _ = agent.predict(obs if observe is None else observe(obs), deterministic=deterministic)
            flat = np.asarray(action).reshape(-1)
            actions.append(int(flat[0]) * 4 + int(flat[1]) if flat.size == 2 else int(flat[0]))
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        success.append(bool(info.get("is_success", False)))
    return Episodes(base.drives.state.table.names, np.array(levels), np.array(actions, dtype=np.int64), success)
