"""Training throughput of `sandbox train`: env steps per second for each algorithm on each env, on CPU, next
to SB3 PPO on CartPole-v1 measured in the same run (the outside reference; ratios hold on a noisy
machine, absolute numbers do not).

Every row is a real `train_run` with the defaults of ``experiments/train/train_configs.toml`` (vector envs,
subprocesses where the config asks for several envs), timed from the first step to the last, without
evaluation. Prints a table, then one JSON line.

    python -m experiments.bench.train [--steps 16384] [--algos ppo,a2c,...] [--envs stealth,duel]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from experiments.train import ALGOS, train_run

REFERENCE = ("CartPole-v1", "ppo")


def measure(env: str, algo: str, steps: int, tmp: Path) -> float:
    env_kwargs = {"flat_actions": True} if (env == "duel" and algo == "dqn") else None
    res = train_run(env, algo, steps=steps, eval_every=10 * steps, eval_episodes=1, seed=0, progress=False,
                    out=tmp / f"{env}-{algo}", env_kwargs=env_kwargs, device="cpu")
    return res.steps_per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--envs", default="stealth,duel")
    args = parser.parse_args(argv)
    algos = [a for a in args.algos.split(",") if a]
    envs = [e for e in args.envs.split(",") if e]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ref = measure(*REFERENCE, args.steps, Path(tmp))
        print(f"reference: SB3 PPO on CartPole-v1, {ref:,.0f} env steps/s", flush=True)
        for env in envs:
            for algo in algos:
                sps = measure(env, algo, args.steps, Path(tmp))
                rows.append({"env": env, "algo": algo, "steps_per_second": round(sps, 1),
                             "vs_cartpole_ppo": round(sps / ref, 3)})
                print(f"  {env:8s} {algo:10s} {sps:9,.0f} steps/s  {sps / ref:6.2f}x CartPole PPO", flush=True)
    print()
    print(f"| env | algo | env steps/s | × SB3 PPO on CartPole ({ref:,.0f}/s) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['env']} | {r['algo']} | {r['steps_per_second']:,.0f} | {r['vs_cartpole_ppo']:.2f} |")
    print(json.dumps({"bench": "train", "steps": args.steps, "cartpole_ppo_steps_per_second": round(ref, 1),
                      "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
