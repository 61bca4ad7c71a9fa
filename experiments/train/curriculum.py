"""``sandbox train stealth --algo ppo-pg --curriculum``: PPO on generated levels, the director as teacher.

The curriculum is a part of the one training loop (:class:`CurriculumPart`, see
:mod:`experiments.train.parts`). The batched stealth env of N envs: the first
``N - round(bundled_share * N)`` play generated levels from the training pool (``level="random"``, seeds
0..4095; the held-out pool, seeds 2**30+, is never drawn here), the rest cycle over the bundled levels
(``bundled``), mixed in. :class:`agents.meta.curriculum.CurriculumVectorEnv` puts a
:class:`agents.meta.curriculum.Curriculum` of :class:`agents.meta.director.RuleDirector` (``target``,
``band``) in charge of each generated env's next difficulty (``mode="env"``: a director per env,
``"batch"``: one for all), quantised to the ``grid`` (0.05: at most 21 cached pools). Levels of different
shapes share one observation only in the ``local`` view, the default here. The run's evaluation plays
held-out generated levels.

``metrics.csv`` gains the curriculum's columns (the mean/min/max next difficulty of the generated envs,
success on generated and on bundled levels since the previous row, episodes); ``plots/curriculum.png``
draws them. The directors' state rides in every checkpoint, so ``--resume`` continues the curriculum.
A warm start (``--curriculum.warm-start dagger``) imitates the exact optimum first and writes ``dagger.csv``
and ``checkpoints/dagger.pt``; ``--curriculum.init PATH`` starts from a checkpoint's policy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from agents.meta.curriculum import Curriculum, CurriculumVectorEnv
from agents.meta.director import RuleDirector
from envs.fileio import atomic_save
from experiments.train.config import CurriculumSettings, typed_settings
from experiments.train.parts import Part


def level_assignment(cfg: CurriculumSettings, n_envs: int) -> tuple[list[str], np.ndarray]:
    """Env i's level (``"random"`` or a bundled name) and which envs play generated levels."""
    from envs.stealth.level import bundled_levels

    if not 0.0 <= cfg.bundled_share < 1.0:
        raise ValueError(f"--curriculum.bundled-share must be in [0, 1); got {cfg.bundled_share}")
    names = bundled_levels() if cfg.bundled == "all" else [s.strip() for s in cfg.bundled.split(",") if s.strip()]
    n_fixed = int(round(cfg.bundled_share * n_envs)) if names else 0
    n_gen = n_envs - n_fixed
    if n_gen < 1:
        raise ValueError(f"no env left for generated levels ({n_envs} envs, bundled_share {cfg.bundled_share})")
    levels = ["random"] * n_gen + [names[i % len(names)] for i in range(n_fixed)]
    return levels, np.arange(n_envs) < n_gen


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


class CurriculumPart(Part):
    """The curriculum around the one loop: the levels of the training env, the directors that move the
    generated envs' difficulty, a warm start, and the directors' state in every checkpoint."""

    name = "curriculum"
    fields = ("difficulty", "difficulty_min", "difficulty_max", "generated_success", "bundled_success", "episodes")
    eval_kwargs = {"level": "random"}  # evaluation: held-out generated levels (see held_out_kwargs)

    def __init__(self, config: dict):
        self.settings = cfg = typed_settings(CurriculumSettings, config["parts"]["curriculum"], "--curriculum.")
        if cfg.warm_start not in ("", "dagger"):
            raise ValueError(f"--curriculum.warm-start must be '' or 'dagger', got {cfg.warm_start!r}")
        if "level" in config["env_kwargs"] and config["env_kwargs"]["level"] not in ("tutorial", "random"):
            raise ValueError("--level does not apply to --curriculum (the director picks the levels' difficulty; "
                             "bundled levels via --curriculum.bundled)")
        self.config = config
        self.n_envs = int(config["n_envs"])
        self.levels, self.generated = level_assignment(cfg, self.n_envs)
        self.curriculum = Curriculum(self.n_envs, generated=self.generated, mode=cfg.mode, step=cfg.grid,
                                     make_director=lambda: RuleDirector(target=cfg.target, band=cfg.band),
                                     floor_share=cfg.floor_share, floor_difficulty=cfg.floor_difficulty)
        self.seen = (self.curriculum.episodes.copy(), self.curriculum.successes.copy())

    def env_kwargs(self, config: dict) -> dict:
        return {"level": self.levels}

    def wrap(self, env: Any) -> Any:
        self.env = CurriculumVectorEnv(env, self.curriculum)
        return self.env

    def start(self, learner: Any, run: Any) -> None:
        cfg = self.settings
        state = run.resumed_meta.get("parts", {}).get("curriculum") if run.resumed else None
        if state:
            self.curriculum.load_state(state["curriculum"])
            self.seen = (self.curriculum.episodes.copy(), self.curriculum.successes.copy())
            return  # the warm start and the initial policy are in the checkpoint already
        if cfg.init:
            from agents.pg_agent import load_pg

            first = load_pg(cfg.init, device=learner.device)
            same = {k: first.config()["hyper"].get(k) for k in ("encoder", "hidden")} == {
                k: learner.config()["hyper"].get(k) for k in ("encoder", "hidden")}
            if first.spaces != learner.spaces or not same:
                raise ValueError(f"--curriculum.init {cfg.init}: a policy for other spaces or another network "
                                 "than this run's")
            learner.policy.load_state_dict(first.policy.state_dict())
        if cfg.warm_start == "dagger":
            self.dagger(learner, run)

    def dagger(self, learner: Any, run: Any) -> None:
        """The warm start: DAgger from the exact optimum (its env steps are not PPO's, and are logged apart,
        in ``dagger.csv``)."""
        from experiments.train.dagger import dagger

        cfg, rows = self.settings, []

        def log(row: dict) -> None:
            d = self.curriculum.difficulties()[self.generated]  # where the directors have the generated envs now
            rows.append({**row, "difficulty": float(d.mean()), "difficulty_min": float(d.min()),
                         "difficulty_max": float(d.max())})
            run.write_table("dagger.csv", rows)
            run.say(f"  dagger round {row['round']}: beta {row['beta']:.3f}  labels {row['labels']}  success "
                    f"{row['success']:.2f}  agreement {row['agreement']:.2f}  accuracy {row['accuracy']:.3f}  "
                    f"({row['seconds']} s)")

        gamma = float(self.config["hyper"].get("gamma", 0.99))
        dagger(learner, self.env, rounds=cfg.dagger_rounds, steps=cfg.dagger_steps, gamma=gamma,
               seed=int(self.config["seed"]), log=log)
        run.checkpoint("dagger", lambda p: learner.save(p), 0, {"warm_start": "dagger"})

    def row(self) -> dict:
        c = self.curriculum
        d = c.difficulties()[self.generated]
        eps, wins = c.episodes - self.seen[0], c.successes - self.seen[1]
        self.seen = (c.episodes.copy(), c.successes.copy())

        def rate(mask: np.ndarray) -> float:
            n = eps[mask].sum()
            return float(wins[mask].sum() / n) if n else math.nan

        return {"difficulty": float(d.mean()), "difficulty_min": float(d.min()), "difficulty_max": float(d.max()),
                "generated_success": rate(self.generated), "bundled_success": rate(~self.generated),
                "episodes": int(eps.sum())}

    def logged(self, run: Any) -> None:
        _plot(run.folder, run.rows)

    def state(self) -> dict:
        return {"curriculum": self.curriculum.state()}

    def summary(self) -> dict:
        return dict(self.curriculum.summary())
