"""``sandbox play duel --vs SPEC``: fight an agent yourself in the pygame window.

Keys: arrows for the stick, Z / X / C for light / heavy / special, P pause, F1 hitboxes, Esc quit.
The game runs at 60 ticks per second (one env step per tick). Without a display it stops with a
one-line error suggesting ``xvfb-run``.
"""

from __future__ import annotations

from dataclasses import dataclass

GAMES = ("duel",)


@dataclass
class Config:
    game: str = "duel"  # which game to play (duel)
    vs: str = "scripted:normal"  # the opponent: an agent spec (random, scripted:NAME, sb3:PATH, human)
    difficulty: float | None = None  # override the scripted opponent's strength in [0, 1]
    rounds: int = 3  # rounds to play (0: until Esc)
    round_seconds: float = 60.0  # length of a round
    seed: int | None = None  # seed of the first round


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("play", help="play a game yourself against an agent (needs a display)",
                              description=__doc__)
    p.add_argument("game", choices=GAMES, help="the game")
    p.add_argument("--vs", default=Config.vs, help="opponent agent spec (default: %(default)s)")
    p.add_argument("--difficulty", type=float, default=None, help="scripted opponent strength in [0, 1]")
    p.add_argument("--rounds", type=int, default=Config.rounds, help="rounds to play; 0 = until Esc")
    p.add_argument("--round-seconds", type=float, default=Config.round_seconds, help="seconds per round")
    p.add_argument("--seed", type=int, default=None, help="seed of the first round")
    p.set_defaults(run=run)


def run(args) -> int:
    from experiments.play.duel import play_duel

    return play_duel(args)
