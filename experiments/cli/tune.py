"""``sandbox tune ENV``: a Ray Tune sweep; the work is in :mod:`experiments.train.tune`. Its env and run options
are ``sandbox train``'s (:mod:`experiments.train.options`), under the same names."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from experiments.options import add_config_args, config_from_args
from experiments.train.config import ALGOS, parse_set
from experiments.train.options import EnvOptions, RayOptions, RunOptions, env_kwargs_of


@dataclass
class SweepOptions:
    """The sweep itself."""

    samples: int = 8  # trials to sample
    scheduler: str = field(default="fifo", metadata={"argparse": {"choices": ("fifo", "asha")}})  # asha: stop weak trials early at the evaluations (fifo: run every trial out)
    metric: str = field(default="eval_return", metadata={"argparse": {"choices": ("eval_return", "eval_success")}})  # what the best trial maximises (its last held-out evaluation)
    concurrent: int | None = None  # trials at once (default: the cluster's CPUs)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="sweep hyper-parameters with Ray Tune; writes the best trial's settings as TOML",
        description="A Ray Tune sweep (needs pip install -e '.[ray]'). The search space is data: the "
                    "[search.*] tables of experiments/train/train_configs.toml. Each trial is a run folder under "
                    "OUT/trials/; the best trial's settings go to OUT/best.toml, which `sandbox train ENV "
                    "--config OUT/best.toml` accepts. Env and run options are sandbox train's.")
    p.add_argument("env", metavar="ENV", help="stealth, duel, director, or a Gymnasium id")
    add_config_args(p, SweepOptions)
    add_config_args(p, RunOptions, choices={"algo": ALGOS},
                    help={"steps": "env steps per trial (default 50000)",
                          "n_envs": "envs per trial (default 4)",
                          "hyper": "fix a hyper-parameter for every trial (repeatable)",
                          "out": "sweep folder (default runs/tune-ENV-ALGO-TIMESTAMP)",
                          "eval_every": "evaluate (and report) every N steps (default steps/4)",
                          "eval_episodes": "held-out episodes per evaluation (default 10)"})
    add_config_args(p.add_argument_group("env"), EnvOptions)
    add_config_args(p.add_argument_group("Ray"), RayOptions, skip=("workers",))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from experiments.train.tune import run_tune

    sweep, opts = config_from_args(SweepOptions, args), config_from_args(RunOptions, args)
    env_opts, ray_opts = config_from_args(EnvOptions, args), config_from_args(RayOptions, args)
    run_tune(args.env, opts.algo, backend=ray_opts.backend, samples=sweep.samples, steps=opts.steps or 50_000,
             scheduler=sweep.scheduler, metric=sweep.metric, out=opts.out, address=ray_opts.address, seed=opts.seed,
             eval_every=opts.eval_every, eval_episodes=opts.eval_episodes or 10, n_envs=opts.n_envs or 4,
             env_kwargs=env_kwargs_of(args.env, env_opts), fixed=parse_set(opts.hyper), concurrent=sweep.concurrent,
             progress=not opts.quiet, force=opts.force, device=opts.device, nav_features=env_opts.nav_features,
             shaping=env_opts.shaping, exploring_starts=env_opts.exploring_starts)
    return 0
