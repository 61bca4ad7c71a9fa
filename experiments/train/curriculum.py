"""``sandbox train stealth --algo ppo-pg --curriculum``: PPO on generated levels, the director as teacher.

Setup. One batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``) of N envs: the first
``N - round(bundled_share * N)`` play generated levels from the training pool (``level="random"``, seeds
0..4095; the held-out pool, seeds 2**30+, is never drawn here), the rest cycle over the bundled levels
(``bundled``), mixed in. :class:`agents.meta.curriculum.CurriculumVectorEnv` puts a
:class:`agents.meta.curriculum.Curriculum` of :class:`agents.meta.director.RuleDirector` (``target``,
``band``) in charge of each generated env's next difficulty (``mode="env"``: a director per env,
``"batch"``: one for all), quantised to the ``grid`` (0.05: at most 21 cached pools). Levels of different
shapes share one observation only in the ``local`` view, the default here. Optional training aids as
``sandbox train stealth``: potential-based goal shaping, exploring starts.

The run folder: ``config.json``, ``metrics.csv`` (one row per ``log_every`` steps: training return, the
mean/min/max next difficulty of the generated envs, success on generated and on bundled levels since the
previous row), TensorBoard under ``tb/`` (the same under ``curriculum/``), ``plots/curriculum.png`` (the
difficulty curve and success), ``checkpoints/latest.pt`` and ``final.pt``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from agents.meta.curriculum import Curriculum, CurriculumVectorEnv
from agents.meta.director import RuleDirector
from envs.fileio import atomic_save, atomic_write_text
from envs.stealth.features import nav_spec
from experiments.train.run import log_scalars, write_metrics

METRIC_FIELDS = ("steps", "train_return", "difficulty", "difficulty_min", "difficulty_max", "generated_success",
                 "bundled_success", "episodes", "seconds")


@dataclass
class CurriculumConfig:
    """``sandbox train stealth --algo ppo-pg --curriculum``; curriculum options come through ``--set``."""

    steps: int = 300_000  # total env steps
    n_envs: int = 64  # envs stepped at once
    seed: int = 0  # the learner and the envs
    device: str = "auto"  # the learner's device
    bundled: str = "all"  # bundled levels mixed in (comma-separated names, "all", or "" for none)
    bundled_share: float = 0.25  # share of the envs that play bundled levels
    mode: str = "env"  # env: a director per env; batch: one director for all generated envs
    target: float = 0.7  # the success rate each director aims at
    band: float = 0.1  # ... within target +- band
    grid: float = 0.05  # difficulties reach the env rounded to this grid (bounded level-pool cache)
    obs_mode: str = "local"  # local mixes level shapes; grid/vector need one shape
    local_size: int = 7  # the local view's width
    nav_features: bool | str = False  # the navigation AI's channels: true, "all" or names (flow,lookahead)
    shaping: bool = True  # potential-based goal shaping while training
    exploring_starts: float = 0.5  # probability of a random safe start (such episodes count for the director too)
    log_every: int = 10_000  # a metrics row (and checkpoints/latest.pt) every N steps
    warm_start: str = ""  # "dagger": first imitate the exact optimum (experiments/train/dagger.py), then PPO
    init: str = ""  # start from this checkpoint's policy (a ppo-pg .pt with the same observation and network)
    dagger_rounds: int = 6  # DAgger rounds (round r follows the expert with probability 0.5 ** r)
    dagger_steps: int = 512  # batch steps per DAgger round (times n_envs states labelled)
    hyper: dict = field(default_factory=dict)  # the PPO's options (nets.ppo.PPO)


def split_options(options: dict) -> tuple[dict, dict]:
    """``--set`` items -> (curriculum fields, PPO options)."""
    names = {f.name for f in fields(CurriculumConfig)} - {"hyper"}
    return {k: v for k, v in options.items() if k in names}, {k: v for k, v in options.items() if k not in names}


def config_from_cli(*, steps: int | None, n_envs: int | None, seed: int, device: str, options: dict,
                    nav_features: bool | None = None, shaping: bool | None = None,
                    exploring_starts: float | None = None) -> CurriculumConfig:
    """The config from the CLI: PPO defaults of ``train_configs.toml`` (``[stealth.ppo-pg]``), the run
    options, and ``--set`` items (curriculum fields and PPO options alike)."""
    from experiments.train.config import resolve_config

    own, ppo = split_options(options)
    run = {k: v for k, v in {"steps": steps, "n_envs": n_envs}.items() if v is not None}
    base = resolve_config("stealth", "ppo-pg", run)
    # the training aids: the flag if given, else the [stealth] table's default (shaping, exploring starts)
    for name, value in (("nav_features", nav_features), ("shaping", shaping), ("exploring_starts", exploring_starts)):
        own.setdefault(name, base[name] if value is None else value)
    own["nav_features"] = nav_spec(own["nav_features"])
    return CurriculumConfig(steps=int(base["steps"]), n_envs=int(base["n_envs"]), seed=seed, device=device,
                            hyper={**base["hyper"], **ppo}, **own)


def level_assignment(cfg: CurriculumConfig) -> tuple[list[str], np.ndarray]:
    """Env i's level (``"random"`` or a bundled name) and which envs play generated levels."""
    from envs.stealth.level import bundled_levels

    if not 0.0 <= cfg.bundled_share < 1.0:
        raise ValueError(f"bundled_share must be in [0, 1); got {cfg.bundled_share}")
    names = bundled_levels() if cfg.bundled == "all" else [s.strip() for s in cfg.bundled.split(",") if s.strip()]
    n_fixed = int(round(cfg.bundled_share * cfg.n_envs)) if names else 0
    n_gen = cfg.n_envs - n_fixed
    if n_gen < 1:
        raise ValueError(f"no env left for generated levels ({cfg.n_envs} envs, bundled_share {cfg.bundled_share})")
    levels = ["random"] * n_gen + [names[i % len(names)] for i in range(n_fixed)]
    return levels, np.arange(cfg.n_envs) < n_gen


def make_env(cfg: CurriculumConfig, gamma: float = 0.99):
    """The batched stealth env (levels as :func:`level_assignment`), shaped if asked, under the curriculum."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers sandbox/Stealth-v0)

    levels, generated = level_assignment(cfg)
    kwargs = {"num_envs": cfg.n_envs, "level": levels, "obs_mode": cfg.obs_mode, "local_size": cfg.local_size,
              "nav_features": cfg.nav_features, "exploring_starts": cfg.exploring_starts,
              "shaping_gamma": gamma if cfg.shaping else None}
    vec = gym.make_vec("sandbox/Stealth-v0", vectorization_mode="vector_entry_point", **kwargs)
    make = lambda: RuleDirector(target=cfg.target, band=cfg.band)  # noqa: E731
    curriculum = Curriculum(cfg.n_envs, generated=generated, mode=cfg.mode, make_director=make, step=cfg.grid)
    return CurriculumVectorEnv(vec, curriculum), curriculum


def _plot(run_dir: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["steps"] for r in rows]
    ax.plot(steps, [r["difficulty"] for r in rows], marker="o", label="next difficulty (mean over generated envs)")
    ax.fill_between(steps, [r["difficulty_min"] for r in rows], [r["difficulty_max"] for r in rows], alpha=0.2)
    ax.plot(steps, [r["generated_success"] for r in rows], marker=".", label="success, generated levels")
    ax.plot(steps, [r["bundled_success"] for r in rows], marker=".", alpha=0.7, label="success, bundled levels")
    ax.set_xlabel("env steps")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("the director's curriculum")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save(run_dir / "plots" / "curriculum.png", lambda p: fig.savefig(p, dpi=100), suffix=".png")
    plt.close(fig)


def train_curriculum(cfg: CurriculumConfig, out: str | Path, progress: bool = True) -> dict:
    """Train with the director's curriculum; returns the rows of ``metrics.csv`` and the run folder."""
    from torch.utils.tensorboard import SummaryWriter

    from nets.ppo import PPO

    # ---- setup: the env under the curriculum (options checked before anything is written), the run folder
    if cfg.warm_start not in ("", "dagger"):
        raise ValueError(f"warm_start must be '' or 'dagger', got {cfg.warm_start!r}")
    env, curriculum = make_env(cfg, gamma=float(cfg.hyper.get("gamma", 0.99)))
    run_dir = Path(out)
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pick another --out")
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    levels, _ = level_assignment(cfg)
    config = {"env": "stealth", "algo": "ppo-pg", "curriculum": True, **asdict(cfg),
              "env_kwargs": {"level": levels, "obs_mode": cfg.obs_mode, "local_size": cfg.local_size}}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    learner = PPO(env, seed=cfg.seed, device=cfg.device, **cfg.hyper)
    if cfg.init:
        from agents.pg_agent import load_pg

        start = load_pg(cfg.init, device=learner.device)
        same = {k: start.config()["hyper"].get(k) for k in ("encoder", "hidden")} == {
            k: learner.config()["hyper"].get(k) for k in ("encoder", "hidden")}
        if start.spaces != learner.spaces or not same:
            raise ValueError(f"{cfg.init}: a policy for other spaces or another network than this run's")
        learner.policy.load_state_dict(start.policy.state_dict())
    writer = SummaryWriter(str(run_dir / "tb" / "sandbox"))
    meta = {"env": "stealth", "env_id": "sandbox/Stealth-v0", "curriculum": True, "nav_features": cfg.nav_features,
            "env_kwargs": {"obs_mode": cfg.obs_mode, "local_size": cfg.local_size, "nav_features": cfg.nav_features}}
    rows: list[dict] = []
    recent: list[float] = []
    t0 = time.time()
    state = {"next": cfg.log_every, "episodes": curriculum.episodes.copy(), "successes": curriculum.successes.copy()}

    def log_row() -> None:
        d = curriculum.difficulties()[curriculum.generated]
        eps = curriculum.episodes - state["episodes"]
        wins = curriculum.successes - state["successes"]
        state["episodes"], state["successes"] = curriculum.episodes.copy(), curriculum.successes.copy()

        def rate(mask):
            n = eps[mask].sum()
            return float(wins[mask].sum() / n) if n else math.nan

        row = {"steps": int(learner.num_timesteps), "train_return": float(np.mean(recent)) if recent else math.nan,
               "difficulty": float(d.mean()), "difficulty_min": float(d.min()), "difficulty_max": float(d.max()),
               "generated_success": rate(curriculum.generated), "bundled_success": rate(~curriculum.generated),
               "episodes": int(eps.sum()), "seconds": round(time.time() - t0, 2)}
        rows.append(row)
        log_scalars(writer, "curriculum", row)
        writer.flush()
        write_metrics(run_dir, rows, METRIC_FIELDS)
        _plot(run_dir, rows)
        learner.save(run_dir / "checkpoints" / "latest.pt", {**meta, "steps": row["steps"]})
        if progress:
            print(f"{row['steps']:>9} steps  return {row['train_return']:6.3f}  difficulty {row['difficulty']:.2f} "
                  f"[{row['difficulty_min']:.2f}, {row['difficulty_max']:.2f}]  success generated "
                  f"{row['generated_success']:.2f} bundled {row['bundled_success']:.2f}", flush=True)

    def callback(info: dict):
        recent.extend(info["episode_returns"])
        del recent[:-200]
        if info["steps"] >= state["next"]:
            state["next"] += cfg.log_every
            log_row()

    # ---- the warm start: DAgger from the exact optimum (its env steps are not PPO's, and are logged apart)
    if cfg.warm_start == "dagger":
        from experiments.train.dagger import dagger

        dagger_rows: list[dict] = []

        def dagger_log(row: dict) -> None:
            d = curriculum.difficulties()[curriculum.generated]  # where the director has the generated envs now
            row = {**row, "difficulty": float(d.mean()), "difficulty_min": float(d.min()),
                   "difficulty_max": float(d.max())}
            dagger_rows.append(row)
            write_metrics(run_dir, dagger_rows, tuple(row), name="dagger.csv")
            if progress:
                print(f"  dagger round {row['round']}: beta {row['beta']:.3f}  labels {row['labels']}  success "
                      f"{row['success']:.2f}  agreement {row['agreement']:.2f}  accuracy {row['accuracy']:.3f}  "
                      f"({row['seconds']} s)", flush=True)

        dagger(learner, env, rounds=cfg.dagger_rounds, steps=cfg.dagger_steps,
               gamma=float(cfg.hyper.get("gamma", 0.99)), seed=cfg.seed, log=dagger_log)
        learner.save(run_dir / "checkpoints" / "dagger.pt", {**meta, "steps": 0})

    # ---- the loop
    learner.learn(cfg.steps, callback=callback)
    if not rows or rows[-1]["steps"] < learner.num_timesteps:
        log_row()
    learner.save(run_dir / "checkpoints" / "final.pt", {**meta, "steps": int(learner.num_timesteps)})
    writer.close()
    return {"run_dir": str(run_dir), "rows": rows, **curriculum.summary()}
