"""The trainers: SB3 (PPO, A2C, DQN) and ours (REINFORCE, A2C, PPO), one end-of-run path, and ``train_run``."""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

from envs.fileio import atomic_save, atomic_write_text
from envs.stealth.features import nav_spec
from experiments.train.config import PG_ALGOS, SB3_ALGOS, env_kind, resolve_config
from experiments.train.envs import (
    check_compatible,
    make_env,
    make_vector_env,
    monitored_unshaped,
    native_vector,
    shaped,
)
from experiments.train.run import RunTracker, TrainResult, _checkpoint_name, _sidecar, _write_sidecar, read_metrics


def _sb3_vec_env(config: dict, n_envs: int, seed: int):
    """SB3's training envs: the natively batched env through :class:`nets.sb3.GymnasiumVecEnv` when the run
    fits it and it can reset single envs (SB3 resets on the ending step), else subprocess (or dummy) envs."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    env, kwargs, nav = config["env"], config["env_kwargs"], config["nav_features"]
    starts = float(config.get("exploring_starts", 0.0))
    if native_vector(env):
        from nets.sb3 import GymnasiumVecEnv, supports_same_step_reset

        vec = _pg_vec_env(config, n_envs, seed)
        if supports_same_step_reset(vec):
            adapted = VecMonitor(GymnasiumVecEnv(vec))
            adapted.seed(seed)
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


def _train_sb3(config: dict, run_dir: Path, device, resume_from: Path | None, rows: list[dict], progress: bool,
               on_eval=None):
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.sb3_agent import SB3Agent

    cls = getattr(sb3, SB3_ALGOS[config["algo"]])
    vec = _sb3_vec_env(config, int(config["n_envs"]), int(config["seed"]))
    if resume_from is not None:
        from agents.sb3_agent import load_sb3  # never unpickles; schedules come from config["hyper"]

        model = load_sb3(resume_from, device, env=vec, hyper=config["hyper"], tensorboard_log=str(run_dir / "tb"))
    else:
        with hyper_errors(vec):
            model = cls("MlpPolicy", vec, seed=int(config["seed"]), device=device, verbose=0,
                        tensorboard_log=str(run_dir / "tb"), **config["hyper"])
    start = int(model.num_timesteps)

    def save(path: Path, steps: int) -> None:
        atomic_save(path, model.save, suffix=".zip")
        _write_sidecar(path, config, steps)

    tracker = RunTracker(run_dir, config, lambda: SB3Agent(model), save, rows, start, progress, on_eval)

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
    from experiments.runfolder import deferred_interrupt

    try:
        remaining = int(tracker.config["steps"]) - tracker.start_steps
        if remaining > 0:
            learn(remaining)
        tracker.steps = max(tracker.steps, timesteps())
        sps = tracker.steps_per_second()
        tracker.evaluate_now()
        final = tracker.run_dir / "checkpoints" / _checkpoint_name(tracker.config["algo"], "final")
        with deferred_interrupt():
            save(final, timesteps())
    except BaseException:
        tracker.close()
        _close_quietly(vec)  # the error in flight (Ctrl-C, a bad input) is the one to report
        raise
    tracker.close()
    vec.close()
    return final, sps


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


def check_hyper(algo: str, hyper: dict) -> None:
    """Each hyper-parameter must be a keyword of the learner, and a number where its default is one."""
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
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in hyper.items():
        if key in fixed or (key not in params and not open_ended):
            raise ValueError(f"--set {key}: not a hyper-parameter of {algo}; valid: {', '.join(valid)}")
        default = params[key].default if key in params else None
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, int | float) and not isinstance(default, bool) and not number:
            raise ValueError(f"--set {key}={value!r}: expected a number (default {default!r})")
        if number and not math.isfinite(value):
            raise ValueError(f"--set {key}={value!r}: expected a finite number")


def _pg_vec_env(config: dict, n_envs: int, seed: int):
    gamma = _shaping_gamma(config)
    return make_vector_env(config["env"], config["env_kwargs"], n_envs, seed, nav_features=config["nav_features"],
                           shaping=gamma is not None, gamma=gamma or 0.99,
                           exploring_starts=float(config.get("exploring_starts", 0.0)))


def _train_pg(config: dict, run_dir: Path, device, resume_from: Path | None, rows: list[dict], progress: bool,
              on_eval=None):
    import nets
    from nets import policy_gradient as pg

    vec = _pg_vec_env(config, int(config["n_envs"]), int(config["seed"]))
    if resume_from is not None:
        learner = pg.load_learner(resume_from, env=vec, device=device)
    else:
        cls = getattr(nets, PG_ALGOS[config["algo"]])
        with hyper_errors(vec):
            learner = cls(vec, seed=int(config["seed"]), device=device, **config["hyper"])
    start = int(learner.num_timesteps)

    def save(path: Path, steps: int) -> None:
        learner.save(path)
        _write_sidecar(path, config, steps)

    tracker = RunTracker(run_dir, config, lambda: learner, save, rows, start, progress, on_eval)

    def callback(info: dict):
        tracker.update(int(info["steps"]), info.get("episode_returns", []))
        return True

    return _learn_and_finish(tracker, vec, lambda remaining: learner.learn(remaining, callback=callback),
                             lambda: int(learner.num_timesteps), save)


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
    if not path.is_file():
        raise FileNotFoundError(f"--resume: {path} not found; is {path.parent} a run folder?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a run config (a JSON object expected)")
    for key, kind in RUN_KEYS_TYPES.items():
        if not isinstance(config.get(key), kind) or (kind is int and isinstance(config.get(key), bool)):
            raise ValueError(f"{path}: not a run config of sandbox train ({key!r} missing or not a {kind.__name__})")
    return config


def read_sidecar(path: Path) -> dict:
    """A checkpoint's JSON sidecar, checked (a one-line ValueError names the file)."""
    side = _sidecar(path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{side}: unreadable checkpoint sidecar ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("steps", 0), int):
        raise ValueError(f"{side}: not a checkpoint sidecar (a JSON object with integer steps expected)")
    return meta


def default_out(env: str, algo: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{env_kind(env).replace('/', '_')}-{algo}-{stamp}"


def train_run(env: str, algo: str, *, steps: int | None = None, n_envs: int | None = None, device="auto",
              seed: int = 0, out: str | Path | None = None, env_kwargs: dict | None = None,
              nav_features: bool | None = None, shaping: bool | None = None,
              exploring_starts: float | None = None, eval_every: int | None = None,
              eval_episodes: int | None = None,
              resume: bool = False, progress: bool = True, hyper: dict | None = None,
              subproc: bool = True, force: bool = False, file_tables: dict | None = None,
              on_eval=None) -> TrainResult:
    """Train ``algo`` on ``env`` into a run folder; see the module docstring. ``None`` arguments take the
    defaults of ``train_configs.toml`` (then of ``file_tables``, a ``--config`` file laid out the same way);
    ``env_kwargs`` update the env's defaults key by key. ``on_eval(row)`` sees every evaluation row. The
    folder is claimed with :func:`experiments.runfolder.claim_folder` (``force`` writes into a folder this
    command did not create); a folder whose run stopped before its first checkpoint is started again."""
    from experiments.runfolder import claim_folder, read_marker, set_status
    from nets.device import cpu_threads_for_training, describe, resolve_device

    check_run_numbers(seed=seed, steps=steps, n_envs=n_envs)
    dev = resolve_device(device)
    cpu_threads_for_training(dev)
    run_dir = Path(out) if out is not None else default_out(env, algo)
    config_path = run_dir / "config.json"
    resume_from = None
    marker = read_marker(run_dir) if run_dir.is_dir() and not force else None
    if resume and marker is not None and marker["writer"] == "train" and marker["status"] == "incomplete":
        resume = False  # stopped before its first checkpoint: nothing to resume, start it again
    if resume:
        config = read_run_config(config_path)
        claim_folder(run_dir, "train", resume=True)
        if env_kind(env) != config["env"] or algo != config["algo"]:
            raise ValueError(
                f"{run_dir} holds a {config['algo']} run on {config['env']}, not {algo} on {env_kind(env)}")
        if steps is not None:
            config["steps"] = int(steps)
        latest = run_dir / "checkpoints" / _checkpoint_name(algo, "latest")
        if not latest.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {latest} yet; start the run again without --resume")
        resume_from = latest
        ckpt_steps = read_sidecar(latest).get("steps", math.inf) if _sidecar(latest).is_file() else math.inf
        rows = [r for r in read_metrics(run_dir) if r["steps"] <= ckpt_steps]
    else:
        overrides = dict(hyper or {})
        for key, value in (("steps", steps), ("n_envs", n_envs), ("eval_every", eval_every),
                           ("eval_episodes", eval_episodes)):
            if value is not None:
                overrides[key] = value
        resolved = resolve_config(env, algo, overrides, file_tables=file_tables)
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
            "nav_features": resolved["nav_features"] if nav_features is None else nav_spec(nav_features),
            "shaping": resolved["shaping"] if shaping is None else bool(shaping),
            "exploring_starts": resolved["exploring_starts"] if exploring_starts is None else float(exploring_starts),
            "hyper": resolved["hyper"],
            "subproc": bool(subproc),
        }
        for key in ("steps", "n_envs", "eval_every", "eval_episodes"):
            if config[key] < 1:
                raise ValueError(f"{key} must be >= 1, got {config[key]}")
        check_run_numbers(steps=config["steps"], n_envs=config["n_envs"])
        check_hyper(algo, config["hyper"])
        rows = []
    probe = make_env(config["env"], config["env_kwargs"], config["nav_features"],
                     shaping=config.get("shaping", False), exploring_starts=config.get("exploring_starts", 0.0))
    try:
        check_compatible(algo, probe)
        check_memory(algo, config, probe.observation_space)
    finally:
        probe.close()
    evaluations = int(config["steps"]) // max(int(config["eval_every"]), 1)
    if evaluations > MAX_EVALS:
        raise ValueError(f"--steps {config['steps']} / --eval-every {config['eval_every']} = {evaluations} "
                         f"evaluations; the limit is {MAX_EVALS}: evaluate less often")
    if resume_from is None:
        claim_folder(run_dir, "train", force=force)
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
    model_path, sps = trainer(config, run_dir, dev, resume_from, rows, progress, on_eval)
    set_status(run_dir, "complete", "train")
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
