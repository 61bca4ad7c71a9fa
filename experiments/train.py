"""``sandbox train ENV --algo ...``: headless training on CPU or GPU, into a run folder.

``ENV`` is ``stealth``, ``duel`` or any Gymnasium id (``CartPole-v1``); ``sandbox train ghost`` is behaviour
cloning and lives in :mod:`experiments.train_ghost`. ``ppo``, ``a2c`` and ``dqn`` train with
stable-baselines3; ``reinforce`` and ``a2c-pg`` with our own :mod:`nets.policy_gradient`. Defaults per env and
algorithm are data, in ``experiments/train_configs.toml``.

The run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation on held-out seeds),
TensorBoard events under ``tb/``, ``plots/learning_curve.png`` and ``checkpoints/`` (``latest`` after every
evaluation, ``final`` at the end; each with a JSON sidecar saying how to rebuild its env). ``--resume``
continues an interrupted run from ``checkpoints/latest``.

Python use: :func:`train_run`, :func:`make_env`, :func:`load_trained`.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import math
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from envs.fileio import atomic_save, atomic_write_text

SB3_ALGOS = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}
PG_ALGOS = {"reinforce": "Reinforce", "a2c-pg": "A2C"}
ALGOS = (*SB3_ALGOS, *PG_ALGOS)
ENV_IDS = {"stealth": "sandbox/Stealth-v0", "duel": "sandbox/Duel-v0"}
RUN_KEYS = ("steps", "n_envs", "eval_every", "eval_episodes")
EVAL_SEED = 1_000_000  # held-out evaluation seeds start here; training envs use seed, seed+1, ...
METRIC_FIELDS = ("steps", "eval_return", "eval_success", "train_return", "seconds")


# ---- configuration ------------------------------------------------------------------------------------------
def load_defaults() -> dict:
    """The parsed ``train_configs.toml``."""
    text = resources.files("experiments").joinpath("train_configs.toml").read_text()
    return tomllib.loads(text)


def env_kind(env: str) -> str:
    """``stealth``/``duel`` for the sandbox envs (by short name or id), else the Gymnasium id itself."""
    for kind, env_id in ENV_IDS.items():
        if env in (kind, env_id):
            return kind
    return env


def resolve_config(env: str, algo: str, overrides: dict | None = None) -> dict:
    """Defaults for ``env`` and ``algo`` merged from the TOML (``default.ALGO`` then ``ENV.ALGO``), then
    ``overrides``. Returns ``{"steps", "n_envs", "eval_every", "eval_episodes", "env_kwargs",
    "nav_features", "hyper": {...}}``."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    table = load_defaults()
    kind = env_kind(env)
    merged = dict(table["default"][algo])
    env_table = table.get(kind, {}) if kind in ENV_IDS else {}
    merged.update(env_table.get(algo, {}))
    merged.update(overrides or {})
    cfg = {key: merged.pop(key) for key in RUN_KEYS}
    cfg["env_kwargs"] = dict(env_table.get("env_kwargs", {}))
    cfg["nav_features"] = bool(env_table.get("nav_features", False))
    cfg["shaping"] = bool(env_table.get("shaping", False))
    cfg["exploring_starts"] = float(env_table.get("exploring_starts", 0.0))
    cfg["hyper"] = merged
    return cfg


def parse_set(items: list[str] | None) -> dict:
    """``["lr=1e-3", "hidden=[32, 32]"]`` -> ``{"lr": 0.001, "hidden": [32, 32]}`` (values read as TOML;
    a bare word is a string)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


# ---- environments -------------------------------------------------------------------------------------------
def make_env(env: str, env_kwargs: dict | None = None, nav_features: bool = False, render_mode=None,
             index: int = 0, shaping: bool = False, gamma: float = 0.99, exploring_starts: float = 0.0):
    """The env a run trains on: ``stealth``/``duel`` (with their keyword arguments) or a Gymnasium id,
    wrapped in :class:`agents.navigation.NavFeatures` when ``nav_features`` and in
    :class:`agents.navigation.shaping.GoalShaping` (for discount ``gamma``) when ``shaping``. A stealth
    ``level`` (and a duel ``opponent``) may be a list or a comma-separated string: env number ``index`` of a
    vector env plays ``levels[index % len(levels)]``. ``exploring_starts`` > 0 wraps it in
    :class:`agents.navigation.shaping.ExploringStarts` (training only)."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the sandbox ids)

    env_id = ENV_IDS.get(env, env)
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, [*ENV_IDS, *gym.registry], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown env {env!r}{hint}; valid: stealth, duel, ghost or a Gymnasium id such as CartPole-v1")
    kwargs = dict(env_kwargs or {})
    for key, choices in cycled_kwargs(kwargs).items():
        kwargs[key] = choices[index % len(choices)]
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        e = gym.make(env_id, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{env_id} does not accept these options {sorted(env_kwargs or {})}: {exc}") from None
    if nav_features:
        if env_kind(env_id) != "stealth":
            raise ValueError(f"--nav-features needs the stealth env, not {env_id}")
        from agents.navigation.features import NavFeatures

        e = NavFeatures(e)
    if exploring_starts > 0:
        from agents.navigation.shaping import ExploringStarts

        e = ExploringStarts(e, exploring_starts)
    if shaping:
        e = shaped(e, gamma)
    return e


def shaped(env, gamma: float):
    """``env`` with the navigation AI's potential-based goal shaping (stealth only)."""
    from agents.navigation.shaping import GoalShaping

    return GoalShaping(env, gamma=gamma)  # a ValueError for any other env


CYCLED_KEYS = ("level", "opponent")  # keyword arguments that may list several values, one per vector env


def cycled_kwargs(env_kwargs: dict) -> dict[str, list]:
    """The keyword arguments that list several values (stealth levels, duel opponents), e.g.
    ``{"opponent": ["random", "scripted:hard"]}``; env number ``i`` of a vector env takes value ``i % n``."""
    out = {}
    levels = level_list(env_kwargs)
    if levels:
        out["level"] = levels
    opponent = env_kwargs.get("opponent")
    if isinstance(opponent, str) and "," in opponent:
        out["opponent"] = [o.strip() for o in opponent.split(",") if o.strip()]
    elif isinstance(opponent, list):
        out["opponent"] = [str(o) for o in opponent]
    return out


def level_list(env_kwargs: dict) -> list[str]:
    """The stealth levels named by ``env_kwargs["level"]`` when it lists several (``"all"``: every bundled
    level); [] for one level."""
    level = env_kwargs.get("level")
    if level == "all":
        from envs.stealth.level import bundled_levels

        return bundled_levels()
    if isinstance(level, str) and "," in level:
        return [name.strip() for name in level.split(",") if name.strip()]
    if isinstance(level, list):
        return [str(name) for name in level]
    return []


def held_out_kwargs(env_kwargs: dict) -> dict:
    """The env keyword arguments of evaluation: stealth's generated training levels (``level="random"``,
    drawn from the training pool) become the held-out pool (``"heldout"``), whose generator seeds the
    training pool never uses (see ``envs.stealth.level.POOL_SEED_BASE``)."""
    level = env_kwargs.get("level")
    if level == "random":
        return {**env_kwargs, "level": "heldout"}
    if isinstance(level, list):
        return {**env_kwargs, "level": ["heldout" if item == "random" else item for item in level]}
    if isinstance(level, str) and "," in level:
        names = [name.strip() for name in level.split(",")]
        return {**env_kwargs, "level": ",".join("heldout" if name == "random" else name for name in names)}
    return env_kwargs


def check_compatible(algo: str, env) -> None:
    """A clear error when ``algo`` cannot act in ``env``'s action space."""
    from gymnasium import spaces

    space = env.action_space
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if algo == "dqn" and not isinstance(space, spaces.Discrete):
        multi = isinstance(space, spaces.MultiDiscrete)
        hint = " (pass --flat-actions for the duel's Discrete(36) form)" if multi else ""
        raise ValueError(f"dqn needs a Discrete action space; {name} has {space}{hint}")
    if algo in PG_ALGOS and not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        raise ValueError(f"{algo} needs a Discrete or MultiDiscrete action space; {name} has {space}")


def outcome(kind: str, info: dict) -> float:
    """Success of a finished episode: stealth reached the goal, duel won the round; nan elsewhere."""
    if kind == "stealth":
        return float(bool(info.get("at_goal")))
    if kind == "duel":
        return float(info.get("winner") == "agent")
    return math.nan


def evaluate(agent, env_fn, episodes: int, seed: int = EVAL_SEED, kind: str = "") -> tuple[float, float]:
    """Mean return and success rate of ``agent`` (deterministic) over ``episodes`` episodes seeded
    ``seed, seed+1, ...``. ``env_fn`` may be a list of env factories, used in turn."""
    fns = env_fn if isinstance(env_fn, (list, tuple)) else [env_fn]
    made = [fn() for fn in fns]
    returns, successes = [], []
    try:
        for i in range(episodes):
            env = made[i % len(made)]
            obs, _ = env.reset(seed=seed + i)
            if hasattr(agent, "reset"):
                agent.reset()
            state, start, total, done = None, np.ones(1, dtype=bool), 0.0, False
            while not done:
                action, state = agent.predict(obs, state=state, episode_start=start, deterministic=True)
                start = np.zeros(1, dtype=bool)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            successes.append(outcome(kind, info))
    finally:
        for env in made:
            env.close()
    return float(np.mean(returns)), float(np.mean(successes)) if not all(map(math.isnan, successes)) else math.nan


# ---- the run folder -----------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    curve: list[dict] = field(default_factory=list)
    steps_per_second: float = math.nan


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _checkpoint_name(algo: str, stem: str) -> str:
    return f"{stem}.zip" if algo in SB3_ALGOS else f"{stem}.pt"


def _write_metrics(run_dir: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: int(row[k]) if k == "steps" else row.get(k) for k in METRIC_FIELDS})
    atomic_write_text(run_dir / "metrics.csv", buf.getvalue())


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The rows of a run's ``metrics.csv`` as floats."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in rows]


def _plot(run_dir: Path, rows: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["steps"] for r in rows]
    ax.plot(steps, [r["eval_return"] for r in rows], marker="o", label="evaluation return (held-out seeds)")
    ax.plot(steps, [r["train_return"] for r in rows], alpha=0.6, label="training return (recent episodes)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save(run_dir / "plots" / "learning_curve.png", lambda p: fig.savefig(p, dpi=100), suffix=".png")
    plt.close(fig)


class RunTracker:
    """What happens while any algorithm trains: the progress bar, evaluation on held-out seeds every
    ``eval_every`` steps, ``metrics.csv``, TensorBoard scalars, the plot and ``checkpoints/latest``."""

    def __init__(self, run_dir: Path, config: dict, agent_fn, save_fn, rows: list[dict], start_steps: int,
                 progress: bool):
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        self.run_dir, self.config = run_dir, config
        self.agent_fn, self.save_fn = agent_fn, save_fn
        self.rows = rows
        self.kind = env_kind(config["env"])
        self.total = int(config["steps"])
        self.eval_every = int(config["eval_every"])
        self.next_eval = (start_steps // self.eval_every + 1) * self.eval_every
        self.recent: list[float] = []
        self.t0 = time.time()
        self.start_steps = start_steps
        self.prev_seconds = rows[-1]["seconds"] if rows else 0.0
        self.writer = SummaryWriter(str(run_dir / "tb" / "sandbox"))
        self.progress = progress
        self.bar = tqdm(total=self.total, initial=start_steps, unit="step", disable=not progress,
                        desc=f"{config['algo']} {config['env']}", dynamic_ncols=True)
        self.steps = start_steps

    def env_fn(self):
        cfg = self.config
        kwargs = held_out_kwargs(cfg["env_kwargs"])
        cycled = cycled_kwargs(kwargs)
        count = math.lcm(*(len(v) for v in cycled.values())) if cycled else 1
        return [lambda i=i: make_env(cfg["env"], kwargs, cfg["nav_features"], index=i) for i in range(count)]

    def update(self, steps: int, new_returns) -> None:
        if new_returns:
            self.recent = (self.recent + [float(r) for r in new_returns])[-50:]
        if steps - self.steps >= 1000 or steps >= self.next_eval:
            self.bar.update(max(0, steps - self.steps))
            self.steps = steps
            if self.recent:
                self.bar.set_postfix(sps=f"{self.steps_per_second():.0f}", ret=f"{np.mean(self.recent):.3f}",
                                     refresh=False)
        if steps >= self.next_eval:
            self.evaluate_now()
            while self.next_eval <= steps:
                self.next_eval += self.eval_every

    def evaluate_now(self) -> None:
        if self.rows and self.rows[-1]["steps"] >= self.steps:
            return
        ret, success = evaluate(self.agent_fn(), self.env_fn(), int(self.config["eval_episodes"]), kind=self.kind)
        row = {
            "steps": self.steps,
            "eval_return": ret,
            "eval_success": success,
            "train_return": float(np.mean(self.recent)) if self.recent else math.nan,
            "seconds": self.prev_seconds + time.time() - self.t0,
        }
        self.rows.append(row)
        for key in ("eval_return", "eval_success", "train_return"):
            if not math.isnan(row[key]):
                self.writer.add_scalar(f"sandbox/{key}", row[key], self.steps)
        self.writer.add_scalar("sandbox/steps_per_second", self.steps_per_second(), self.steps)
        self.writer.flush()
        _write_metrics(self.run_dir, self.rows)
        _plot(self.run_dir, self.rows, f"{self.config['algo']} on {self.config['env']}")
        self.save_fn(self.run_dir / "checkpoints" / _checkpoint_name(self.config["algo"], "latest"), self.steps)
        msg = f"{self.steps:>9} steps  eval return {ret:8.3f}"
        if not math.isnan(success):
            msg += f"  success {success:5.1%}"
        if self.progress:
            self.bar.write(msg)

    def steps_per_second(self) -> float:
        return (self.steps - self.start_steps) / max(time.time() - self.t0, 1e-9)

    def close(self) -> None:
        self.bar.close()
        self.writer.close()


def _write_sidecar(path: Path, config: dict, steps: int) -> None:
    meta = {
        "algo": SB3_ALGOS.get(config["algo"], config["algo"]),
        "env": config["env"],
        "env_id": ENV_IDS.get(config["env"], config["env"]),
        "env_kwargs": config["env_kwargs"],
        "nav_features": config["nav_features"],
        "shaping": config.get("shaping", False),
        "steps": int(steps),
        "seed": config["seed"],
    }
    atomic_write_text(_sidecar(path), json.dumps(meta, indent=2) + "\n")


# ---- training -----------------------------------------------------------------------------------------------
def _sb3_vec_env(config: dict, n_envs: int, seed: int):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    env, kwargs, nav = config["env"], config["env_kwargs"], config["nav_features"]
    vec_cls = SubprocVecEnv if n_envs > 1 and config.get("subproc", True) else DummyVecEnv
    starts = float(config.get("exploring_starts", 0.0))
    fns = [lambda i=i: make_env(env, kwargs, nav, index=i, exploring_starts=starts) for i in range(n_envs)]
    gamma = _shaping_gamma(config)
    vec = vec_cls([_monitored(fn, seed + i, gamma) for i, fn in enumerate(fns)])
    vec.seed(seed)
    return vec


def _shaping_gamma(config: dict) -> float | None:
    """The discount to shape rewards for, or None when the run does not shape."""
    return float(config["hyper"].get("gamma", 0.99)) if config.get("shaping") else None


def _monitored(fn, seed: int, shaping_gamma: float | None):
    """An env factory for SB3: Monitor records the env's own returns; shaping (if any) goes outside it."""
    def build():
        from stable_baselines3.common.monitor import Monitor

        env = Monitor(fn())
        if shaping_gamma is not None:
            env = shaped(env, shaping_gamma)
        env.action_space.seed(seed)
        return env

    return build


def _train_sb3(config: dict, run_dir: Path, device, resume_from: Path | None, rows: list[dict], progress: bool):
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.sb3_agent import SB3Agent

    cls = getattr(sb3, SB3_ALGOS[config["algo"]])
    vec = _sb3_vec_env(config, int(config["n_envs"]), int(config["seed"]))
    if resume_from is not None:
        model = cls.load(resume_from, env=vec, device=device)
    else:
        model = cls("MlpPolicy", vec, seed=int(config["seed"]), device=device, verbose=0,
                    tensorboard_log=str(run_dir / "tb"), **config["hyper"])
    start = int(model.num_timesteps)

    def save(path: Path, steps: int) -> None:
        atomic_save(path, model.save, suffix=".zip")
        _write_sidecar(path, config, steps)

    tracker = RunTracker(run_dir, config, lambda: SB3Agent(model), save, rows, start, progress)

    class Callback(BaseCallback):
        def _on_step(self) -> bool:
            done = [info["episode"]["r"] for info in self.locals.get("infos", []) if "episode" in info]
            tracker.update(self.model.num_timesteps, done)
            return True

    def learn(remaining: int) -> None:
        model.learn(total_timesteps=remaining, callback=Callback(), reset_num_timesteps=resume_from is None,
                    tb_log_name="sb3")

    return _learn_and_finish(tracker, vec, learn, lambda: int(model.num_timesteps), save)


def _learn_and_finish(tracker: RunTracker, vec, learn, timesteps, save) -> tuple[Path, float]:
    """The end of every run: learn the remaining steps, time them, evaluate, save ``final``, clean up."""
    try:
        remaining = int(tracker.config["steps"]) - tracker.start_steps
        if remaining > 0:
            learn(remaining)
        tracker.steps = max(tracker.steps, timesteps())
        sps = tracker.steps_per_second()
        tracker.evaluate_now()
        final = tracker.run_dir / "checkpoints" / _checkpoint_name(tracker.config["algo"], "final")
        save(final, timesteps())
    finally:
        tracker.close()
        vec.close()
    return final, sps


def _pg_vec_env(config: dict, n_envs: int, seed: int):
    import gymnasium as gym

    env, kwargs, nav = config["env"], config["env_kwargs"], config["nav_features"]
    gamma = _shaping_gamma(config)
    starts = float(config.get("exploring_starts", 0.0))
    vec = gym.vector.SyncVectorEnv([
        lambda i=i: make_env(env, kwargs, nav, index=i, shaping=gamma is not None, gamma=gamma or 0.99,
                             exploring_starts=starts) for i in range(n_envs)])
    vec.reset(seed=seed)
    return vec


def _train_pg(config: dict, run_dir: Path, device, resume_from: Path | None, rows: list[dict], progress: bool):
    from nets import policy_gradient as pg

    vec = _pg_vec_env(config, int(config["n_envs"]), int(config["seed"]))
    if resume_from is not None:
        learner = pg.load_learner(resume_from, env=vec, device=device)
    else:
        cls = getattr(pg, PG_ALGOS[config["algo"]])
        learner = cls(vec, seed=int(config["seed"]), device=device, **config["hyper"])
    start = int(learner.num_timesteps)

    def save(path: Path, steps: int) -> None:
        learner.save(path)
        _write_sidecar(path, config, steps)

    tracker = RunTracker(run_dir, config, lambda: learner, save, rows, start, progress)

    def callback(info: dict):
        tracker.update(int(info["steps"]), info.get("episode_returns", []))
        return True

    return _learn_and_finish(tracker, vec, lambda remaining: learner.learn(remaining, callback=callback),
                             lambda: int(learner.num_timesteps), save)


def default_out(env: str, algo: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{env_kind(env).replace('/', '_')}-{algo}-{stamp}"


def train_run(env: str, algo: str, *, steps: int | None = None, n_envs: int | None = None, device="auto",
              seed: int = 0, out: str | Path | None = None, env_kwargs: dict | None = None,
              nav_features: bool | None = None, shaping: bool | None = None,
              exploring_starts: float | None = None, eval_every: int | None = None,
              eval_episodes: int | None = None,
              resume: bool = False, progress: bool = True, hyper: dict | None = None,
              subproc: bool = True) -> TrainResult:
    """Train ``algo`` on ``env`` into a run folder; see the module docstring. ``None`` arguments take the
    defaults of ``train_configs.toml``; ``env_kwargs`` update the env's defaults key by key."""
    from nets.device import cpu_threads_for_training, describe, resolve_device

    dev = resolve_device(device)
    cpu_threads_for_training(dev)
    run_dir = Path(out) if out is not None else default_out(env, algo)
    config_path = run_dir / "config.json"
    resume_from = None
    if resume:
        if not config_path.is_file():
            raise FileNotFoundError(f"--resume: {config_path} not found; is {run_dir} a run folder?")
        try:
            config = json.loads(config_path.read_text())
        except ValueError as exc:
            raise ValueError(f"{config_path}: not valid JSON ({exc})") from None
        if env_kind(env) != config["env"] or algo != config["algo"]:
            raise ValueError(
                f"{run_dir} holds a {config['algo']} run on {config['env']}, not {algo} on {env_kind(env)}")
        if steps is not None:
            config["steps"] = int(steps)
        latest = run_dir / "checkpoints" / _checkpoint_name(algo, "latest")
        if not latest.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {latest} yet; start the run again without --resume")
        resume_from = latest
        ckpt_steps = json.loads(_sidecar(latest).read_text()).get("steps", math.inf) if _sidecar(latest).is_file() \
            else math.inf
        rows = [r for r in read_metrics(run_dir) if r["steps"] <= ckpt_steps]
    else:
        if config_path.exists():
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
        overrides = dict(hyper or {})
        for key, value in (("steps", steps), ("n_envs", n_envs), ("eval_every", eval_every),
                           ("eval_episodes", eval_episodes)):
            if value is not None:
                overrides[key] = value
        resolved = resolve_config(env, algo, overrides)
        kind = env_kind(env)
        config = {
            "env": kind,
            "algo": algo,
            "seed": int(seed),
            "steps": int(resolved["steps"]),
            "n_envs": int(resolved["n_envs"]),
            "eval_every": int(resolved["eval_every"]),
            "eval_episodes": int(resolved["eval_episodes"]),
            "env_kwargs": {**resolved["env_kwargs"], **(env_kwargs or {})},
            "nav_features": resolved["nav_features"] if nav_features is None else bool(nav_features),
            "shaping": resolved["shaping"] if shaping is None else bool(shaping),
            "exploring_starts": resolved["exploring_starts"] if exploring_starts is None else float(exploring_starts),
            "hyper": resolved["hyper"],
            "subproc": bool(subproc),
        }
        for key in ("steps", "n_envs", "eval_every", "eval_episodes"):
            if config[key] < 1:
                raise ValueError(f"{key} must be >= 1, got {config[key]}")
        rows = []
    probe = make_env(config["env"], config["env_kwargs"], config["nav_features"],
                     shaping=config.get("shaping", False), exploring_starts=config.get("exploring_starts", 0.0))
    try:
        check_compatible(algo, probe)
    finally:
        probe.close()
    config["device"] = str(dev)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "plots").mkdir(exist_ok=True)
    atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")
    if progress:
        verb = "resuming" if resume else "training"
        print(f"{verb} {algo} on {config['env']} for {config['steps']:,} steps, {config['n_envs']} envs, "
              f"device {describe(dev)} -> {run_dir}", flush=True)
    trainer = _train_sb3 if algo in SB3_ALGOS else _train_pg
    model_path, sps = trainer(config, run_dir, dev, resume_from, rows, progress)
    if progress:
        last = rows[-1]
        msg = f"done: {int(last['steps']):,} steps at {sps:.0f} steps/s; final eval return {last['eval_return']:.3f}"
        if not math.isnan(last["eval_success"]):
            msg += f", success {last['eval_success']:.1%}"
        print(msg + f"; model {model_path}", flush=True)
    return TrainResult(run_dir=run_dir, model_path=model_path, curve=rows, steps_per_second=sps)


def load_trained(path: str | Path, device="auto"):
    """A trained checkpoint (SB3 ``.zip`` or our ``.pt``, or a run folder: its final checkpoint) as an agent."""
    p = Path(path)
    if p.is_dir():
        for name in ("final.zip", "final.pt", "latest.zip", "latest.pt"):
            if (p / "checkpoints" / name).is_file():
                p = p / "checkpoints" / name
                break
        else:
            raise FileNotFoundError(f"{path}: no checkpoints/final.zip or final.pt in this run folder")
    if p.suffix == ".pt":
        from nets.policy_gradient import load_learner

        return load_learner(p, device=device)
    from agents.sb3_agent import SB3Agent, load_sb3

    return SB3Agent(load_sb3(p, device=device))


# ---- the CLI verb -------------------------------------------------------------------------------------------
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
    kwargs.update(parse_set(args.env_kwarg))
    return kwargs


def add_parser(subparsers) -> None:
    try:
        from experiments import train_ghost
    except ImportError:
        train_ghost = None

    p = subparsers.add_parser(
        "train", help="train an agent headless (PPO/A2C/DQN via SB3, or our REINFORCE/A2C), or a ghost",
        description="Train headless into a run folder. ENV: stealth, duel, ghost (behaviour cloning from demos) "
                    "or any Gymnasium id. Defaults per env and algorithm: experiments/train_configs.toml.")
    p.add_argument("env", metavar="ENV", help="stealth, duel, ghost, or a Gymnasium id such as CartPole-v1")
    p.add_argument("--algo", choices=ALGOS, default="ppo", help="learning algorithm (default ppo)")
    p.add_argument("--steps", type=int, default=None, help="total env steps (default: from the config)")
    p.add_argument("--envs", type=int, default=None, dest="n_envs", help="parallel envs (subprocesses when > 1)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/ENV-ALGO-TIMESTAMP)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/latest")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate and checkpoint every N steps")
    p.add_argument("--eval-episodes", type=int, default=None, help="held-out episodes per evaluation")
    p.add_argument("--level", default=None, help="stealth: level name or file (default tutorial)")
    p.add_argument("--obs-mode", default=None, choices=("grid", "vector", "local"), help="stealth observation")
    p.add_argument("--nav-features", action="store_true", default=None,
                   help="stealth: add the navigation AI's threat/hiding/danger channels")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    if train_ghost is not None:
        train_ghost.add_arguments(p.add_argument_group("ghost (sandbox train ghost --demos DIR)"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.env == "ghost":
        from experiments import train_ghost

        return train_ghost.run(args)
    train_run(args.env, args.algo, steps=args.steps, n_envs=args.n_envs, device=args.device, seed=args.seed,
              out=args.out, env_kwargs=_env_options(args), nav_features=args.nav_features, shaping=args.shaping,
              exploring_starts=args.exploring_starts,
              eval_every=args.eval_every, eval_episodes=args.eval_episodes, resume=args.resume,
              progress=not args.quiet, hyper=parse_set(args.hyper))
    return 0
