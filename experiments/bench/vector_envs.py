"""Batched env throughput: env steps per second of the natively batched envs at several batch sizes,
side by side with single CartPole-v1 and with Gymnasium's SyncVectorEnv and AsyncVectorEnv over the same
single env, in one run.

Every row is measured in interleaved slices (round-robin, ``--slice`` seconds each), because this
machine is shared and noisy: a change of load hits every row alike, so the ratios hold where absolute
times do not. The load average is printed beside the figures. Prints a table, then one JSON line.

Per row: steps/s (env steps, summed over the batch), the ratio to single CartPole-v1, the time per env
step, the bytes of observation written per env step, and the memory a batched env holds: its level tables
(shared by all its envs: the whole pool of generated levels once it is loaded, packed tables plus the
compiled levels) and, per env, its state and observation buffer. The variant rows at the largest size
take one cost away at a time (the copy of the observations, 3/4 of their bytes, all but 24 of their
bytes, the cache misses of 4096 different levels), so the table shows what bounds a step.

Run: ``python -m experiments.bench.vector_envs [--seconds 4] [--sizes 1,64,1024,4096] [--plot PATH.png]``
(``--plot`` draws steps/s against N for each batched env, beside CartPole and Sync/AsyncVectorEnv).

A batched env is one :class:`VectorBench` in ``VECTOR_BENCHES``: its rows are its sizes and variants.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np


@dataclass
class Config:
    seconds: float = 4.0  # stepping time per row, spread over the run in slices
    slice: float = 0.2  # seconds per slice of the round-robin
    sizes: tuple[int, ...] = (1, 64, 1024, 4096)  # batch sizes of each natively batched env
    sync_envs: int = 64  # SyncVectorEnv size (in-process, one Python step per env)
    async_envs: int = 8  # AsyncVectorEnv size (one process per env, as SB3's SubprocVecEnv today)
    seed: int = 0


@dataclass
class VectorBench:
    """A natively batched env to measure: ``make(n, **variant_kwargs)`` builds it with ``n`` envs;
    ``single()`` the single env it batches (for the Sync/Async rows); ``variants``: extra rows at the
    largest size, ``(label, kwargs)``."""

    name: str
    make: Callable[..., gym.vector.VectorEnv]
    single: Callable[[], gym.Env]
    variants: list[tuple[str, dict]] = field(default_factory=list)
    warm: Callable[[gym.vector.VectorEnv], None] | None = None  # e.g. preload level pools before timing


# stealth as the target: 4096 generated levels (difficulty 0.3, 12x12), the 9x9 local view
STEALTH_KWARGS = {"level": "random", "obs_mode": "local", "local_size": 9, "difficulty": 0.3, "size": 12}

VECTOR_BENCHES: list[VectorBench] = [
    VectorBench(
        name="stealth",
        make=lambda n, **kw: gym.make_vec("sandbox/Stealth-v0", num_envs=n, **{**STEALTH_KWARGS, **kw}),
        single=lambda: gym.make("sandbox/Stealth-v0", **STEALTH_KWARGS),
        variants=[  # what bounds a step: the copy, the bytes of observation, the level tables
            ("copy=False", {"copy": False}),
            ("uint8, copy=False", {"copy": False, "obs_dtype": "uint8"}),
            ("1x1 view, copy=False", {"copy": False, "local_size": 1}),
            ("one level (tutorial), copy=False", {"copy": False, "level": "tutorial"}),
            ("nav_features", {"nav_features": True}),
        ],
        warm=lambda vec: vec.unwrapped.preload_pools(),
    ),
    VectorBench(  # the batched duel against the scripted fighter, the target row
        name="duel",
        make=lambda n, **kw: gym.make_vec("sandbox/Duel-v0", num_envs=n, opponent="scripted:normal", **kw),
        single=lambda: gym.make("sandbox/Duel-v0", opponent="scripted:normal"),
        variants=[("copy=False", {"copy": False})],
    ),
]


class Stepper:
    """Steps an env (single or vector) with seeded random actions and counts env steps and seconds."""

    def __init__(self, env, seed: int, batch: int | None):
        self.env, self.batch = env, batch
        self.env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        space = env.single_action_space if batch else env.action_space
        high = np.asarray(space.nvec if hasattr(space, "nvec") else space.n)  # Discrete or MultiDiscrete
        if batch:  # a bank of action arrays, cycled (drawing them is not the env's time)
            self.actions = [rng.integers(0, high, size=(batch, *high.shape)) for _ in range(16)]
        else:
            self.actions = [rng.integers(0, high) for _ in range(64)]
        self.steps, self.seconds = 0, 0.0

    def run(self, seconds: float) -> None:
        env, actions, batch = self.env, self.actions, self.batch
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            if batch:
                for a in actions:
                    env.step(a)
                self.steps += batch * len(actions)
            else:
                for a in actions:
                    _, _, terminated, truncated, _ = env.step(a)
                    if terminated or truncated:
                        env.reset()
                self.steps += len(actions)
            now = time.perf_counter()
            if now >= deadline:
                break
        self.seconds += now - start

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")


@dataclass
class Row:
    label: str
    envs: int
    stepper: Stepper
    obs_bytes: int = 0  # observation bytes written per env step
    tables_bytes: float = float("nan")  # level tables of the batched env (shared by its envs)
    memory_per_env: float = float("nan")  # state + observation buffer bytes per env


def obs_bytes(space) -> int:
    return int(np.prod(space.shape)) * np.dtype(space.dtype).itemsize


def build_rows(cfg: Config) -> list[Row]:
    rows = [Row("CartPole-v1 (single)", 1, Stepper(gym.make("CartPole-v1"), cfg.seed, None), obs_bytes(
        gym.make("CartPole-v1").observation_space))]
    for bench in VECTOR_BENCHES:
        single = bench.single()
        one = obs_bytes(single.observation_space)
        rows.append(Row(f"{bench.name}: gym.make (single)", 1, Stepper(single, cfg.seed, None), one))
        for n in cfg.sizes:
            rows.append(native_row(bench, f"{bench.name}: make_vec N={n}", n, {}, cfg))
        for label, kwargs in bench.variants:
            n = max(cfg.sizes)
            rows.append(native_row(bench, f"{bench.name}: make_vec N={n} {label}", n, kwargs, cfg))
        sync = gym.vector.SyncVectorEnv([bench.single for _ in range(cfg.sync_envs)])
        rows.append(Row(f"{bench.name}: SyncVectorEnv N={cfg.sync_envs}", cfg.sync_envs,
                        Stepper(sync, cfg.seed, cfg.sync_envs), one))
        asyn = gym.vector.AsyncVectorEnv([bench.single for _ in range(cfg.async_envs)])
        rows.append(Row(f"{bench.name}: AsyncVectorEnv N={cfg.async_envs}", cfg.async_envs,
                        Stepper(asyn, cfg.seed, cfg.async_envs), one))
    return rows


def native_row(bench: VectorBench, label: str, n: int, kwargs: dict, cfg: Config) -> Row:
    vec = bench.make(n, **kwargs)
    if bench.warm is not None:
        bench.warm(vec)
    stepper = Stepper(vec, cfg.seed, n)
    stepper.run(0.3)  # compile (numba) and settle; not counted
    stepper.steps, stepper.seconds = 0, 0.0
    memory = vec.unwrapped.memory_bytes() if hasattr(vec.unwrapped, "memory_bytes") else {}
    tables = memory.get("tables", float("nan")) + memory.get("levels", 0)
    per_env = (memory["state"] + memory["obs"]) / n if memory else float("nan")
    return Row(label, n, stepper, obs_bytes(vec.single_observation_space), tables, per_env)


def main(argv: list[str] | None = None) -> dict:
    c = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=c.seconds, help=f"stepping time per row ({c.seconds})")
    parser.add_argument("--sizes", default=",".join(map(str, c.sizes)), help="batch sizes, comma-separated")
    parser.add_argument("--seed", type=int, default=c.seed, help="seed of every env and action stream")
    parser.add_argument("--plot", default=None, help="write a PNG of steps/s against N here (atomically)")
    args = parser.parse_args(argv)
    cfg = Config(seconds=args.seconds, sizes=tuple(int(s) for s in args.sizes.split(",")), seed=args.seed)
    import envs  # noqa: F401  (registers sandbox/* ids and their vector entry points)

    load_before = os.getloadavg()
    rows = build_rows(cfg)
    for _ in range(max(1, round(cfg.seconds / cfg.slice))):  # interleaved: load changes hit every row
        for row in rows:
            row.stepper.run(cfg.slice)
    load_after = os.getloadavg()
    for row in rows:
        row.stepper.env.close()

    # ---- report
    cartpole = rows[0].stepper.rate
    print(f"{'env':<58}{'steps/s':>13}{'x CartPole':>12}{'ns/env-step':>13}{'obs B':>8}{'tables MB':>11}"
          f"{'B/env':>8}")
    figures: dict = {"load_avg_1_5_15": {"before": [round(x, 2) for x in load_before],
                                         "after": [round(x, 2) for x in load_after]},
                     "cpus": os.cpu_count(), "rows": {}}
    for row in rows:
        rate = row.stepper.rate
        mem = f"{row.memory_per_env:,.0f}" if np.isfinite(row.memory_per_env) else "-"
        tables = f"{row.tables_bytes / 2**20:,.1f}" if np.isfinite(row.tables_bytes) else "-"
        print(f"{row.label:<58}{rate:>13,.0f}{rate / cartpole:>12.2f}{1e9 / rate:>13,.0f}{row.obs_bytes:>8}"
              f"{tables:>11}{mem:>8}")
        figures["rows"][row.label] = {
            "envs": row.envs, "steps_per_s": round(rate, 1), "x_cartpole": round(rate / cartpole, 3),
            "ns_per_env_step": round(1e9 / rate, 1), "obs_bytes_per_step": row.obs_bytes,
            "tables_bytes": None if not np.isfinite(row.tables_bytes) else round(row.tables_bytes),
            "state_obs_bytes_per_env": None if not np.isfinite(row.memory_per_env) else round(row.memory_per_env),
        }
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; {os.cpu_count()} CPUs")
    for bench in VECTOR_BENCHES:
        key = f"{bench.name}: make_vec N={max(cfg.sizes)}"
        if key in figures["rows"]:
            figures[f"{bench.name}_x_cartpole"] = figures["rows"][key]["x_cartpole"]
    if args.plot:
        plot(figures, cfg, args.plot)
        print(f"plot: {args.plot}")
    print(json.dumps(figures))
    return figures


def plot(figures: dict, cfg: Config, path: str) -> None:
    """Steps/s against N (log-log) for each batched env's default rows, with the references as lines
    and points; the load average in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.fileio import atomic_save

    rows = figures["rows"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for bench in VECTOR_BENCHES:
        sizes = [n for n in cfg.sizes if f"{bench.name}: make_vec N={n}" in rows]
        ax.plot(sizes, [rows[f"{bench.name}: make_vec N={n}"]["steps_per_s"] for n in sizes], marker="o",
                label=f"{bench.name}: gym.make_vec (native)")
        for label, marker in ((f"{bench.name}: SyncVectorEnv N={cfg.sync_envs}", "s"),
                              (f"{bench.name}: AsyncVectorEnv N={cfg.async_envs}", "^")):
            if label in rows:
                ax.plot([rows[label]["envs"]], [rows[label]["steps_per_s"]], marker=marker, linestyle="",
                        label=label)
    cartpole = rows["CartPole-v1 (single)"]["steps_per_s"]
    ax.axhline(cartpole, color="gray", linestyle="--", label="CartPole-v1 (single)")
    ax.axhline(7.5 * cartpole, color="gray", linestyle=":", label="7.5x CartPole (target)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("envs in the batch (N)")
    ax.set_ylabel("env steps per second")
    load = figures["load_avg_1_5_15"]["before"][0]
    ax.set_title(f"batched envs on {figures['cpus']} CPUs (load average {load:.1f})", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
