"""``sandbox compare``: side-by-side evaluations.

    sandbox compare director [--episodes 200] [--ppo PATH] ...   (experiments/compare_director.py)

Each target is a pair of functions, ``add_<target>_args(parser)`` and ``run_<target>(args)``, listed
in ``TARGETS`` (like ``sandbox solve``). Heavy imports happen inside the run functions.
"""

from __future__ import annotations

from experiments.compare_director import add_director_args, run_director

# target -> (add its arguments, run it, one-line help)
TARGETS = {
    "director": (add_director_args, run_director,
                 "directors (fixed, rule, learned) keeping duel players in the flow channel"),
}


def add_parser(subparsers) -> None:
    from experiments.cli import add_targets

    add_targets(subparsers, "compare", "compare agents or directors side by side", TARGETS)
