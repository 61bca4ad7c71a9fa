"""``sandbox train ENV``: the verb; its options are the dataclasses of :mod:`experiments.train.options` and
the parts' settings; the work is in :mod:`experiments.train`."""

from __future__ import annotations

import argparse
import dataclasses
import json

from experiments.options import add_config_args, config_from_args
from experiments.train.config import ALGOS, PART_SETTINGS, env_kind, load_config_file, parse_set
from experiments.train.options import EnvOptions, RayOptions, RunOptions, env_help, env_kwargs_of


def add_parser(subparsers) -> None:
    from experiments.train import ghost as train_ghost

    p = subparsers.add_parser(
        "train", help="train an agent headless (PPO/A2C/DQN via SB3, or our REINFORCE/A2C/PPO), or a ghost",
        description="Train headless into a run folder. ENV: stealth, duel, director, ghost (behaviour cloning "
                    "from demos) or any Gymnasium id. Defaults: the learner's own, then the [ENV.ALGO] tables of "
                    "experiments/train/train_configs.toml, then --config, then the options; --show-config prints "
                    "the result.")
    p.add_argument("env", metavar="ENV", help="stealth, duel, director, ghost, or a Gymnasium id such as CartPole-v1")
    add_config_args(p, RunOptions, choices={"algo": ALGOS})
    p.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/latest")
    p.add_argument("--config", default=None, metavar="FILE", dest="config_file",
                   help="a TOML file laid out like train_configs.toml ([ENV.ALGO] tables, e.g. the best trial "
                        "`sandbox tune` wrote); its keys override the defaults, options and --set override both")
    p.add_argument("--show-config", action="store_true",
                   help="print the merged configuration of this run (as config.json will hold it) and exit")
    p.add_argument("--recipe", default=None, metavar="NAME",
                   help="the exact settings that made a bundled agent (stealth-ppo, duel-ppo, director) or a TOML "
                        "recipe file; options given beside it override it (see docs/training.md)")
    add_config_args(p.add_argument_group("env"), EnvOptions, help=env_help())
    parts = p.add_argument_group("parts of the loop (--algo ppo-pg)")
    parts.add_argument("--league", action="store_true",
                       help="duel: self-play against a league (past selves, every scripted preset and style, "
                            "exploiters; PFSP sampling, snapshot gate, Elo ladder); settings --league.KEY")
    parts.add_argument("--curriculum", action="store_true",
                       help="stealth: generated levels whose difficulty the director picks env by env from recent "
                            "success (bundled levels mixed in); settings --curriculum.KEY")
    for name, cls in PART_SETTINGS.items():
        add_config_args(p.add_argument_group(f"--{name} settings"), cls, dest_prefix=f"{name}.",
                        option_prefix=f"{name}.", suppress=True)
    ray = p.add_argument_group("Ray (--backend rllib; needs pip install -e '.[ray]')")
    add_config_args(ray, RayOptions)
    ray.add_argument("--self-play", action="store_true",
                     help="duel, rllib: train a main policy against frozen snapshots of itself (two-player env)")
    train_ghost.add_arguments(p.add_argument_group("ghost (sandbox train ghost --demos DIR)"))
    p.set_defaults(run=run)


def part_items(args: argparse.Namespace) -> dict:
    """The parts' settings given as options (``--league.gate 0.8``), as ``--set`` items would give them."""
    out = {}
    for name, cls in PART_SETTINGS.items():
        for f in dataclasses.fields(cls):
            if hasattr(args, f"{name}.{f.name}"):
                out[f"{name}.{f.name}"] = getattr(args, f"{name}.{f.name}")
    return out


def _defaults(cls, skip: tuple[str, ...] = ()) -> dict:
    return {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(cls) if f.name not in skip}


def _given(args: argparse.Namespace, defaults: dict) -> list[str]:
    """The options of ``defaults`` (dest -> default) given on the command line, as flags."""
    return ["--" + dest.replace("_", "-") for dest, default in defaults.items()
            if hasattr(args, dest) and getattr(args, dest) != default]


def check_applies(args: argparse.Namespace) -> None:
    """``sandbox train ghost`` takes the ghost's options and the shared ones (--seed --device --out --force
    --quiet --resume); every other ENV takes the rest. An option given where it does nothing is refused."""
    from nets.imitation import GhostTrainConfig

    ghost = {"demos": None, "skip_bad": False, "finetune": False, "finetune_iterations": None,
             "finetune_rounds": None, **_defaults(GhostTrainConfig, skip=("seed",))}
    shared = ("seed", "device", "out", "force", "quiet")
    rest = {**_defaults(RunOptions, skip=shared), **_defaults(EnvOptions), **_defaults(RayOptions),
            "config_file": None, "show_config": False, "league": False, "curriculum": False, "self_play": False,
            "recipe": None}
    if args.env == "ghost":
        wrong = _given(args, rest) + sorted("--" + k for k in part_items(args))
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not an option of sandbox train ghost (behaviour cloning takes "
                             "--demos and the ghost's options; see sandbox train --help)")
    else:
        wrong = _given(args, ghost)
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: an option of sandbox train ghost, not of {args.env}")


def apply_recipe(args: argparse.Namespace, opts: RunOptions, common: dict, parts: tuple) -> tuple[str, tuple]:
    """Fill ``common`` (the keywords of ``train_run``) from ``--recipe``: the recipe's values where no option
    was given; its hyper-parameters and part settings under the options' ``--set`` items. Returns the
    algorithm and the parts."""
    from experiments.train.config import load_recipe

    recipe = load_recipe(args.recipe)
    if env_kind(args.env) != recipe["env"]:
        raise ValueError(f"--recipe {args.recipe} trains {recipe['env']}, not {args.env}: sandbox train "
                         f"{recipe['env']} --recipe {args.recipe}")
    if opts.algo not in ("ppo", recipe["algo"]):  # ppo: the option's default, not a choice
        raise ValueError(f"--recipe {args.recipe} trains with --algo {recipe['algo']}, not {opts.algo}")
    for key in ("steps", "n_envs", "seed", "eval_every", "eval_episodes", "nav_features", "shaping",
                "exploring_starts"):
        if key in recipe and common.get(key) in (None, 0 if key == "seed" else None):
            common[key] = recipe[key]
    common["env_kwargs"] = {**recipe.get("env_kwargs", {}), **common["env_kwargs"]}
    items = dict(recipe.get("hyper", {}))
    for name in PART_SETTINGS:
        items.update({f"{name}.{k}": v for k, v in recipe.get(name, {}).items()})
    common["hyper"] = {**items, **common["hyper"]}
    return recipe["algo"], tuple(dict.fromkeys((*recipe.get("parts", ()), *parts)))


def command_line(args: argparse.Namespace) -> str:
    """The command as typed (recorded in config.json and every checkpoint's sidecar)."""
    import shlex
    import sys

    argv = getattr(args, "argv", None)
    return shlex.join(["sandbox", *(sys.argv[1:] if argv is None else argv)])


def run(args: argparse.Namespace) -> int:
    check_applies(args)
    if args.env == "ghost":
        from experiments.train import ghost as train_ghost

        return train_ghost.run(args)
    opts = config_from_args(RunOptions, args)
    env_opts = config_from_args(EnvOptions, args)
    ray_opts = config_from_args(RayOptions, args)
    parts = tuple(name for name in PART_SETTINGS if getattr(args, name))
    if args.self_play and env_kind(args.env) != "duel":
        raise ValueError(f"--self-play needs a two-player env (duel); {args.env} has one player")
    file_tables = load_config_file(args.config_file) if args.config_file else None
    hyper = {**part_items(args), **parse_set(opts.hyper)}
    common = dict(steps=opts.steps, n_envs=opts.n_envs, seed=opts.seed, env_kwargs=env_kwargs_of(args.env, env_opts),
                  nav_features=env_opts.nav_features, shaping=env_opts.shaping,
                  exploring_starts=env_opts.exploring_starts, eval_every=opts.eval_every,
                  eval_episodes=opts.eval_episodes, hyper=hyper, file_tables=file_tables)
    if args.recipe:
        opts.algo, parts = apply_recipe(args, opts, common, parts)
    if ray_opts.backend == "rllib":
        from experiments.train.rllib import resolve_rllib, train_rllib

        if parts:
            raise ValueError(f"--{parts[0]} is a part of the native loop; with --backend rllib use --self-play")
        rllib = dict(common, workers=ray_opts.workers, self_play=args.self_play)
        if args.show_config:
            print(json.dumps(resolve_rllib(args.env, opts.algo, device=opts.device, **rllib), indent=2))
            return 0
        result = train_rllib(args.env, opts.algo, out=opts.out, address=ray_opts.address, progress=not opts.quiet,
                             device=opts.device, resume=args.resume, force=opts.force, **rllib)
        print(f"agent: rllib:{result.run_dir}", flush=True)
        return 0
    given = [flag for flag, value in (("--address", ray_opts.address), ("--workers", ray_opts.workers),
                                      ("--self-play", args.self_play)) if value not in (None, False)]
    if given:
        raise ValueError(f"{', '.join(given)}: Ray options; add --backend rllib")
    from experiments.train import resolve_run, train_run

    if args.show_config:
        print(json.dumps(resolve_run(args.env, opts.algo, parts=parts, **common), indent=2))
        return 0
    result = train_run(args.env, opts.algo, device=opts.device, out=opts.out, resume=args.resume,
                       progress=not opts.quiet, force=opts.force, parts=parts, command=command_line(args),
                       recipe=args.recipe, **common)
    kind = "sb3" if result.model_path.suffix == ".zip" else "pg"
    print(f"agent: {kind}:{result.run_dir}", flush=True)  # the spec of what was trained, --quiet or not
    return 0
