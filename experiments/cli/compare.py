"""``sandbox compare``: side-by-side evaluations.

    sandbox compare director [--episodes 200] [--ppo PATH] ...   (experiments/studies/director.py)

Each target is a pair of functions, ``add_<target>_args(parser)`` and ``run_<target>(args)``, listed
in ``TARGETS`` (like ``sandbox solve``). Heavy imports happen inside the run functions.
"""

from __future__ import annotations

from experiments.studies.director import add_director_args, run_director
from experiments.studies.duel import add_duel_args, run_duel
from experiments.studies.ghost import add_ghost_args, run_ghost
from experiments.studies.stealth import add_stealth_args, run_stealth

# target -> (add its arguments, run it, one-line help)
TARGETS = {
    "director": (add_director_args, run_director,
                 "directors (fixed, rule, learned) keeping duel players in the flow channel"),
    "stealth": (add_stealth_args, run_stealth, "learners vs the value-iteration optimum, level by level"),
    "duel": (add_duel_args, run_duel, "learners' win rates vs the scripted presets, and an Elo ladder"),
    "ghost": (add_ghost_args, run_ghost, "ghost fidelity to its demonstrator; --styles: the 3x3 style matrix"),
}


def add_parser(subparsers) -> None:
    from experiments.cli import add_targets

    add_targets(subparsers, "compare", "compare agents or directors side by side", TARGETS, claims_out=True)
