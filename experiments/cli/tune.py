"""``sandbox tune ENV``: a Ray Tune sweep; the work is in :mod:`experiments.train.tune`."""

from __future__ import annotations

import argparse

from experiments.train.config import ALGOS, BACKENDS, parse_set


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="sweep hyper-parameters with Ray Tune; writes the best trial's settings as TOML",
        description="A Ray Tune sweep (needs pip install -e '.[ray]'). The search space is data: the "
                    "[search.*] tables of experiments/train/train_configs.toml. Each trial is a run folder under "
                    "OUT/trials/; the best trial's settings go to OUT/best.toml, which `sandbox train ENV "
                    "--config OUT/best.toml` accepts.")
    p.add_argument("env", metavar="ENV", help="stealth, duel, or a Gymnasium id")
    p.add_argument("--backend", choices=BACKENDS, default="native", help="native (SB3 / our learners) or rllib")
    p.add_argument("--algo", choices=ALGOS, default="ppo", help="algorithm (rllib: ppo)")
    p.add_argument("--samples", type=int, default=8, help="trials to sample (default 8)")
    p.add_argument("--steps", type=int, default=50_000, help="env steps per trial (default 50000)")
    p.add_argument("--scheduler", choices=("fifo", "asha"), default="fifo",
                   help="asha: stop weak trials early at the evaluations (default fifo: run every trial out)")
    p.add_argument("--metric", choices=("eval_return", "eval_success"), default="eval_return",
                   help="what the best trial maximises (its last held-out evaluation)")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate (and report) every N steps (default steps/4)")
    p.add_argument("--eval-episodes", type=int, default=10, help="held-out episodes per evaluation (default 10)")
    p.add_argument("--envs", type=int, default=4, dest="n_envs", help="native: envs per trial (default 4)")
    p.add_argument("--concurrent", type=int, default=None, help="trials at once (default: the cluster's CPUs)")
    p.add_argument("--address", default=None, help="join a Ray cluster (auto or HOST:PORT); default: local Ray")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="sweep folder (default runs/tune-ENV-ALGO-TIMESTAMP)")
    p.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="an env keyword for every trial")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="hyper",
                   help="fix a hyper-parameter for every trial (repeatable)")
    p.add_argument("--force", action="store_true", help="write into an --out folder this command did not create")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from experiments.train.tune import run_tune

    run_tune(args.env, args.algo, backend=args.backend, samples=args.samples, steps=args.steps,
             scheduler=args.scheduler, metric=args.metric, out=args.out, address=args.address, seed=args.seed,
             eval_every=args.eval_every, eval_episodes=args.eval_episodes, n_envs=args.n_envs,
             env_kwargs=parse_set(args.env_kwarg), fixed=parse_set(args.hyper), concurrent=args.concurrent,
             progress=not args.quiet, force=args.force)
    return 0
