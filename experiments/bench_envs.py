"""Environment throughput: random-action steps per second, side by side with outside references.

Every figure is measured in the same run as CartPole-v1 (and MiniGrid-Empty-8x8-v0 where installed),
because this machine is shared and noisy: the ratios hold, absolute times do not. Prints a table,
then one JSON line of the figures.

Run: ``python experiments/bench_envs.py [--seconds 3]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass
class Config:
    seconds: float = 3.0  # wall time spent stepping each env
    seed: int = 0  # seed of every env and its action sampler


def steps_per_second(make: Callable[[], gym.Env], seconds: float, seed: int) -> float:
    """Random-action steps per second of ``make()``, resetting when an episode ends."""
    env = make()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    sample = env.action_space.sample
    steps, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(256):
            _, _, terminated, truncated, _ = env.step(sample())
            if terminated or truncated:
                env.reset()
        steps += 256
        now = time.perf_counter()
        if now >= deadline:
            break
    env.close()
    return steps / (now - start)


def _minigrid():
    import minigrid  # noqa: F401  (registers MiniGrid-* ids)

    return gym.make("MiniGrid-Empty-8x8-v0")


# (label, constructor). Reference envs first; the sandbox's envs add their rows below.
REFERENCES: list[tuple[str, Callable[[], gym.Env]]] = [
    ("CartPole-v1", lambda: gym.make("CartPole-v1")),
    ("MiniGrid-Empty-8x8-v0", _minigrid),
]
SANDBOX: list[tuple[str, Callable[[], gym.Env]]] = []


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=Config.seconds, help="wall time per env")
    parser.add_argument("--seed", type=int, default=Config.seed, help="seed of every env")
    args = parser.parse_args(argv)
    import envs  # noqa: F401  (registers sandbox/* ids)

    rates: dict[str, float] = {}
    for label, make in REFERENCES + SANDBOX:
        try:
            rates[label] = steps_per_second(make, args.seconds, args.seed)
        except ImportError as exc:
            print(f"skip {label}: {exc}")
    cartpole = rates.get("CartPole-v1", np.nan)
    minigrid = rates.get("MiniGrid-Empty-8x8-v0", np.nan)
    print(f"{'env':<34}{'steps/s':>12}{'x CartPole':>12}{'x MiniGrid':>12}")
    for label, rate in rates.items():
        print(f"{label:<34}{rate:>12,.0f}{rate / cartpole:>12.2f}{rate / minigrid:>12.2f}")
    figures = {"steps_per_s": {k: round(v, 1) for k, v in rates.items()}}
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
