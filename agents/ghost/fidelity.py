"""Fidelity of a ghost: how closely its play matches the demonstrator's, from the duel's observations.

:func:`behaviour_stats` summarises one player's play over rounds (stick, button and move frequencies,
the distance kept, the guard rate), reading the duel's observation layout (:mod:`envs.duel.env`);
:func:`stats_divergence` compares two summaries by Jensen-Shannon divergence
(:func:`nets.imitation.js_divergence`). Used by ``sandbox compare ghost``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.duel import env as E
from envs.duel.rules import N_BUTTON, N_STICK, STAGE_WIDTH
from nets.imitation import js_divergence

__all__ = ["GAP_BINS", "behaviour_stats", "js_divergence", "stats_divergence"]

# distance bins (gap between the bodies, stage units) for the distance-kept distribution
GAP_BINS = np.array([0, 10, 20, 35, 50, 70, 100, 140, 200, 280, 400, 800.0001])


def behaviour_stats(obs_list: Sequence[np.ndarray], actions_list: Sequence[np.ndarray]) -> dict:
    """Play-style statistics of one player over rounds (their observations and actions per step):

    ``stick`` (9) and ``button`` (4) frequencies of the inputs; ``moves`` (8): frequencies of the moves
    the fighter started (jab ... projectile, a move starts where the own-move one-hot switches to it);
    ``gap``: histogram of the gap between the bodies over :data:`GAP_BINS`; ``mean_gap`` (stage units);
    ``guard_rate``: fraction of steps guarding (standing or crouching guard); ``steps``."""
    stick = np.zeros(N_STICK)
    button = np.zeros(N_BUTTON)
    moves = np.zeros(E.N_MOVES - 1)
    gap_hist = np.zeros(len(GAP_BINS) - 1)
    guard = steps = 0
    gaps = []
    for obs, act in zip(obs_list, actions_list, strict=True):
        act = np.asarray(act).reshape(-1, 2)
        stick += np.bincount(act[:, 0], minlength=N_STICK)
        button += np.bincount(act[:, 1], minlength=N_BUTTON)
        move = obs[:, E.SELF + E.F_MOVE:E.SELF + E.F_MOVE + E.N_MOVES].argmax(1)
        prev = np.concatenate([[0], move[:-1]])
        starts = move[(move != 0) & (move != prev)]
        moves += np.bincount(starts - 1, minlength=E.N_MOVES - 1)[:E.N_MOVES - 1] if len(starts) else 0
        gap = obs[:, E.OBS_GAP] * STAGE_WIDTH
        gap_hist += np.histogram(gap, GAP_BINS)[0]
        gaps.append(gap)
        guard += int(((obs[:, E.SELF + E.F_GUARD_STAND] + obs[:, E.SELF + E.F_GUARD_CROUCH]) > 0.5).sum())
        steps += len(act)
    norm = lambda v: (v / v.sum()).tolist() if v.sum() > 0 else v.tolist()  # noqa: E731
    return {"stick": norm(stick), "button": norm(button), "moves": norm(moves), "gap": norm(gap_hist),
            "mean_gap": float(np.concatenate(gaps).mean()) if gaps else float("nan"),
            "guard_rate": guard / max(steps, 1), "steps": steps}


def stats_divergence(a: dict, b: dict) -> dict:
    """JS divergences between two :func:`behaviour_stats` (stick, button, moves, gap), their mean
    ``divergence`` (the style-matrix figure) and the guard-rate difference."""
    out = {}
    for key in ("stick", "button", "moves", "gap"):
        pa, pb = np.asarray(a[key]), np.asarray(b[key])
        out[f"js_{key}"] = js_divergence(pa, pb) if pa.sum() > 0 and pb.sum() > 0 else float(pa.sum() != pb.sum())
    out["divergence"] = float(np.mean([out[f"js_{k}"] for k in ("stick", "button", "moves", "gap")]))
    out["guard_rate_diff"] = abs(a["guard_rate"] - b["guard_rate"])
    return out
