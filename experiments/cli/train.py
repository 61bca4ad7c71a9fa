"""``sandbox train ENV --algo ...``: the verb; the work is in :mod:`experiments.train`."""

from __future__ import annotations

import argparse
from typing import Any

from experiments.train.config import ALGOS, ENV_IDS, env_kind, parse_set


def _env_options(args) -> dict:
    kind = env_kind(args.env)
    kwargs: dict[str, Any] = {}
    stealth_only = {"level": args.level, "obs_mode": args.obs_mode}
    duel_only = {"opponent": args.opponent, "flat_actions": True if args.flat_actions else None}
    for name, value in stealth_only.items():
        if value is not None:
            if kind != "stealth":
                raise ValueError(f"--{name.replace('_', '-')} is a stealth option, not one of {args.env}")
            kwargs[name] = value
    for name, value in duel_only.items():
        if value is not None:
            if kind != "duel":
                raise ValueError(f"--{name.replace('_', '-')} is a duel option, not one of {args.env}")
            kwargs[name] = value
    if args.difficulty is not None:
        if kind not in ENV_IDS:
            raise ValueError(f"--difficulty is a stealth/duel option, not one of {args.env}")
        kwargs["difficulty"] = args.difficulty
    kwargs.update(parse_set(args.env_kwarg, "--env-kwarg"))
    return kwargs


def add_parser(subparsers) -> None:
    try:
        from experiments.train import ghost as train_ghost
    except ImportError:
        train_ghost = None

    p = subparsers.add_parser(
        "train", help="train an agent headless (PPO/A2C/DQN via SB3, or our REINFORCE/A2C/PPO), or a ghost",
        description="Train headless into a run folder. ENV: stealth, duel, ghost (behaviour cloning from demos) "
                    "or any Gymnasium id. Defaults per env and algorithm: experiments/train/train_configs.toml.")
    p.add_argument("env", metavar="ENV", help="stealth, duel, ghost, or a Gymnasium id such as CartPole-v1")
    p.add_argument("--algo", choices=ALGOS, default="ppo", help="learning algorithm (default ppo)")
    p.add_argument("--steps", type=int, default=None, help="total env steps (default: from the config)")
    p.add_argument("--envs", type=int, default=None, dest="n_envs", help="parallel envs (subprocesses when > 1)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/ENV-ALGO-TIMESTAMP)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/latest")
    p.add_argument("--force", action="store_true",
                   help="write into an --out this command did not create (files of the same name are replaced)")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate and checkpoint every N steps")
    p.add_argument("--eval-episodes", type=int, default=None, help="held-out episodes per evaluation")
    p.add_argument("--level", default=None, help="stealth: level name or file (default tutorial)")
    p.add_argument("--obs-mode", default=None, choices=("grid", "vector", "local"), help="stealth observation")
    p.add_argument("--nav-features", action="store_true", default=None,
                   help="stealth: add the navigation AI's threat/hiding/danger channels")
    p.add_argument("--shaping", action=argparse.BooleanOptionalAction, default=None,
                   help="stealth: potential-based shaping toward the goal while training (evaluation never "
                        "shapes); default from the config")
    p.add_argument("--exploring-starts", type=float, default=None, metavar="P",
                   help="stealth: start a training episode at a random safe cell and phase with probability P "
                        "(evaluation always starts at the level's start); default from the config")
    p.add_argument("--opponent", default=None, help="duel: opponent agent spec (default scripted:normal)")
    p.add_argument("--flat-actions", action="store_true", help="duel: Discrete(36) actions (needed by dqn)")
    p.add_argument("--difficulty", type=float, default=None, help="stealth/duel difficulty in [0, 1]")
    p.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="any other env keyword (repeatable)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="hyper",
                   help="override one hyper-parameter of the config (repeatable), e.g. --set learning_rate=1e-3")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    if train_ghost is not None:
        train_ghost.add_arguments(p.add_argument_group("ghost (sandbox train ghost --demos DIR)"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from experiments.train import train_run

    if args.env == "ghost":
        from experiments.train import ghost as train_ghost

        return train_ghost.run(args)
    train_run(args.env, args.algo, steps=args.steps, n_envs=args.n_envs, device=args.device, seed=args.seed,
              out=args.out, env_kwargs=_env_options(args), nav_features=args.nav_features, shaping=args.shaping,
              exploring_starts=args.exploring_starts,
              eval_every=args.eval_every, eval_episodes=args.eval_episodes, resume=args.resume,
              progress=not args.quiet, hyper=parse_set(args.hyper), force=args.force)
    return 0
