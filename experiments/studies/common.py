"""Setup shared by ``sandbox compare stealth`` and ``sandbox compare duel``: list arguments, training a
learner into a run folder (or reusing / resuming the one already there), curve arithmetic and plot saving."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from envs.stealth.features import nav_names


def parse_list(text: str, what: str, valid=None) -> list[str]:
    """``"a,b , c"`` -> ``["a", "b", "c"]``; with ``valid``, an unknown item raises a one-line ValueError."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"{what}: expected a comma-separated list, got {text!r}")
    if valid is not None:
        bad = [t for t in items if t not in valid]
        if bad:
            raise ValueError(f"{what}: unknown {', '.join(map(repr, bad))}; valid: {', '.join(valid)}")
    return items


def check_positive(**values) -> None:
    for name, value in values.items():
        if value is None or value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def final_checkpoint(run_dir: Path) -> Path | None:
    for name in ("final.zip", "final.pt"):
        if (run_dir / "checkpoints" / name).is_file():
            return run_dir / "checkpoints" / name
    return None


def train_or_reuse(env: str, algo: str, run_dir: Path, *, steps: int, seed: int, log=print, **kwargs):
    """``(curve, model_path, steps_per_second)`` of ``algo`` trained on ``env`` for ``steps`` into ``run_dir``
    with :func:`experiments.train.train_run` (``kwargs`` pass through).

    A finished run with the same settings already in ``run_dir`` is reused (its ``metrics.csv``), an
    unfinished one is resumed from its latest checkpoint, so an interrupted comparison picks up where it
    stopped. A run there with other settings raises a ValueError naming the folder.
    """
    from experiments.train import read_metrics, resolve_config, train_run

    config_path = run_dir / "config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text())
        want = {"algo": algo, "seed": int(seed), "steps": int(steps),
                "env_kwargs": {**config.get("env_kwargs", {}), **kwargs.get("env_kwargs", {})}}
        # the defaults of train_configs.toml may have changed since that run: they must still match
        defaults = resolve_config(env, algo, {})
        want.update({k: defaults[k] for k in ("hyper", "shaping", "exploring_starts") if k in defaults})
        have = {k: config.get(k) for k in want}
        if have != want or nav_names(config.get("nav_features")) != nav_names(kwargs.get("nav_features", False)):
            diff = sorted(k for k in want if have[k] != want[k])
            raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(diff)} differ); remove it or "
                             "choose another --out")
        final = final_checkpoint(run_dir)
        rows = read_metrics(run_dir)
        if final is not None and rows and rows[-1]["steps"] >= steps:
            log(f"  reusing the finished run in {run_dir}")
            secs = rows[-1]["seconds"]
            return rows, final, (rows[-1]["steps"] / secs if secs > 0 else math.nan)
        log(f"  resuming the unfinished run in {run_dir}")
        res = train_run(env, algo, steps=steps, seed=seed, out=run_dir, resume=True, progress=False)
    else:
        res = train_run(env, algo, steps=steps, seed=seed, out=run_dir, progress=False, **kwargs)
    return res.curve, res.model_path, res.steps_per_second


def mean_curve(curves: list[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and the mean of ``key`` over seeds, on the steps every curve has (they share a schedule)."""
    common = sorted(set.intersection(*[{int(r["steps"]) for r in c} for c in curves]))
    vals = [[next(r[key] for r in c if int(r["steps"]) == s) for s in common] for c in curves]
    return np.array(common, dtype=np.int64), np.mean(np.array(vals, dtype=np.float64), axis=0)


def steps_to_reach(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """The first step count at which ``values >= threshold``, or None (not reached)."""
    hit = np.flatnonzero(values >= threshold - 1e-12)
    return int(steps[hit[0]]) if hit.size else None


def save_figure(fig, path: Path) -> None:
    from envs.fileio import atomic_save

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")


def copy_to_docs(src: str | Path, name: str) -> Path:
    """Copy a plot to ``docs/NAME`` atomically: only when the user asked with ``--docs`` (a study writes
    nothing outside its ``--out`` folder otherwise)."""
    import shutil

    from envs.fileio import atomic_save

    dst = Path("docs") / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(dst, lambda tmp: shutil.copyfile(src, tmp), suffix=Path(name).suffix)
    return dst


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)
