"""Batched duel throughput: ``gym.make_vec("sandbox/Duel-v0", num_envs=N)`` against outside references.

Measured in one run, in interleaved 0.1-s slices (the machine is shared, so ratios hold and absolute
times do not): the batched duel against ``scripted:normal`` at N = 1, 64, 1024, 4096; the single duel
env; Gymnasium's SyncVectorEnv and AsyncVectorEnv over the single duel env; and single CartPole-v1.
Every env is fed pre-drawn random actions (no sampling inside the timing). Then the time per env-step
of the batched duel split into its parts, and memory per env. Prints a table, then one JSON line.

Run: ``python -m experiments.bench.vector_duel [--seconds 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass
class Config:
    seconds: float = 2.0  # stepping time per row, spread over the run in 0.1-s slices
    seed: int = 0  # seed of every env and of the pre-drawn actions
    sizes: tuple[int, ...] = (1, 64, 1024, 4096)  # batched duel sizes
    sync_envs: int = 64  # SyncVectorEnv size
    async_envs: int = 8  # AsyncVectorEnv size (one subprocess per env, as SB3's SubprocVecEnv runs today)


class Stepper:
    """Steps one env (single or vector) with cycled pre-drawn actions and counts env-steps."""

    def __init__(self, make: Callable[[], object], seed: int, vector: bool):
        self.env = make()
        self.vector = vector
        self.width = self.env.num_envs if vector else 1
        self.env.reset(seed=seed)
        space = self.env.action_space
        space.seed(seed)
        self.actions = [space.sample() for _ in range(16)]
        self.steps, self.seconds = 0, 0.0

    def run(self, seconds: float) -> None:
        env, actions, vector = self.env, self.actions, self.vector
        start = time.perf_counter()
        deadline, calls = start + seconds, 0
        while True:
            for a in actions:
                _, _, terminated, truncated, _ = env.step(a)
                if not vector and (terminated or truncated):
                    env.reset()
            calls += len(actions)
            now = time.perf_counter()
            if now >= deadline:
                break
        self.steps += calls * self.width
        self.seconds += now - start


def interleaved_rates(makers: dict[str, tuple[Callable[[], object], bool]], seconds: float, seed: int) -> dict:
    steppers = {label: Stepper(make, seed, vector) for label, (make, vector) in makers.items()}
    for st in steppers.values():  # warm up: numba kernels compile (or load from cache) outside the timing
        st.run(0.05)
        st.steps, st.seconds = 0, 0.0
    for _ in range(max(1, round(seconds / 0.1))):
        for st in steppers.values():
            st.run(0.1)
    for st in steppers.values():
        st.env.close()
    return {label: st.steps / st.seconds for label, st in steppers.items()}


def duel_vec(n: int):
    return gym.make_vec("sandbox/Duel-v0", num_envs=n, opponent="scripted:normal")


def parts_ns_per_env(n: int, seed: int, repeats: int = 100) -> dict:
    """Where one batched step's time goes, in CPU nanoseconds per env (process time, which a shared
    machine's load inflates less than wall time): the whole step; the kernel (the rules' 4 ticks plus
    both fighters' observations); the observations alone; the scripted opponent's kernel; the
    observation copy handed out; and the rest (Python per call, action checks, info, autoresets)."""
    from envs.duel import kernels as K

    env = duel_vec(n)
    env.reset(seed=seed)
    actions = env.action_space.sample()
    scratch = np.zeros_like(env._obs)
    for _ in range(10):
        env.step(actions)

    def per_env(fn: Callable[[], object]) -> float:
        fn()
        start = time.process_time()
        for _ in range(repeats):
            fn()
        return (time.process_time() - start) / repeats / n * 1e9

    parts = {
        "step_total": per_env(lambda: env.step(actions)),
        "kernel_rules_and_obs": per_env(env._core.step),
        "observations_only": per_env(lambda: K.observe_batch(env._F, env._P, env._G, env._core.T, env.round_ticks,
                                                             env._me, scratch[:, 0], scratch[:, 1])),
        "scripted_opponent": per_env(lambda: env.opponent.act(env._obs[:, 1], ~env._restart, env._act[:, 1])),
        "obs_copy": per_env(lambda: env._obs[:, 0].copy()),
    }
    parts["rules_4_ticks"] = parts["kernel_rules_and_obs"] - parts["observations_only"]
    parts["python_and_rest"] = (parts["step_total"] - parts["kernel_rules_and_obs"] - parts["scripted_opponent"]
                                - parts["obs_copy"])
    return {k: round(v, 1) for k, v in parts.items()}


def bytes_per_env() -> dict:
    """Memory per env: the batched env's arrays (state, buffers, opponent) over N, and the traced
    allocation of one single duel env (rules state, opponent, spaces)."""
    n = 1024
    env = duel_vec(n)
    env.reset(seed=0)
    arrays = [v for v in vars(env).values() if isinstance(v, np.ndarray)]
    arrays += [v for v in vars(env.opponent).values() if isinstance(v, np.ndarray)]
    batched = sum(a.nbytes for a in arrays) / n
    rng_bytes = 0  # plus one numpy Generator per round (PCG64), measured
    tracemalloc.start()
    gens = [np.random.default_rng(i) for i in range(256)]
    rng_bytes = tracemalloc.get_traced_memory()[0] / len(gens)
    tracemalloc.stop()
    tracemalloc.start()
    singles = [gym.make("sandbox/Duel-v0", opponent="scripted:normal") for _ in range(64)]
    for s in singles:
        s.reset(seed=0)
    single = tracemalloc.get_traced_memory()[0] / len(singles)
    tracemalloc.stop()
    return {"batched_arrays": round(batched), "batched_generator": round(rng_bytes),
            "batched_total": round(batched + rng_bytes), "single_env_traced": round(single)}


def main(argv: list[str] | None = None) -> dict:
    cfg = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=cfg.seconds, help="stepping time per row (interleaved)")
    parser.add_argument("--seed", type=int, default=cfg.seed, help="seed of every env and its actions")
    args = parser.parse_args(argv)
    import envs  # noqa: F401  (registers sandbox/* ids)

    def single():
        return gym.make("sandbox/Duel-v0", opponent="scripted:normal")

    makers: dict[str, tuple[Callable[[], object], bool]] = {
        "CartPole-v1 (single)": (lambda: gym.make("CartPole-v1"), False),
        "Duel-v0 single": (single, False),
        f"Duel-v0 SyncVectorEnv N={cfg.sync_envs}": (
            lambda: gym.make_vec("sandbox/Duel-v0", num_envs=cfg.sync_envs, vectorization_mode="sync"), True),
        f"Duel-v0 AsyncVectorEnv N={cfg.async_envs}": (
            lambda: gym.make_vec("sandbox/Duel-v0", num_envs=cfg.async_envs, vectorization_mode="async"), True),
    }
    for n in cfg.sizes:
        makers[f"Duel-v0 batched N={n}"] = (lambda n=n: duel_vec(n), True)
    load_before = os.getloadavg()
    rates = interleaved_rates(makers, args.seconds, args.seed)
    load_after = os.getloadavg()
    cartpole = rates["CartPole-v1 (single)"]
    print(f"{'env (vs scripted:normal, frame_skip 4)':<42}{'steps/s':>14}{'x CartPole':>12}{'us/env-step':>13}")
    for label, rate in rates.items():
        print(f"{label:<42}{rate:>14,.0f}{rate / cartpole:>12.2f}{1e6 / rate:>13.3f}")
    parts = parts_ns_per_env(1024, args.seed)
    print("batched N=1024, CPU ns per env-step: " + ", ".join(f"{k} {v:,.0f}" for k, v in parts.items()))
    memory = bytes_per_env()
    print("memory per env (bytes): " + ", ".join(f"{k} {v:,}" for k, v in memory.items()))
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; cores {os.cpu_count()}")
    figures = {
        "steps_per_s": {k: round(v, 1) for k, v in rates.items()},
        "x_cartpole": {k: round(v / cartpole, 3) for k, v in rates.items()},
        "batched_1024_vs_cartpole": round(rates["Duel-v0 batched N=1024"] / cartpole, 3),
        "target_batched_1024_vs_cartpole": 2.25,
        "cpu_ns_per_env_step_1024": parts,
        "bytes_per_env": memory,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
