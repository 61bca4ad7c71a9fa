"""The director as a learner's teacher: it picks the difficulty of each env's next generated level from
recent success, to keep the learner's success in its band (issue 15, item 2).

:class:`Curriculum` holds directors (:class:`agents.meta.director.RuleDirector` by default) and the
difficulty each env's next generated level gets:

- ``mode="env"``: one director per env, fed by that env's episodes only;
- ``mode="batch"``: one director fed by every env's episodes, its difficulty given to every env.

Envs that play bundled (fixed) levels are mixed in (``generated`` False): their episodes are counted
apart (``bundled_success``) and never move a director.

**A floor of easy levels.** A director that meets a learner at 100% pushes every env to the hardest levels,
and the easy ones vanish from training (a good stealth learner was seen timing out at difficulty 0.1 after
its director had held every env at 0.95-1.0). ``floor_share`` of the generated-level envs (the first
``round(floor_share * n)`` of them) therefore always play ``floor_difficulty``, whatever the directors say;
their episodes count as generated episodes but never move a director.

**Quantised difficulty.** Difficulty is continuous but generated levels are cached per (difficulty,
seed): the batched stealth env keeps one pool row per distinct difficulty and the level generator's cache
holds each generated level. So a director's difficulty ``d`` is rounded to the grid ``step`` (0.05 by
default: 21 values in [0, 1]) before it reaches the env, ``quantise(d) = round(d / step) * step``,
which bounds the pools at 21 rows however long training runs. The directors themselves keep the
continuous value.

:class:`CurriculumVectorEnv` wraps a vector env that has ``set_difficulty(values, indices=...)`` (the
batched stealth env) and has next-step autoreset: at each step where episodes end it reads
``info["is_success"]``, feeds the directors and sets the ended envs' next difficulty, which their
autoreset on the next step reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from gymnasium.vector import VectorEnv, VectorWrapper

from agents.meta.director import Director, RuleDirector, check_difficulty

MODES = ("env", "batch")


def quantise(difficulty: npt.ArrayLike, step: float = 0.05) -> float | np.ndarray:
    """``difficulty`` (a float or an array) rounded to the nearest multiple of ``step``, clipped to [0, 1]
    and rounded to 10 decimals, so that equal grid points are equal floats (0.7, not 0.7000000000000001)."""
    if not 0.0 < step <= 1.0:
        raise ValueError(f"the difficulty grid step must be in (0, 1]; got {step}")
    q = np.round(np.clip(np.round(np.asarray(difficulty, dtype=np.float64) / step) * step, 0.0, 1.0), 10)
    return float(q) if np.ndim(q) == 0 else q


class Curriculum:
    """Directors choosing each env's next difficulty (module docstring).

    Args:
        num_envs: the envs. generated: which envs play generated levels (default all).
        mode: ``"env"`` (a director per env) or ``"batch"`` (one for all).
        make_director: builds a director (default ``RuleDirector()``: target 0.5, band 0.1).
        step: the difficulty grid.
    """

    def __init__(self, num_envs: int, *, generated: npt.ArrayLike | None = None, mode: str = "env",
                 make_director: Callable[[], Director] | None = None, step: float = 0.05,
                 floor_share: float = 0.0, floor_difficulty: float = 0.1):
        if mode not in MODES:
            raise ValueError(f"unknown curriculum mode {mode!r}; valid: {', '.join(MODES)}")
        self.num_envs, self.mode, self.step = int(num_envs), mode, float(step)
        quantise(0.5, self.step)  # validates step
        self.generated = np.ones(self.num_envs, bool) if generated is None else np.asarray(generated, bool).copy()
        if self.generated.shape != (self.num_envs,):
            raise ValueError(f"generated needs one flag per env ({self.num_envs}); got shape {self.generated.shape}")
        make = make_director or RuleDirector
        self.directors = [make() for _ in range(self.num_envs if mode == "env" else 1)]
        self.episodes = np.zeros(self.num_envs, np.int64)
        self.successes = np.zeros(self.num_envs, np.int64)
        if not 0.0 <= floor_share < 1.0:
            raise ValueError(f"floor_share must be in [0, 1); got {floor_share}")
        self.floor_difficulty = check_difficulty(floor_difficulty, "floor_difficulty")
        gen = np.flatnonzero(self.generated)
        self.floor = np.zeros(self.num_envs, bool)  # envs held at floor_difficulty (module docstring)
        self.floor[gen[:int(round(floor_share * len(gen)))]] = True

    def director(self, i: int) -> Director:
        return self.directors[i if self.mode == "env" else 0]

    def difficulties(self) -> np.ndarray:
        """Each env's next difficulty, on the grid (NaN for envs on bundled levels)."""
        out = np.full(self.num_envs, np.nan)
        for i in np.flatnonzero(self.generated & ~self.floor):
            out[i] = quantise(self.director(int(i)).difficulty, self.step)
        out[self.floor] = quantise(self.floor_difficulty, self.step)
        return out

    def observe(self, envs: npt.ArrayLike, success: npt.ArrayLike) -> np.ndarray:
        """Episodes ended in ``envs`` with ``success`` (bools, in order). Returns the generated envs whose
        next difficulty to set (in ``batch`` mode: all generated envs once any generated episode ended)."""
        envs = np.asarray(envs, dtype=np.int64).reshape(-1)
        success = np.asarray(success, dtype=bool).reshape(-1)
        if len(envs) != len(success):
            raise ValueError(f"{len(envs)} envs but {len(success)} outcomes")
        np.add.at(self.episodes, envs, 1)
        np.add.at(self.successes, envs, success.astype(np.int64))
        moved = []
        for i, won in zip(envs.tolist(), success.tolist(), strict=True):
            if self.generated[i] and not self.floor[i]:
                self.director(i).observe(bool(won))
                moved.append(i)
        if self.mode == "batch" and moved:
            return np.flatnonzero(self.generated & ~self.floor)
        return np.unique(np.array(moved, dtype=np.int64))

    def state(self) -> dict[str, Any]:
        """The directors' state and the episode tallies, JSON-able (to resume a curriculum)."""
        return {"directors": [d.state_dict() for d in self.directors], "episodes": self.episodes.tolist(),
                "successes": self.successes.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state` of a curriculum of the same envs and mode."""
        if len(state["directors"]) != len(self.directors) or len(state["episodes"]) != self.num_envs:
            raise ValueError(f"a curriculum state of {len(state['episodes'])} envs and {len(state['directors'])} "
                             f"directors; this one has {self.num_envs} envs and {len(self.directors)}")
        for director, saved in zip(self.directors, state["directors"], strict=True):
            director.load_state_dict(saved)
        self.episodes[:] = np.asarray(state["episodes"], dtype=np.int64)
        self.successes[:] = np.asarray(state["successes"], dtype=np.int64)

    def summary(self) -> dict[str, float]:
        """Mean next difficulty over the generated envs, and the success rate so far on generated and on
        bundled levels (NaN where none)."""
        d = self.difficulties()
        gen, fixed = self.generated, ~self.generated

        def rate(mask: np.ndarray) -> float:
            n = self.episodes[mask].sum()
            return float(self.successes[mask].sum() / n) if n else float("nan")

        return {"difficulty": float(np.nanmean(d)) if gen.any() else float("nan"),
                "difficulty_min": float(np.nanmin(d)) if gen.any() else float("nan"),
                "difficulty_max": float(np.nanmax(d)) if gen.any() else float("nan"),
                "generated_success": rate(gen), "bundled_success": rate(fixed)}


class CurriculumVectorEnv(VectorWrapper):
    """A vector env whose generated levels' difficulty a :class:`Curriculum` sets, env by env (module
    docstring). ``reset`` sets every generated env's difficulty first."""

    def __init__(self, env: VectorEnv, curriculum: Curriculum):
        super().__init__(env)
        if curriculum.num_envs != env.num_envs:
            raise ValueError(f"the curriculum has {curriculum.num_envs} envs, the env {env.num_envs}")
        if not hasattr(env.unwrapped, "set_difficulty"):
            raise ValueError(f"{type(env.unwrapped).__name__} has no set_difficulty(values, indices=...)")
        self.curriculum = curriculum

    def _apply(self, idx: np.ndarray) -> None:
        if len(idx):
            self.env.unwrapped.set_difficulty(self.curriculum.difficulties()[idx].tolist(), indices=idx)

    def reset(self, *, seed=None, options=None):  # as the wrapped env's (gymnasium types the two inconsistently)
        self._apply(np.flatnonzero(self.curriculum.generated))
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        ended = np.flatnonzero(np.asarray(terminated) | np.asarray(truncated))
        if "exploring_start" in info:  # an episode begun away from the level's start says nothing of the level
            ended = ended[~np.asarray(info["exploring_start"], dtype=bool)[ended]]
        if len(ended):
            success = np.asarray(info.get("is_success", np.zeros(self.num_envs, bool)), dtype=bool)[ended]
            self._apply(self.curriculum.observe(ended, success))
        return obs, rewards, terminated, truncated, info
