"""Inference that does not stall: one agent acting in one env, quiet and on a busy machine, and the batched
harness's throughput.

1. ``make_agent("bundled:duel-ppo")`` plays ``sandbox/Duel-v0`` against the same agent (``opponent=`` the
   object ``make_agent`` returned), both sampling, one decision per step: env steps per second. Three forms of
   the agent's forward pass, in interleaved 0.25-s slices (so the machine's load weighs on each alike):

   * ``numpy``: what ``predict`` does for a few rows of an MLP policy (:class:`nets.policy_gradient.NumpyPolicy`);
   * ``torch, 1 thread``: the torch forward pass on one intra-op thread, what :func:`nets.device.inference`
     gives an agent's forward pass;
   * ``torch, threads set to cores``: the torch forward pass after ``torch.set_num_threads(cores)`` and
     without the one-thread policy: the state of a process that set torch's count (even to its default),
     e.g. by restoring it after a ``with threads(1):`` block, before :func:`nets.device.inference` existed.

   Each is measured quiet, then while two other processes keep both cores busy (two ``python -c "while
   True: pass"``, started by this benchmark and killed after).
2. What switching torch's thread count costs (``torch.set_num_threads`` to 1 and back), per forward pass.
3. ``sandbox eval duel``'s batched harness: 200 rounds of ``bundled:duel-ppo`` against ``scripted:hard``
   (:func:`agents.harness.play_duel`), rounds and decisions per second.

Prints a table, then one JSON line with the load average before and after. Run:
``python -m experiments.bench.inference [--seconds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Config:
    seconds: float = 3.0  # stepping time per form and condition, in 0.25-s slices
    rounds: int = 200  # harness rounds
    busy: int = 2  # processes that keep the cores busy in the contended rows


FORMS = ("numpy", "torch, 1 thread", "torch, threads set to cores")


@contextmanager
def form(name: str):
    """Run the learner's ``predict`` in one of :data:`FORMS` inside the block."""
    import torch

    import nets.device as device
    import nets.on_policy as pg

    saved = pg.NUMPY_ROWS, device.SMALL_BATCH, torch.get_num_threads()
    pg.NUMPY_ROWS = saved[0] if name == "numpy" else 0
    device.SMALL_BATCH = 0 if name == "torch, threads set to cores" else saved[1]
    torch.set_num_threads((os.cpu_count() or 1) if name == "torch, threads set to cores" else 1)
    try:
        yield
    finally:
        pg.NUMPY_ROWS, device.SMALL_BATCH = saved[:2]
        torch.set_num_threads(saved[2])


class Duel:
    """The agent against itself in the single duel env, stepped for a while at a time."""

    def __init__(self, seed: int):
        import gymnasium as gym

        import envs  # noqa: F401
        from agents import make_agent

        self.me = make_agent("bundled:duel-ppo", device="cpu")
        self.env = gym.make("sandbox/Duel-v0", opponent=make_agent("bundled:duel-ppo", device="cpu"))
        self.obs, _ = self.env.reset(seed=seed)
        self.steps, self.seconds = 0, 0.0

    def run(self, seconds: float) -> None:
        env, me, obs = self.env, self.me, self.obs
        start = time.perf_counter()
        deadline, n = start + seconds, 0
        while True:
            for _ in range(20):
                action, _ = me.predict(obs, deterministic=False)
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    obs, _ = env.reset()
            n += 20
            now = time.perf_counter()
            if now >= deadline:
                break
        self.obs = obs
        self.steps += n
        self.seconds += now - start


def rates(seconds: float) -> dict[str, float]:
    duels = {name: Duel(seed=k) for k, name in enumerate(FORMS)}
    for name, d in duels.items():  # warm up
        with form(name):
            d.run(0.1)
        d.steps, d.seconds = 0, 0.0
    for _ in range(max(1, round(seconds / 0.25))):
        for name, d in duels.items():
            with form(name):
                d.run(0.25)
    return {name: d.steps / d.seconds for name, d in duels.items()}


@contextmanager
def busy(n: int):
    """``n`` processes spinning on the CPU inside the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def switch_cost(n: int = 20_000) -> float:
    """Microseconds per ``set_num_threads(1)`` and back."""
    import torch

    before = torch.get_num_threads()
    other = 1 if before > 1 else 2
    start = time.perf_counter()
    for _ in range(n):
        torch.set_num_threads(other)
        torch.set_num_threads(before)
    return (time.perf_counter() - start) / n * 1e6


def harness(rounds: int) -> dict:
    from agents.harness import play_duel

    play_duel("bundled:duel-ppo", "scripted:hard", 2, round_seconds=1)  # warm up (kernels, loading)
    start = time.perf_counter()
    records = play_duel("bundled:duel-ppo", "scripted:hard", rounds, seed=0)
    seconds = time.perf_counter() - start
    decisions = sum(r.length for r in records)
    return {"rounds": rounds, "seconds": round(seconds, 2), "rounds_per_s": round(rounds / seconds, 1),
            "decisions_per_s": round(decisions / seconds), "wins": sum(r.winner == "agent" for r in records)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=Config.seconds, help="stepping time per form and condition")
    parser.add_argument("--rounds", type=int, default=Config.rounds, help="harness rounds")
    args = parser.parse_args(argv)
    import torch

    load_before = os.getloadavg()
    threads = torch.get_num_threads()  # torch's default, before any form sets it
    quiet = rates(args.seconds)
    with busy(Config.busy):
        contended = rates(args.seconds)
        load_busy = os.getloadavg()
    cost = switch_cost()
    h = harness(args.rounds)
    load_after = os.getloadavg()

    print(f"bundled:duel-ppo against itself in sandbox/Duel-v0 (single env, both sampling); torch {torch.__version__}, "
          f"torch's default threads {threads}, cores {os.cpu_count()}")
    print(f"{'forward pass':<32}{'quiet steps/s':>15}{f'{Config.busy} busy steps/s':>18}")
    for name in FORMS:
        print(f"{name:<32}{quiet[name]:>15.0f}{contended[name]:>18.0f}")
    print(f"torch.set_num_threads to 1 and back: {cost:.2f} us")
    print(f"batched harness (sandbox eval duel): {h['rounds']} rounds of bundled:duel-ppo vs scripted:hard in "
          f"{h['seconds']} s: {h['rounds_per_s']} rounds/s, {h['decisions_per_s']} decisions/s")
    print(f"load average (1 min): before {load_before[0]:.2f}, busy {load_busy[0]:.2f}, after {load_after[0]:.2f}")
    figures = {"steps_per_s_quiet": {k: round(v) for k, v in quiet.items()},
               "steps_per_s_busy": {k: round(v) for k, v in contended.items()}, "busy_processes": Config.busy,
               "set_num_threads_pair_us": round(cost, 3), "harness": h, "process_threads": threads,
               "load_avg_before": [round(x, 2) for x in load_before],
               "load_avg_busy": [round(x, 2) for x in load_busy],
               "load_avg_after": [round(x, 2) for x in load_after]}
    print(json.dumps(figures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
