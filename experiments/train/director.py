"""Train the learned director: PPO (stable-baselines3) in ``sandbox/Director-v0``.

    python -m experiments.train.director [--steps 120000] [--seed 0] [--out runs/director/policy.zip]

The meta env samples a new simulated player (skill, slope, learning rate, skill jumps) per meta
episode, so the policy learns to keep a whole population in the flow channel. The zip is small
(a 64x64 MLP) and is written atomically.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

from envs.fileio import atomic_save

DEFAULT_OUT = os.path.join("runs", "director", "policy.zip")


@dataclass
class TrainConfig:
    steps: int = 120_000  # PPO environment steps (meta-steps = inner episodes)
    seed: int = 0  # seed of PPO and of the meta envs
    n_envs: int = 4  # parallel meta envs (DummyVecEnv)
    out: str = DEFAULT_OUT  # where the SB3 zip goes


def train_director(cfg: TrainConfig, verbose: bool = True):
    """Train and save the director policy; returns the SB3 model."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    import envs  # noqa: F401  (registers sandbox/Director-v0)
    from nets.device import resolve_device, set_threads

    set_threads()
    import gymnasium as gym

    vec = DummyVecEnv([lambda: Monitor(gym.make("sandbox/Director-v0")) for _ in range(cfg.n_envs)])
    vec.seed(cfg.seed)
    model = PPO("MlpPolicy", vec, n_steps=512, batch_size=256, n_epochs=8, gamma=0.9, gae_lambda=0.9,
                learning_rate=1e-3, ent_coef=0.0, policy_kwargs={"net_arch": [64, 64]}, seed=cfg.seed,
                device=resolve_device("cpu"), verbose=0)
    t0 = time.time()
    model.learn(total_timesteps=cfg.steps)
    if verbose:
        print(f"trained the director for {cfg.steps} meta-steps in {time.time() - t0:.0f} s")
    atomic_save(cfg.out, model.save, suffix=".zip")
    return model


def main(argv: list[str] | None = None) -> int:
    from experiments.cli.args import add_config_args, config_from_args

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(p, TrainConfig)
    args = config_from_args(TrainConfig, p.parse_args(argv))
    train_director(args)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
