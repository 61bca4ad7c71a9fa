"""Training throughput of our policy-gradient learners against stable-baselines3 on CartPole-v1.

Same run, same machine, same settings where they overlap: 8 CartPole-v1 envs stepped in-process
(a Gymnasium ``SyncVectorEnv`` for ours, SB3's ``DummyVecEnv`` for SB3), separate 64-64 tanh MLPs for
policy and value, RMSprop, n_steps 5 (A2C). Rows:

* ``ours A2C`` (``nets.policy_gradient.A2C``) against the outside reference ``SB3 A2C`` (same
  algorithm and sizes);
* ``ours REINFORCE`` (with a baseline; one update per 8 finished episodes);
* ``SB3 PPO`` (SB3 defaults but ``n_steps=256`` per env, 10 epochs of minibatch 64): the yardstick the
  issue asks every algorithm's throughput to be reported next to.

Each learner trains for ``--steps`` env steps, ``--reps`` times, interleaved so that load from other
processes hits all rows alike; the table shows the best env steps per second and the mean return of
the last 50 training episodes of that round. Torch uses ``--threads`` threads.

Usage: ``python -m experiments.bench.pg [--steps 20000] [--reps 2] [--threads 1]``.
Prints a table, then one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np

ENV_ID = "CartPole-v1"
N_ENVS = 8


def ours(cls_name: str, steps: int, seed: int) -> tuple[float, float]:
    from nets import policy_gradient as pg

    vec = gym.vector.SyncVectorEnv([lambda: gym.make(ENV_ID) for _ in range(N_ENVS)])
    kw = {"n_steps": 5, "lr": 7e-4, "ent_coef": 0.0, "gae_lambda": 1.0} if cls_name == "A2C" else {"lr": 1e-3}
    learner = getattr(pg, cls_name)(vec, seed=seed, device="cpu", optimizer="rmsprop", **kw)
    returns: list[float] = []
    start = time.perf_counter()
    learner.learn(steps, callback=lambda info: returns.extend(info["episode_returns"]))
    seconds = time.perf_counter() - start
    vec.close()
    return learner.num_timesteps / seconds, float(np.mean(returns[-50:])) if returns else float("nan")


def sb3(algo: str, steps: int, seed: int) -> tuple[float, float]:
    import stable_baselines3 as sb
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    kw = {"n_steps": 5} if algo == "A2C" else {"n_steps": 256, "batch_size": 64}
    model = getattr(sb, algo)("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **kw)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - start
    returns = [ep["r"] for ep in list(model.ep_info_buffer)[-50:]]
    vec.close()
    return model.num_timesteps / seconds, float(np.mean(returns)) if returns else float("nan")


ROWS = {
    "ours A2C": lambda steps, seed: ours("A2C", steps, seed),
    "SB3 A2C": lambda steps, seed: sb3("A2C", steps, seed),
    "ours REINFORCE": lambda steps, seed: ours("Reinforce", steps, seed),
    "SB3 PPO": lambda steps, seed: sb3("PPO", steps, seed),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per learner and round")
    parser.add_argument("--reps", type=int, default=2, help="interleaved rounds; the best is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    from nets.device import set_threads

    set_threads(args.threads)

    best: dict[str, tuple[float, float]] = {}
    for rep in range(args.reps):
        for name, run in ROWS.items():
            sps, ret = run(args.steps, rep)
            if name not in best or sps > best[name][0]:
                best[name] = (sps, ret)

    print(f"{ENV_ID}, {N_ENVS} envs in-process, {args.steps:,} steps per run, best of {args.reps}, "
          f"{args.threads} torch thread(s), CPU")
    print("| learner | env steps/s | mean return, last 50 episodes |")
    print("|---|---|---|")
    for name, (sps, ret) in best.items():
        print(f"| {name} | {sps:,.0f} | {ret:.1f} |")
    figures = {
        "env": ENV_ID,
        "n_envs": N_ENVS,
        "steps": args.steps,
        "threads": args.threads,
        **{name.lower().replace(" ", "_") + "_sps": round(v[0], 1) for name, v in best.items()},
        "ours_a2c_over_sb3_a2c": round(best["ours A2C"][0] / best["SB3 A2C"][0], 3),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
