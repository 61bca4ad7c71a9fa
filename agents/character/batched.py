"""The batched duel's opponents and entry point.

:class:`BatchedScripted` (from :mod:`agents.character.fighter`, the scripted fighter's one body) plays
every ``scripted:`` spec for N rounds; :class:`BatchedRandom` presses uniform random inputs. Round i of
``gym.make_vec(..., num_envs=N)`` reset with seed s plays exactly like ``gym.make`` reset with seed s + i
against a scripted opponent, episode after episode: both draw the round's key from the same generator and
run the same kernel.

:func:`make_duel_vector_env` is the ``vector_entry_point`` of ``sandbox/Duel-v0``: it resolves the
``opponent`` spec here in ``agents`` (envs may not import agents) and builds
:class:`envs.duel.vector.DuelVectorEnv`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.character.fighter import BatchedScripted
from agents.character.scripted import PRESETS, STYLES, scripted_params
from envs.duel.vector import TWO_PLAYER, DuelVectorEnv, draw_seeds


class BatchedRandom:
    """Uniform random inputs for N rounds, drawn from one generator seeded from round 0's at reset (not
    round-for-round equal to the single env's ``random`` opponent, which draws from each env's
    generator every step)."""

    spec = "random"

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.rng = np.random.default_rng()

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        if len(idx) == self.num_envs:  # a full reset (re)seeds the draws
            self.rng = np.random.default_rng(int(seeds[0]))

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        out[:, 0] = self.rng.integers(0, 9, self.num_envs)
        out[:, 1] = self.rng.integers(0, 4, self.num_envs)


def make_batched_opponent(spec: Any, frame_skip: int = 4):
    """A batched opponent from a spec: ``scripted:NAME`` (every form ``make_scripted`` takes),
    ``random``, or an object already speaking the batched interface. ``None``/``"external"`` (the
    two-player form) return None. Anything else raises a one-line ValueError."""
    if spec is None or (isinstance(spec, str) and spec in TWO_PLAYER):
        return None
    if not isinstance(spec, str):
        if all(hasattr(spec, a) for a in ("bind", "reset_envs", "act")):
            return spec
        raise ValueError(f"the batched duel needs a batched opponent (bind, reset_envs, act) or a spec; "
                         f"got {type(spec).__name__}; valid specs: {_VALID}")
    prefix, _, arg = spec.partition(":")
    if prefix == "scripted":
        return BatchedScripted(scripted_params(arg or None), spec=spec, frame_skip=frame_skip)
    if prefix == "random" and not arg:
        return BatchedRandom()
    raise ValueError(f"unknown batched duel opponent {spec!r}; valid: {_VALID}")


_VALID = (f"scripted:{'|'.join(PRESETS)}|{'|'.join(STYLES[1:])}|STYLE-PRESET|0..1, random, "
          "external (two-player), or a batched opponent object")


def match_batched(spec_a: Any, spec_b: Any, rounds: int, seed: int = 0, **kwargs) -> dict:
    """``rounds`` rounds of A against B at once, in the two-player form (``arena.match``'s batched
    twin): A plays the left fighter in even rounds and the right one in odd rounds; each side's
    opponent draws from round i's generator (seed + i), A's first. ``kwargs`` go to the env
    (``frame_skip``, ``round_seconds``). Returns A's wins, losses, draws and the mean round length."""
    env = DuelVectorEnv(num_envs=rounds, opponent=None, **kwargs)
    a, b = make_batched_opponent(spec_a, env.frame_skip), make_batched_opponent(spec_b, env.frame_skip)
    if a is None or b is None:
        raise ValueError("match_batched needs two opponents, not the two-player form")
    for x in (a, b):
        x.bind(rounds)
    obs, _ = env.reset(seed=seed)
    idx, nan = np.arange(rounds), np.full(rounds, np.nan)
    a.reset_envs(idx, draw_seeds(env._rngs, idx), nan)
    b.reset_envs(idx, draw_seeds(env._rngs, idx), nan)
    a_side = idx % 2
    act = np.zeros((rounds, 2, 2), dtype=np.int64)
    out_a, out_b = np.zeros((rounds, 2), np.int64), np.zeros((rounds, 2), np.int64)
    live = np.ones(rounds, dtype=bool)
    winner, ticks = np.full(rounds, -2), np.zeros(rounds, dtype=np.int64)
    while live.any():  # finished rounds restart and play on unrecorded until the last one ends
        a.act(np.ascontiguousarray(obs[idx, a_side]), live, out_a)
        b.act(np.ascontiguousarray(obs[idx, 1 - a_side]), live, out_b)
        act[idx, a_side], act[idx, 1 - a_side] = out_a, out_b
        obs, _, terminated, _, info = env.step(act)
        ended = terminated & live
        if ended.any():
            winner[ended], ticks[ended] = info["winner"][ended], info["tick"][ended]
        live &= ~terminated
    return {"wins": int(np.sum(winner == a_side)), "losses": int(np.sum((winner >= 0) & (winner != a_side))),
            "draws": int(np.sum(winner == -1)), "mean_ticks": float(ticks.mean())}


def make_duel_vector_env(num_envs: int = 1, opponent: Any = "scripted:normal", **kwargs) -> DuelVectorEnv:
    """``vector_entry_point`` of ``sandbox/Duel-v0``: ``gym.make_vec("sandbox/Duel-v0", num_envs=N,
    opponent=...)`` lands here, resolves the opponent spec and builds the batched env."""
    return DuelVectorEnv(num_envs=num_envs, opponent=make_batched_opponent(opponent, int(kwargs.get("frame_skip", 4))),
                         **kwargs)


__all__ = ["BatchedRandom", "BatchedScripted", "make_batched_opponent", "make_duel_vector_env", "match_batched"]
