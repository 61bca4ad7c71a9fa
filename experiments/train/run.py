"""The run folder: metrics, plots, TensorBoard, checkpoints and their sidecars, and the tracker that
writes them while any algorithm trains."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from envs.fileio import atomic_save, atomic_write_text
from experiments.runfolder import deferred_interrupt, set_status
from experiments.train.config import ENV_IDS, METRIC_FIELDS, SB3_ALGOS, env_kind
from experiments.train.envs import cycled_kwargs, held_out_kwargs, make_env
from experiments.train.evaluate import evaluate


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


def log_scalars(writer, prefix: str, row: dict) -> None:
    """Every finite number of ``row`` (but ``steps``, the x axis) as a TensorBoard scalar ``prefix/key``."""
    for key, value in row.items():
        if key != "steps" and isinstance(value, int | float) and not math.isnan(value):
            writer.add_scalar(f"{prefix}/{key}", value, row["steps"])


def write_metrics(run_dir: Path, rows: list[dict], fields: tuple[str, ...] = METRIC_FIELDS,
                  name: str = "metrics.csv") -> None:
    """``run_dir/metrics.csv`` (or ``name``), atomically: one row per evaluation (``steps`` as an integer),
    columns ``fields`` (a run's own, or a league's or curriculum's)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: int(row[k]) if k == "steps" else row.get(k) for k in fields})
    atomic_write_text(Path(run_dir) / name, buf.getvalue())


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
                 progress: bool, on_eval=None):
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
        self.on_eval = on_eval  # called with each new metrics row (``sandbox tune`` reports it to Tune)

    def env_fn(self):
        cfg = self.config
        kwargs = held_out_kwargs(cfg["env_kwargs"])  # generated stealth levels: the held-out pool
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
        with deferred_interrupt():  # Ctrl-C waits for the metrics, plot, checkpoint and sidecar to agree
            write_metrics(self.run_dir, self.rows)
            _plot(self.run_dir, self.rows, f"{self.config['algo']} on {self.config['env']}")
            self.save_fn(self.run_dir / "checkpoints" / _checkpoint_name(self.config["algo"], "latest"), self.steps)
            set_status(self.run_dir, "resumable", "train")
        if self.on_eval is not None:
            self.on_eval(row)
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
