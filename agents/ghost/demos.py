"""The duel's demo format: one recorded round per ``round_NNNN.npz`` + ``round_NNNN.json``.

* npz (``np.savez``, plain arrays only, loaded with ``allow_pickle=False``): ``obs`` (T, 76) float32, the
  player's observation at every decision step; ``actions`` (T, 2) int64, the controller input
  ``[stick, button]`` the player chose there; ``rewards`` (T,) float32; ``opponent`` (the opponent spec,
  a 0-d unicode array); ``winner`` (``"player"``, ``"opponent"`` or ``"draw"``); ``final_health`` (2,)
  int64, the player's then the opponent's health at the end.
* JSON sidecar: ``format``, ``env_id``, ``env_version``, ``obs_layout_hash``
  (:func:`envs.duel.env.obs_layout_hash`), ``obs_size``, ``frame_skip``, ``round_seconds``, ``player``,
  ``opponent``, ``date``, ``steps``.

:func:`save_round` writes the sidecar first and the npz last, each atomically, so a round exists exactly
when its npz does; :func:`load_round` validates a round against the current env. :class:`DemoDataset`
loads a folder of rounds for :func:`nets.imitation.train_ghost` (it has ``rounds``, ``split`` and the
policy ``sizes``). This format is unchanged by the move from ``nets.imitation`` (issue 13): rounds
recorded before it load as they did.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.duel.config import DuelConfig
from envs.duel.env import OBS_SIZE, obs_layout_hash
from envs.duel.rules import N_BUTTON, N_STICK
from envs.fileio import atomic_save, atomic_write_text, check_npz_member_sizes
from nets.imitation import split_rounds

ENV_ID = "sandbox/Duel-v0"
DEMO_FORMAT = 1
ROUND_PATTERN = re.compile(r"^round_(\d+)\.npz$")

__all__ = ["DEMO_FORMAT", "ENV_ID", "DemoDataset", "DemoError", "Round", "demo_metadata", "env_version",
           "load_round", "next_round_index", "obs_layout_hash", "round_path", "save_round"]


class DemoError(ValueError):
    """A demo file that cannot be used; the message names the file and the reason."""


def env_version(env_id: str = ENV_ID) -> int:
    """The version number of a registered id (``sandbox/Duel-v0`` -> 0)."""
    from gymnasium.envs.registration import parse_env_id

    _, _, version = parse_env_id(env_id)
    return int(version or 0)


def demo_metadata(*, player: str, opponent: str, frame_skip: int, round_seconds: float, steps: int,
                  **extra: Any) -> dict:
    """The JSON sidecar of one round (see the module docstring)."""
    return {
        "format": DEMO_FORMAT, "env_id": ENV_ID, "env_version": env_version(), "obs_layout_hash": obs_layout_hash(),
        "obs_size": OBS_SIZE, "frame_skip": int(frame_skip), "round_seconds": float(round_seconds),
        "player": str(player), "opponent": str(opponent), "steps": int(steps),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), **extra,
    }


def round_path(folder: str | os.PathLike, index: int) -> Path:
    """``folder/round_NNNN.npz``."""
    return Path(folder) / f"round_{index:04d}.npz"


def next_round_index(folder: str | os.PathLike) -> int:
    """1 + the highest round number already in ``folder`` (1 for an empty or missing folder)."""
    folder = Path(folder)
    found = [int(m.group(1)) for p in folder.glob("round_*.npz") if (m := ROUND_PATTERN.match(p.name))]
    return max(found, default=0) + 1


def save_round(path: str | os.PathLike, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, *,
               opponent: str, winner: str, final_health: Sequence[int], meta: dict) -> Path:
    """Write one round: the JSON sidecar, then the npz, each atomically (temporary file + rename).

    Written in that order, a round is complete exactly when its ``.npz`` exists: an interrupted write
    leaves at most an orphan sidecar (overwritten by the next recording) and never a partial npz."""
    path = Path(path)
    obs = np.asarray(obs, dtype=np.float32)
    actions = np.asarray(actions, dtype=np.int64).reshape(-1, 2)
    rewards = np.asarray(rewards, dtype=np.float32).reshape(-1)
    if not (len(obs) == len(actions) == len(rewards)):
        raise ValueError(f"{path}: obs, actions and rewards differ in length ({len(obs)}, {len(actions)}, "
                         f"{len(rewards)})")
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    opponent_a, winner_a = np.array(str(opponent)), np.array(str(winner))
    health = np.asarray(final_health, dtype=np.int64)
    atomic_save(path, lambda tmp: np.savez_compressed(tmp, obs=obs, actions=actions, rewards=rewards,
                                                      opponent=opponent_a, winner=winner_a, final_health=health))
    return path


@dataclass
class Round:
    """One recorded round (arrays as in the module docstring; ``meta`` is the sidecar)."""

    path: Path
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    opponent: str
    winner: str
    final_health: np.ndarray
    meta: dict

    def __len__(self) -> int:
        return len(self.actions)


_NPZ_KEYS = ("obs", "actions", "rewards", "opponent", "winner", "final_health")


def load_round(path: str | os.PathLike, *, frame_skip: int | None = None) -> Round:
    """Load and validate one round against the current duel env; a :class:`DemoError` names the file
    and the reason (missing or unreadable sidecar, other env or version, changed observation layout,
    truncated or corrupt npz, wrong shapes, out-of-range actions, a ``frame_skip`` other than the one
    asked for)."""
    path = Path(path)
    side = path.with_suffix(".json")
    if not path.is_file():
        raise DemoError(f"{path}: no such demo file")
    if not side.is_file():
        raise DemoError(f"{path}: missing sidecar {side.name} (env id, version, layout hash); re-record the round")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise DemoError(f"{side}: unreadable sidecar ({exc})") from None
    if meta.get("env_id") != ENV_ID:
        raise DemoError(f"{path}: recorded in env {meta.get('env_id')!r}; this dataset needs {ENV_ID!r}")
    if meta.get("env_version") != env_version():
        raise DemoError(f"{path}: env version {meta.get('env_version')!r}, current is {env_version()}")
    if meta.get("obs_layout_hash") != obs_layout_hash():
        raise DemoError(f"{path}: observation layout hash {meta.get('obs_layout_hash')!r} does not match the "
                        f"current duel layout {obs_layout_hash()!r}; re-record with this version")
    if frame_skip is not None and meta.get("frame_skip") != frame_skip:
        raise DemoError(f"{path}: frame_skip {meta.get('frame_skip')!r}, the other rounds use {frame_skip}")
    check_npz_member_sizes(path, {"obs": 250_000 * OBS_SIZE, "actions": 500_000, "rewards": 250_000}, default=64,
                           error=DemoError)  # rows x features from the headers, before loading (envs/fileio.py)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _NPZ_KEYS if k not in z.files]
            if missing:
                raise DemoError(f"{path}: missing arrays {', '.join(missing)} (expected {', '.join(_NPZ_KEYS)})")
            data = {k: z[k] for k in _NPZ_KEYS}
    except DemoError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DemoError(f"{path}: corrupt or truncated npz ({type(exc).__name__}: {exc})") from None
    obs, actions, rewards = data["obs"], data["actions"], data["rewards"]
    if obs.ndim != 2 or obs.shape[1] != OBS_SIZE or obs.dtype != np.float32:
        raise DemoError(f"{path}: obs must be (T, {OBS_SIZE}) float32, got {obs.shape} {obs.dtype}")
    if actions.ndim != 2 or actions.shape[1] != 2 or not np.issubdtype(actions.dtype, np.integer):
        raise DemoError(f"{path}: actions must be (T, 2) integers, got {actions.shape} {actions.dtype}")
    if not (len(obs) == len(actions) == len(rewards)) or len(obs) == 0:
        raise DemoError(f"{path}: obs/actions/rewards lengths {len(obs)}/{len(actions)}/{len(rewards)} must be "
                        "equal and > 0")
    if actions.min() < 0 or actions[:, 0].max() >= N_STICK or actions[:, 1].max() >= N_BUTTON:
        raise DemoError(f"{path}: actions out of range (stick in [0, {N_STICK}), button in [0, {N_BUTTON}))")
    if not np.isfinite(obs).all() or np.abs(obs).max() > 1.0 + 1e-5:
        raise DemoError(f"{path}: obs must be finite and in [-1, 1] (the duel's observation space)")
    if not np.isfinite(rewards).all():
        raise DemoError(f"{path}: rewards hold NaN or inf")
    return Round(path, obs, actions.astype(np.int64), rewards.astype(np.float32), str(data["opponent"]),
                 str(data["winner"]), data["final_health"].astype(np.int64), meta)


def _demo_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files += sorted(q for q in p.glob("*.npz") if not q.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such demo folder or file")
    return files


class DemoDataset:
    """The rounds found in ``paths`` (folders of ``*.npz`` rounds and/or single files), validated.

    A bad file raises a :class:`DemoError` naming it; with ``skip_bad=True`` it is skipped with a
    warning and listed in ``self.skipped`` as ``(path, reason)``. All rounds must share one
    ``frame_skip`` (``self.frame_skip``), since the ghost acts at the rate it was trained at."""

    def __init__(self, paths: str | os.PathLike | Sequence[str | os.PathLike], skip_bad: bool = False):
        files = _demo_files(paths)
        if not files:
            raise DemoError(f"no demo rounds (*.npz) in {paths}; record some with `sandbox record duel`")
        self.rounds: list[Round] = []
        self.skipped: list[tuple[Path, str]] = []
        frame_skip = None
        for f in files:
            try:
                r = load_round(f, frame_skip=frame_skip)
            except DemoError as exc:
                if not skip_bad:
                    raise
                warnings.warn(f"skipping bad demo: {exc}", stacklevel=2)
                self.skipped.append((f, str(exc)))
                continue
            frame_skip = r.meta["frame_skip"]
            self.rounds.append(r)
        if not self.rounds:
            raise DemoError(f"no usable demo rounds in {paths} ({len(self.skipped)} skipped as bad)")
        self.frame_skip = int(self.rounds[-1].meta["frame_skip"])  # (load_round checked that every round has it)

    @classmethod
    def from_rounds(cls, rounds: Sequence[Round]) -> DemoDataset:
        """A dataset of rounds already in memory (e.g. DAgger's relabelled rounds); no validation."""
        if not rounds:
            raise ValueError("from_rounds needs at least one round")
        ds = cls.__new__(cls)
        ds.rounds, ds.skipped = list(rounds), []
        ds.frame_skip = int(rounds[0].meta.get("frame_skip", DuelConfig.frame_skip))
        return ds

    def __len__(self) -> int:
        return len(self.rounds)

    @property
    def steps(self) -> int:
        return sum(len(r) for r in self.rounds)

    @property
    def opponents(self) -> list[str]:
        """The distinct opponent specs faced, in order of first appearance."""
        return list(dict.fromkeys(r.opponent for r in self.rounds))

    @property
    def sizes(self) -> dict:
        """The policy sizes for this data: the duel's observation width and controller (for nets)."""
        return {"obs_size": OBS_SIZE, "directions": N_STICK, "buttons": N_BUTTON}

    def split(self, val_frac: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
        """Round indices (train, validation); see :func:`split_rounds`."""
        return split_rounds(len(self.rounds), val_frac, seed)
