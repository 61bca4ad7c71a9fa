"""RLlib throughput: PPO on RLlib's new API stack with 1 and 2 env runners, next to the sandbox's own PPO
(``ppo-pg``, when this install has it) and SB3 PPO (the outside reference) on the same env, in one run.

Every row is a real training run with the env's defaults from ``experiments/train/train_configs.toml``
(RLlib: ``[ENV.rllib-ppo]``, 4 envs per env runner, a local Ray with as many CPUs as env runners; SB3 and
ours: ``[ENV.ALGO]``), timed over training only (no evaluation inside the budget). RLlib's figure includes
its per-iteration overheads (weight sync, metrics) but not Ray's start-up. Prints a table, then one JSON line.

    python -m experiments.bench.rllib [--env stealth] [--steps 16384] [--runners 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from experiments.train import ALGOS, train_run


def native(env: str, algo: str, steps: int, tmp: Path) -> float:
    res = train_run(env, algo, steps=steps, eval_every=10 * steps, eval_episodes=1, seed=0, progress=False,
                    out=tmp / f"{env}-{algo}", device="cpu")
    return res.steps_per_second


def rllib(env: str, runners: int, steps: int, tmp: Path) -> float:
    import ray

    from experiments.train.rllib import train_rllib

    ray.init(address="local", num_cpus=max(2, runners), _node_ip_address="127.0.0.1", include_dashboard=False,
             log_to_driver=False, configure_logging=True, logging_level="ERROR")
    try:
        res = train_rllib(env, "ppo", out=tmp / f"{env}-rllib-{runners}", steps=steps, workers=runners,
                          eval_every=10 * steps, eval_episodes=1, seed=0, progress=False)
    finally:
        ray.shutdown()
    return res.steps_per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="stealth")
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--runners", default="1,2", help="RLlib env runner counts, comma-separated")
    args = parser.parse_args(argv)
    try:
        import ray.rllib  # noqa: F401
    except ImportError as exc:
        print(f"skipped: the ray extra is not installed ({exc}); pip install -e '.[ray]'")
        print(json.dumps({"bench": "rllib", "skipped": "ray not installed"}))
        return 0
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ref = native(args.env, "ppo", args.steps, Path(tmp))
        rows.append({"trainer": "SB3 PPO", "env_runners": 0, "steps_per_second": round(ref, 1)})
        print(f"  SB3 PPO             {ref:9,.0f} steps/s", flush=True)
        if "ppo-pg" in ALGOS:
            sps = native(args.env, "ppo-pg", args.steps, Path(tmp))
            rows.append({"trainer": "ppo-pg (ours)", "env_runners": 0, "steps_per_second": round(sps, 1)})
            print(f"  ppo-pg              {sps:9,.0f} steps/s", flush=True)
        for n in [int(x) for x in args.runners.split(",") if x]:
            t0 = time.time()
            sps = rllib(args.env, n, args.steps, Path(tmp))
            rows.append({"trainer": "RLlib PPO", "env_runners": n, "steps_per_second": round(sps, 1),
                         "wall_seconds_with_ray_start": round(time.time() - t0, 1)})
            print(f"  RLlib PPO x{n} runner {sps:9,.0f} steps/s", flush=True)
    for r in rows:
        r["vs_sb3_ppo"] = round(r["steps_per_second"] / ref, 3)
    print()
    print(f"{args.env}, {args.steps:,} env steps per row; load average before: "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| trainer | env runners | env steps/s | × SB3 PPO |")
    print("|---|---|---|---|")
    for r in rows:
        runners = r["env_runners"] or "- (in process)"
        print(f"| {r['trainer']} | {runners} | {r['steps_per_second']:,.0f} | {r['vs_sb3_ppo']:.2f} |")
    print(json.dumps({"bench": "rllib", "env": args.env, "steps": args.steps,
                      "load_average": [round(x, 2) for x in load], "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
