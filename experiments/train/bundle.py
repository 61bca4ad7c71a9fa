"""Ship a trained run as a bundled agent: ``python -m experiments.train.bundle RUN NAME``.

Copies the run's final (else latest) checkpoint - SB3's ``.zip``, or our learners' ``.pt`` (``reinforce``,
``a2c-pg``, ``ppo-pg``) - to ``agents/bundled/NAME.zip`` (or ``.pt``) without its optimizer moments (the
policy is all an agent needs, about a third of the size), evaluates it on held-out seeds and writes the
sidecar ``NAME.json``: how it was trained (``command``, ``steps``, env) and what it scored.

* duel agents: win rate and mean return against ``random``, the scripted presets and the three styles;
* stealth agents: success rate and mean return on every bundled level.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agents.bundled import BUNDLED_DIR
from envs.fileio import atomic_save, atomic_write_text
from experiments.train import EVAL_SEED, evaluate, make_env

BUNDLED = BUNDLED_DIR  # agents/bundled/, where bundled:NAME looks
DUEL_OPPONENTS = ("random", "scripted:easy", "scripted:normal", "scripted:hard", "scripted:rushdown",
                  "scripted:zoner", "scripted:turtle")


def _checkpoint(run: Path) -> Path:
    for name in ("final.zip", "final.pt", "latest.zip", "latest.pt"):
        if (run / "checkpoints" / name).is_file():
            return run / "checkpoints" / name
    raise FileNotFoundError(f"{run}: no checkpoints/final.zip, final.pt, latest.zip or latest.pt")


def slim_copy(src: Path, dst: Path, hyper: dict | None = None) -> None:
    """Save the model at ``src`` (SB3 ``.zip``, rebuilt with the run's ``hyper``, or our ``.pt``) to ``dst``
    with a fresh optimizer (no Adam moments)."""
    if src.suffix == ".pt":
        from nets.policy_gradient import load_learner

        learner = load_learner(src, device="cpu")
        learner.optimizer = type(learner.optimizer)(learner.policy.parameters(), lr=learner.lr)
        learner.save(dst)
        return
    from agents.sb3_agent import load_sb3

    model = load_sb3(src, device="cpu", hyper=hyper)
    lr = model.policy.optimizer.param_groups[0]["lr"]
    model.policy.optimizer = type(model.policy.optimizer)(model.policy.parameters(), lr=lr)
    atomic_save(dst, model.save, suffix=".zip")


def evaluate_bundled(meta: dict, agent, episodes: int) -> dict:
    """Held-out figures for the sidecar."""
    env, kwargs = meta["env"], dict(meta["env_kwargs"])
    nav = meta.get("nav_features") or kwargs.pop("nav_features", False)  # a curriculum run has it in env_kwargs
    kwargs.pop("nav_features", None)
    figures: dict = {"episodes": episodes, "seed": EVAL_SEED}
    if env == "duel":
        for opponent in DUEL_OPPONENTS:
            kw = {**kwargs, "opponent": opponent, "side": "random"}
            ret, win = evaluate(agent, lambda kw=kw: make_env("duel", kw), episodes, kind="duel")
            figures[opponent] = {"win_rate": round(win, 4), "mean_return": round(ret, 4)}
            print(f"  vs {opponent:16s} win rate {win:6.1%}  mean return {ret:7.3f}", flush=True)
    elif env == "stealth":
        from envs.stealth.level import bundled_levels

        kwargs.pop("level", None)
        for level in bundled_levels():
            kw = {**kwargs, "level": level}
            ret, success = evaluate(agent, lambda kw=kw: make_env("stealth", kw, nav), episodes, kind="stealth")
            figures[level] = {"success": round(success, 4), "mean_return": round(ret, 4)}
            print(f"  {level:12s} success {success:6.1%}  mean return {ret:7.3f}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.train.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder of `sandbox train`")
    parser.add_argument("name", help="bundled name, e.g. duel-ppo")
    parser.add_argument("--episodes", type=int, default=200, help="held-out episodes per opponent or level")
    parser.add_argument("--command", default=None, help="the training command, recorded in the sidecar")
    args = parser.parse_args(argv)
    try:
        src = _checkpoint(args.run)
        meta = json.loads(src.with_suffix(".json").read_text())
        config = json.loads((args.run / "config.json").read_text())
    except (FileNotFoundError, ValueError) as exc:
        print(f"bundle: error: {exc}", file=sys.stderr)
        return 2
    dst = BUNDLED / f"{args.name}{src.suffix}"
    slim_copy(src, dst, config.get("hyper"))
    from experiments.train import load_trained

    agent = load_trained(dst, device="cpu")
    print(f"{dst} ({dst.stat().st_size / 1024:.0f} KB) from {src}; evaluating on {args.episodes} held-out seeds")
    t0 = time.time()
    meta["evaluation"] = evaluate_bundled(meta, agent, args.episodes)
    meta["command"] = args.command or f"sandbox train {config['env']} --algo {config['algo']} ..."
    meta["hyper"] = config.get("hyper", {})
    atomic_write_text(dst.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    print(f"evaluated in {time.time() - t0:.0f} s")
    print(json.dumps({"bundled": args.name, "kb": round(dst.stat().st_size / 1024), **meta["evaluation"]},
                     default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
