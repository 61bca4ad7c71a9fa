"""``sandbox compare duel``: learners' win rates against the scripted presets as they train, and an Elo ladder.

    sandbox compare duel [--algos ppo-pg,ppo,a2c-pg] [--steps 200000] [--checkpoints 4] [--eval-rounds 20]
                         [--rounds 10] [--ghosts DIR ...] [--out runs/compare_duel]

1. **Win-rate curves.** Each learner (``ppo``: stable-baselines3 PPO; ``a2c-pg``: our A2C, or any
   ``sandbox train`` algorithm that acts in the duel's MultiDiscrete space) trains on ``sandbox/Duel-v0``
   against ``--opponent`` (default ``scripted:normal``, random side) with
   :func:`experiments.train.train_run`, in ``--checkpoints`` equal chunks (the run is resumed for each
   chunk). After each chunk a snapshot of the model is kept and plays ``--eval-rounds`` seeded rounds
   against each of ``scripted:easy``, ``normal`` and ``hard`` (sides alternating, the learner acting
   greedily, :func:`agents.character.arena.match`, many rounds at once in the batched duel).
2. **Elo ladder.** A seeded round robin, ``--rounds`` rounds per pair, over ``random``, the scripted
   presets and styles, each learner's final snapshot (``--ladder all``: every snapshot), the bundled duel
   agents (``bundled:NAME`` for each shipped agent whose sidecar says ``"env": "duel"``) and each ``--ghosts`` run
   folder (spec ``ghost:PATH``; one that fails to load is skipped with a warning). Ratings are the
   maximum-likelihood Elo fit of all the results (:func:`experiments.train.elo.fit_ratings`: Bradley-Terry on
   the 400-point scale, one virtual draw per pair as a prior), anchored at ``random`` = 1000.

Output in ``--out``: the learners' run folders under ``runs/``, ``winrates.csv``, ``winrate.png``,
``matches.csv`` (every pairing), ``elo.csv``, ``elo.png``; tables on the terminal and ONE JSON line.
Re-running into the same ``--out`` reuses what is already there: finished snapshots, their win rates
(``*.winrates.json`` beside each) and every pairing in ``matches.csv`` played with the same ``--rounds``,
``--seed`` and ``--round-seconds`` (each pair's seed comes from the two names, so adding a ghost or a
bundled agent only plays the new pairings).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from envs.fileio import atomic_write_text

PRESETS = ("scripted:easy", "scripted:normal", "scripted:hard")
STYLES = ("scripted:rushdown", "scripted:zoner", "scripted:turtle")
DUEL_ALGOS = ("ppo-pg", "ppo", "a2c", "a2c-pg", "reinforce")  # train.py algorithms that act in MultiDiscrete([9, 4])
ANCHOR = "random"


@dataclass
class DuelCompareConfig:
    algos: list[str] = field(default_factory=lambda: ["ppo", "a2c-pg"])  # learners to train; none: ladder only
    steps: int = 200_000  # env steps per learner
    checkpoints: int = 4  # snapshots along training (win rates measured at each)
    eval_rounds: int = 20  # rounds per snapshot against each preset
    rounds: int = 10  # rounds per pair in the Elo round robin
    opponent: str = "scripted:normal"  # training opponent
    round_seconds: float = 60.0  # round length, in training and in the matches (the observation includes the clock)
    seed: int = 0  # training seed and the matches' base seed
    ladder: str = "final"  # which snapshots enter the ladder: final | all
    ghosts: list[str] = field(default_factory=list)  # ghost run folders or checkpoints
    bundled: bool = True  # include the bundled duel agents in the ladder
    out: str = "runs/compare_duel"  # output folder
    docs: bool = False  # copy elo.png and winrate.png to docs/


def add_duel_args(parser: argparse.ArgumentParser) -> None:
    from experiments.options import add_config_args

    add_config_args(parser, DuelCompareConfig, choices={"ladder": ("final", "all")})


def config_from_args(args) -> DuelCompareConfig:
    from experiments.studies.common import check_positive, parse_list

    check_positive(steps=args.steps, checkpoints=args.checkpoints, eval_rounds=args.eval_rounds, rounds=args.rounds)
    if not args.round_seconds > 0:
        raise ValueError(f"--round-seconds must be > 0, got {args.round_seconds}")
    algos = [] if args.algos == ["none"] else parse_list(",".join(args.algos), "--algos", valid=list(DUEL_ALGOS))
    if args.checkpoints > args.steps:
        raise ValueError(f"--checkpoints ({args.checkpoints}) cannot exceed --steps ({args.steps})")
    from agents import make_agent
    from agents.opponents import make_duel_env

    make_agent(args.opponent, action_space=make_duel_env().action_space)  # a bad spec fails here, before training
    from experiments.options import config_from_args as from_args

    return from_args(DuelCompareConfig, args, algos=algos)


# ---- players ----------------------------------------------------------------------------------------------------


def greedy(agent, **context):
    """A learned agent as a ladder player: a batched agent acting on its arg-max, recurrent state kept per
    round and reset at the round's start (:func:`agents.make_batched_agent`)."""
    from agents import make_batched_agent

    return make_batched_agent(agent, deterministic=True, **context)


def duel_context() -> dict:
    from agents.opponents import make_duel_env

    env = make_duel_env()
    return {"action_space": env.action_space, "observation_space": env.observation_space, "frame_skip": 4}


def bundled_duel_agents() -> list[str]:
    """Specs ``bundled:NAME`` of the shipped agents trained on the duel: the sidecar says ``"env": "duel"``
    (a sidecar-less checkpoint counts when its name starts with ``duel``)."""
    from agents.bundled import bundled_info, bundled_names

    found = []
    for name in bundled_names():
        try:
            info = bundled_info(name)
        except ValueError as exc:
            from experiments.studies.common import warn

            warn(f"skipping bundled:{name}: {exc}")
            continue
        env = str(info.get("env", "")) + str(info.get("env_id", ""))
        if "duel" in env.lower() or (not info and name.startswith("duel")):
            found.append(f"bundled:{name}")
    return found


# ---- training with snapshots ------------------------------------------------------------------------------------


def train_with_snapshots(algo: str, cfg: DuelCompareConfig, log) -> list[tuple[int, Path]]:
    """Train ``algo`` in ``cfg.checkpoints`` chunks; ``[(steps, snapshot path), ...]``."""
    from experiments.studies.common import final_checkpoint
    from experiments.train import train_run

    run_dir = Path(cfg.out) / "runs" / f"{algo}-s{cfg.seed}"
    snap_dir = run_dir / "snapshots"
    targets = [round(cfg.steps * k / cfg.checkpoints) for k in range(1, cfg.checkpoints + 1)]
    snaps = []
    for target in targets:
        existing = sorted(snap_dir.glob(f"steps_{target}.*[!n]"))  # .zip or .pt, not the .json sidecar
        if existing:
            snaps.append((target, existing[0]))
            continue
        t0 = time.perf_counter()
        if (run_dir / "config.json").is_file():
            train_run("duel", algo, steps=target, out=run_dir, resume=True, progress=False)
        else:
            chunk = max(1, cfg.steps // cfg.checkpoints)
            train_run("duel", algo, steps=target, seed=cfg.seed, out=run_dir, progress=False, subproc=False,
                      env_kwargs={"opponent": cfg.opponent, "round_seconds": cfg.round_seconds},
                      eval_every=chunk, eval_episodes=2)
        final = final_checkpoint(run_dir)
        snap_dir.mkdir(parents=True, exist_ok=True)
        snap = snap_dir / f"steps_{target}{final.suffix}"
        shutil.copyfile(final.with_suffix(".json"), snap.with_suffix(".json"))
        shutil.copyfile(final, snap)  # the checkpoint last: its presence marks a finished snapshot
        log(f"  {algo}: {target:,} steps trained in {time.perf_counter() - t0:.0f} s -> {snap}")
        snaps.append((target, snap))
    return snaps


def pair_seed(base: int, a: str, b: str) -> int:
    """The seed of the match between players ``a`` and ``b``: a function of their names (not of their place in
    the list), so adding a player leaves every other pairing's rounds, and its cached result, unchanged."""
    return base * 1_000_003 + zlib.crc32(f"{a}|{b}".encode())


def win_rates(agent, cfg: DuelCompareConfig, context: dict, cache: Path | None = None) -> dict:
    """Win rate (draws count 1/2) of a learned agent against each preset over ``cfg.eval_rounds`` seeded rounds.
    With ``cache`` (a JSON file beside the snapshot), a result measured with the same settings is reused."""
    from agents.character.arena import match

    key = {"eval_rounds": cfg.eval_rounds, "seed": cfg.seed, "round_seconds": cfg.round_seconds}
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("settings") == key:
            return stored["win_rates"]
    out = {}
    for k, spec in enumerate(PRESETS):
        r = match(greedy(agent, **context), spec, cfg.eval_rounds, seed=cfg.seed * 1000 + k,
                  frame_skip=context["frame_skip"], round_seconds=cfg.round_seconds)
        out[spec.split(":")[1]] = (r["wins"] + 0.5 * r["draws"]) / cfg.eval_rounds
    if cache is not None:
        atomic_write_text(cache, json.dumps({"settings": key, "win_rates": out}) + "\n")
    return out


def load_cached_matches(out: Path, cfg: DuelCompareConfig) -> dict:
    """``{(a, b): (wins_a, wins_b, draws)}`` from a previous ``matches.csv`` played with the same settings
    (``matches.json``), else empty. Learner snapshots never change inside one output folder, so a pair's
    result only depends on the two names and the settings."""
    meta, path = out / "matches.json", out / "matches.csv"
    settings = {"rounds": cfg.rounds, "seed": cfg.seed, "round_seconds": cfg.round_seconds}
    if not (meta.is_file() and path.is_file()) or json.loads(meta.read_text()) != settings:
        return {}
    with open(path, newline="") as fh:
        return {(r["a"], r["b"]): (int(r["wins_a"]), int(r["wins_b"]), int(r["draws"])) for r in csv.DictReader(fh)}


# ---- report -----------------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buf.getvalue())


def plot_winrates(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.studies.common import save_figure

    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = {"easy": ":", "normal": "--", "hard": "-"}
    for i, (algo, rows) in enumerate(curves.items()):
        color = f"C{i}"
        for opp, ls in styles.items():
            ax.plot([r["steps"] for r in rows], [r[opp] for r in rows], ls=ls, marker="o", color=color,
                    label=f"{algo} vs {opp}")
    ax.axhline(0.5, color="gray", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("env steps")
    ax.set_ylabel("win rate (draw = 1/2)")
    ax.set_title("duel: win rate against the scripted presets")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_elo(ratings: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.studies.common import save_figure

    names = sorted(ratings, key=ratings.get)
    fig, ax = plt.subplots(figsize=(6.5, 0.4 * len(names) + 1.2))
    ax.barh(range(len(names)), [ratings[n] - 1000 for n in names], left=1000, color="C0")
    for i, n in enumerate(names):
        ax.text(ratings[n], i, f" {ratings[n]:.0f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.axvline(1000, color="k", lw=0.8)
    ax.set_xlabel("Elo (random = 1000)")
    ax.set_title("duel Elo ladder (round robin, maximum-likelihood fit)")
    lo, hi = min(ratings.values()), max(ratings.values())
    ax.set_xlim(min(lo, 1000) - 80, max(hi, 1000) + 160)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


# ---- the command ------------------------------------------------------------------------------------------------


def run_duel(args) -> int:

    from agents import make_agent
    from agents.character.arena import match
    from experiments.studies.common import warn
    from experiments.train import load_trained
    from experiments.train.elo import fit_ratings

    cfg = config_from_args(args)
    from nets.device import set_threads

    set_threads()
    out = Path(cfg.out)
    context = duel_context()

    def log(msg: str) -> None:
        print(msg, flush=True)

    log(f"compare duel: learners {', '.join(cfg.algos) or 'none'}, {cfg.steps:,} steps each vs {cfg.opponent} in "
        f"{cfg.checkpoints} chunks; {cfg.eval_rounds} rounds per preset per snapshot; ladder {cfg.rounds} rounds "
        f"per pair; rounds of {cfg.round_seconds:g} s")

    # ---- 1. train, snapshot, and measure win rates against the presets
    curves, ladder_learned = {}, {}
    for algo in cfg.algos:
        log(f"[{algo}] training ...")
        snaps = train_with_snapshots(algo, cfg, log)
        rows = []
        for target, snap in snaps:
            # the steps actually trained (PPO rounds up to whole rollouts), from the checkpoint's sidecar
            steps = int(json.loads(snap.with_suffix(".json").read_text()).get("steps", target))
            agent = load_trained(snap, device="cpu")
            rates = win_rates(agent, cfg, context, cache=snap.with_suffix(".winrates.json"))
            rows.append({"algo": algo, "steps": steps, **rates})
            log(f"[{algo}] {steps:>9,} steps: win rate easy {rates['easy']:.2f}, normal {rates['normal']:.2f}, "
                f"hard {rates['hard']:.2f}")
            if cfg.ladder == "all" or target == snaps[-1][0]:
                ladder_learned[f"{algo}@{steps // 1000}k" if steps >= 1000 else f"{algo}@{steps}"] = agent
        curves[algo] = rows

    # ---- 2. the ladder's players
    makers: dict = {ANCHOR: ANCHOR}  # a spec (sampling) or a learned agent's greedy batched form
    for spec in (*PRESETS, *STYLES):
        makers[spec.split(":")[1]] = spec
    for name, agent in ladder_learned.items():
        makers[name] = greedy(agent, **context)
    if cfg.bundled:
        for spec in bundled_duel_agents():
            try:
                makers[spec] = greedy(make_agent(spec, device="cpu", **context), **context)
            except Exception as exc:  # a broken bundle must not sink the ladder
                warn(f"skipping {spec}: {type(exc).__name__}: {exc}")
    for ghost in cfg.ghosts:
        spec = f"ghost:{ghost}"
        try:
            make_agent(spec, rng=np.random.default_rng(0), **context)
        except Exception as exc:
            warn(f"skipping {spec}: {type(exc).__name__}: {exc}")
            continue
        makers[f"ghost:{Path(ghost).name}"] = spec

    # ---- 3. round robin
    names = list(makers)
    log(f"round robin: {len(names)} players, {len(names) * (len(names) - 1) // 2} pairs x {cfg.rounds} rounds")
    results, match_rows = [], []
    cached = load_cached_matches(out, cfg)
    t0 = time.perf_counter()
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            if (a, b) in cached:
                wa, wb, d = cached[(a, b)]
                r = {"wins": wa, "losses": wb, "draws": d}
            else:
                r = match(makers[a], makers[b], cfg.rounds, seed=pair_seed(cfg.seed, a, b),
                          frame_skip=context["frame_skip"], round_seconds=cfg.round_seconds)
            results.append((a, b, r["wins"], r["losses"], r["draws"]))
            match_rows.append({"a": a, "b": b, "wins_a": r["wins"], "wins_b": r["losses"], "draws": r["draws"]})
    log(f"round robin took {time.perf_counter() - t0:.0f} s ({len(cached)} pairs reused from {out / 'matches.csv'})"
        if cached else f"round robin took {time.perf_counter() - t0:.0f} s")
    ratings = fit_ratings(names, results, anchor=ANCHOR)
    score = {n: 0.0 for n in names}
    games = {n: 0 for n in names}
    for a, b, wa, wb, d in results:
        score[a] += wa + 0.5 * d
        score[b] += wb + 0.5 * d
        games[a] += wa + wb + d
        games[b] += wa + wb + d
    ladder = sorted(names, key=ratings.get, reverse=True)

    # ---- 4. report
    if curves:
        print()
        print(f"{'learner':<10}{'steps':>10}{'vs easy':>9}{'vs normal':>11}{'vs hard':>9}")
        for algo, rows in curves.items():
            for r in rows:
                print(f"{algo:<10}{r['steps']:>10,}{r['easy']:>9.2f}{r['normal']:>11.2f}{r['hard']:>9.2f}")
        write_csv(out / "winrates.csv", [r for rows in curves.values() for r in rows],
                  ["algo", "steps", "easy", "normal", "hard"])
        plot_winrates(curves, out / "winrate.png")
    print()
    print(f"{'rank':<6}{'player':<22}{'Elo':>7}{'score':>8}{'games':>7}")
    for k, n in enumerate(ladder, 1):
        print(f"{k:<6}{n:<22}{ratings[n]:>7.0f}{score[n] / max(games[n], 1):>8.2f}{games[n]:>7}")
    write_csv(out / "matches.csv", match_rows, ["a", "b", "wins_a", "wins_b", "draws"])
    atomic_write_text(out / "matches.json", json.dumps({"rounds": cfg.rounds, "seed": cfg.seed,
                                                        "round_seconds": cfg.round_seconds}) + "\n")
    write_csv(out / "elo.csv", [{"player": n, "elo": round(ratings[n], 1), "score": score[n], "games": games[n]}
                                for n in ladder], ["player", "elo", "score", "games"])
    plot_elo(ratings, out / "elo.png")
    print(f"\nwrote {out / 'elo.csv'}, {out / 'elo.png'}, {out / 'matches.csv'}"
          + (f", {out / 'winrates.csv'}, {out / 'winrate.png'}" if curves else ""))
    if cfg.docs:
        from experiments.studies.common import copy_to_docs

        copy_to_docs(out / "elo.png", "compare_duel_elo.png")
        if curves:
            copy_to_docs(out / "winrate.png", "compare_duel_winrate.png")
    print(json.dumps({"compare": "duel", "steps": cfg.steps, "rounds": cfg.rounds, "eval_rounds": cfg.eval_rounds,
                      "round_seconds": cfg.round_seconds, "anchor": {ANCHOR: 1000},
                      "win_rates": {a: [{k: r[k] for k in ("steps", "easy", "normal", "hard")} for r in rows]
                                    for a, rows in curves.items()},
                      "elo": {n: round(ratings[n], 1) for n in ladder}}))
    return 0 if all(math.isfinite(v) for v in ratings.values()) else 1
