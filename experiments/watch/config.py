"""What a watch session is asked to show, and the constants of the window."""

from __future__ import annotations

from dataclasses import dataclass

GAMES = ("duel", "stealth")
DIRECTORS = ("none", "rule", "learned")
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the + / - steps
DEFAULT_P1 = {"duel": "bundled:duel-ppo", "stealth": "bundled:stealth-ppo"}
FALLBACK_P1 = {"duel": "scripted:zoner-hard", "stealth": "planner"}  # when the bundled agent is not shipped
DEFAULT_P2 = "scripted:hard"
STEALTH_ONLY = ("planner", "optimal")  # spec prefixes that read the stealth env's state
HEADLESS_SECONDS = 10.0
CONTROLS = "Space pause  Right step  +/- speed  R restart  Tab overlay  F2 training  Esc quit"


@dataclass
class Config:
    game: str = "duel"  # duel or stealth
    p1: str | None = None  # duel: the left fighter; stealth: the agent (default: the bundled agent)
    p2: str | None = None  # duel: the right fighter (default scripted:hard)
    level: str | None = None  # stealth: one level (name or file) instead of every bundled level
    rounds: int = 0  # duel: rounds to play; stealth: episodes per level (0: until Esc / --seconds)
    speed: float = 1.0  # playback speed, 0.25 .. 8
    seed: int | None = None  # seed of the first round (R replays the same rounds)
    director: str = "none"  # none, rule (RuleDirector) or learned (the bundled LearnedDirector)
    record: str | None = None  # write the session to FILE.gif or FILE.mp4
    trace: str | None = None  # also write what was shown as a trace, FILE.json (docs/replay.md)
    html: str | None = None  # also write what was shown as one self-contained replay page, FILE.html
    force: bool = False  # replace an existing --record, --trace or --html file
    seconds: float | None = None  # stop after this many seconds
    round_seconds: float | None = None  # duel round length (default: the bundled agent's, else 60)
    input: str = "auto"  # a human player's input: auto (keyboard and pad), keyboard or pad
    controls: str | None = None  # TOML file remapping a human player's keys and pad buttons
    training: bool = False  # duel: start with the training-mode aids on (F2 toggles them)
    drives: str | None = None  # the agent's (P1's) drive table (a shipped name or a TOML file), drawn as bars
