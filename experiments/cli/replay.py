"""``sandbox replay``: the verb; the work is in :mod:`experiments.replay`."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from experiments.options import add_config_args
    from experiments.replay.run import ReplayConfig

    p = subparsers.add_parser("replay", help="make trace files (sandbox watch --trace) into one self-contained "
                              "replay page", description=_doc(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, ReplayConfig, positional=("traces",))
    p.set_defaults(run=run)


def _doc() -> str:
    import experiments.replay

    return experiments.replay.__doc__


def run(args) -> int:
    from experiments.options import config_from_args
    from experiments.replay.run import ReplayConfig, replay

    return replay(config_from_args(ReplayConfig, args))
