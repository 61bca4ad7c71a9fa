"""``sandbox style``: name a duel player's style from its logs (the work is in :mod:`experiments.studies.style`).

    sandbox style PLAYER [--vs SPEC,SPEC] [--rounds 30] [--model FILE]
    sandbox style --study [--save-model FILE] [--docs]

Prints a table, then one JSON line.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    from experiments.options import add_config_args
    from experiments.studies.style import StyleConfig

    parser = subparsers.add_parser("style", help="name a player's style (rushdown, zoner, turtle...) from its logs")
    add_config_args(parser, StyleConfig, positional=("player",))
    parser.set_defaults(run=run)


def run(args) -> int:
    from experiments.options import config_from_args
    from experiments.studies.style import StyleConfig, json_line, run_style

    print(json_line(run_style(config_from_args(StyleConfig, args))))
    return 0
