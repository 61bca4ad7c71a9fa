"""Ship a trained run as a bundled agent: ``python -m experiments.train.bundle RUN NAME``.

Copies the run's final (else latest) checkpoint - SB3's ``.zip``, or our learners' ``.pt`` (``reinforce``,
``a2c-pg``, ``ppo-pg``) - to ``agents/bundled/NAME.zip`` (or ``.pt``) without its optimizer moments (the
policy is all an agent needs, about a third of the size), evaluates it on held-out seeds and writes the
sidecar ``NAME.json``: how it was trained (``command``, ``steps``, env) and what it scored.

* duel agents: win rate and mean return against ``random``, the scripted presets and the three styles;
* stealth agents: success rate and mean return on every bundled level.

``--report FILE`` (repeatable) adds the JSON of a ``sandbox eval duel``, ``sandbox eval exploit`` or ``sandbox
eval stealth --generated`` run (the file holding its output; its last JSON line is read) to the sidecar under
``eval_duel`` (per opponent: wins, draws, losses, win rate and its 95% Wilson interval), ``exploit`` (the best
response's held-out win rate, interval and curve) or ``eval_stealth`` (per difficulty: levels, success,
return / V*): :func:`attach_reports`.
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


def read_report(path: Path) -> dict:
    """The last line of ``path`` that is a JSON object: what ``sandbox eval duel|exploit`` print last."""
    text = Path(path).read_text(encoding="utf-8")
    for n, line in reversed(list(enumerate(text.splitlines(), 1))):
        line = line.strip()
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not a JSON line ({exc})") from None
            if isinstance(report, dict):
                return report
    raise ValueError(f"{path}: no JSON line; give the output of `sandbox eval duel` or `sandbox eval exploit`")


def attach_reports(meta: dict, reports: list[dict], commands: list[str] | None = None) -> dict:
    """``meta`` with the figures of ``sandbox eval duel`` reports (``{"eval": "duel", "rows": [...]}``) under
    ``eval_duel`` (opponent -> wins, draws, losses, win_rate, interval [low, high], rounds), of ``sandbox eval
    stealth --generated`` reports under ``eval_stealth`` (difficulty -> levels, success, optimal_ratio) and of
    ``sandbox eval exploit`` reports (``{"agent", "steps", "win_rate", "win_interval", "curve", ...}``) under
    ``exploit`` (a list, one entry per report); ``commands[i]``, when given, is recorded with report i."""
    out = dict(meta)
    duel = dict(out.get("eval_duel", {}))
    exploits = list(out.get("exploit", []))
    for i, r in enumerate(reports):
        command = commands[i] if commands and i < len(commands) else None
        if r.get("eval") == "duel" and isinstance(r.get("rows"), list):
            for row in r["rows"]:
                duel[row["vs"]] = {"rounds": row["rounds"], "wins": row["wins"], "draws": row["draws"],
                                   "losses": row["losses"], "win_rate": round(row["win_rate"], 4),
                                   "interval": [round(row["win_low"], 4), round(row["win_high"], 4)],
                                   "round_seconds": r.get("round_seconds")}
                if command:
                    duel[row["vs"]]["command"] = command
        elif r.get("eval") == "stealth" and isinstance(r.get("by_difficulty"), dict) and r["by_difficulty"]:
            out["eval_stealth"] = {
                "by_difficulty": {d: {"levels": v["levels"], "success": round(v["success"], 4),
                                      "optimal_ratio": round(v["optimal_ratio"], 4)}
                                  for d, v in r["by_difficulty"].items()},
                **({"command": command} if command else {})}
        elif "win_interval" in r and "curve" in r:
            entry = {k: r[k] for k in ("steps", "algo", "seed", "rounds", "wins", "draws", "losses", "win_rate",
                                       "win_interval", "curve") if k in r}
            if command:
                entry["command"] = command
            exploits.append(entry)
        else:
            raise ValueError(f"report {i + 1} is not `sandbox eval duel`, `eval exploit` or `eval stealth "
                             "--generated` output "
                             f"(keys: {', '.join(sorted(r))})")
    if duel:
        out["eval_duel"] = duel
    if exploits:
        out["exploit"] = exploits
    return out


def _shipped_sidecar(dst: Path) -> dict:
    side = dst.with_suffix(".json")
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.train.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder of `sandbox train`")
    parser.add_argument("name", help="bundled name, e.g. duel-ppo")
    parser.add_argument("--episodes", type=int, default=200,
                        help="held-out episodes per opponent or level (0: none, only the --report figures)")
    parser.add_argument("--command", default=None, help="the training command, recorded in the sidecar")
    parser.add_argument("--report", type=Path, action="append", default=[],
                        help="a file holding the output of `sandbox eval duel|exploit` for the sidecar (repeatable)")
    parser.add_argument("--report-command", action="append", default=[],
                        help="the command behind the i-th --report, recorded beside its figures")
    parser.add_argument("--reuse-evaluation", action="store_true",
                        help="keep the held-out figures of the sidecar already shipped for the same run and steps "
                             "(to add --report figures measured on the shipped agent without evaluating again)")
    args = parser.parse_args(argv)
    try:
        reports = [read_report(p) for p in args.report]
        src = _checkpoint(args.run)
        meta = json.loads(src.with_suffix(".json").read_text())
        config = json.loads((args.run / "config.json").read_text())
    except (FileNotFoundError, ValueError) as exc:
        print(f"bundle: error: {exc}", file=sys.stderr)
        return 2
    dst = BUNDLED / f"{args.name}{src.suffix}"
    shipped = _shipped_sidecar(dst) if args.reuse_evaluation else {}  # read before the copy rewrites it
    slim_copy(src, dst, config.get("hyper"))
    from experiments.train import load_trained

    agent = load_trained(dst, device="cpu")
    print(f"{dst} ({dst.stat().st_size / 1024:.0f} KB) from {src}; evaluating on {args.episodes} held-out seeds")
    t0 = time.time()
    if shipped.get("steps") == meta.get("steps") and isinstance(shipped.get("evaluation"), dict):
        print("keeping the shipped sidecar's held-out figures (same steps)")
        meta["evaluation"] = shipped["evaluation"]
    elif args.episodes > 0:
        meta["evaluation"] = evaluate_bundled(meta, agent, args.episodes)
    else:  # the figures come from --report (sandbox eval duel|exploit) only
        meta["evaluation"] = {}
    meta["command"] = args.command or f"sandbox train {config['env']} --algo {config['algo']} ..."
    meta["hyper"] = config.get("hyper", {})
    meta.setdefault("nav_features", False)
    meta = attach_reports(meta, reports, args.report_command)
    atomic_write_text(dst.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    print(f"evaluated in {time.time() - t0:.0f} s")
    print(json.dumps({"bundled": args.name, "kb": round(dst.stat().st_size / 1024), **meta["evaluation"]},
                     default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
