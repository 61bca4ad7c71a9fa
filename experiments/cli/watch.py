"""``sandbox watch``: the verb; the work is in :mod:`experiments.watch`."""

from __future__ import annotations

import argparse

from experiments.play.duel import INPUTS
from experiments.watch.config import DEFAULT_P2, DIRECTORS, GAMES, Config


def add_parser(subparsers) -> None:
    from experiments.options import add_config_args

    p = subparsers.add_parser("watch", help="watch agents play in a pygame window (a GIF where there is no display)",
                              description=_doc(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, Config, positional=("game",), choices={"game": GAMES, "director": DIRECTORS, "input": INPUTS},
                    help={"p2": f"duel: the right fighter (default {DEFAULT_P2})"})
    p.set_defaults(run=run)


def _doc() -> str:
    import experiments.watch

    return experiments.watch.__doc__


def run(args) -> int:
    from experiments.options import config_from_args
    from experiments.watch.app import watch

    return watch(config_from_args(Config, args))
