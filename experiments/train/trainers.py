"""The trainers: SB3 (PPO, A2C, DQN) and ours (REINFORCE, A2C, PPO), one end-of-run path, and ``train_run``."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from envs.fileio import atomic_save
from envs.stealth.features import nav_spec
from experiments.runfolder import deferred_interrupt
from experiments.train.config import (
    ENV_IDS,
    METRIC_FIELDS,
    PART_SETTINGS,
    PG_ALGOS,
    RUN_KEYS,
    SB3_ALGOS,
    env_kind,
    resolve_config,
    typed_settings,
)
from experiments.train.curriculum import CurriculumPart
from experiments.train.duel_league import LeaguePart
from experiments.train.envs import (
    check_compatible,
    cycled_kwargs,
    game_returns,
    held_out_kwargs,
    make_env,
    make_vector_env,
    monitored_unshaped,
    native_vector,
    shaped,
)
from experiments.train.evaluate import evaluate
from experiments.train.parts import Part
from experiments.train.run import Run, TrainResult


def sb3_vec_env(config: dict, n_envs: int, seed: int):
    """SB3's training envs: the natively batched env through :class:`nets.sb3.GymnasiumVecEnv` when the run
    fits it and it can reset single envs (SB3 resets on the ending step), else subprocess (or dummy) envs."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    env, kwargs, nav = config["env"], config["env_kwargs"], config["nav_features"]
    starts = float(config.get("exploring_starts", 0.0))
    if native_vector(env):
        from nets.sb3 import GymnasiumVecEnv, supports_same_step_reset

        vec = _pg_vec_env(config, n_envs, seed)
        if supports_same_step_reset(vec):
            game = game_returns(vec) if config.get("shaping") else None  # the monitor below sees shaped rewards
            adapted = VecMonitor(GymnasiumVecEnv(game if game is not None else vec))
            adapted.seed(seed)
            adapted.game_returns = game
            return adapted
        vec.close()
    vec_cls = SubprocVecEnv if n_envs > 1 and config.get("subproc", True) else DummyVecEnv
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

        from experiments.runfolder import ignore_interrupt_in_worker

        ignore_interrupt_in_worker()  # Ctrl-C: the main process stops and closes the workers

        env = fn()
        if shaping_gamma is not None:  # shaping is the env's own keyword: the monitor still sees the game's returns
            env = monitored_unshaped(shaped(env, shaping_gamma), Monitor)
        else:
            env = Monitor(env)
        env.action_space.seed(seed)
        return env

    return build


class Loop:
    """The one training loop's bookkeeping, whatever learns: the progress bar, the parts after every update,
    and every ``eval_every`` steps an evaluation on held-out seeds, a metrics row (the parts' columns too)
    and ``checkpoints/latest`` with the parts' state in its sidecar."""

    def __init__(self, run: Run, agent_fn, save, suffix: str, parts: list[Part], start_steps: int,
                 on_eval=None, learner=None, eval_kwargs: dict | None = None):
        from tqdm import tqdm

        cfg = run.config
        self.run, self.agent_fn, self.save, self.suffix = run, agent_fn, save, suffix
        self.parts, self.learner, self.on_eval = parts, learner, on_eval
        self.total, self.eval_every = int(cfg["steps"]), int(cfg["eval_every"])
        self.start_steps = self.steps = start_steps
        self.next_eval = (start_steps // self.eval_every + 1) * self.eval_every
        self.recent: list[float] = []
        self.recent_shaped: list[float] = []
        self.t0 = time.time()
        self.eval_kwargs = held_out_kwargs({**cfg["env_kwargs"], **(eval_kwargs or {})})
        self.bar = tqdm(total=self.total, initial=start_steps, unit="step", disable=not run.progress,
                        desc=f"{cfg['algo']} {cfg['env']}", dynamic_ncols=True)

    def env_fns(self):
        """Factories of the held-out evaluation envs (one per listed level / opponent, used in turn)."""
        cfg, kwargs = self.run.config, self.eval_kwargs
        cycled = cycled_kwargs(kwargs)
        count = math.lcm(*(len(v) for v in cycled.values())) if cycled else 1
        return [lambda i=i: make_env(cfg["env"], kwargs, cfg["nav_features"], index=i) for i in range(count)]

    def update(self, steps: int, new_returns) -> None:
        """After every update (or rollout): ``steps`` so far, the returns of the episodes that just ended."""
        if new_returns:
            self.recent = (self.recent + [float(r) for r in new_returns])[-100:]
        for part in self.parts:
            part.after_update(self.learner, self.run, steps)
        if steps - self.steps >= 1000 or steps >= self.next_eval:
            # the bar stops at the budget: the last rollout may run past it, the bar does not
            self.bar.update(max(0, min(steps, self.total) - min(self.steps, self.total)))
            self.steps = steps
            if self.recent:
                self.bar.set_postfix(sps=f"{self.steps_per_second():.0f}", ret=f"{np.mean(self.recent):.3f}",
                                     refresh=False)
        if steps >= self.next_eval:
            self.evaluate_now()
            while self.next_eval <= steps:
                self.next_eval += self.eval_every

    def shaped(self, returns) -> None:
        """The learner's own (shaped) episode returns: a TensorBoard series of their own, never a metric."""
        if len(returns):
            self.recent_shaped = (self.recent_shaped + [float(r) for r in returns])[-100:]
            self.run.scalar("train/shaped_return", float(np.mean(self.recent_shaped)), self.steps)

    def meta(self) -> dict:
        """The checkpoint sidecar: how to rebuild the env, and the parts' state."""
        cfg = self.run.config
        return {"algo": SB3_ALGOS.get(cfg["algo"], cfg["algo"]), "env": cfg["env"], "command": cfg.get("command"),
                "recipe": cfg.get("recipe"),
                "env_id": ENV_IDS.get(cfg["env"], cfg["env"]), "env_kwargs": cfg["env_kwargs"],
                "nav_features": cfg["nav_features"], "shaping": cfg.get("shaping", False), "seed": cfg["seed"],
                "parts": {p.name: p.state() for p in self.parts}}

    def evaluate_now(self) -> None:
        run = self.run
        if run.rows and run.rows[-1]["steps"] >= self.steps:
            return
        ret, success = evaluate(self.agent_fn(), self.env_fns(), int(run.config["eval_episodes"]))
        row = {"steps": self.steps, "eval_return": ret, "eval_success": success,
               "train_return": float(np.mean(self.recent)) if self.recent else math.nan, "seconds": run.seconds()}
        for part in self.parts:
            row.update(part.row())
        with deferred_interrupt():  # Ctrl-C waits for the metrics, plot, checkpoint and sidecar to agree
            row = run.log(row)
            run.scalar("speed/steps_per_second", self.steps_per_second(), self.steps)
            run.checkpoint("latest", lambda p: self.save(p), self.steps, self.meta(), suffix=self.suffix,
                           also=self.written)
        if self.on_eval is not None:
            self.on_eval(row)
        msg = f"{self.steps:>9} steps  eval return {ret:8.3f}"
        if not math.isnan(success):
            msg += f"  success {success:5.1%}"
        for part in self.parts:
            msg += "".join(f"  {k} {row[k]:.3g}" for k in part.fields[:2] if isinstance(row[k], int | float))
        if run.progress:
            self.bar.write(msg)

    def written(self) -> None:
        """With each checkpoint: the plot, and the parts' own files."""
        plot_curve(self.run)
        for part in self.parts:
            part.logged(self.run)

    def steps_per_second(self) -> float:
        return (self.steps - self.start_steps) / max(time.time() - self.t0, 1e-9)

    def finish(self, timesteps: int) -> tuple[Path, float]:
        """The end of every run: the last evaluation and ``checkpoints/final``."""
        self.steps = max(self.steps, timesteps)
        sps = self.steps_per_second()
        self.evaluate_now()
        final = self.run.checkpoint("final", lambda p: self.save(p), timesteps, self.meta(), suffix=self.suffix)
        return final, sps

    def close(self) -> None:
        self.bar.close()


def plot_curve(run: Run) -> None:
    """``plots/learning_curve.png``: the held-out evaluation return and the training return."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = run.rows
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["steps"] for r in rows]
    ax.plot(steps, [r["eval_return"] for r in rows], marker="o", label="evaluation return (held-out seeds)")
    ax.plot(steps, [r["train_return"] for r in rows], alpha=0.6, label="training return (recent episodes)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(f"{run.config['algo']} on {run.config['env']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save(run.folder / "plots" / "learning_curve.png", lambda p: fig.savefig(p, dpi=100), suffix=".png")
    plt.close(fig)


def _train_sb3(run: Run, device, on_eval=None) -> tuple[Path, float]:
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.sb3_agent import SB3Agent

    config = run.config
    cls = getattr(sb3, SB3_ALGOS[config["algo"]])
    vec = sb3_vec_env(config, int(config["n_envs"]), int(config["seed"]))
    if run.resume_from is not None:
        from agents.sb3_agent import load_sb3  # never unpickles; schedules come from config["hyper"]

        with hyper_errors(vec):
            model = load_sb3(run.resume_from, device, env=vec, hyper=config["hyper"],
                             tensorboard_log=str(run.folder / "tb"))
    else:
        with hyper_errors(vec):
            model = cls("MlpPolicy", vec, seed=int(config["seed"]), device=device, verbose=0,
                        tensorboard_log=str(run.folder / "tb"), **config["hyper"])
    loop = Loop(run, lambda: SB3Agent(model), lambda p: atomic_save(p, model.save, suffix=".zip"), ".zip", [],
                int(model.num_timesteps), on_eval)

    game = getattr(vec, "game_returns", None)  # the batched env under shaping: the game's returns, apart

    class Callback(BaseCallback):
        def _on_step(self) -> bool:
            done = [info["episode"]["r"] for info in self.locals.get("infos", []) if "episode" in info]
            if game is not None:
                loop.shaped(done)
                done = game.take()
            loop.update(self.model.num_timesteps, done)
            return True

    def learn(remaining: int) -> None:
        model.learn(total_timesteps=remaining, callback=Callback(), reset_num_timesteps=run.resume_from is None,
                    tb_log_name="sb3")

    return _learn_and_finish(loop, vec, learn, lambda: int(model.num_timesteps))


def _learn_and_finish(loop: Loop, vec, learn, timesteps) -> tuple[Path, float]:
    """Learn the remaining steps, then the last evaluation and ``final``; the envs are closed either way."""
    try:
        remaining = int(loop.run.config["steps"]) - loop.start_steps
        if remaining > 0:
            learn(remaining)
        result = loop.finish(timesteps())
    except BaseException:
        loop.close()
        _close_quietly(vec)  # the error in flight (Ctrl-C, a bad input) is the one to report
        raise
    loop.close()
    vec.close()
    return result


def _close_quietly(vec) -> None:
    """Close a vector env whose workers may already be gone (Ctrl-C reaches them too): the broken pipes
    of closing it must not replace the error being raised."""
    try:
        vec.close()
    except (OSError, EOFError):
        pass


@contextmanager
def hyper_errors(vec):
    """Building a learner from the config's hyper-parameters: the learner's own checks (SB3 asserts, e.g.
    ``n_steps > 1``) and unknown keywords become one-line ValueErrors naming ``--set``; the vector env is
    closed."""
    try:
        yield
    except (AssertionError, TypeError) as exc:
        _close_quietly(vec)
        raise ValueError(f"--set: bad hyper-parameters: {exc}") from None
    except BaseException:
        _close_quietly(vec)
        raise


def check_hyper(algo: str, hyper: dict, where: str = "--set") -> None:
    """Each hyper-parameter must be a keyword of the learner, and a number where its default is one (a
    one-line ValueError naming the key after ``where``, the option or file it came from)."""
    import inspect

    if algo in SB3_ALGOS:
        import stable_baselines3 as sb3

        cls = getattr(sb3, SB3_ALGOS[algo])
    else:
        import nets

        cls = getattr(nets, PG_ALGOS[algo])  # nets.Reinforce, nets.A2C, nets.PPO
    params = inspect.signature(cls.__init__).parameters
    fixed = {"self", "policy", "env", "seed", "device", "verbose", "tensorboard_log"}
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    valid = sorted(k for k, p in params.items() if k not in fixed and p.kind in named)
    for key, value in hyper.items():
        if key in fixed or key.startswith("_") or key not in params:
            raise ValueError(f"{where} {key}: not a hyper-parameter of {algo}; valid: {', '.join(valid)}")
        default = params[key].default if key in params else None
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, int | float) and not isinstance(default, bool) and not number:
            raise ValueError(f"{where} {key}={value!r}: expected a number (default {default!r})")
        if number and not math.isfinite(value):
            raise ValueError(f"{where} {key}={value!r}: expected a finite number")


PARTS: dict[str, type[Part]] = {"league": LeaguePart, "curriculum": CurriculumPart}


def part_fields(name: str) -> tuple[str, ...]:
    """The metrics columns part ``name`` adds."""
    return PARTS[name].fields


def make_parts(config: dict) -> list[Part]:
    """The parts a run's config asks for, in loop order (each checks its settings: one line on error)."""
    return [PARTS[name](config) for name in config.get("parts") or {}]


def _pg_vec_env(config: dict, n_envs: int, seed: int, extra_kwargs: dict | None = None, reset: bool = True):
    gamma = _shaping_gamma(config)
    return make_vector_env(config["env"], {**config["env_kwargs"], **(extra_kwargs or {})}, n_envs, seed,
                           nav_features=config["nav_features"], shaping=gamma is not None, gamma=gamma or 0.99,
                           exploring_starts=float(config.get("exploring_starts", 0.0)), reset=reset)


def _train_pg(run: Run, device, on_eval=None) -> tuple[Path, float, list[Part]]:
    """Our learners (REINFORCE, A2C, PPO) in the one loop, with the parts the config names."""
    import nets
    from nets import policy_gradient as pg

    config = run.config
    parts = make_parts(config)
    extra: dict = {}
    for part in parts:
        extra.update(part.env_kwargs(config))
    vec = _pg_vec_env(config, int(config["n_envs"]), int(config["seed"]), extra, reset=not parts)
    for part in parts:
        vec = part.wrap(vec)
    game = game_returns(vec) if config.get("shaping") else None  # the learner's returns are shaped then
    vec = game if game is not None else vec
    if run.resume_from is not None:
        learner = pg.load_learner(run.resume_from, env=vec, device=device)
    else:
        cls = getattr(nets, PG_ALGOS[config["algo"]])
        with hyper_errors(vec):
            learner = cls(vec, seed=int(config["seed"]), device=device, **config["hyper"])
    try:
        for part in parts:
            part.start(learner, run)
    except BaseException:
        _close_quietly(vec)
        raise
    eval_kwargs: dict = {}
    for part in parts:
        eval_kwargs.update(getattr(part, "eval_kwargs", {}))
    loop = Loop(run, lambda: learner, lambda p: learner.save(p), ".pt", parts, int(learner.num_timesteps), on_eval,
                learner=learner, eval_kwargs=eval_kwargs)

    def callback(info: dict):
        returns = info.get("episode_returns", [])
        if game is not None:  # train_return is the game's; the learner's shaped returns go to train/shaped_return
            loop.shaped(returns)
            returns = game.take()
        loop.update(int(info["steps"]), returns)
        return True

    final, sps = _learn_and_finish(loop, vec, lambda remaining: learner.learn(remaining, callback=callback),
                                   lambda: int(learner.num_timesteps))
    return final, sps, parts


RUN_KEYS_TYPES = {"env": str, "algo": str, "seed": int, "steps": int, "n_envs": int, "eval_every": int,
                  "eval_episodes": int, "env_kwargs": dict, "hyper": dict}
MAX_STEPS = 10**10  # env steps of one run
MAX_ENVS = 256  # parallel envs of one run (each subprocess holds its own env and Python)
MAX_EVALS = 10_000  # evaluations of one run (steps / eval_every): rows of metrics.csv, rewritten at each


def check_run_numbers(*, seed=None, steps=None, n_envs=None) -> None:
    """One-line errors for a seed, step count or env count out of range (before any folder is written)."""
    from envs.checks import check_int

    for name, value, lo, hi in (("--seed", seed, 0, 2**32 - 1), ("--steps", steps, 1, MAX_STEPS),
                                ("--envs", n_envs, 1, MAX_ENVS)):
        if value is not None:
            check_int(name, value, lo, hi)


MAX_BUFFER_BYTES = 4 << 30  # a run's rollout or replay buffer of observations (also at most half the RAM)


def check_memory(algo: str, config: dict, obs_space) -> None:
    """Refuse, before allocating, a run whose buffer of observations would not fit: SB3's rollout buffer
    holds ``n_steps x n_envs`` observations (PPO, A2C), its replay buffer ``2 x buffer_size`` (DQN)."""
    import numpy as np

    shape = getattr(obs_space, "shape", None) or (1,)
    obs_bytes = 4 * int(np.prod(shape))
    hyper, n_envs = config["hyper"], int(config["n_envs"])
    if algo in ("ppo", "a2c"):
        n_steps = int(hyper.get("n_steps", 2048 if algo == "ppo" else 5))
        rows, what = n_steps * n_envs, f"--envs {n_envs} x n_steps {n_steps}"
    elif algo == "dqn":
        size = int(hyper.get("buffer_size", 1_000_000))
        rows, what = 2 * min(size, int(config["steps"])), f"2 x buffer_size {size}"
    else:
        return
    limit = MAX_BUFFER_BYTES
    try:
        limit = min(limit, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        pass
    need = rows * obs_bytes
    if need > limit:
        raise ValueError(f"{what} observations of {obs_bytes:,} bytes need {need / 2**30:.1f} GiB of buffer; the "
                         f"limit is {limit / 2**30:.1f} GiB (4 GiB, at most half the memory here): use fewer --envs, "
                         "a smaller n_steps/buffer_size (--set), or a smaller observation (obs_mode local)")


def read_run_config(path: Path) -> dict:
    """A run's ``config.json``, checked: a missing, corrupt or incomplete file is a one-line ValueError
    naming it."""
    from experiments.train.run import read_json_file

    if not path.is_file():
        raise FileNotFoundError(f"--resume: {path} not found; is {path.parent} a run folder?")
    config = read_json_file(path, "run config")
    for key, kind in RUN_KEYS_TYPES.items():
        if not isinstance(config.get(key), kind) or (kind is int and isinstance(config.get(key), bool)):
            raise ValueError(f"{path}: not a run config of sandbox train ({key!r} missing or not a {kind.__name__})")
    return config


def default_out(env: str, algo: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{env_kind(env).replace('/', '_')}-{algo}-{stamp}"


def resolve_run(env: str, algo: str, *, steps: int | None = None, n_envs: int | None = None, seed: int = 0,
                env_kwargs: dict | None = None, nav_features=None, shaping: bool | None = None,
                exploring_starts: float | None = None, eval_every: int | None = None,
                eval_episodes: int | None = None, hyper: dict | None = None, subproc: bool = True,
                file_tables: dict | None = None, parts: tuple[str, ...] = ()) -> dict:
    """The merged configuration of a run (what ``config.json`` holds and ``--show-config`` prints): the
    learner's own defaults, the ``train_configs.toml`` tables, a ``--config`` file's tables, then the given
    options and ``hyper`` (``--set``; ``league.KEY`` items set the league's settings). ``parts``: the loop's
    parts to use (``league``, ``curriculum``). Unknown keys and ill-typed values are one-line ValueErrors."""
    check_run_numbers(seed=seed, steps=steps, n_envs=n_envs)
    overrides = dict(hyper or {})
    for key, value in (("steps", steps), ("n_envs", n_envs), ("eval_every", eval_every),
                       ("eval_episodes", eval_episodes)):
        if value is not None:
            overrides[key] = value
    kind = env_kind(env)
    if file_tables:  # a --config file's keys are checked apart, so an error names the file
        where = f"--config {file_tables.get('__path__', 'FILE')} [{kind}.{algo}]"
        table = {k: v for k, v in file_tables.get(kind, {}).get(algo, {}).items()
                 if k not in RUN_KEYS and k not in PART_SETTINGS}
        check_hyper(algo, table, where)
        for name, cls in PART_SETTINGS.items():
            sub = file_tables.get(kind, {}).get(algo, {}).get(name)
            if sub is not None:
                typed_settings(cls, sub if isinstance(sub, dict) else {"?": sub}, f"{where} {name}.")
    resolved = resolve_config(env, algo, overrides, file_tables=file_tables)
    config = {
        "env": kind,
        "algo": algo,
        "seed": int(seed),
        "steps": int(resolved["steps"]),
        "n_envs": int(resolved["n_envs"]),
        "eval_every": int(resolved["eval_every"]),
        "eval_episodes": int(resolved["eval_episodes"]),
        "env_kwargs": {**resolved["env_kwargs"], **(env_kwargs or {})},
        "nav_features": resolved["nav_features"] if nav_features is None else nav_spec(nav_features),
        "shaping": resolved["shaping"] if shaping is None else bool(shaping),
        "exploring_starts": resolved["exploring_starts"] if exploring_starts is None else float(exploring_starts),
        "hyper": resolved["hyper"],
        "subproc": bool(subproc),
        "parts": {},
    }
    for name in parts:
        if name not in PART_SETTINGS:
            raise ValueError(f"unknown part {name!r}; valid: {', '.join(PART_SETTINGS)}")
    for key in hyper or {}:
        head = key.partition(".")[0]
        if head in PART_SETTINGS and head not in parts:
            raise ValueError(f"--{key.replace('_', '-')}: a setting of the {head}; add --{head}")
    for name in parts:
        settings = typed_settings(PART_SETTINGS[name], resolved["parts"].get(name, {}), f"--{name}.")
        config["parts"][name] = dataclasses.asdict(settings)
    for key in ("steps", "n_envs", "eval_every", "eval_episodes"):
        if config[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {config[key]}")
    check_run_numbers(steps=config["steps"], n_envs=config["n_envs"])
    check_hyper(algo, config["hyper"])
    if config["parts"] and algo != "ppo-pg":
        raise ValueError(f"--{' --'.join(config['parts'])} trains with ppo-pg (our PPO), not {algo}")
    if "league" in config["parts"] and kind != "duel":
        raise ValueError(f"--league trains the duel; {env} has one player")
    if "curriculum" in config["parts"] and kind != "stealth":
        raise ValueError(f"--curriculum trains the stealth grid on generated levels, not {env}")
    if "curriculum" in config["parts"] and "obs_mode" not in (env_kwargs or {}):
        config["env_kwargs"]["obs_mode"] = "local"  # levels of several shapes share only the local view
    return config


def train_run(env: str, algo: str, *, steps: int | None = None, n_envs: int | None = None, device="auto",
              seed: int = 0, out: str | Path | None = None, env_kwargs: dict | None = None,
              nav_features: bool | None = None, shaping: bool | None = None,
              exploring_starts: float | None = None, eval_every: int | None = None,
              eval_episodes: int | None = None,
              resume: bool = False, progress: bool = True, hyper: dict | None = None,
              subproc: bool = True, force: bool = False, file_tables: dict | None = None,
              on_eval=None, parts: tuple[str, ...] = (), command: str | None = None,
              recipe: str | None = None) -> TrainResult:
    """Train ``algo`` on ``env`` into a run folder; see the package docstring. The configuration is
    :func:`resolve_run`'s; the folder, metrics, TensorBoard, checkpoints and resume are the
    :class:`experiments.train.run.Run`'s. ``resume`` continues from ``checkpoints/latest`` (a new ``steps``
    extends the budget); ``on_eval(row)`` sees every evaluation row; ``parts`` plugs the league or the
    curriculum into the loop."""
    from nets.device import cpu_threads_for_training, describe, resolve_device

    check_run_numbers(seed=seed, steps=steps, n_envs=n_envs)
    dev = resolve_device(device)
    cpu_threads_for_training(dev)
    run_dir = Path(out) if out is not None else default_out(env, algo if not parts else f"{algo}-{'-'.join(parts)}")

    def configure(stored: dict | None) -> dict:
        if stored is not None:  # resume: the stored run, with a new step budget if one is given
            cfg = read_run_config(run_dir / "config.json")
            if env_kind(env) != cfg["env"] or algo != cfg["algo"]:
                raise ValueError(f"{run_dir} holds a {cfg['algo']} run on {cfg['env']}, not {algo} on {env_kind(env)}")
            if steps is not None:
                cfg["steps"] = int(steps)
            cfg.setdefault("parts", {})
        else:
            cfg = resolve_run(env, algo, steps=steps, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs,
                              nav_features=nav_features, shaping=shaping, exploring_starts=exploring_starts,
                              eval_every=eval_every, eval_episodes=eval_episodes, hyper=hyper, subproc=subproc,
                              file_tables=file_tables, parts=parts)
            probe = make_env(cfg["env"], cfg["env_kwargs"], cfg["nav_features"], shaping=cfg.get("shaping", False),
                             exploring_starts=cfg.get("exploring_starts", 0.0))
            try:
                check_compatible(algo, probe)
                check_memory(algo, cfg, probe.observation_space)
            finally:
                probe.close()
            cycled = cycled_kwargs(cfg["env_kwargs"])
            if cycled and native_vector(cfg["env"]):  # several levels in one batch: do they share one observation?
                count = min(math.lcm(*(len(v) for v in cycled.values())), int(cfg["n_envs"]))
                make_vector_env(cfg["env"], cfg["env_kwargs"], count, int(cfg["seed"]),
                                nav_features=cfg["nav_features"], reset=False).close()
            evaluations = int(cfg["steps"]) // max(int(cfg["eval_every"]), 1)
            if evaluations > MAX_EVALS:
                raise ValueError(f"--steps {cfg['steps']} / --eval-every {cfg['eval_every']} = {evaluations} "
                                 f"evaluations; the limit is {MAX_EVALS}: evaluate less often")
            make_parts(cfg)  # the parts check their settings before the folder is written
            if recipe:
                cfg["recipe"] = recipe
        cfg["device"] = str(dev)
        if command:
            cfg["command"] = command  # on resume: the command that resumed it
        return cfg

    run = Run.start(run_dir, "train", configure, METRIC_FIELDS, resume=resume, force=force, progress=progress)
    run.fields += tuple(f for name in run.config["parts"] for f in part_fields(name) if f not in run.fields)
    config = run.config
    run.say(f"{'resuming' if run.resumed else 'training'} {algo}{''.join(' + ' + p for p in config['parts'])} on "
            f"{config['env']} for {config['steps']:,} steps, {config['n_envs']} envs, device {describe(dev)} -> "
            f"{run_dir}")
    with run:
        if algo in SB3_ALGOS:
            model_path, sps = _train_sb3(run, dev, on_eval)
            used: list[Part] = []
        else:
            model_path, sps, used = _train_pg(run, dev, on_eval)
        run.finish()
    rows = run.rows
    last = rows[-1]
    msg = f"done: {int(last['steps']):,} steps at {sps:.0f} steps/s; final eval return {last['eval_return']:.3f}"
    if not math.isnan(last["eval_success"]):
        msg += f", success {last['eval_success']:.1%}"
    run.say(msg + f"; model {model_path}")
    extra: dict = {}
    for part in used:
        extra.update(part.summary())
    return TrainResult(run_dir=run_dir, model_path=model_path, curve=rows, steps_per_second=sps, extra=extra)


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
