"""``sandbox solve``: solve an environment's exact MDP and print the optimum.

    sandbox solve frozenlake [--map 4x4|8x8] [--gamma 0.99] [--no-slip] [--method vi|mpi|pi]
    sandbox solve stealth --level NAME|PATH [--slip 0] [--show]   (experiments/solve_stealth.py)

Each target is a small pair of functions, ``add_<target>_args(parser)`` and ``solve_<target>(args)``,
listed in ``TARGETS``. Heavy imports happen inside the solve functions.
"""

from __future__ import annotations

import argparse

import numpy as np

from experiments.solve_stealth import add_stealth_args, solve_stealth

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


# --------------------------------------------------------------------------------------------------
# frozenlake
# --------------------------------------------------------------------------------------------------


def add_frozenlake_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", default="4x4", choices=("4x4", "8x8"), help="FrozenLake map (default 4x4)")
    parser.add_argument("--no-slip", action="store_true", help="deterministic moves (is_slippery=False)")
    add_common_args(parser, gamma=0.99)


def solve_frozenlake(args) -> int:
    import gymnasium as gym

    from nets.bellman import TabularMDP

    env = gym.make("FrozenLake-v1", map_name=args.map, is_slippery=not args.no_slip)
    desc = env.unwrapped.desc.astype(str)
    mdp = TabularMDP.from_gymnasium(env.unwrapped.P, args.gamma)
    sol = run_solver(mdp, args)
    rows, cols = desc.shape
    print(f"FrozenLake {args.map}, {'deterministic' if args.no_slip else 'slippery'}, gamma={args.gamma}")
    print(describe_solution(sol))
    print(f"V*(start) = {sol.V[0]:.6f}\n")
    print("optimal values:")
    grid = sol.V.reshape(rows, cols)
    for r in range(rows):
        print("  " + " ".join(f"{v:6.3f}" for v in grid[r]))
    print("\noptimal policy (S start, H hole, G goal):")
    for r in range(rows):
        line = []
        for c in range(cols):
            tile = desc[r, c]
            line.append(tile if tile in "HG" else ARROWS[int(sol.policy[r * cols + c])])
        print("  " + " ".join(line))
    return 0


# target -> (add its arguments, run it, one-line help)
TARGETS = {
    "frozenlake": (add_frozenlake_args, solve_frozenlake, "Gymnasium's FrozenLake (toy text)"),
    "stealth": (add_stealth_args, solve_stealth, "a stealth level's exact MDP (envs.stealth)"),
}


def add_parser(subparsers) -> None:
    from experiments.cli import add_targets

    add_targets(subparsers, "solve", "solve an exact MDP and print V* and the optimal policy", TARGETS)
