"""``sandbox solve stealth``: the exact optimum of a stealth level.

    sandbox solve stealth --level NAME|PATH [--slip 0.0] [--gamma 0.99] [--show [--out PNG]]

Builds the level's exact MDP (:func:`agents.navigation.build_mdp`), solves it, and prints V*(start),
the optimal path length (following the optimal policy from the start, when slip is 0) and the time
taken. ``--show`` draws the optimal path and the phase-0 policy over the level: in a pygame window
when a display is available, else to a PNG.
"""

from __future__ import annotations

import argparse
import os
import time

from envs.display import display_available


def add_stealth_args(parser: argparse.ArgumentParser) -> None:
    from experiments.solve.common import add_common_args

    parser.add_argument(
        "--level", default="tutorial", help="bundled level name or level file path (default tutorial)"
    )
    parser.add_argument("--slip", type=float, default=0.0, help="perpendicular slip probability (default 0)")
    parser.add_argument(
        "--show", action="store_true", help="render the optimal policy (PNG where no display)"
    )
    parser.add_argument(
        "--out", default=None, help="PNG path for --show (default runs/solve/stealth_LEVEL.png)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    add_common_args(parser, gamma=0.99)


def solve_stealth(args) -> int:
    import numpy as np

    from agents.navigation.mdp import build_mdp, greedy_path
    from envs.fileio import safe_filename
    from envs.stealth.level import load_level
    from experiments.solve.common import describe_solution, run_solver
    from nets import bellman

    bellman.warm_up()  # import numba and load the compiled kernels before the clock starts

    if not 0.0 <= args.slip <= 1.0:
        raise ValueError(f"--slip must be in [0, 1], got {args.slip}")
    if args.show and args.out is not None:
        from experiments.runfolder import claim_file

        claim_file(args.out, force=args.force)
    t0 = time.perf_counter()
    level = load_level(args.level)
    world = level.world
    t_load = time.perf_counter()
    mdp, index = build_mdp(level, slip=args.slip, gamma=args.gamma)
    t_build = time.perf_counter()
    sol = run_solver(mdp, args)
    t_solve = time.perf_counter()
    h, w = level.shape
    print(
        f"stealth level {level.name!r}: {h}x{w}, {len(level.guards)} guard(s), period {world.period}, "
        f"slip {args.slip:g}, gamma {args.gamma:g}"
    )
    n_floor = int((~world.walls).sum())
    print(
        f"MDP: {mdp.n_states:,} states = {mdp.n_states - 2:,} (cell, phase) pairs reachable from the start "
        f"(of {n_floor} floor cells x {world.period} phases) + caught + goal; {mdp.P.nnz:,} transitions"
    )
    print(describe_solution(sol))
    print(f"V*(start) = {sol.V[index.start_state]:.6f}")
    path = None
    if args.slip == 0.0:
        path = greedy_path(mdp, index, sol.policy)
        print("optimal path length: " + (f"{len(path) - 1} steps" if path else "none (no safe path)"))
    else:
        print("optimal path length: n/a with slip > 0 (the policy is a stochastic plan)")
    print(
        f"time: load+compile {1e3 * (t_load - t0):.0f} ms, build_mdp {1e3 * (t_build - t_load):.0f} ms, "
        f"solve {1e3 * (t_solve - t_build):.0f} ms, total {t_solve - t0:.2f} s"
    )
    if args.show:
        from envs.stealth import render

        arrows = {  # the policy at phase 0, on every cell the player can be on at phase 0
            int(cell): int(sol.policy[index.state(int(cell), 0)])
            for cell in np.flatnonzero(~world.walls)
            if index.has(int(cell), 0)
        }
        image = render.frame(world, phase=0, path=path, arrows=arrows)
        if display_available():
            import pygame

            pygame.init()
            screen = pygame.display.set_mode(image.shape[1::-1])
            pygame.display.set_caption(f"optimal policy: {level.name} (close the window to quit)")
            screen.blit(pygame.surfarray.make_surface(np.transpose(image, (1, 0, 2))), (0, 0))
            pygame.display.flip()
            while not any(e.type == pygame.QUIT for e in pygame.event.get()):
                pygame.time.wait(50)
            pygame.quit()
        else:
            # a level's name is text from a file: reduced to a safe file name before it names a path
            out = args.out or os.path.join("runs", "solve", f"stealth_{safe_filename(level.name, 'level')}.png")
            render.save_png(image, out)
            print(f"no display: wrote the optimal policy (path and phase-0 arrows) to {out}")
    return 0
