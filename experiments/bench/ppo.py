"""Our PPO (``ppo-pg``) against stable-baselines3's PPO on the stealth grid, in one run: training steps per
second on the same level with the same network, then final success at the same step budget.

    python -m experiments.bench.ppo [--level tutorial] [--steps 65536] [--envs 256]
                                    [--learn tutorial,sentry_hall,crossing] [--budget 300000]   # + minutes

**Throughput.** Every row trains the same network (separate tanh MLPs 64-64 for policy and value, SB3's
``MlpPolicy`` shape) with 4 epochs per rollout on ``--level`` (``grid`` observations), with potential-based
shaping. Each learner first trains one rollout (warm-up: imports, numba compilation), then ``--steps`` more
env steps are timed.

* ``sb3 ppo, 8 subprocess envs``: as ``sandbox train stealth --algo ppo`` runs it (n_steps 128, batch 256,
  exploring starts) - the reference.
* ``sb3 ppo, batched env``: SB3 PPO on the natively batched env through :class:`nets.sb3.GymnasiumVecEnv`
  (``--envs`` envs), when that env can reset single envs (else the row says why not).
* ``ppo-pg, batched env``: ours on the natively batched env (``--envs`` envs, n_steps 32, 4 minibatches)
  with the training aids, as ``sandbox train stealth --algo ppo-pg`` runs it.
* ``ppo-pg, sync envs``: ours on 16 single envs in a ``SyncVectorEnv`` (the path without a batched env).

**Learning.** ``sandbox train stealth --algo ppo`` and ``--algo ppo-pg`` with their defaults for ``--budget``
steps on each ``--learn`` level, each evaluated (deterministic, from the level's real start, no shaping) on
20 held-out seeds. It takes minutes, so it runs only when ``--budget N`` asks (0, the default, skips it):
a benchmark reports in seconds by default.

Prints a table, then one JSON line (with ``os.getloadavg()`` at the start and the end: the machine may be
shared; the ratios measured side by side are what to read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _timed(warm, learn) -> float:
    """Steps per second of ``learn()`` (which returns the steps it took), after ``warm()``."""
    warm()
    t0 = time.perf_counter()
    steps = learn()
    return steps / (time.perf_counter() - t0)


def sb3_subproc(level: str, steps: int) -> float:
    from stable_baselines3 import PPO

    from experiments.train import resolve_config
    from experiments.train.trainers import sb3_vec_env

    cfg = resolve_config("stealth", "ppo")
    config = {"env": "stealth", "env_kwargs": {**cfg["env_kwargs"], "level": level}, "nav_features": False,
              "shaping": True, "exploring_starts": cfg["exploring_starts"], "hyper": cfg["hyper"], "subproc": True}
    vec = sb3_vec_env(config, int(cfg["n_envs"]), 0)
    try:
        model = PPO("MlpPolicy", vec, seed=0, device="cpu", verbose=0, **cfg["hyper"])
        rollout = model.n_steps * vec.num_envs

        def learn() -> int:
            start = model.num_timesteps
            model.learn(steps, reset_num_timesteps=False)
            return model.num_timesteps - start

        return _timed(lambda: model.learn(rollout), learn)
    finally:
        vec.close()


def _batched(level: str, n_envs: int):
    from experiments.train import make_vector_env, resolve_config

    cfg = resolve_config("stealth", "ppo-pg")
    return make_vector_env("stealth", {**cfg["env_kwargs"], "level": level}, n_envs, 0, shaping=True,
                           exploring_starts=cfg["exploring_starts"])


def sb3_batched(level: str, steps: int, n_envs: int) -> float | str:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from experiments.train import native_vector
    from nets.sb3 import GymnasiumVecEnv, supports_same_step_reset

    if not native_vector("stealth"):
        return "no natively batched stealth env registered"
    vec = _batched(level, n_envs)
    if not supports_same_step_reset(vec):
        vec.close()
        return "the batched env cannot reset single envs (reset_mask), which SB3's same-step reset needs"
    venv = VecMonitor(GymnasiumVecEnv(vec))
    try:  # n_steps 32 x n_envs per rollout, 4 minibatches, as ppo-pg below
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32 * n_envs // 4, n_epochs=4, learning_rate=5e-4,
                    ent_coef=0.01, policy_kwargs={"net_arch": [64, 64]}, seed=0, device="cpu", verbose=0)

        def learn() -> int:
            start = model.num_timesteps
            model.learn(steps, reset_num_timesteps=False)
            return model.num_timesteps - start

        return _timed(lambda: model.learn(32 * n_envs), learn)
    finally:
        venv.close()


def ppo_pg(vec, steps: int, **hyper) -> float:
    from nets.ppo import PPO

    learner = PPO(vec, hidden=(64, 64), n_epochs=4, n_minibatches=4, lr=5e-4, ent_coef=0.01, seed=0, device="cpu",
                  **hyper)
    try:
        def learn() -> int:
            start = learner.num_timesteps
            learner.learn(steps)
            return learner.num_timesteps - start

        return _timed(lambda: learner.learn(1), learn)
    finally:
        vec.close()


def ppo_pg_batched(level: str, steps: int, n_envs: int) -> float | str:
    from experiments.train import native_vector

    if not native_vector("stealth"):
        return "no natively batched stealth env registered"
    return ppo_pg(_batched(level, n_envs), steps, n_steps=32)


def ppo_pg_sync(level: str, steps: int) -> float:
    import gymnasium as gym

    from experiments.train import make_env, resolve_config

    cfg = resolve_config("stealth", "ppo-pg")
    kwargs = {**cfg["env_kwargs"], "level": level}
    vec = gym.vector.SyncVectorEnv([lambda: make_env("stealth", kwargs, shaping=True,
                                                     exploring_starts=cfg["exploring_starts"])] * 16)
    return ppo_pg(vec, steps, n_steps=64)


def learning(levels: list[str], budget: int, tmp: Path) -> list[dict]:
    from experiments.train import train_run

    rows = []
    for level in levels:
        for algo in ("ppo", "ppo-pg"):
            res = train_run("stealth", algo, steps=budget, env_kwargs={"level": level}, eval_every=budget,
                            eval_episodes=20, seed=0, progress=False, out=tmp / f"{level}-{algo}", device="cpu")
            last = res.curve[-1]
            rows.append({"level": level, "algo": algo, "steps": int(last["steps"]),
                         "success": float(last["eval_success"]), "return": round(float(last["eval_return"]), 3),
                         "steps_per_second": round(res.steps_per_second, 1)})
            print(f"  learn {level:12s} {algo:7s} success {last['eval_success']:.2f}  return {last['eval_return']:.3f}"
                  f"  {res.steps_per_second:,.0f} steps/s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    import torch

    from nets.device import set_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", default="tutorial", help="the level of the throughput rows")
    parser.add_argument("--steps", type=int, default=65_536, help="timed env steps per throughput row")
    parser.add_argument("--envs", type=int, default=256, help="envs of the batched rows")
    parser.add_argument("--learn", default="tutorial,sentry_hall,crossing", help="levels of the learning rows")
    parser.add_argument("--budget", type=int, default=0,
                        help="env steps per learning run, which takes minutes (default 0: skip; 300000 was used "
                             "for the figures in docs/benchmarks.md)")
    args = parser.parse_args(argv)
    set_threads()
    threads = torch.get_num_threads()
    load_start = os.getloadavg()

    rows: list[dict] = []

    def row(name: str, sps) -> None:
        rows.append({"learner": name, "steps_per_second": round(sps, 1) if isinstance(sps, float) else None,
                     **({} if isinstance(sps, float) else {"skipped": sps})})
        shown = f"{sps:10,.0f} steps/s" if isinstance(sps, float) else f"skipped: {sps}"
        print(f"  {name:32s} {shown}", flush=True)

    row("sb3 ppo, 8 subprocess envs", sb3_subproc(args.level, args.steps))
    row(f"sb3 ppo, batched env ({args.envs})", sb3_batched(args.level, args.steps, args.envs))
    row(f"ppo-pg, batched env ({args.envs})", ppo_pg_batched(args.level, args.steps, args.envs))
    row("ppo-pg, sync envs (16)", ppo_pg_sync(args.level, args.steps))
    ref = rows[0]["steps_per_second"]
    for r in rows:
        r["vs_sb3_subproc"] = round(r["steps_per_second"] / ref, 2) if r["steps_per_second"] else None

    learned: list[dict] = []
    levels = [lv for lv in args.learn.split(",") if lv]
    if args.budget > 0 and levels:
        with tempfile.TemporaryDirectory() as tmp:
            learned = learning(levels, args.budget, Path(tmp))
    load_end = os.getloadavg()

    print()
    print(f"Throughput on {args.level} ({args.steps:,} timed steps per row, CPU, {threads} torch thread(s); "
          f"load average {load_start[0]:.2f} -> {load_end[0]:.2f}):")
    print()
    print("| learner | env steps/s | x SB3 PPO (8 subprocess envs) |")
    print("|---|---|---|")
    for r in rows:
        if r["steps_per_second"] is None:
            print(f"| {r['learner']} | skipped: {r['skipped']} | |")
        else:
            print(f"| {r['learner']} | {r['steps_per_second']:,.0f} | {r['vs_sb3_subproc']:.2f} |")
    if learned:
        print()
        print(f"Final success from the real start (20 held-out seeds) after {args.budget:,} steps:")
        print()
        print("| level | sb3 ppo | ppo-pg |")
        print("|---|---|---|")
        for level in levels:
            got = {r["algo"]: r for r in learned if r["level"] == level}
            print(f"| {level} | {got['ppo']['success']:.2f} | {got['ppo-pg']['success']:.2f} |")
    print(json.dumps({"bench": "ppo", "level": args.level, "steps": args.steps, "envs": args.envs,
                      "load_average": [round(load_start[0], 2), round(load_end[0], 2)], "torch_threads": threads,
                      "throughput": rows,
                      "budget": args.budget, "learning": learned,
                      "numpy": np.__version__, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
