"""``sandbox watch``: the verb; the work is in :mod:`experiments.watch`."""

from __future__ import annotations

import argparse

from experiments.watch.config import DEFAULT_P2, DIRECTORS, GAMES, Config


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("watch", help="watch agents play in a pygame window (a GIF where there is no display)",
                              description=_doc(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("game", nargs="?", default="duel", choices=GAMES, help="which game (default: duel)")
    p.add_argument("--p1", default=None, help="duel: left fighter; stealth: the agent. Any agent spec (random, "
                   "scripted:NAME, sb3:PATH, ghost:PATH, bundled:NAME, planner, optimal, human)")
    p.add_argument("--p2", default=None, help=f"duel: right fighter (default {DEFAULT_P2})")
    p.add_argument("--level", default=None, help="stealth: one level name or level file (default: every bundled level)")
    p.add_argument("--rounds", type=int, default=0, help="duel: rounds; stealth: episodes per level (0 = no limit)")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed, 0.25 .. 8 (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first round")
    p.add_argument("--director", default="none", choices=DIRECTORS, help="who sets the difficulty between rounds")
    p.add_argument("--record", default=None, metavar="FILE", help="record to FILE.gif or FILE.mp4")
    p.add_argument("--seconds", type=float, default=None, help="stop after T seconds")
    p.add_argument("--round-seconds", type=float, default=None, help="duel: length of a round in seconds")
    p.set_defaults(run=run)




def _doc() -> str:
    import experiments.watch

    return experiments.watch.__doc__


def run(args) -> int:
    from experiments.watch.app import watch

    return watch(Config(game=args.game, p1=args.p1, p2=args.p2, level=args.level, rounds=args.rounds,
                        speed=args.speed, seed=args.seed, director=args.director, record=args.record,
                        seconds=args.seconds, round_seconds=args.round_seconds))
