"""``sandbox solve frozenlake``: Gymnasium's FrozenLake solved exactly, V* and the policy as arrows."""

from __future__ import annotations

import argparse

from experiments.solve.common import ARROWS, add_common_args, describe_solution, run_solver


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
