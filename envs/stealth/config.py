"""The stealth env's arguments, declared and validated once: :class:`StealthConfig`.

Both forms of ``sandbox/Stealth-v0`` take it, the single env (``gym.make``) and the batch
(``gym.make_vec``): ``StealthEnv(config=cfg)``, ``StealthEnv(level="crossing", slip=0.1)`` or both
(keywords override the config's fields). A bad argument raises the same one-line ``ValueError`` naming it
in either form, because both forms build this dataclass. The checks come from :mod:`envs.checks`, whose
messages are formatted only when a value is refused.

The batch's own arguments (``num_envs``, ``copy``, ``obs_dtype``) and ``render_mode`` are not part of it:
they say how the envs are run and shown, not what the game is.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.checks import check_choice, check_difficulty, check_int, check_number
from envs.drives.table import load_drives
from envs.stealth.features import nav_names
from envs.stealth.level import MAX_SIDE, Level
from envs.stealth.rules import Rewards

OBS_MODES = ("grid", "vector", "local")
REWARD_KEYS = ("goal", "caught", "step")
_REWARD_NAMES = {key: f"rewards[{key!r}]" for key in REWARD_KEYS}  # argument names, formatted once
_LEVEL_KINDS = "a level name, a path, a Level, 'random' or 'heldout'"


@dataclass(frozen=True)
class StealthConfig:
    """Every argument of the stealth game, one line each (defaults written here only):

    * ``level``: a bundled level name (``envs.stealth.bundled_levels()``), a level file, a :class:`Level`,
      ``"random"`` or ``"heldout"`` (a level drawn at each reset from the generated training or held-out
      pool); for ``gym.make_vec`` also a list of them (env ``i`` plays item ``i % len``) or ``"all"``.
    * ``difficulty``: the generator's difficulty in [0, 1] for ``"random"``/``"heldout"`` (for
      ``gym.make_vec`` also one value per env).
    * ``size``: the side of generated levels, in [3, 256].
    * ``obs_mode``: ``"grid"`` (C, H, W), ``"vector"`` (flattened) or ``"local"`` (C, k, k) around the player.
    * ``local_size``: ``k``, the odd side of the ``local`` window.
    * ``slip``: the probability that a move goes to a perpendicular direction, in [0, 1].
    * ``max_steps``: the episode's step limit (None: the level's own, else ``8 * (H + W)``).
    * ``rewards``: a :class:`Rewards`, or a dict with any of the keys ``goal``, ``caught``, ``step``.
    * ``nav_features``: the navigation AI's observation channels: False, True (threat, hiding,
      danger_next), ``"all"`` or names (``"flow,lookahead"``); stored as the tuple of names.
    * ``exploring_starts``: the probability that a reset starts on a random unwatched floor cell at a
      random phase (a training aid; evaluate with 0).
    * ``shaping_gamma``: None (no shaping), or the learner's discount: each reward then gains
      ``shaping_weight * (shaping_gamma * Phi(s') - Phi(s))``, with ``Phi`` the goal potential of
      :func:`envs.stealth.features.goal_potential` (0 after a termination), and
      ``info["unshaped_reward"]`` keeps the game's own reward (a training aid; evaluate without it).
    * ``shaping_weight``: the weight of that term.
    * ``drives``: None (no drives), or the character's drive table (:mod:`envs.drives.table`): the name of a
      table shipped for the stealth game (``"default"``: fear and fatigue), a TOML file, or a
      :class:`~envs.drives.table.DriveTable`; stored as the table. Its levels are appended to the
      observation and its reward replaces (or, ``mode = "mix"``, mixes with) the game's (docs/drives.md).
    """

    level: Any = "tutorial"
    difficulty: Any = 0.3
    size: int = 12
    obs_mode: str = "grid"
    local_size: int = 7
    slip: float = 0.0
    max_steps: int | None = None
    rewards: Rewards = field(default_factory=Rewards)
    nav_features: Any = ()
    exploring_starts: float = 0.0
    shaping_gamma: float | None = None
    shaping_weight: float = 1.0
    drives: Any = None

    def __post_init__(self):
        values = {
            "level": _check_level(self.level),
            "difficulty": _check_difficulty(self.difficulty),
            "size": check_int("size", self.size, 3, MAX_SIDE),
            "obs_mode": check_choice("obs_mode", self.obs_mode, OBS_MODES),
            "local_size": _check_local_size(self.local_size),
            "slip": check_number("slip", self.slip, 0.0, 1.0),
            "max_steps": None if self.max_steps is None else check_int("max_steps", self.max_steps, 1),
            "rewards": _check_rewards(self.rewards),
            "nav_features": nav_names(self.nav_features),
            "exploring_starts": check_number("exploring_starts", self.exploring_starts, 0.0, 1.0),
            "shaping_gamma": None if self.shaping_gamma is None else check_number(
                "shaping_gamma", self.shaping_gamma, 0.0, 1.0),
            "shaping_weight": check_number("shaping_weight", self.shaping_weight),
            "drives": None if self.drives is None else load_drives(self.drives, "stealth"),
        }
        for name, value in values.items():  # the normalised values (frozen: set once, here)
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, config: StealthConfig | Mapping | None = None, kwargs: Mapping | None = None) -> StealthConfig:
        """The config of a constructor call: ``config`` (a :class:`StealthConfig`, a dict of its fields or
        None for the defaults) with ``kwargs`` overriding its fields. An unknown name raises ``TypeError``,
        as an unexpected keyword argument does."""
        kwargs = dict(kwargs or {})
        if isinstance(config, Mapping):
            kwargs = {**config, **kwargs}
            config = None
        elif config is not None and not isinstance(config, StealthConfig):
            raise ValueError(f"config must be a StealthConfig or a dict of its fields; got {type(config).__name__}")
        unknown = kwargs.keys() - FIELDS
        if unknown:
            raise TypeError(f"sandbox/Stealth-v0 got unexpected keyword argument(s) {sorted(unknown)}; "
                            f"valid: {', '.join(sorted(FIELDS))}")
        if config is None:
            return cls(**kwargs)
        return dataclasses.replace(config, **kwargs) if kwargs else config

    def kwargs(self) -> dict:
        """The fields as keyword arguments (``StealthConfig(**cfg.kwargs()) == cfg``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


FIELDS = frozenset(f.name for f in dataclasses.fields(StealthConfig))


def _check_level(level):
    if isinstance(level, str | os.PathLike | Level):
        return level
    if isinstance(level, list | tuple):
        if not level:
            raise ValueError("level: the level list is empty; give at least one level name, file, 'random' or "
                             "'heldout'")
        for item in level:
            if not isinstance(item, str | os.PathLike | Level):
                raise ValueError(f"level must be {_LEVEL_KINDS} (or, for gym.make_vec, a list of them); "
                                 f"got {item!r} in the list")
        return tuple(level)
    raise ValueError(f"level must be {_LEVEL_KINDS} (or, for gym.make_vec, a list of them or 'all'); got {level!r}")


def _check_difficulty(difficulty):
    if np.ndim(difficulty) == 0:
        return check_difficulty(difficulty)
    if isinstance(difficulty, str | bytes | Mapping):
        return check_difficulty(difficulty)  # refused, naming the argument
    return tuple(check_difficulty(value) for value in difficulty)


def _check_local_size(local_size) -> int:
    k = check_int("local_size", local_size, 1, 2 * MAX_SIDE + 1)
    if k % 2 == 0:
        raise ValueError(f"local_size must be an odd integer in [1, {2 * MAX_SIDE + 1}]; got {k}")
    return k


def _check_rewards(rewards) -> Rewards:
    if rewards is None:
        return Rewards()
    if isinstance(rewards, Mapping):
        unknown = rewards.keys() - set(REWARD_KEYS)
        if unknown:
            raise ValueError(f"rewards: unknown reward keys {sorted(map(str, unknown))}; "
                             f"valid: {', '.join(REWARD_KEYS)}")
        rewards = Rewards(**rewards)
    elif not isinstance(rewards, Rewards):
        raise ValueError(f"rewards must be a Rewards or a dict with keys goal, caught, step; got {rewards!r}")
    values = {key: check_number(_REWARD_NAMES[key], getattr(rewards, key)) for key in REWARD_KEYS}
    return Rewards(**values)
