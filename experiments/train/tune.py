"""``sandbox tune ENV``: a Ray Tune sweep over a run's hyper-parameters.

* **Search space.** Data, next to the defaults: the ``[search.default.ALGO]`` and ``[search.ENV.ALGO]``
  tables of ``train_configs.toml`` (``rllib-ALGO`` for ``--backend rllib``); see
  :func:`experiments.train.config.search_space`.
* **Trials.** Each trial is one ordinary ``sandbox train`` run (native: SB3 or our learners; rllib: RLlib PPO
  sampling in the trial's own process) with ``--steps M`` and the sampled settings, into
  ``OUT/trials/NNN``: a full run folder. Each held-out evaluation is reported to Tune (``steps``,
  ``eval_return``, ``eval_success``), so ``--scheduler asha`` stops weak trials early at those points.
* **Result.** The best trial by ``--metric`` (its last evaluation) is printed, and its settings are written
  to ``OUT/best.toml`` as an ``[ENV.ALGO]`` table: ``sandbox train ENV --algo ALGO --config OUT/best.toml``
  trains with them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from envs.fileio import atomic_write_text
from experiments.train.config import env_kind, search_space, table_name, toml_table

DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice")
METRICS = ("eval_return", "eval_success")


def tune_space(space: dict, where: str = "search space"):
    """``{key: {"loguniform": [a, b]}, ...}`` -> Tune's sampling objects."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
            raise ValueError(f"{where}: {key} = {spec!r}; expected one of "
                             + ", ".join(f"{{ {d} = [...] }}" for d in DISTRIBUTIONS))
        (kind, args), = spec.items()
        if not isinstance(args, list) or not args:
            raise ValueError(f"{where}: {key}: {kind} needs a list of values")
        if kind == "choice":
            out[key] = tune.choice(args)
        else:
            if len(args) != 2 or not all(isinstance(a, (int, float)) for a in args) or not args[0] < args[1]:
                raise ValueError(f"{where}: {key}: {kind} needs [LOW, HIGH] with LOW < HIGH, got {args}")
            out[key] = {"loguniform": tune.loguniform, "uniform": tune.uniform, "randint": tune.randint}[kind](*args)
    return out


def _trial(params: dict) -> None:
    """One trial (runs in a Tune worker): a training run that reports each evaluation to Tune."""
    from ray import tune

    base, hyper = params["base"], dict(params["hyper"])
    run_dir = Path(base["out"]) / "trials" / tune.get_context().get_trial_id()

    def report(row: dict) -> None:
        tune.report({"steps": int(row["steps"]), "eval_return": float(row["eval_return"]),
                     "eval_success": float(row["eval_success"]), "run_dir": str(run_dir)})

    common = {"steps": base["steps"], "seed": base["seed"], "env_kwargs": base["env_kwargs"],
              "eval_every": base["eval_every"], "eval_episodes": base["eval_episodes"],
              "nav_features": base["nav_features"], "shaping": base["shaping"],
              "exploring_starts": base["exploring_starts"], "n_envs": base["n_envs"],
              "hyper": {**base["fixed"], **hyper}, "on_eval": report, "out": run_dir}
    if base["backend"] == "rllib":
        from experiments.train.rllib import train_rllib

        train_rllib(base["env"], base["algo"], workers=0, progress=False, device=base["device"], **common)
    else:
        from experiments.train import train_run

        train_run(base["env"], base["algo"], device=base["device"], progress=False, subproc=False, **common)


def run_tune(env: str, algo: str = "ppo", *, backend: str = "native", samples: int = 8, steps: int = 50_000,
             scheduler: str = "fifo", metric: str = "eval_return", out: str | Path | None = None,
             address: str | None = None, seed: int = 0, eval_every: int | None = None, eval_episodes: int = 10,
             n_envs: int = 4, env_kwargs: dict | None = None, fixed: dict | None = None,
             concurrent: int | None = None, progress: bool = True, force: bool = False, device: str = "cpu",
             nav_features=None, shaping: bool | None = None, exploring_starts: float | None = None) -> dict:
    """The sweep described in the module docstring; returns ``{"best": {...}, "toml": path, "trials": [...]}``.
    The env and run options are :func:`experiments.train.train_run`'s, passed to every trial (``device``:
    ``auto`` lets each trial take CUDA when present; the default is the CPU, one per trial)."""
    from experiments.train import raysession

    kind = env_kind(env)
    name = table_name(algo, backend)
    if samples < 1 or steps < 1:
        raise ValueError(f"--samples and --steps must be >= 1, got {samples} and {steps}")
    if metric not in METRICS:
        raise ValueError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if scheduler not in ("fifo", "asha"):
        raise ValueError(f"--scheduler must be fifo or asha, got {scheduler!r}")
    space = search_space(kind, algo, backend)
    eval_every = int(eval_every or max(1, steps // 4))
    out_dir = Path(out) if out is not None else Path("runs") / f"tune-{kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    from experiments.runfolder import claim_folder, set_status

    claim_folder(out_dir, "tune", force=force, create=False)
    if not progress:
        import os

        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune banner either
    ray = raysession.require_ray()
    from ray import tune

    param_space = {"hyper": tune_space(space, f"[search.{kind}.{name}]"),
                   "base": {"env": kind, "algo": algo, "backend": backend, "steps": int(steps), "seed": int(seed),
                            "eval_every": eval_every, "eval_episodes": int(eval_episodes), "n_envs": int(n_envs),
                            "env_kwargs": dict(env_kwargs or {}), "fixed": dict(fixed or {}),
                            "device": device, "nav_features": nav_features, "shaping": shaping,
                            "exploring_starts": exploring_starts,
                            "out": str(out_dir.resolve())}}
    started = not ray.is_initialized()
    where = raysession.init(address)
    claim_folder(out_dir, "tune", force=force)
    sched = None
    if scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        sched = ASHAScheduler(time_attr="steps", max_t=int(steps), grace_period=min(eval_every, int(steps)),
                              reduction_factor=2)
    if progress:
        print(f"tuning {name} on {kind}: {samples} trials x {steps:,} steps, scheduler {scheduler}, metric {metric}, "
              f"Ray {where['address']} ({where['cpus']} CPUs) -> {out_dir}", flush=True)
    from ray.tune.search.basic_variant import BasicVariantGenerator

    try:
        tuner = tune.Tuner(
            tune.with_resources(_trial, {"cpu": 1}),
            param_space=param_space,
            tune_config=tune.TuneConfig(num_samples=int(samples), scheduler=sched, metric=metric, mode="max",
                                        search_alg=BasicVariantGenerator(random_state=int(seed)),
                                        max_concurrent_trials=concurrent or max(1, where["cpus"])),
            run_config=tune.RunConfig(name="tune", storage_path=str((out_dir / "ray").resolve()), verbose=0),
        )
        results = tuner.fit()
    finally:
        raysession.shutdown_if_started(started)
    trials = []
    for result in results:
        m = result.metrics or {}
        trials.append({"hyper": result.config["hyper"], "steps": m.get("steps"), "eval_return": m.get("eval_return"),
                       "eval_success": m.get("eval_success"), "run_dir": m.get("run_dir"),
                       "error": None if result.error is None else str(result.error).strip().splitlines()[-1]})
    done = [t for t in trials if t[metric] is not None and not math.isnan(t[metric])]
    if not done:
        first = next((t["error"] for t in trials if t["error"]), "no trial reported an evaluation")
        raise ValueError(f"every trial failed; first error: {first}")
    best = max(done, key=lambda t: (t[metric], t["eval_return"]))
    comment = (f"sandbox tune {kind} --algo {algo} --backend {backend}: best of {len(trials)} trials by {metric}\n"
               f"eval_return {best['eval_return']:.4g}, eval_success {best['eval_success']:.4g} at {best['steps']} "
               f"steps ({best['run_dir']})\n"
               f"use: sandbox train {kind} --algo {algo}{' --backend rllib' if backend == 'rllib' else ''} "
               f"--config {out_dir / 'best.toml'}")
    toml_path = out_dir / "best.toml"
    atomic_write_text(toml_path, toml_table(f"{kind}.{name}", {**(fixed or {}), **best["hyper"]}, comment))
    atomic_write_text(out_dir / "trials.json", json.dumps(trials, indent=2, default=str) + "\n")
    set_status(out_dir, "complete", "tune")
    if progress:
        print(f"{'trial':>5}  {metric:>12}  {'steps':>8}  settings")
        for i, t in enumerate(sorted(trials, key=lambda t: -(t[metric] if t[metric] is not None else -math.inf))):
            value = "failed" if t[metric] is None else f"{t[metric]:.4g}"
            print(f"{i:>5}  {value:>12}  {t['steps'] or 0:>8}  {json.dumps(t['hyper'])}")
        print(f"best: {json.dumps(best['hyper'])} ({metric} {best[metric]:.4g}); written to {toml_path}")
    return {"best": best, "toml": toml_path, "trials": trials}
