"""Train the learned director: PPO (stable-baselines3) in ``sandbox/Director-v0``, through the one pipeline.

    sandbox train director [--steps 120000] [--seed 0] [--out runs/director]

is the same run as :func:`train_director`. The meta env samples a new simulated player (skill, slope,
learning rate, skill jumps) per meta episode, so the policy learns to keep a whole population in the flow
channel. Its settings are the ``[director.ppo]`` table of ``train_configs.toml``; the run folder is an
ordinary one (metrics, TensorBoard, checkpoints, ``--resume``), and the policy is
``OUT/checkpoints/final.zip`` (a 64x64 MLP, written atomically).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_OUT = os.path.join("runs", "director")


def policy_path(out: str | os.PathLike) -> str:
    """The director policy a run folder ``out`` ends with."""
    return os.path.join(out, "checkpoints", "final.zip")


@dataclass
class TrainConfig:
    steps: int = 120_000  # PPO environment steps (meta-steps = inner episodes)
    seed: int = 0  # seed of PPO and of the meta envs
    n_envs: int = 4  # parallel meta envs
    out: str = DEFAULT_OUT  # the run folder (the policy is OUT/checkpoints/final.zip)


def train_director(cfg: TrainConfig, verbose: bool = True, force: bool = False):
    """Train the director policy into the run folder ``cfg.out``; returns the SB3 model."""
    from agents.sb3_agent import load_sb3
    from experiments.train.trainers import train_run

    result = train_run("director", "ppo", steps=cfg.steps, n_envs=cfg.n_envs, seed=cfg.seed, out=cfg.out,
                       device="cpu", subproc=False, progress=verbose, force=force)
    return load_sb3(result.model_path, device="cpu")
