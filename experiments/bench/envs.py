"""Environment throughput: random-action steps per second, side by side with outside references.

Every figure is measured in the same run as CartPole-v1 (and MiniGrid-Empty-8x8-v0 where installed),
in interleaved 0.1-s slices, because this machine is shared and noisy: the ratios hold, absolute
times do not. Prints a table, then one JSON line of the figures.

Run: ``python -m experiments.bench.envs [--seconds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass
class Config:
    seconds: float = 3.0  # wall time spent stepping each env
    seed: int = 0  # seed of every env and its action sampler


class Stepper:
    """Steps one env with random actions (seeded), resetting when an episode ends, and keeps count."""

    def __init__(self, make: Callable[[], gym.Env], seed: int):
        self.env = make()
        self.env.reset(seed=seed)
        self.env.action_space.seed(seed)
        self.steps, self.seconds = 0, 0.0

    def run(self, seconds: float) -> None:
        env, sample = self.env, self.env.action_space.sample
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(64):
                _, _, terminated, truncated, _ = env.step(sample())
                if terminated or truncated:
                    env.reset()
            self.steps += 64
            now = time.perf_counter()
            if now >= deadline:
                break
        self.seconds += now - start


def interleaved_rates(makers: dict[str, Callable[[], gym.Env]], seconds: float, seed: int) -> dict[str, float]:
    """Steps per second of each env, measured in round-robin slices of 0.1 s.

    Every env gets ``seconds`` of stepping in total, spread across the whole run, so a change in the
    machine's load hits every env alike and the ratios between them hold.
    """
    steppers = {}
    for label, make in makers.items():
        try:
            steppers[label] = Stepper(make, seed)
        except ImportError as exc:
            print(f"skip {label}: {exc}")
    for _ in range(max(1, round(seconds / 0.1))):
        for stepper in steppers.values():
            stepper.run(0.1)
    for stepper in steppers.values():
        stepper.env.close()
    return {label: st.steps / st.seconds for label, st in steppers.items()}


def _minigrid():
    import minigrid  # noqa: F401  (registers MiniGrid-* ids)

    return gym.make("MiniGrid-Empty-8x8-v0")


# (label, constructor). Reference envs first; the sandbox's envs add their rows below.
REFERENCES: list[tuple[str, Callable[[], gym.Env]]] = [
    ("CartPole-v1", lambda: gym.make("CartPole-v1")),
    ("MiniGrid-Empty-8x8-v0", _minigrid),
]
SANDBOX: list[tuple[str, Callable[[], gym.Env]]] = [
    # duel: random actions for the agent, the scripted:normal AI as the opponent, 4 ticks per step
    ("sandbox/Duel-v0", lambda: gym.make("sandbox/Duel-v0", opponent="scripted:normal")),
    ("sandbox/Duel-v0 (vs random)", lambda: gym.make("sandbox/Duel-v0", opponent="random")),
    # stealth: gym.make defaults (the tutorial level), one row per observation mode
    *[
        (f"sandbox/Stealth-v0 ({mode})", lambda mode=mode: gym.make("sandbox/Stealth-v0", obs_mode=mode))
        for mode in ("grid", "vector", "local")
    ],
    # stealth as the bundled agent trains on it: the 7x7 view, every navigation channel, goal shaping
    ("sandbox/Stealth-v0 (local, nav_features=all, shaping)",
     lambda: gym.make("sandbox/Stealth-v0", obs_mode="local", nav_features="all", shaping_gamma=0.99)),
]


def stealth_solve_figures(level_name: str = "fortress", gamma: float = 0.99, tol: float = 1e-8) -> dict:
    """Seconds to build the exact MDP of a bundled stealth level and solve it by value iteration,
    beside quantecon's value iteration on the same MDP (same accuracy: its epsilon/2 = our tol)."""
    from agents.navigation.mdp import build_mdp
    from envs.stealth.level import load_level
    from envs.stealth.rules import compile_world
    from nets.bellman import value_iteration

    level = load_level(level_name)
    start = time.perf_counter()
    compile_world(level)  # the per-phase tables (guard tracks, watched sets), timed on their own
    compiled = time.perf_counter()
    mdp, index = build_mdp(level, gamma=gamma)
    built = time.perf_counter()
    sol = value_iteration(mdp, tol=tol)
    solved = time.perf_counter()
    figures = {
        "level": level_name,
        "states": mdp.n_states,
        "compile_s": round(compiled - start, 3),
        "build_mdp_s": round(built - compiled, 3),
        "value_iteration_s": round(solved - built, 3),
        "iterations": sol.iterations,
        "v_start": round(float(sol.V[index.start_state]), 6),
    }
    try:
        from quantecon.markov import DiscreteDP
    except ImportError:
        return figures
    n, m = mdp.shape
    t0 = time.perf_counter()
    ddp = DiscreteDP(mdp.R.ravel(), mdp.P, gamma, np.repeat(np.arange(n), m), np.tile(np.arange(m), n))
    res = ddp.solve(method="value_iteration", epsilon=2 * tol, max_iter=1_000_000)
    figures["quantecon_vi_s"] = round(time.perf_counter() - t0, 3)
    figures["quantecon_max_abs_diff"] = float(np.abs(np.asarray(res.v) - sol.V).max())
    return figures


def duel_rules_ticks_per_second(seconds: float, seed: int, rounds: int = 1024) -> float:
    """Ticks per second of the duel's rules alone: the kernel's tick over ``rounds`` rounds per call (random
    inputs for both fighters, no observation, no agent)."""
    from envs.duel import kernels as K
    from envs.duel.config import DuelConfig
    from envs.duel.core import DuelCore
    from envs.duel.layout import G_OVER

    core = DuelCore(rounds, DuelConfig())
    core.reset()
    rng = np.random.default_rng(seed)
    inputs = [np.stack([rng.integers(9, size=(rounds, 2)), rng.integers(4, size=(rounds, 2))], axis=2)
              for _ in range(64)]
    active = np.ones(rounds, dtype=bool)
    args = (core.F, core.P, core.G, core.T, core.round_ticks)
    K.tick_batch(*args, inputs[0], core.me, active, core.EV)  # compiled (or loaded) before timing
    ticks = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for act in inputs:
            K.tick_batch(*args, act, core.me, active, core.EV)
            over = core.G[:, G_OVER] != 0
            if over.any():
                core.reset(np.flatnonzero(over))
        ticks += len(inputs) * rounds
        now = time.perf_counter()
        if now >= deadline:
            break
    return ticks / (now - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=Config.seconds, help="stepping time per env (interleaved)")
    parser.add_argument("--seed", type=int, default=Config.seed, help="seed of every env")
    args = parser.parse_args(argv)
    import envs  # noqa: F401  (registers sandbox/* ids)

    load_start = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load_start:.2f} at the start (ratios hold only when "
          "it is under 1.5)", flush=True)
    rates = interleaved_rates(dict(REFERENCES + SANDBOX), args.seconds, args.seed)
    cartpole = rates.get("CartPole-v1", np.nan)
    minigrid = rates.get("MiniGrid-Empty-8x8-v0", np.nan)
    print(f"{'env':<34}{'steps/s':>12}{'x CartPole':>12}{'x MiniGrid':>12}")
    for label, rate in rates.items():
        print(f"{label:<34}{rate:>12,.0f}{rate / cartpole:>12.2f}{rate / minigrid:>12.2f}")
    figures = {"load_start": round(load_start, 2), "steps_per_s": {k: round(v, 1) for k, v in rates.items()}}
    duel_ticks = duel_rules_ticks_per_second(args.seconds, args.seed)
    print(f"{'duel rules alone (ticks/s)':<34}{duel_ticks:>12,.0f}{duel_ticks / cartpole:>12.2f}")
    figures["duel_rules_ticks_per_s"] = round(duel_ticks, 1)
    figures["duel_vs_cartpole"] = round(rates.get("sandbox/Duel-v0", np.nan) / cartpole, 3)
    grid = rates.get("sandbox/Stealth-v0 (grid)", np.nan)
    figures["stealth_grid_vs_minigrid"] = round(grid / minigrid, 2)
    figures["stealth_grid_vs_cartpole"] = round(grid / cartpole, 3)
    solve = stealth_solve_figures()
    print(
        f"stealth {solve['level']} exact MDP: {solve['states']:,} states, "
        f"build_mdp {solve['build_mdp_s']:.2f} s, "
        f"value iteration {solve['value_iteration_s']:.2f} s ({solve['iterations']} sweeps)"
        + (f"; quantecon VI {solve['quantecon_vi_s']:.2f} s" if "quantecon_vi_s" in solve else "")
    )
    figures["stealth_solve"] = solve
    figures["load_end"] = round(os.getloadavg()[0], 2)
    print(f"load average {figures['load_end']:.2f} at the end")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
