"""What a scripted fighter is, as data: its difficulty knobs (:class:`CharacterParams`), the presets and
styles that set them, and the intents it decides. The kernel that plays them is
:mod:`agents.character.fighter`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

STYLES = ("balanced", "rushdown", "zoner", "turtle")
PREFERRED_GAP = {"balanced": 35, "rushdown": 15, "zoner": 220, "turtle": 60}  # style -> gap it walks to
PRESETS = {"easy": 0.15, "normal": 0.5, "hard": 0.9}  # preset name -> difficulty
IDLE_BELOW = 0.15  # difficulties under this add idling (the easy preset sits exactly here)


class Intent(IntEnum):
    """What the fighter decided to do this step."""

    WAIT = 0
    APPROACH = 1
    KEEP_DISTANCE = 2
    ATTACK = 3
    PUNISH = 4
    GUARD = 5
    ANTI_AIR = 6
    THROW = 7
    ZONE = 8  # throw a projectile
    ESCAPE = 9  # throw escape, or guard-jump over a projectile
    MISTAKE = 10  # the error-rate roll: a random input
    IDLE = 11  # the idle roll (difficulty below easy): stand still


@dataclass(frozen=True)
class CharacterParams:
    """The difficulty knobs of a scripted fighter (one line each)."""

    reaction_ticks: int = 12  # how old (in ticks) the fighter's view of the opponent is
    error_rate: float = 0.15  # chance per decision of a random input instead of the chosen one
    aggression: float = 0.5  # chance per decision in neutral of attacking/approaching over waiting
    guard_prob: float = 0.5  # chance of guarding (the right way) an attack it sees coming
    anti_air_prob: float = 0.5  # chance of meeting a jump-in with the anti-air
    punish_prob: float = 0.5  # chance of punishing a move it sees recovering
    tech_prob: float = 0.3  # chance per step of pressing THROW while grabbed
    idle_prob: float = 0.0  # chance per decision of standing still (only below the easy preset)
    style: str = "balanced"  # balanced | rushdown | zoner | turtle

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}; valid: {', '.join(STYLES)}")
        if not (isinstance(self.reaction_ticks, int) and self.reaction_ticks >= 0):
            raise ValueError(f"reaction_ticks must be an integer >= 0; got {self.reaction_ticks!r}")

    @classmethod
    def from_difficulty(cls, difficulty: float, style: str = "balanced") -> CharacterParams:
        """Knobs for a continuous difficulty in [0, 1] (0 weakest), then the style's adjustments."""
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; valid: {', '.join(STYLES)}")
        d = min(max(float(difficulty), 0.0), 1.0)
        p = cls(
            reaction_ticks=int(round(28 - 24 * d)),
            error_rate=0.45 * (1.0 - d) ** 1.5 + 0.01,
            aggression=0.35 + 0.3 * d,
            guard_prob=0.05 + 0.9 * d,
            anti_air_prob=0.05 + 0.9 * d,
            punish_prob=0.05 + 0.9 * d,
            tech_prob=0.05 + 0.6 * d,
            # Below easy (0.15) the fighter also stands idle more and more, so that at 0 it is weaker
            # than a random player and a director can find an even match for anyone.
            idle_prob=0.95 * max(0.0, (IDLE_BELOW - d) / IDLE_BELOW),
            style=style,
        )
        if style == "rushdown":
            p = replace(p, aggression=min(1.0, p.aggression + 0.3), guard_prob=p.guard_prob * 0.8)
        elif style == "zoner":
            p = replace(p, aggression=max(0.1, p.aggression - 0.15))
        elif style == "turtle":
            p = replace(p, aggression=max(0.05, p.aggression - 0.3), guard_prob=min(1.0, p.guard_prob + 0.1),
                        punish_prob=min(1.0, p.punish_prob + 0.1))
        return p


__all__ = ["IDLE_BELOW", "PREFERRED_GAP", "PRESETS", "STYLES", "CharacterParams", "Intent"]
