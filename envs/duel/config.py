"""``DuelConfig``: the duel's settings, written and checked once.

Every form of the duel (the single env ``sandbox/Duel-v0``, the batched env, the PettingZoo view) takes
these settings, either as ``config=DuelConfig(...)`` or as keyword arguments of the same names; the
defaults live here only. Opponents are built from the same config (their ``frame_skip``), so the two
can never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envs.checks import check_choice, check_int, check_number
from envs.drives.table import load_drives
from envs.duel.character import check_character_spec
from envs.duel.layout import TICKS_PER_SECOND

SIDES = ("left", "right", "random")
MAX_ROUND_SECONDS = 3600.0  # an hour: a demo round then has at most 216,000 decision steps
MAX_FRAME_SKIP = 600  # ten seconds held


@dataclass(frozen=True)
class DuelConfig:
    """The duel's settings (one line each; the envs' ``Arguments`` sections say more)."""

    frame_skip: int = 4  # ticks per decision: both players' inputs are held this long
    round_seconds: float = 60  # the round's timer; at time-out the healthier fighter wins
    flat_actions: bool = False  # Discrete(36) actions (stick * 4 + button) instead of MultiDiscrete([9, 4])
    side: str = "left"  # the fighter the agent plays: "left", "right" or "random" (drawn per round)
    character: Any = "default"  # a shipped name, a TOML file, a Character, a (left, right) pair, or one per round
    drives: Any = None  # None, or the agent's drive table: a shipped name ("default"), a TOML file or a DriveTable

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "frame_skip", check_int("frame_skip", self.frame_skip, 1, MAX_FRAME_SKIP))
        set_(self, "round_seconds", check_number("round_seconds", self.round_seconds, 1.0 / TICKS_PER_SECOND,
                                                 MAX_ROUND_SECONDS))
        if not isinstance(self.flat_actions, bool):
            raise ValueError(f"flat_actions must be True or False; got {self.flat_actions!r}")
        check_choice("side", self.side, SIDES)
        check_character_spec(self.character)
        if self.drives is not None:
            set_(self, "drives", load_drives(self.drives, "duel"))

    @property
    def round_ticks(self) -> int:
        """The round's length in ticks."""
        return int(round(self.round_seconds * TICKS_PER_SECOND))

    @classmethod
    def build(cls, config: DuelConfig | Mapping[str, Any] | None = None, **settings: Any) -> DuelConfig:
        """A config from ``config`` (a DuelConfig, a mapping, or None for the defaults) with ``settings``
        on top; an unknown setting raises a one-line ValueError listing the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        base: dict[str, Any] = {}
        if isinstance(config, DuelConfig):
            base = {name: getattr(config, name) for name in names}
        elif isinstance(config, Mapping):
            base = dict(config)
        elif config is not None:
            raise ValueError(f"config must be a DuelConfig or a mapping; got {type(config).__name__}")
        base.update(settings)
        unknown = sorted(set(base) - names)
        if unknown:
            raise ValueError(f"unknown duel setting {unknown[0]!r}; valid: {', '.join(sorted(names))}")
        return cls(**base)
