"""The run: one object that owns a training run's folder, for every trainer.

A trainer (SB3's or our learners, RLlib, the ghost's behaviour cloning, the director, a best response)
is a loop that receives a :class:`Run`. The run owns, so that no trainer writes them itself:

* **the folder claim** (:func:`experiments.runfolder.claim_folder`): a folder another command made, or a
  finished run, is refused unless ``force``; a run stopped before its first checkpoint is started again;
* **``config.json``**: the merged configuration, written once when the run starts (read back on resume);
* **``metrics.csv``**: one row per :meth:`Run.log`, rewritten atomically, columns fixed when the run starts;
* **TensorBoard** under ``tb/``, one tag convention: every metrics column ``c`` is the scalar ``metrics/c``
  against the run's x axis (``steps``; ``epoch`` for the ghost); a trainer's other series are
  ``GROUP/NAME`` through :meth:`Run.scalar` (``league_elo/scripted:hard``, ``rllib/vf_loss``);
* **checkpoints** under ``checkpoints/``: :meth:`Run.checkpoint` writes one through the trainer's own save
  function (atomically), then its JSON sidecar (``steps``, how to rebuild the env, and the state of the
  loop's parts), and marks the folder ``resumable``;
* **resume**: :meth:`Run.start` with ``resume=True`` reads ``config.json`` back, keeps the metrics rows up to
  the ``latest`` checkpoint's steps and hands the trainer that checkpoint and its sidecar;
* **Ctrl-C**: the files of one checkpoint (metrics, plot, checkpoint, sidecar) are written as one unit
  (:func:`experiments.runfolder.deferred_interrupt`); an interrupted run keeps its last consistent state,
  and ``sandbox`` exits 130.

``metrics.csv`` is also what :func:`read_metrics` reads back for studies and tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.fileio import atomic_write_text, read_json_object
from experiments.runfolder import claim_folder, deferred_interrupt, read_marker, set_status

TB_METRICS = "metrics"  # the TensorBoard group of every metrics.csv column


@dataclass
class TrainResult:
    """What a training run returns: its folder, its final model, its metrics rows and its speed."""

    run_dir: Path
    model_path: Path
    curve: list[dict] = field(default_factory=list)
    steps_per_second: float = math.nan
    extra: dict = field(default_factory=dict)  # what a part reports at the end (the league's ladder, ...)


def sidecar_path(path: Path) -> Path:
    """A checkpoint's JSON sidecar: ``latest.pt`` -> ``latest.json`` (RLlib's folders: ``latest.json``)."""
    return Path(path).with_suffix(".json")


def write_metrics(run_dir: Path, rows: list[dict], fields: Iterable[str], name: str = "metrics.csv") -> None:
    """``run_dir/name``, atomically: one row per log, columns ``fields`` (an integer x axis first)."""
    fields = tuple(fields)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: int(row[k]) if k == fields[0] else row.get(k) for k in fields})
    atomic_write_text(Path(run_dir) / name, buf.getvalue())


def read_metrics(run_dir: str | Path, name: str = "metrics.csv") -> list[dict]:
    """The rows of a run's ``metrics.csv`` as floats (an empty cell is NaN); [] when there is none."""
    path = Path(run_dir) / name
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def number(v: str | None) -> float:
        try:
            return float(v) if v not in ("", None) else math.nan
        except ValueError:
            return math.nan

    return [{k: number(v) for k, v in row.items()} for row in rows]


MAX_RUN_JSON_BYTES = 16 << 20  # a run's config.json or a checkpoint's sidecar (the league's state included)


def read_json_file(path: Path, what: str) -> dict:
    """A JSON object from ``path`` (at most ``MAX_RUN_JSON_BYTES``), or a one-line error naming the file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found; is {Path(path).parent} a run folder?")
    return read_json_object(path, MAX_RUN_JSON_BYTES, what)


class Run:
    """A run folder while a trainer writes it (see the module docstring).

    Build it with :meth:`start`. ``rows`` are the metrics rows so far (on resume, those up to the checkpoint);
    ``resume_from`` is the checkpoint to continue from (None for a new run) and ``resumed_meta`` its sidecar.
    """

    def __init__(self, folder: Path, writer: str, config: dict, fields: tuple[str, ...], *, rows: list[dict],
                 resume_from: Path | None, resumed_meta: dict, progress: bool):
        self.folder, self.writer, self.config = folder, writer, config
        self.fields = fields
        self.x = fields[0]
        self.rows = rows
        self.resume_from, self.resumed_meta = resume_from, resumed_meta
        self.progress = progress
        self._tb: Any = None
        self.t0 = time.time()
        self.prev_seconds = float(rows[-1].get("seconds", 0.0)) if rows else 0.0

    # ---- starting -----------------------------------------------------------------------------------------
    @classmethod
    def start(cls, folder: str | Path, writer: str, config: dict | Callable[[dict | None], dict],
              fields: Iterable[str], *, resume: bool = False, force: bool = False, progress: bool = True,
              latest: str = "latest", same: Iterable[str] = ()) -> Run:
        """Claim ``folder`` for ``writer`` and start (or resume) the run.

        ``config``: the run's configuration; a callable gets the stored ``config.json`` on resume (None for a
        new run) and returns the configuration to use, so a resumed run can take a new step budget.
        ``latest``: the stem of the checkpoint a resume continues from (``latest``: ``latest.pt``, ``latest.zip``
        or the folder ``latest``). ``same``: config keys a resumed run must agree on with the stored one.
        A folder marked ``incomplete`` (stopped before its first checkpoint) is started anew even with
        ``resume``: there is nothing to resume."""
        folder = Path(folder)
        fields = tuple(fields)
        marker = read_marker(folder) if folder.is_dir() and not force else None
        if resume and marker is not None and marker["writer"] == writer and marker["status"] == "incomplete":
            resume = False
        rows: list[dict] = []
        resume_from, meta = None, {}
        if resume:
            claim_folder(folder, writer, resume=True, create=False)  # another command's folder: refused first
            stored = read_json_file(folder / "config.json", f"run config of sandbox {writer}")
            cfg = config(stored) if callable(config) else config
            resume_from = find_checkpoint(folder / "checkpoints", latest)
            if resume_from is None:
                raise FileNotFoundError(f"--resume: no checkpoints/{latest} in {folder} yet; start the run again "
                                        "without --resume")
            for key in same:
                if stored.get(key) != cfg.get(key):
                    raise ValueError(f"{folder} holds a run with {key} {stored.get(key)!r}, not {cfg.get(key)!r}; "
                                     "choose another --out")
            claim_folder(folder, writer, resume=True)
            side = sidecar_path(resume_from) if resume_from.is_file() else resume_from / "sandbox_run.json"
            meta = read_json_file(side, "checkpoint sidecar") if side.is_file() else {}
            at = meta.get("steps", math.inf) if fields[0] == "steps" else meta.get(fields[0], math.inf)
            if not isinstance(at, int | float) or isinstance(at, bool):
                raise ValueError(f"{side}: not a checkpoint sidecar ({fields[0]} must be a number)")
            rows = [r for r in read_metrics(folder) if r.get(fields[0], math.inf) <= at]
        else:
            cfg = config(None) if callable(config) else config
            claim_folder(folder, writer, force=force)
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        (folder / "plots").mkdir(exist_ok=True)
        atomic_write_text(folder / "config.json", json.dumps(cfg, indent=2, default=str) + "\n")
        return cls(folder, writer, cfg, fields, rows=rows, resume_from=resume_from, resumed_meta=meta,
                   progress=progress)

    @property
    def resumed(self) -> bool:
        return self.resume_from is not None

    # ---- metrics and TensorBoard ----------------------------------------------------------------------------
    @property
    def tb(self):
        """The run's TensorBoard writer (``tb/``), opened on first use."""
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.folder / "tb"))
        return self._tb

    def seconds(self) -> float:
        """Wall-clock seconds of the run so far, over every session of it (resumes add up)."""
        return self.prev_seconds + time.time() - self.t0

    def log(self, row: dict) -> dict:
        """Append a metrics row (its x value first; missing columns are empty), write ``metrics.csv`` and
        the row's numbers as ``metrics/COLUMN`` TensorBoard scalars. Returns the row."""
        row = {k: row.get(k, math.nan) for k in self.fields}
        self.rows.append(row)
        for key, value in row.items():
            if key != self.x and isinstance(value, int | float) and not math.isnan(value):
                self.tb.add_scalar(f"{TB_METRICS}/{key}", value, int(row[self.x]))
        self.tb.flush()
        write_metrics(self.folder, self.rows, self.fields)
        return row

    def scalar(self, tag: str, value: float, x: int) -> None:
        """A series of the trainer's own, ``GROUP/NAME`` (not a metrics column)."""
        if isinstance(value, int | float) and not math.isnan(value):
            self.tb.add_scalar(tag, value, int(x))

    def write_table(self, name: str, rows: list[dict]) -> None:
        """A side table of the run (``dagger.csv``): the columns of its first row."""
        if rows:
            write_metrics(self.folder, rows, tuple(rows[0]), name=name)

    def write_json(self, name: str, data: dict) -> None:
        """A JSON file of the run (``ladder.json``, ``metrics.json``), atomically."""
        atomic_write_text(self.folder / name, json.dumps(data, indent=2, default=str) + "\n")

    # ---- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint(self, name: str, save: Callable[[Path], Any], x: int, meta: dict | None = None, *,
                   suffix: str = ".pt", also: Callable[[], None] | None = None) -> Path:
        """Write ``checkpoints/NAME+suffix`` with ``save(path)`` (which writes atomically), then its sidecar
        (``meta`` plus the x value), and mark the run resumable. ``also`` (the plot) runs in the same
        Ctrl-C-proof unit. Returns the checkpoint's path."""
        path = self.folder / "checkpoints" / f"{name}{suffix}"
        with deferred_interrupt():
            save(path)
            side = sidecar_path(path) if suffix else path / "sandbox_run.json"
            old = {}
            if side.is_file():  # a learner's own save may have written its config there: keep it
                try:
                    old = json.loads(side.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    old = {}
            atomic_write_text(side, json.dumps({**(old if isinstance(old, dict) else {}), **(meta or {}),
                                                self.x: int(x)}, indent=2, default=str) + "\n")
            if also is not None:
                also()
            set_status(self.folder, "resumable", self.writer)
        return path

    def finish(self) -> None:
        """Mark the run complete and close TensorBoard."""
        set_status(self.folder, "complete", self.writer)
        self.close()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # an interrupted run keeps its status: resumable after a checkpoint, else incomplete

    def say(self, message: str) -> None:
        if self.progress:
            print(message, flush=True)


def find_checkpoint(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` with the first suffix that exists (``.pt``, ``.zip``, or a folder), else None."""
    for path in (folder / f"{stem}.pt", folder / f"{stem}.zip", folder / stem):
        if path.exists():
            return path
    return None
