"""Fidelity of a ghost: how closely its play matches the demonstrator's, from the duel's observations.

:func:`behaviour_stats` summarises one player's play over rounds (stick, button and move frequencies,
the distance kept, the guard rate), reading the duel's observation layout (:mod:`envs.duel.env`);
:func:`stats_divergence` compares two summaries by Jensen-Shannon divergence
(:func:`nets.imitation.js_divergence`): the **style** half of fidelity. :func:`strength_gap` is the
**strength** half: per opponent, the ghost's win rate minus its demonstrator's. :func:`fidelity` gives
both. Used by ``sandbox compare ghost``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.duel import env as E
from envs.duel.rules import N_BUTTON, N_STICK, STAGE_WIDTH
from nets.imitation import js_divergence

if TYPE_CHECKING:
    from agents.ghost.batched import PlayedRound
    from agents.ghost.demos import Round

__all__ = ["GAP_BINS", "add_counts", "behaviour_counts", "behaviour_stats", "fidelity", "js_divergence",
           "stats_divergence", "stats_from_counts", "strength_gap", "win_counts"]

# distance bins (gap between the bodies, stage units) for the distance-kept distribution
GAP_BINS = np.array([0, 10, 20, 35, 50, 70, 100, 140, 200, 280, 400, 800.0001])


def behaviour_counts(obs_list: Sequence[np.ndarray], actions_list: Sequence[np.ndarray]) -> dict:
    """The raw counts behind :func:`behaviour_stats` (arrays ``stick``, ``button``, ``moves``, ``gap``;
    ``gap_sum``, ``guard``, ``steps``); counts of disjoint rounds add (:func:`add_counts`)."""
    stick = np.zeros(N_STICK)
    button = np.zeros(N_BUTTON)
    moves = np.zeros(E.N_MOVES - 1)
    gap_hist = np.zeros(len(GAP_BINS) - 1)
    guard = steps = 0
    gap_sum = 0.0
    for obs, act in zip(obs_list, actions_list, strict=True):
        act = np.asarray(act).reshape(-1, 2)
        stick += np.bincount(act[:, 0], minlength=N_STICK)
        button += np.bincount(act[:, 1], minlength=N_BUTTON)
        move = obs[:, E.SELF + E.F_MOVE:E.SELF + E.F_MOVE + E.N_MOVES].argmax(1)
        prev = np.concatenate([[0], move[:-1]])
        starts = move[(move != 0) & (move != prev)]
        moves += np.bincount(starts - 1, minlength=E.N_MOVES - 1)[:E.N_MOVES - 1] if len(starts) else 0
        gap = obs[:, E.OBS_GAP].astype(np.float64) * STAGE_WIDTH
        gap_hist += np.histogram(gap, GAP_BINS)[0]
        gap_sum += float(gap.sum())
        guard += int(((obs[:, E.SELF + E.F_GUARD_STAND] + obs[:, E.SELF + E.F_GUARD_CROUCH]) > 0.5).sum())
        steps += len(act)
    return {"stick": stick, "button": button, "moves": moves, "gap": gap_hist, "gap_sum": gap_sum, "guard": guard,
            "steps": steps}


def add_counts(a: dict | None, b: dict) -> dict:
    """The counts of two disjoint sets of rounds together (``a`` None: ``b``)."""
    return dict(b) if a is None else {k: a[k] + b[k] for k in b}


def stats_from_counts(c: dict) -> dict:
    """:func:`behaviour_stats` from :func:`behaviour_counts`."""
    norm = lambda v: (v / v.sum()).tolist() if v.sum() > 0 else v.tolist()  # noqa: E731
    return {"stick": norm(c["stick"]), "button": norm(c["button"]), "moves": norm(c["moves"]), "gap": norm(c["gap"]),
            "mean_gap": c["gap_sum"] / c["steps"] if c["steps"] else float("nan"),
            "guard_rate": c["guard"] / max(c["steps"], 1), "steps": c["steps"]}


def behaviour_stats(obs_list: Sequence[np.ndarray], actions_list: Sequence[np.ndarray]) -> dict:
    """Play-style statistics of one player over rounds (their observations and actions per step):

    ``stick`` (9) and ``button`` (4) frequencies of the inputs; ``moves`` (8): frequencies of the moves
    the fighter started (jab ... projectile, a move starts where the own-move one-hot switches to it);
    ``gap``: histogram of the gap between the bodies over :data:`GAP_BINS`; ``mean_gap`` (stage units);
    ``guard_rate``: fraction of steps guarding (standing or crouching guard); ``steps``."""
    return stats_from_counts(behaviour_counts(obs_list, actions_list))


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


def win_counts(rounds: Iterable[PlayedRound | Round]) -> dict[str, tuple[int, int]]:
    """Per opponent (in order of first appearance): ``(wins, rounds)`` of the player, from rounds with
    ``opponent`` and ``winner`` (``"player"`` is a win; a draw or a loss is not)."""
    out: dict[str, list[int]] = {}
    for r in rounds:
        c = out.setdefault(r.opponent, [0, 0])
        c[0] += r.winner == "player"
        c[1] += 1
    return {o: (w, n) for o, (w, n) in out.items()}


def strength_gap(ghost_rounds: Iterable[PlayedRound | Round],
                 demo_rounds: Iterable[PlayedRound | Round]) -> dict[str, dict[str, Any]]:
    """Per opponent the demonstrator faced: ``gap`` = ghost win rate - demonstrator win rate, with both
    rates and the counts behind them (``ghost_wins``, ``ghost_rounds``, ``demo_wins``, ``demo_rounds``).
    An opponent the ghost never played has ``gap`` None."""
    g, d = win_counts(ghost_rounds), win_counts(demo_rounds)
    out: dict[str, dict[str, Any]] = {}
    for opp, (dw, dn) in d.items():
        gw, gn = g.get(opp, (0, 0))
        gr = gw / gn if gn else None
        out[opp] = {"ghost": gr, "demos": dw / dn, "gap": None if gr is None else gr - dw / dn,
                    "ghost_wins": gw, "ghost_rounds": gn, "demo_wins": dw, "demo_rounds": dn}
    return out


def fidelity(ghost_rounds: Sequence[PlayedRound | Round], demo_rounds: Sequence[PlayedRound | Round]) -> dict[str, Any]:
    """Both halves of fidelity: ``style`` (:func:`stats_divergence` of the two players' play; its
    ``divergence`` is the style-matrix figure) and ``strength`` (:func:`strength_gap`)."""
    style = stats_divergence(behaviour_stats([r.obs for r in ghost_rounds], [r.actions for r in ghost_rounds]),
                             behaviour_stats([r.obs for r in demo_rounds], [r.actions for r in demo_rounds]))
    return {"style": style, "strength": strength_gap(ghost_rounds, demo_rounds)}
