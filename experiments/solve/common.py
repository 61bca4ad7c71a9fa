"""What every ``sandbox solve`` target shares: the solver options, running the solver, one line on it."""

from __future__ import annotations

import argparse

import numpy as np

ARROWS = {0: "\u2190", 1: "\u2193", 2: "\u2192", 3: "\u2191"}  # FrozenLake: left, down, right, up
METHODS = ("vi", "mpi", "pi")


def add_common_args(parser: argparse.ArgumentParser, gamma: float) -> None:
    parser.add_argument("--gamma", type=float, default=gamma, help=f"discount in [0, 1] (default {gamma})")
    parser.add_argument("--tol", type=float, default=1e-8, help="sup-norm accuracy of V (default 1e-8)")
    parser.add_argument(
        "--method", choices=METHODS, default="vi", help="value iteration, modified PI or policy iteration"
    )


def run_solver(mdp, args):
    """Solve ``mdp`` with the method named by ``args.method``."""
    from nets import bellman

    if args.method == "vi":
        return bellman.value_iteration(mdp, tol=args.tol)
    if args.method == "mpi":
        return bellman.modified_policy_iteration(mdp, tol=args.tol)
    return bellman.policy_iteration(mdp)


def describe_solution(sol) -> str:
    bound = "none (gamma = 1)" if np.isnan(sol.error_bound) else f"{sol.error_bound:.2g}"
    return f"{sol.method}: {sol.iterations} iterations, {sol.seconds * 1e3:.1f} ms, max|V - V*| bound {bound}"
