"""``sandbox solve``: solve an environment's exact MDP and print the optimum.

    sandbox solve frozenlake [--map 4x4|8x8] [--gamma 0.99] [--no-slip] [--method vi|mpi|pi]
    sandbox solve stealth --level NAME|PATH [--slip 0] [--show]   (experiments/solve/stealth.py)

Each target lives in :mod:`experiments.solve` as ``add_<target>_args(parser)`` and ``solve_<target>(args)``,
listed in ``TARGETS``. Heavy imports happen inside the solve functions.
"""

from __future__ import annotations

from experiments.solve.frozenlake import add_frozenlake_args, solve_frozenlake
from experiments.solve.stealth import add_stealth_args, solve_stealth

# target -> (add its arguments, run it, one-line help)
TARGETS = {
    "frozenlake": (add_frozenlake_args, solve_frozenlake, "Gymnasium's FrozenLake (toy text)"),
    "stealth": (add_stealth_args, solve_stealth, "a stealth level's exact MDP (envs.stealth)"),
}


def add_parser(subparsers) -> None:
    from experiments.cli import add_targets

    add_targets(subparsers, "solve", "solve an exact MDP and print V* and the optimal policy", TARGETS)
