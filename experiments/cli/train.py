"""``sandbox train ENV --algo ...``: the verb; the work is in :mod:`experiments.train`."""

from __future__ import annotations

import argparse
from typing import Any

from experiments.train.config import ALGOS, BACKENDS, ENV_IDS, env_kind, load_config_file, parse_set

RLLIB_ONLY = ("address", "workers", "envs_per_worker", "gpus", "self_play")  # options of --backend rllib


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
    p.add_argument("--nav-features", nargs="?", const="all", default=None, metavar="NAMES",
                   help="stealth: add the navigation AI's channels: all of them (threat, hiding, danger_next, "
                        "flow, lookahead), or the comma-separated NAMES")
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
    p.add_argument("--league", action="store_true",
                   help="duel, --algo ppo-pg: self-play against a league (past selves, every scripted preset and "
                        "style, exploiters; PFSP sampling, snapshot gate, Elo ladder); league options via --set, "
                        "e.g. --set gate=0.9 --set window=20 (experiments/train/duel_league.py)")
    p.add_argument("--curriculum", action="store_true",
                   help="stealth, --algo ppo-pg: generated levels whose difficulty the director picks env by env "
                        "from recent success (bundled levels mixed in); options via --set, e.g. --set target=0.7 "
                        "--set bundled_share=0.25 (experiments/train/curriculum.py)")
    p.add_argument("--config", default=None, metavar="FILE", dest="config_file",
                   help="a TOML file laid out like train_configs.toml ([ENV.ALGO] tables, e.g. the best trial "
                        "`sandbox tune` wrote); its keys override the defaults, --set overrides both")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    ray = p.add_argument_group("Ray (--backend rllib; needs pip install -e '.[ray]')")
    ray.add_argument("--backend", choices=BACKENDS, default="native",
                     help="native (SB3 / our learners, this process) or rllib (RLlib PPO, new API stack)")
    ray.add_argument("--address", default=None,
                     help="join a Ray cluster: auto (the one this machine is part of) or HOST:PORT of its head; "
                          "default: a local Ray on this machine's cores")
    ray.add_argument("--workers", type=int, default=None,
                     help="RLlib env runners, one CPU each (0: sample in the driver); default from the config")
    ray.add_argument("--envs-per-worker", type=int, default=None, help="envs per env runner (default from the config)")
    ray.add_argument("--gpus", type=float, default=0.0, help="GPUs for the learner (fractions allowed; > 1: one "
                                                             "learner per GPU)")
    ray.add_argument("--self-play", action="store_true",
                     help="duel: train a main policy against frozen snapshots of itself (two-player PettingZoo env)")
    if train_ghost is not None:
        train_ghost.add_arguments(p.add_argument_group("ghost (sandbox train ghost --demos DIR)"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from experiments.train import train_run

    if args.env == "ghost":
        from experiments.train import ghost as train_ghost

        return train_ghost.run(args)
    if args.self_play and env_kind(args.env) != "duel":
        raise ValueError(f"--self-play needs a two-player env (duel); {args.env} has one player")
    file_tables = load_config_file(args.config_file) if args.config_file else None
    if args.backend == "rllib":
        return _run_rllib(args, file_tables)
    given = [name for name in RLLIB_ONLY if getattr(args, name) not in (None, False, 0.0)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(f"{flags}: Ray options; add --backend rllib")
    if args.league:
        return _run_league(args)
    if args.curriculum:
        return _run_curriculum(args)
    train_run(args.env, args.algo, steps=args.steps, n_envs=args.n_envs, device=args.device, seed=args.seed,
              out=args.out, env_kwargs=_env_options(args), nav_features=args.nav_features, shaping=args.shaping,
              exploring_starts=args.exploring_starts,
              eval_every=args.eval_every, eval_episodes=args.eval_episodes, resume=args.resume,
              progress=not args.quiet, hyper=parse_set(args.hyper), force=args.force, file_tables=file_tables)
    return 0


def _run_rllib(args: argparse.Namespace, file_tables: dict | None) -> int:
    from experiments.train.rllib import train_rllib

    if args.resume:
        raise ValueError("--resume is not available with --backend rllib (start a new run with --out)")
    if args.n_envs is not None:
        raise ValueError("--envs is the native backend's; with --backend rllib give --workers and --envs-per-worker")
    if args.device != "auto":
        raise ValueError("--device is the native backend's; with --backend rllib give --gpus")
    train_rllib(args.env, args.algo, out=args.out, address=args.address, progress=not args.quiet,
                steps=args.steps, workers=args.workers, envs_per_worker=args.envs_per_worker, gpus=args.gpus,
                seed=args.seed, env_kwargs=_env_options(args), nav_features=args.nav_features, shaping=args.shaping,
                exploring_starts=args.exploring_starts, eval_every=args.eval_every,
                eval_episodes=args.eval_episodes, hyper=parse_set(args.hyper), self_play=args.self_play,
                file_tables=file_tables, force=args.force)
    return 0


def _run_league(args: argparse.Namespace) -> int:
    from experiments.train import default_out
    from experiments.train.duel_league import config_from_cli, train_league

    if env_kind(args.env) != "duel" or args.algo != "ppo-pg":
        raise ValueError(f"--league trains the duel with ppo-pg (sandbox train duel --algo ppo-pg --league); "
                         f"got {args.env} --algo {args.algo}")
    for name in ("opponent", "difficulty", "env_kwarg", "resume"):
        if getattr(args, name):
            raise ValueError(f"--{name.replace('_', '-')} does not apply to --league (the league picks the opponents)")
    cfg = config_from_cli(steps=args.steps, n_envs=args.n_envs, seed=args.seed, device=args.device,
                          options=parse_set(args.hyper))
    train_league(cfg, args.out or default_out("duel", "ppo-pg-league"), progress=not args.quiet)
    return 0


def _run_curriculum(args: argparse.Namespace) -> int:
    from experiments.train import default_out
    from experiments.train.curriculum import config_from_cli, train_curriculum

    if env_kind(args.env) != "stealth" or args.algo != "ppo-pg":
        raise ValueError(f"--curriculum trains the stealth grid with ppo-pg (sandbox train stealth --algo ppo-pg "
                         f"--curriculum); got {args.env} --algo {args.algo}")
    for name in ("level", "difficulty", "env_kwarg", "resume", "league"):
        if getattr(args, name):
            raise ValueError(f"--{name.replace('_', '-')} does not apply to --curriculum (the director picks "
                             "the levels' difficulty; bundled levels via --set bundled=...)")
    cfg = config_from_cli(steps=args.steps, n_envs=args.n_envs, seed=args.seed, device=args.device,
                          options=parse_set(args.hyper), nav_features=args.nav_features, shaping=args.shaping,
                          exploring_starts=args.exploring_starts)
    if args.obs_mode is not None:
        cfg.obs_mode = args.obs_mode
    train_curriculum(cfg, args.out or default_out("stealth", "ppo-pg-curriculum"), progress=not args.quiet)
    return 0
