"""``sandbox compare stealth``: every learner in the sandbox against the exact optimum, level by level.

    sandbox compare stealth [--levels tutorial,sentry_hall,crossing,courtyard] [--steps 300000] [--seeds 1]
                            [--algos ppo-nav,ppo,ppo-pg,dqn,reinforce,a2c-pg,q-learning] [--eval-episodes 5] [--out DIR]

For each level (default: the first four bundled levels, easiest first):

* **value iteration** on the level's exact MDP (:func:`agents.navigation.build_mdp`, the env's rewards,
  slip 0, gamma 0.99, the same discount every learner trains with): V*(start), the discounted value,
  and the optimal policy (:class:`OptimalAgent`) rolled out in the env: its success rate and its
  undiscounted return, the "optimal return";
* the **PlannerAgent** (shortest never-seen path), rolled out the same way;
* learners trained for ``--steps`` env steps per seed: **PPO** with the navigation AI's ``nav_features``
  (``ppo-nav``) and without (``ppo``), **DQN**, **REINFORCE** and **A2C** (ours, ``a2c-pg``), all with
  :func:`experiments.train.train_run` and the defaults of ``train_configs.toml`` (which may train with
  potential-based goal shaping and exploring starts; evaluation is always on the plain env from the
  start), and **tabular Q-learning** (:mod:`nets.tabular`, no shaping) on the MDP's states.

Learners are evaluated, as in ``sandbox train``, by deterministic greedy rollouts on held-out seeds, on
the undiscounted return. So "return / optimal" divides by the optimal policy's undiscounted return
(apples to apples; V*(start) is reported beside it), and "steps to 95%" is the first evaluation whose
return (mean over seeds) reaches 95% of it ("not reached" otherwise).

Observation: ``obs_mode="grid"``, the whole level as six (nine with nav_features) H x W channels. Each
level trains its own agent, so a per-level shape is fine, and the grid shows the goal and every guard,
where the fixed-size ``local`` window hides the goal's direction on all but the smallest levels.

Output in ``--out`` (default ``runs/compare_stealth``): the run folder of every learner under
``runs/LEVEL/ALGO-sSEED`` (a finished one is reused, an unfinished one resumed, so an interrupted
comparison picks up where it stopped), ``plots/LEVEL.png`` (return vs env steps, with the optimal return
and V*(start) lines), ``plots/compare_stealth.png`` (all levels; ``--docs`` copies it to
``docs/compare_stealth.png``), ``summary.csv``; a table on the terminal and ONE JSON line at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from envs.fileio import atomic_write_text

# learner name -> (train.py algorithm, nav_features?); "q-learning" is nets.tabular
LEARNERS = {
    "ppo-nav": ("ppo", True),
    "ppo": ("ppo", False),
    "ppo-pg": ("ppo-pg", False),
    "dqn": ("dqn", False),
    "reinforce": ("reinforce", False),
    "a2c-pg": ("a2c-pg", False),
    "q-learning": (None, False),
}
GAMMA = 0.99  # the learners' discount (train_configs.toml) and value iteration's
THRESHOLD = 0.95  # "reached" = 95% of the optimal return
OBS_MODE = "grid"
SUMMARY_FIELDS = ("level", "agent", "seeds", "steps", "success", "mean_return", "return_ratio", "optimal_return",
                  "v_star_start", "steps_to_95", "steps_per_second", "seconds")


@dataclass
class StealthCompareConfig:
    levels: list[str] = field(default_factory=list)  # level names or files; empty: the first four bundled ones
    steps: int = 300_000  # env steps per learner and seed
    seeds: int = 1  # seeds per learner (0, 1, ...); curves are averaged over them
    algos: list[str] = field(default_factory=lambda: list(LEARNERS))  # learners to train
    eval_episodes: int = 5  # held-out episodes per evaluation
    eval_points: int = 20  # evaluations along each learning curve
    out: str = "runs/compare_stealth"  # output folder
    docs: bool = False  # copy the all-levels plot to docs/compare_stealth.png


def add_stealth_args(parser: argparse.ArgumentParser) -> None:
    from experiments.options import add_config_args

    add_config_args(parser, StealthCompareConfig)


def config_from_args(args) -> StealthCompareConfig:
    from experiments.studies.common import check_positive, parse_list

    check_positive(steps=args.steps, seeds=args.seeds, eval_episodes=args.eval_episodes,
                   eval_points=args.eval_points)
    from experiments.options import config_from_args as from_args

    levels = parse_list(",".join(args.levels), "--levels") if args.levels else []
    algos = parse_list(",".join(args.algos), "--algos", valid=list(LEARNERS))
    return from_args(StealthCompareConfig, args, levels=levels, algos=algos)


# ---- the references: value iteration and the planner ----------------------------------------------------------


def rollout(agent_factory, level, episodes: int, seed: int) -> tuple[float, float]:
    """Mean undiscounted return and success rate of an ``env=``-reading agent on ``level``."""
    from agents.rollout import evaluate
    from envs.stealth.env import StealthEnv

    env = StealthEnv(level=level, obs_mode=OBS_MODE)
    ev = evaluate(agent_factory(env), env, episodes, seed=seed)
    return ev.mean_return, ev.success_rate


def references(level, episodes: int) -> dict:
    from agents.navigation.mdp import build_mdp
    from agents.navigation.planner import OptimalAgent, PlannerAgent
    from nets.bellman import value_iteration

    t0 = time.perf_counter()
    mdp, index = build_mdp(level, gamma=GAMMA)
    sol = value_iteration(mdp, tol=1e-8)
    opt_return, opt_success = rollout(lambda env: OptimalAgent(env, gamma=GAMMA), level, episodes, 0)
    vi_seconds = time.perf_counter() - t0
    plan_return, plan_success = rollout(PlannerAgent, level, episodes, 0)
    return {"mdp": mdp, "index": index, "v_star": float(sol.V[index.start_state]), "optimal_return": opt_return,
            "optimal_success": opt_success, "vi_seconds": vi_seconds, "planner_return": plan_return,
            "planner_success": plan_success}


# ---- the learners -----------------------------------------------------------------------------------------------


def train_q_learning(level, ref: dict, cfg: StealthCompareConfig, seed: int) -> tuple[list[dict], float, float]:
    from agents.navigation.mdp import policy_evaluator
    from envs.stealth.env import StealthEnv
    from envs.stealth.mdp import stealth_state_fn
    from nets.tabular import q_learning

    state_fn = stealth_state_fn(ref["index"])
    t0 = time.perf_counter()
    evaluate = policy_evaluator(StealthEnv(level=level), state_fn, cfg.eval_episodes, seed=1_000_000)
    res = q_learning(StealthEnv(level=level), ref["mdp"].n_states, state_fn, cfg.steps, gamma=GAMMA, seed=seed,
                     evaluate=evaluate, eval_every=max(1, cfg.steps // cfg.eval_points))
    seconds = time.perf_counter() - t0
    return res.curve, res.steps / seconds, seconds


def train_learner(name: str, level_name: str, level, ref: dict, cfg: StealthCompareConfig, seed: int, log):
    """The learning curve, steps per second and training seconds of learner ``name`` on one level and seed."""
    from experiments.studies.common import train_or_reuse

    algo, nav = LEARNERS[name]
    if algo is None:
        return train_q_learning(level, ref, cfg, seed)
    run_dir = Path(cfg.out) / "runs" / Path(level_name).stem / f"{name}-s{seed}"  # a level file: its stem
    curve, _, sps = train_or_reuse(
        "stealth", algo, run_dir, steps=cfg.steps, seed=seed, log=log,
        env_kwargs={"level": str(level_name), "obs_mode": OBS_MODE}, nav_features=nav,
        eval_every=max(1, cfg.steps // cfg.eval_points), eval_episodes=cfg.eval_episodes, subproc=False)
    return curve, sps, float(curve[-1]["seconds"])


# ---- report -----------------------------------------------------------------------------------------------------


def summarise_learner(level_name: str, name: str, curves: list[list[dict]], sps: list[float], seconds: float,
                      ref: dict, cfg: StealthCompareConfig) -> dict:
    from experiments.studies.common import mean_curve, steps_to_reach

    steps, ret = mean_curve(curves, "eval_return")
    _, succ = mean_curve(curves, "eval_success")
    opt = ref["optimal_return"]
    reach = steps_to_reach(steps, ret, THRESHOLD * opt) if opt > 0 else None
    return {"level": level_name, "agent": name, "seeds": len(curves), "steps": int(steps[-1]),
            "success": float(succ[-1]), "mean_return": float(ret[-1]),
            "return_ratio": float(ret[-1] / opt) if opt > 0 else math.nan, "optimal_return": opt,
            "v_star_start": ref["v_star"], "steps_to_95": reach, "steps_per_second": float(np.mean(sps)),
            "seconds": seconds, "curve_steps": steps.tolist(), "curve_return": ret.tolist()}


def reference_rows(level_name: str, ref: dict) -> list[dict]:
    opt = ref["optimal_return"]
    base = {"level": level_name, "seeds": 0, "steps": 0, "optimal_return": opt, "v_star_start": ref["v_star"],
            "steps_to_95": 0, "steps_per_second": math.nan}
    return [
        {**base, "agent": "value iteration", "success": ref["optimal_success"], "mean_return": opt,
         "return_ratio": 1.0 if opt > 0 else math.nan, "seconds": ref["vi_seconds"]},
        {**base, "agent": "planner", "success": ref["planner_success"], "mean_return": ref["planner_return"],
         "return_ratio": ref["planner_return"] / opt if opt > 0 else math.nan, "seconds": math.nan},
    ]


def fmt_steps(value) -> str:
    return "not reached" if value is None else f"{int(value):,}"


def print_table(rows: list[dict]) -> None:
    head = (f"{'level':<13}{'agent':<17}{'success':>8}{'return':>9}{'ret/opt':>9}{'V*(start)':>10}"
            f"{'steps to 95%':>14}{'steps/s':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        sps = "" if math.isnan(r["steps_per_second"]) else f"{r['steps_per_second']:.0f}"
        ratio = "" if math.isnan(r["return_ratio"]) else f"{r['return_ratio']:.3f}"
        print(f"{r['level']:<13}{r['agent']:<17}{r['success']:>8.0%}{r['mean_return']:>9.3f}{ratio:>9}"
              f"{r['v_star_start']:>10.3f}{fmt_steps(r['steps_to_95']):>14}{sps:>9}")


def write_summary(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in SUMMARY_FIELDS})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buf.getvalue())


def draw_level(ax, level_name: str, learner_rows: list[dict], ref: dict) -> None:
    for r in learner_rows:
        ax.plot(r["curve_steps"], r["curve_return"], marker=".", label=r["agent"])
    ax.axhline(ref["optimal_return"], color="k", lw=1.2, label="optimal return (VI policy)")
    ax.axhline(ref["v_star"], color="k", lw=1, ls="--", label="V*(start), discounted")
    ax.axhline(THRESHOLD * ref["optimal_return"], color="gray", lw=0.8, ls=":", label="95% of optimal")
    ax.set_title(level_name)
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval return")
    ax.grid(alpha=0.3)


def plot(out: Path, per_level: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.studies.common import save_figure

    for level_name, (learner_rows, ref) in per_level.items():
        fig, ax = plt.subplots(figsize=(6.5, 4))
        draw_level(ax, level_name, learner_rows, ref)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        save_figure(fig, out / "plots" / f"{Path(level_name).stem}.png")
        plt.close(fig)
    n = len(per_level)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (level_name, (learner_rows, ref)) in zip(axes.flat, per_level.items(), strict=False):
        draw_level(ax, level_name, learner_rows, ref)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.07 if rows > 1 else 0.14, 1, 1))
    path = out / "plots" / "compare_stealth.png"
    save_figure(fig, path)
    plt.close(fig)
    return path


# ---- the command ------------------------------------------------------------------------------------------------


def run_stealth(args) -> int:
    from envs.stealth.level import bundled_levels, load_level

    cfg = config_from_args(args)
    level_names = cfg.levels or bundled_levels()[:4]
    levels = {name: load_level(name) for name in level_names}  # bad names fail here, before any training

    from nets.device import set_threads

    set_threads()  # small MLPs on a shared CPU: one thread per process is fastest
    out = Path(cfg.out)

    def log(msg: str) -> None:
        print(msg, flush=True)

    log(f"compare stealth: levels {', '.join(level_names)}; learners {', '.join(cfg.algos)}; "
        f"{cfg.steps:,} env steps x {cfg.seeds} seed(s) each; obs {OBS_MODE}; gamma {GAMMA}")
    rows, per_level = [], {}
    for level_name, level in levels.items():
        ref = references(level, cfg.eval_episodes)
        log(f"[{level_name}] V*(start) = {ref['v_star']:.4f}; optimal policy: return {ref['optimal_return']:.3f}, "
            f"success {ref['optimal_success']:.0%}; planner: return {ref['planner_return']:.3f}")
        rows += reference_rows(level_name, ref)
        learner_rows = []
        for name in cfg.algos:
            curves, sps, seconds = [], [], 0.0
            for seed in range(cfg.seeds):
                log(f"[{level_name}] training {name}, seed {seed} ...")
                curve, rate, secs = train_learner(name, level_name, level, ref, cfg, seed, log)
                curves.append(curve)
                sps.append(rate)
                seconds += secs
            row = summarise_learner(level_name, name, curves, sps, seconds, ref, cfg)
            log(f"[{level_name}] {name}: success {row['success']:.0%}, return {row['mean_return']:.3f} "
                f"({row['return_ratio']:.3f} of optimal), 95% at {fmt_steps(row['steps_to_95'])}, "
                f"{row['steps_per_second']:.0f} steps/s")
            learner_rows.append(row)
        rows += learner_rows
        per_level[level_name] = (learner_rows, ref)

    # ---- report
    print()
    print_table(rows)
    write_summary(rows, out / "summary.csv")
    plot_path = plot(out, per_level)
    print(f"\nsummary: {out / 'summary.csv'}; plots: {out / 'plots'}")
    if cfg.docs:
        from experiments.studies.common import copy_to_docs

        print(f"copied the plot to {copy_to_docs(plot_path, 'compare_stealth.png')}")
    figures = {
        lv: {r["agent"]: {"success": round(r["success"], 4), "return": round(r["mean_return"], 4),
                          "ratio": None if math.isnan(r["return_ratio"]) else round(r["return_ratio"], 4),
                          "steps_to_95": r["steps_to_95"],
                          "steps_per_second": None if math.isnan(r["steps_per_second"])
                          else round(r["steps_per_second"], 1)}
             for r in rows if r["level"] == lv}
        for lv in level_names
    }
    for lv in level_names:
        ref = per_level[lv][1]
        figures[lv]["v_star_start"] = round(ref["v_star"], 6)
        figures[lv]["optimal_return"] = round(ref["optimal_return"], 6)
    print(json.dumps({"compare": "stealth", "steps": cfg.steps, "seeds": cfg.seeds, "obs_mode": OBS_MODE,
                      "gamma": GAMMA, "levels": figures}))
    return 0
