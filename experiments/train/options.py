"""The options of ``sandbox train`` and ``sandbox tune``, typed and written once.

Each group is a dataclass, one line per field with its help as the comment; the CLI verbs build their
parsers from them (:func:`experiments.options.add_config_args`), so ``train`` and ``tune`` take the same env
and run options under the same names, whatever the backend. A field left at ``None`` takes the default of
the merged configuration (:func:`experiments.train.trainers.resolve_run`): the learner's signature, then the
``train_configs.toml`` tables, then a ``--config`` file. ``--show-config`` prints the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from experiments.train.config import ENV_IDS, env_kind, parse_set

APPEND = {"argparse": {"action": "append", "metavar": "KEY=VALUE"}}


@dataclass
class EnvOptions:
    """The env a run trains on (both verbs)."""

    level: str | None = None  # stealth: level name or file (default tutorial)
    obs_mode: str | None = field(default=None, metadata={"argparse": {"choices": ("grid", "vector", "local")}})  # stealth observation
    nav_features: str | None = field(default=None, metadata={"argparse": {"nargs": "?", "const": "all", "metavar": "NAMES"}})  # stealth: add the navigation AI's channels: all of them, or the comma-separated NAMES
    shaping: bool | None = None  # stealth: potential-based shaping toward the goal while training (evaluation never shapes); default from the config
    exploring_starts: float | None = field(default=None, metadata={"argparse": {"metavar": "P"}})  # stealth: start a training episode at a random safe cell and phase with probability P; default from the config
    opponent: str | None = None  # duel: opponent agent spec (default scripted:normal)
    flat_actions: bool = False  # duel: Discrete(36) actions (needed by dqn)
    difficulty: float | None = None  # stealth/duel difficulty in [0, 1]
    env_kwarg: list[str] | None = field(default=None, metadata=APPEND)  # any other env keyword (repeatable)


@dataclass
class RunOptions:
    """How long, where and into which folder (both verbs)."""

    algo: str = "ppo"  # learning algorithm
    steps: int | None = None  # total env steps (default: from the config)
    n_envs: int | None = field(default=None, metadata={"argparse": {"option": "--envs", "metavar": "N"}})  # parallel envs (native: one batched env or subprocesses; rllib: envs per env runner)
    eval_every: int | None = None  # evaluate and checkpoint every N steps
    eval_episodes: int | None = None  # held-out episodes per evaluation
    seed: int = 0  # the learner's and the envs' seed
    device: str = "auto"  # auto (CUDA when present), cpu, cuda, cuda:N; for --backend rllib, the learner's GPU count
    out: str | None = None  # run folder (default runs/ENV-ALGO-TIMESTAMP)
    force: bool = False  # write into an --out this command did not create (files of the same name are replaced)
    hyper: list[str] | None = field(default=None, metadata={"argparse": {"option": "--set", "action": "append", "metavar": "KEY=VALUE"}})  # override one setting (repeatable): a hyper-parameter (--set lr=1e-3) or a part's (--set league.gate=0.8); VALUE is TOML
    quiet: bool = False  # no progress bar or progress lines (the last line, the agent spec of what was trained, stays)


@dataclass
class RayOptions:
    """Where RLlib runs (``--backend rllib``; needs pip install -e '.[ray]')."""

    backend: str = field(default="native", metadata={"argparse": {"choices": ("native", "rllib")}})  # native (SB3 / our learners, this process) or rllib (RLlib PPO, new API stack)
    address: str | None = None  # join a Ray cluster: auto or HOST:PORT of its head; default: a local Ray on this machine's cores
    workers: int | None = None  # RLlib env runners, one CPU each (0: sample in the driver); default from the config


def env_help() -> dict[str, str]:
    """Help texts made from the code's own lists (so they cannot fall behind it)."""
    from envs.stealth.features import NAV_FEATURES

    return {"nav_features": "stealth: add the navigation AI's channels: all of them, or the comma-separated NAMES "
                            f"({', '.join(NAV_FEATURES)})"}


def env_kwargs_of(env: str, opts: Any) -> dict:
    """The env keywords the options give (one-line errors for an option the env does not have)."""
    kind = env_kind(env)
    kwargs: dict[str, Any] = {}
    stealth_only = {"level": opts.level, "obs_mode": opts.obs_mode}
    duel_only = {"opponent": opts.opponent, "flat_actions": True if opts.flat_actions else None}
    for name, value in stealth_only.items():
        if value is not None:
            if kind != "stealth":
                raise ValueError(f"--{name.replace('_', '-')} is a stealth option, not one of {env}")
            kwargs[name] = value
    for name, value in duel_only.items():
        if value is not None:
            if kind != "duel":
                raise ValueError(f"--{name.replace('_', '-')} is a duel option, not one of {env}")
            kwargs[name] = value
    if opts.difficulty is not None:
        if kind not in ENV_IDS:
            raise ValueError(f"--difficulty is a stealth/duel option, not one of {env}")
        kwargs["difficulty"] = opts.difficulty
    kwargs.update(parse_set(opts.env_kwarg, "--env-kwarg"))
    return kwargs
