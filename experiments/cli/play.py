"""``sandbox play duel --vs SPEC``: fight an agent yourself in the pygame window.

Keys: arrows for the stick, Z / X / C for light / heavy / special, P pause, F1 hitboxes, F2 training-mode
aids (input history, frame data), Esc quit. A gamepad works too (d-pad or left stick, A / B / X).
The game runs at 60 ticks per second (one env step per tick). Without a display it stops with a
one-line error suggesting ``xvfb-run``.
"""

from __future__ import annotations

from experiments.play.duel import GAMES, INPUTS, PlayConfig


def add_parser(subparsers) -> None:
    from experiments.options import add_config_args

    p = subparsers.add_parser("play", help="play a game yourself against an agent (needs a display)",
                              description=__doc__)
    add_config_args(p, PlayConfig, positional=("game",), choices={"game": GAMES, "input": INPUTS})
    p.set_defaults(run=run)


def run(args) -> int:
    from experiments.options import config_from_args
    from experiments.play.duel import play_duel

    return play_duel(config_from_args(PlayConfig, args))
