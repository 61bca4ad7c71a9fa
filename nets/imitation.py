"""Behaviour cloning of a duel player: the demo format, the dataset, the ghost network and its training.

The pieces, in the order data flows through them:

* **Demo format** (the one place that knows the layout). One round is ``round_NNNN.npz`` (``np.savez``,
  plain arrays only, loaded with ``allow_pickle=False``) plus ``round_NNNN.json``:

  - npz: ``obs`` (T, 76) float32, the player's observation at every decision step; ``actions`` (T, 2)
    int64, the controller input ``[stick, button]`` the player chose there; ``rewards`` (T,) float32;
    ``opponent`` (the opponent spec, a 0-d unicode array); ``winner`` (``"player"``, ``"opponent"`` or
    ``"draw"``); ``final_health`` (2,) int64, the player's then the opponent's health at the end.
  - JSON sidecar: ``format``, ``env_id``, ``env_version``, ``obs_layout_hash`` (:func:`obs_layout_hash`),
    ``obs_size``, ``frame_skip``, ``round_seconds``, ``player``, ``opponent``, ``date``, ``steps``.

  :func:`save_round` writes the sidecar first and the npz last, each atomically, so a round exists
  exactly when its npz does; :func:`load_round` validates a round against the current env.
* **Dataset.** :class:`DemoDataset` loads a folder of rounds, splits them **by round**
  (:func:`split_rounds`) and serves truncated-BPTT windows (:func:`tbptt_windows`) in which each batch
  row follows one round from its first step to its last, so the recurrent state is carried across the
  windows of a round and starts from zero at a new round.
* **Model.** :class:`GhostPolicy`: encoder (``cwrnn`` clockwork RNN, ``lstm`` or ``mlp`` over a frame
  stack) -> fully connected layer -> :class:`nets.heads.ControllerHead` (stick 9 x button 4 softmaxes;
  by default the button softmax is conditioned on the stick, ``p(stick) p(button | stick)``).
* **Training.** :func:`train_ghost`: summed cross-entropy of the two heads, Adam, early stopping on the
  validation loss; :func:`evaluate_ghost` gives per-head and joint accuracy, the majority-class baseline
  and the confusion matrices. :func:`save_ghost` / :func:`load_ghost`: ``state_dict`` + JSON config,
  loaded with ``weights_only=True``.
* **Fidelity.** :func:`js_divergence` and :func:`behaviour_stats`, used by ``sandbox compare ghost``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "sandbox/Duel-v0"
DEMO_FORMAT = 1
GHOST_FORMAT = 1
ROUND_PATTERN = re.compile(r"^round_(\d+)\.npz$")
N_STICK, N_BUTTON = 9, 4

__all__ = [
    "DemoError", "Round", "DemoDataset", "make_policy", "GhostStepper", "GhostTrainConfig", "GhostTrainResult",
    "obs_layout_hash", "env_version", "demo_metadata", "save_round", "load_round", "round_path",
    "next_round_index", "split_rounds", "tbptt_windows", "train_ghost", "evaluate_ghost", "save_ghost",
    "load_ghost", "find_checkpoint", "js_divergence", "behaviour_stats", "GAP_BINS",
]


class DemoError(ValueError):
    """A demo file that cannot be used; the message names the file and the reason."""


# ---- the demo format --------------------------------------------------------------------------------


def obs_layout_hash() -> str:
    """A 16-hex-digit hash of the duel's observation *layout* (not of any data).

    It covers every named offset of :mod:`envs.duel.env` (``F_*``, ``OBS_*``, ``SELF``, ``OPP``,
    ``FIGHTER_FEATURES``), the one-hot widths and the action sizes, so moving, adding or removing a
    feature changes it and old demos and ghosts are rejected instead of silently misread."""
    from envs.duel import env as E
    from envs.duel import rules

    names = sorted(n for n, v in vars(E).items() if type(v) is int and (
        n.startswith(("F_", "OBS_")) or n in ("SELF", "OPP", "FIGHTER_FEATURES")))
    parts = [f"{n}={getattr(E, n)}" for n in names]
    parts += [f"N_STATES={rules.N_STATES}", f"N_MOVES={rules.N_MOVES}", f"N_STICK={rules.N_STICK}",
              f"N_BUTTON={rules.N_BUTTON}"]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


def env_version(env_id: str = ENV_ID) -> int:
    """The version number of a registered id (``sandbox/Duel-v0`` -> 0)."""
    from gymnasium.envs.registration import parse_env_id

    _, _, version = parse_env_id(env_id)
    return int(version or 0)


def demo_metadata(*, player: str, opponent: str, frame_skip: int, round_seconds: float, steps: int,
                  **extra: Any) -> dict:
    """The JSON sidecar of one round (see the module docstring)."""
    from envs.duel.env import OBS_SIZE

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
    from envs.fileio import atomic_save, atomic_write_text

    path = Path(path)
    obs = np.asarray(obs, dtype=np.float32)
    actions = np.asarray(actions, dtype=np.int64).reshape(-1, 2)
    rewards = np.asarray(rewards, dtype=np.float32).reshape(-1)
    if not (len(obs) == len(actions) == len(rewards)):
        raise ValueError(f"{path}: obs, actions and rewards differ in length ({len(obs)}, {len(actions)}, "
                         f"{len(rewards)})")
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    arrays = {"obs": obs, "actions": actions, "rewards": rewards, "opponent": np.array(str(opponent)),
              "winner": np.array(str(winner)), "final_health": np.asarray(final_health, dtype=np.int64)}
    atomic_save(path, lambda tmp: np.savez_compressed(tmp, **arrays))
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
    from envs.duel.env import OBS_SIZE
    from envs.fileio import check_npz_member_sizes

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
        self.frame_skip = int(frame_skip)

    @classmethod
    def from_rounds(cls, rounds: Sequence[Round]) -> DemoDataset:
        """A dataset of rounds already in memory (e.g. DAgger's relabelled rounds); no validation."""
        if not rounds:
            raise ValueError("from_rounds needs at least one round")
        ds = cls.__new__(cls)
        ds.rounds, ds.skipped = list(rounds), []
        ds.frame_skip = int(rounds[0].meta.get("frame_skip", 4))
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

    def split(self, val_frac: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
        """Round indices (train, validation); see :func:`split_rounds`."""
        return split_rounds(len(self.rounds), val_frac, seed)


def split_rounds(n_rounds: int, val_frac: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split round indices ``0..n-1`` into train and validation **by round** (no frame of one round
    is in both). ``n_val = clip(round(val_frac * n), 1, n - 1)`` rounds drawn by a seeded permutation;
    both lists are sorted. Needs ``n >= 2`` and ``0 < val_frac < 1``."""
    if n_rounds < 2:
        raise ValueError(f"need at least 2 rounds to split into train and validation; got {n_rounds}")
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1); got {val_frac}")
    n_val = min(max(int(round(val_frac * n_rounds)), 1), n_rounds - 1)
    perm = np.random.default_rng(seed).permutation(n_rounds)
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())


@dataclass
class Window:
    """One TBPTT window: ``obs`` (B, W, D), ``actions`` (B, W, 2), ``mask`` (B, W) (False past a round's
    end), ``first`` (the first window of these rounds: start from a zero state), ``rows`` (B: the rows
    still running; rows are sorted by round length, longest first, so the live rows are a prefix)."""

    obs: np.ndarray
    actions: np.ndarray
    mask: np.ndarray
    first: bool
    rows: int


def tbptt_windows(rounds: Sequence[Round], window: int, batch_size: int,
                  rng: np.random.Generator | None = None) -> Iterator[Window]:
    """Truncated-BPTT windows over whole rounds.

    Rounds are taken ``batch_size`` at a time (shuffled by ``rng`` if given), sorted longest first, and
    each batch row follows one round: window ``k`` holds steps ``[k W, (k + 1) W)`` of every round of the
    group. The caller carries the recurrent state from one window to the next (detached) and drops the
    rows that have ended (``rows``), so the state at a window's first step is exactly the state the
    round reached, and every round starts from a zero state (``first``)."""
    if window < 1 or batch_size < 1:
        raise ValueError(f"window and batch_size must be >= 1; got {window}, {batch_size}")
    order = np.arange(len(rounds))
    if rng is not None:
        rng.shuffle(order)
    for g in range(0, len(order), batch_size):
        group = sorted((rounds[i] for i in order[g:g + batch_size]), key=len, reverse=True)
        lengths = np.array([len(r) for r in group])
        longest, dim = int(lengths[0]), group[0].obs.shape[1]
        obs = np.zeros((len(group), longest, dim), np.float32)
        act = np.zeros((len(group), longest, 2), np.int64)
        mask = np.zeros((len(group), longest), bool)
        for b, r in enumerate(group):
            obs[b, :len(r)], act[b, :len(r)], mask[b, :len(r)] = r.obs, r.actions, True
        for s in range(0, longest, window):
            rows = int((lengths > s).sum())
            yield Window(obs[:rows, s:s + window], act[:rows, s:s + window], mask[:rows, s:s + window], s == 0, rows)


# ---- the ghost network --------------------------------------------------------------------------------

ENCODERS = ("cwrnn", "lstm", "mlp")
HEADS = ("conditional", "independent")


def pair_log_probs(stick_logits, button_logits):
    """``log p(stick, button)``, shape (..., directions, buttons), from either head's logits."""
    torch = _torch()
    ls = torch.log_softmax(stick_logits, -1)
    lb = torch.log_softmax(button_logits, -1)
    return ls[..., :, None] + (lb if lb.dim() == ls.dim() + 1 else lb[..., None, :])


def button_logits_given(button_logits, stick):
    """The button logits for the chosen ``stick`` (conditional head) or as they are (independent)."""
    torch = _torch()
    if button_logits.dim() == stick.dim() + 2:
        idx = stick[..., None, None].expand(*stick.shape, 1, button_logits.shape[-1])
        return torch.gather(button_logits, -2, idx).squeeze(-2)
    return button_logits


def _torch():
    import torch

    return torch


def _build_policy_class():
    torch = _torch()
    from torch import nn

    from nets.clockwork import ClockworkRNN, ClockworkState
    from nets.heads import ControllerHead
    from nets.mlp import MLP

    class GhostPolicy(nn.Module):
        """Encoder -> fully connected layer -> two softmax heads (stick 9, button 4).

        Args:
            obs_size: observation features (76 for the duel).
            encoder: ``cwrnn`` (clockwork RNN, modules of ``hidden // len(periods)`` units), ``lstm``
                (``hidden`` units) or ``mlp`` (one ``hidden``-unit tanh layer over the last
                ``frame_stack`` observations, zeros before a round's first step).
            hidden: encoder width. periods: the CW-RNN clock periods. fc: the fully connected layer
                of the :class:`ControllerHead`. frame_stack: observations the ``mlp`` encoder sees.
            head: ``conditional`` (default): the stick softmax ``p(stick)`` and a button softmax per stick
                direction, ``p(button | stick)``, so the pair is sampled jointly (down + special = the
                projectile stays one decision); ``independent``: ``p(stick) p(button)``, the two heads of
                the shipped game's network. Sampling the independent heads mixes intentions (the stick of
                a guard with the button of a throw); on scripted demos it was ~0.24 nats per step less
                likely on held-out rounds and its play diverged several times more (README).

        ``forward(x, state=None, episode_start=None) -> (stick_logits, button_logits, state)`` with ``x``
        of shape (batch, time, obs_size) and button logits (batch, time, buttons), or (batch, time,
        directions, buttons) for the conditional head; ``state`` is None (zeros) or what the last call returned;
        ``episode_start`` (batch,) resets rows before the first step, (batch, time) before step t.
        """

        def __init__(self, obs_size: int = 76, encoder: str = "cwrnn", hidden: int = 96,
                     periods: Sequence[int] = (1, 2, 4, 8, 16, 32), fc: int = 64, frame_stack: int = 4,
                     directions: int = N_STICK, buttons: int = N_BUTTON, head: str = "conditional"):
            super().__init__()
            if head not in HEADS:
                raise ValueError(f"unknown ghost head {head!r}; valid: {', '.join(HEADS)}")
            if encoder not in ENCODERS:
                raise ValueError(f"unknown ghost encoder {encoder!r}; valid: {', '.join(ENCODERS)}")
            if hidden < 1 or fc < 1 or frame_stack < 1:
                raise ValueError(f"hidden, fc and frame_stack must be >= 1; got {hidden}, {fc}, {frame_stack}")
            self.config = {"obs_size": int(obs_size), "encoder": encoder, "hidden": int(hidden),
                           "periods": [int(p) for p in periods], "fc": int(fc), "frame_stack": int(frame_stack),
                           "directions": int(directions), "buttons": int(buttons), "head": head}
            self.conditional = head == "conditional"
            self.directions, self.buttons = int(directions), int(buttons)
            self.encoder_kind = encoder
            self.obs_size = int(obs_size)
            self.frame_stack = int(frame_stack)
            if encoder == "cwrnn":
                self.encoder = ClockworkRNN(obs_size, max(1, hidden // len(periods)), periods)
                width = self.encoder.hidden_size
            elif encoder == "lstm":
                self.encoder = nn.LSTM(obs_size, hidden, batch_first=True)
                width = hidden
            else:
                self.encoder = MLP(obs_size * frame_stack, (hidden,), None, activation="tanh")
                width = self.encoder.out_features
            # conditional: the button softmax has one row of logits per stick direction, p(button | stick)
            self.head = ControllerHead(width, directions, buttons * directions if self.conditional else buttons,
                                       hidden=(fc,))

        # -- state helpers (every encoder's state is a tuple of tensors with the batch somewhere)
        def initial_state(self, batch: int, device=None):
            device = device if device is not None else next(self.parameters()).device
            if self.encoder_kind == "cwrnn":
                return self.encoder.initial_state(batch, device=device)
            if self.encoder_kind == "lstm":
                h = torch.zeros(1, batch, self.encoder.hidden_size, device=device)
                return (h, h.clone())
            return (torch.zeros(batch, self.frame_stack - 1, self.obs_size, device=device),)

        def slice_state(self, state, rows: int):
            """The state of the first ``rows`` batch rows, detached (for the next TBPTT window)."""
            if self.encoder_kind == "cwrnn":
                return ClockworkState(state.hidden[:rows].detach(), state.step[:rows])
            if self.encoder_kind == "lstm":
                return tuple(s[:, :rows].detach() for s in state)
            return (state[0][:rows].detach(),)

        def _reset_rows(self, state, rows):
            """Zero the state of the rows where ``rows`` (batch,) bool tensor is True."""
            if self.encoder_kind == "lstm":
                keep = (~rows).to(state[0].dtype)[None, :, None]
                return tuple(s * keep for s in state)
            keep = (~rows).to(state[0].dtype)[:, None, None]
            return (state[0] * keep,)

        def encode(self, x, state=None, episode_start=None):
            """Encoder features (batch, time, width) and the new state."""
            if self.encoder_kind == "cwrnn":
                return self.encoder(x, state, episode_start)
            batch, steps = x.shape[0], x.shape[1]
            if state is None:
                state = self.initial_state(batch, x.device)
            resets = None
            if episode_start is not None:
                resets = torch.as_tensor(np.asarray(episode_start, dtype=bool), device=x.device)
                if resets.dim() == 1:
                    resets = torch.nn.functional.pad(resets[:, None], (0, steps - 1))
            if resets is not None and bool(resets[:, 1:].any()):  # resets inside the call: step by step
                outs = []
                for t in range(steps):
                    out, state = self.encode(x[:, t:t + 1], state, resets[:, t])
                    outs.append(out)
                return torch.cat(outs, 1), state
            if resets is not None and bool(resets[:, 0].any()):
                state = self._reset_rows(state, resets[:, 0])
            if self.encoder_kind == "lstm":
                out, (h, c) = self.encoder(x, state)
                return out, (h, c)
            seq = torch.cat([state[0], x], 1)  # (batch, k - 1 + time, obs)
            stacked = seq.unfold(1, self.frame_stack, 1).transpose(2, 3).reshape(batch, steps, -1)
            return self.encoder(stacked), (seq[:, seq.shape[1] - (self.frame_stack - 1):],)

        def forward(self, x, state=None, episode_start=None):
            features, state = self.encode(x, state, episode_start)
            stick, button = self.head.logits(features)
            if self.conditional:
                button = button.unflatten(-1, (self.directions, self.buttons))
            return stick, button, state

    GhostPolicy.__qualname__ = "GhostPolicy"  # pickles as nets.imitation.GhostPolicy (the module __getattr__)
    GhostPolicy.__module__ = __name__
    return GhostPolicy


_CLASSES: dict[str, type] = {}


def __getattr__(name: str):
    # GhostPolicy is built on first use so that `import nets.imitation` (the demo format) needs no torch
    if name == "GhostPolicy":
        if name not in _CLASSES:
            _CLASSES[name] = _build_policy_class()
        return _CLASSES[name]
    raise AttributeError(f"module 'nets.imitation' has no attribute {name!r}")


def make_policy(**config) -> Any:
    """A :class:`GhostPolicy` from its config dict (the checkpoint's ``"model"`` entry)."""
    return __getattr__("GhostPolicy")(**config)


# ---- training --------------------------------------------------------------------------------------


@dataclass
class GhostTrainConfig:
    """Hyper-parameters of behaviour cloning (one line each; the CLI flags of ``sandbox train ghost``)."""

    encoder: str = "cwrnn"  # cwrnn | lstm | mlp (frame stack)
    hidden: int = 96  # encoder width (cwrnn: split evenly over the clock periods)
    periods: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # CW-RNN clock periods, in decisions
    fc: int = 64  # the fully connected layer before the two heads
    frame_stack: int = 4  # observations the mlp encoder sees
    head: str = "conditional"  # conditional: p(stick) p(button | stick); independent: p(stick) p(button)
    epochs: int = 30  # maximum passes over the training rounds
    window: int = 32  # truncated-BPTT window, in decisions
    batch_size: int = 8  # rounds per batch
    lr: float = 3e-3  # Adam learning rate
    weight_decay: float = 0.0  # Adam weight decay
    grad_clip: float = 1.0  # max gradient norm
    patience: int = 5  # epochs without a better validation loss before stopping
    threads: int = 1  # torch CPU threads while training (0: leave torch's setting); small nets run best on 1
    val_frac: float = 0.2  # fraction of the rounds held out for validation
    seed: int = 0  # seeds the split, the initialisation and the shuffling

    def model_config(self, obs_size: int) -> dict:
        return {"obs_size": obs_size, "encoder": self.encoder, "hidden": self.hidden, "periods": list(self.periods),
                "fc": self.fc, "frame_stack": self.frame_stack, "head": self.head}


@dataclass
class GhostTrainResult:
    model: Any  # the GhostPolicy with the best validation loss (on the CPU, eval mode)
    history: list[dict]  # one row per epoch: epoch, train_loss, val_loss, val_*_acc, seconds
    metrics: dict  # evaluate_ghost on the validation rounds, with the train-set majority baseline
    train_idx: list[int]
    val_idx: list[int]
    best_epoch: int
    sequences_per_second: float  # training windows (sequences of ``window`` steps) per second
    stopped_early: bool = False
    extra: dict = field(default_factory=dict)


def _loss(model, stick_logits, button_logits, actions, mask):
    """Mean over the unmasked steps of CE(stick) + CE(button)."""
    torch = _torch()
    f = torch.nn.functional
    s = f.cross_entropy(stick_logits.reshape(-1, stick_logits.shape[-1]), actions[..., 0].reshape(-1),
                        reduction="none")
    b = f.cross_entropy(button_logits.reshape(-1, button_logits.shape[-1]), actions[..., 1].reshape(-1),
                        reduction="none")
    m = mask.reshape(-1).to(s.dtype)
    return ((s + b) * m).sum() / m.sum().clamp(min=1.0)


def _loss_any(stick_logits, button_logits, actions, mask):
    """:func:`_loss` for either head: the conditional head's button logits are those of the
    demonstrator's stick (teacher forcing), so the loss is ``-log p(stick) - log p(button | stick)``."""
    return _loss(None, stick_logits, button_logits_given(button_logits, actions[..., 0]), actions, mask)


def majority_baseline(rounds: Sequence[Round]) -> dict:
    """The most frequent stick, button and (stick, button) pair of ``rounds``."""
    acts = np.concatenate([r.actions for r in rounds])
    joint = acts[:, 0] * N_BUTTON + acts[:, 1]
    return {"stick": int(np.bincount(acts[:, 0], minlength=N_STICK).argmax()),
            "button": int(np.bincount(acts[:, 1], minlength=N_BUTTON).argmax()),
            "joint": int(np.bincount(joint, minlength=N_STICK * N_BUTTON).argmax())}


def evaluate_ghost(model, rounds: Sequence[Round], *, baseline_from: Sequence[Round] | None = None,
                   device=None, window: int = 256, batch_size: int = 32) -> dict:
    """Held-out metrics of a ghost on ``rounds`` (teacher forcing: it sees the demonstrator's states).

    Returns ``loss`` (mean CE(stick) + CE(button) per step, the button's given the demonstrator's stick
    for the conditional head), ``stick_acc`` and ``button_acc`` (argmax of each marginal), ``joint_acc``
    (the most likely (stick, button) pair is the demonstrator's), ``baseline`` (the same accuracies of
    always answering the majority classes of ``baseline_from``, default ``rounds``), ``stick_confusion``
    (9 x 9) and ``button_confusion`` (4 x 4), rows = demonstrator's class, columns = ghost's argmax, and
    ``steps``."""
    torch = _torch()
    device = device if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    cs = np.zeros((N_STICK, N_STICK), np.int64)
    cb = np.zeros((N_BUTTON, N_BUTTON), np.int64)
    joint_right = total = 0
    loss_sum = 0.0
    with torch.inference_mode():
        state = None
        for w in tbptt_windows(rounds, window, batch_size):
            if w.first:
                state = None
            elif state is not None:
                state = model.slice_state(state, w.rows)
            x = torch.as_tensor(w.obs, device=device)
            a = torch.as_tensor(w.actions, device=device)
            m = torch.as_tensor(w.mask, device=device)
            sl, bl, state = model(x, state)
            n = int(m.sum())
            loss_sum += float(_loss_any(sl, bl, a, m)) * n
            lp = pair_log_probs(sl, bl)[m]  # (steps, directions, buttons)
            p = lp.exp()
            ps, pb = p.sum(-1).argmax(-1).cpu().numpy(), p.sum(-2).argmax(-1).cpu().numpy()  # marginal argmaxes
            pair = lp.flatten(-2).argmax(-1).cpu().numpy()  # the most likely (stick, button) pair
            ts, tb = w.actions[..., 0][w.mask], w.actions[..., 1][w.mask]
            np.add.at(cs, (ts, ps), 1)
            np.add.at(cb, (tb, pb), 1)
            joint_right += int((pair == ts * lp.shape[-1] + tb).sum())
            total += n
    model.train(was_training)
    acts = np.concatenate([r.actions for r in rounds])
    maj = majority_baseline(baseline_from if baseline_from is not None else rounds)
    base = {"stick_acc": float(np.mean(acts[:, 0] == maj["stick"])),
            "button_acc": float(np.mean(acts[:, 1] == maj["button"])),
            "joint_acc": float(np.mean(acts[:, 0] * N_BUTTON + acts[:, 1] == maj["joint"])),
            "classes": maj}
    return {"loss": loss_sum / max(total, 1), "stick_acc": float(np.trace(cs) / max(total, 1)),
            "button_acc": float(np.trace(cb) / max(total, 1)), "joint_acc": joint_right / max(total, 1),
            "baseline": base, "stick_confusion": cs.tolist(), "button_confusion": cb.tolist(), "steps": total}


def train_ghost(dataset: DemoDataset, config: GhostTrainConfig | None = None, *, device="auto",
                progress: bool = False, on_epoch: Callable[[dict], None] | None = None,
                init_state_dict: dict | None = None) -> GhostTrainResult:
    """Behaviour cloning: minimise CE(stick) + CE(button) over the training rounds with truncated BPTT,
    keep the parameters of the epoch with the lowest validation loss, stop after ``patience`` epochs
    without improvement. ``on_epoch(row)`` is called after each epoch (for CSV / TensorBoard)."""
    from nets.device import threads

    cfg = config or GhostTrainConfig()

    with threads(cfg.threads):  # restored afterwards: not a global change
        return _train(dataset, cfg, device, progress, on_epoch, init_state_dict)


def _train(dataset, cfg, device, progress, on_epoch, init_state_dict) -> GhostTrainResult:
    torch = _torch()
    from nets.device import resolve_device

    if cfg.epochs < 1 or cfg.patience < 1:
        raise ValueError(f"epochs and patience must be >= 1; got {cfg.epochs}, {cfg.patience}")
    dev = resolve_device(device)
    train_idx, val_idx = dataset.split(cfg.val_frac, cfg.seed)
    train = [dataset.rounds[i] for i in train_idx]
    val = [dataset.rounds[i] for i in val_idx]
    torch.manual_seed(cfg.seed)
    model = make_policy(**cfg.model_config(dataset.rounds[0].obs.shape[1])).to(dev)
    if init_state_dict is not None:
        model.load_state_dict(init_state_dict)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs, desc="ghost", unit="epoch", dynamic_ncols=True)
    best = (math.inf, None, 0)
    history: list[dict] = []
    seqs, train_seconds = 0, 0.0
    bad_epochs = 0
    stopped_early = False
    for epoch in range(1, cfg.epochs + 1):
        # ---- one pass over the training rounds, TBPTT with carried state
        model.train()
        t0 = time.perf_counter()
        total, steps = 0.0, 0
        state = None
        for w in tbptt_windows(train, cfg.window, cfg.batch_size, rng):
            state = None if w.first else model.slice_state(state, w.rows)
            x = torch.as_tensor(w.obs, device=dev)
            a = torch.as_tensor(w.actions, device=dev)
            m = torch.as_tensor(w.mask, device=dev)
            sl, bl, state = model(x, state)
            loss = _loss_any(sl, bl, a, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            n = int(w.mask.sum())
            total += loss.detach().item() * n
            steps += n
            seqs += w.rows
        train_seconds += time.perf_counter() - t0
        # ---- validation on held-out rounds
        ev = evaluate_ghost(model, val, baseline_from=train, device=dev)
        row = {"epoch": epoch, "train_loss": total / max(steps, 1), "val_loss": ev["loss"],
               "val_stick_acc": ev["stick_acc"], "val_button_acc": ev["button_acc"],
               "val_joint_acc": ev["joint_acc"], "seconds": round(train_seconds, 3)}
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if bar is not None:
            bar.set_postfix(train=f"{row['train_loss']:.3f}", val=f"{ev['loss']:.3f}", acc=f"{ev['joint_acc']:.3f}")
            bar.update(1)
        if ev["loss"] < best[0] - 1e-6:
            best = (ev["loss"], {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, epoch)
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                stopped_early = epoch < cfg.epochs
                break
    if bar is not None:
        bar.close()
    model = model.cpu()
    model.load_state_dict(best[1])
    model.eval()
    metrics = evaluate_ghost(model, val, baseline_from=train, device=torch.device("cpu"))
    return GhostTrainResult(model, history, metrics, train_idx, val_idx, best[2],
                            seqs / max(train_seconds, 1e-9), stopped_early)


class GhostStepper:
    """One-decision-at-a-time inference of a :class:`GhostPolicy` in NumPy (float32), for the agent.

    A game asks for one decision per frame; at that size torch's per-call overhead dominates, so the
    weights are copied once into NumPy arrays and each step is a handful of small matrix-vector
    products (the same maths as ``GhostPolicy.forward``; a test checks they agree). ``state`` is a
    tuple of arrays plus the CW-RNN clock: copy it to look ahead without advancing."""

    def __init__(self, model):
        from nets.clockwork import active_modules

        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.kind = model.encoder_kind
        self.obs_size = model.obs_size
        trunk = [m for m in model.head.trunk.modules() if isinstance(m, _torch().nn.Linear)]
        self.trunk = [(sd_w, sd_b) for sd_w, sd_b in ((lin.weight.detach().cpu().numpy().astype(np.float32),
                                                       lin.bias.detach().cpu().numpy().astype(np.float32))
                                                      for lin in trunk)]
        self.trunk_act = model.head.trunk.activation if trunk else None
        self.w_out = np.concatenate([sd["head.direction.weight"], sd["head.button.weight"]])
        self.b_out = np.concatenate([sd["head.direction.bias"], sd["head.button.bias"]])
        self.n_stick = sd["head.direction.bias"].shape[0]
        self.conditional = model.conditional
        self.n_button = model.buttons
        enc = model.encoder
        if self.kind == "cwrnn":
            w_in = sd["encoder.weight_ih"]
            w_rec = enc.dense_recurrent_weight().detach().cpu().numpy().astype(np.float32)
            bias = sd["encoder.bias"]
            self.period = math.lcm(*enc.periods)
            self.hidden = enc.hidden_size
            plans, cache = [], {}
            for t in range(self.period):
                act = active_modules(t, enc.periods)
                units = tuple(u for i, a in enumerate(act) if a
                              for u in range(enc.offsets[i], enc.offsets[i + 1]))
                if units not in cache:
                    idx = np.asarray(units, dtype=np.int64)
                    prefix = len(units) == 0 or units == tuple(range(len(units)))
                    sel = slice(0, len(units)) if prefix else idx
                    cache[units] = (sel, np.ascontiguousarray(w_in[sel]), np.ascontiguousarray(w_rec[sel]),
                                    bias[sel].copy())
                plans.append(cache[units])
            self.plans = plans
        elif self.kind == "lstm":
            self.w_ih, self.w_hh = sd["encoder.weight_ih_l0"], sd["encoder.weight_hh_l0"]
            self.b = sd["encoder.bias_ih_l0"] + sd["encoder.bias_hh_l0"]
            self.hidden = self.w_hh.shape[1]
        else:
            self.frame_stack = model.frame_stack
            self.w_mlp, self.b_mlp = sd["encoder.net.0.weight"], sd["encoder.net.0.bias"]
        self.reset()

    def reset(self):
        """Zero state, clock 0 (a new round)."""
        if self.kind == "cwrnn":
            self.state = (np.zeros(self.hidden, np.float32), 0)
        elif self.kind == "lstm":
            self.state = (np.zeros(self.hidden, np.float32), np.zeros(self.hidden, np.float32))
        else:
            self.state = (np.zeros((self.frame_stack, self.obs_size), np.float32),)

    def step(self, x: np.ndarray, state=None):
        """``(stick_logits, button_logits, new_state)`` for one observation ``x`` (obs_size,) from
        ``state``; the button logits are (buttons,), or (directions, buttons) for the conditional head,
        from ``state`` (default ``self.state``); ``self.state`` is not changed (see :meth:`advance`)."""
        state = self.state if state is None else state
        if self.kind == "cwrnn":
            h, clock = state
            sel, w_in, w_rec, b = self.plans[clock % self.period]
            h = h.copy()
            h[sel] = np.tanh(w_in @ x + w_rec @ state[0] + b)
            feat, new = h, (h, clock + 1)
        elif self.kind == "lstm":
            h, c = state
            g = self.w_ih @ x + self.w_hh @ h + self.b
            n = self.hidden
            i, f = _sigmoid(g[:n]), _sigmoid(g[n:2 * n])
            c = f * c + i * np.tanh(g[2 * n:3 * n])
            h = _sigmoid(g[3 * n:]) * np.tanh(c)
            feat, new = h, (h, c)
        else:
            buf = np.concatenate([state[0][1:], x[None]])
            feat, new = np.tanh(self.w_mlp @ buf.reshape(-1) + self.b_mlp), (buf,)
        z = feat
        for w, b in self.trunk:
            z = w @ z + b
            z = np.maximum(z, 0) if self.trunk_act == "relu" else (np.tanh(z) if self.trunk_act == "tanh"
                                                                   else _sigmoid(z))
        out = self.w_out @ z + self.b_out
        button = out[self.n_stick:]
        return out[:self.n_stick], button.reshape(self.n_stick, self.n_button) if self.conditional else button, new

    def advance(self, x: np.ndarray):
        """Step from ``self.state`` and keep the new state; returns the two logit vectors."""
        s, b, self.state = self.step(x)
        return s, b


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---- checkpoints -----------------------------------------------------------------------------------


def save_ghost(model, path: str | os.PathLike, *, frame_skip: int, **extra: Any) -> Path:
    """Write ``path`` (a torch ``state_dict``) and ``path.json`` (the model config, env id and version,
    the observation layout hash, the ``frame_skip`` it acts at and ``extra``), each atomically, the
    JSON first so that a checkpoint file never exists without its config."""
    torch = _torch()
    from envs.fileio import atomic_save, atomic_write_text

    path = Path(path)
    meta = {"kind": "ghost", "format": GHOST_FORMAT, "model": model.config, "env_id": ENV_ID,
            "env_version": env_version(), "obs_layout_hash": obs_layout_hash(), "frame_skip": int(frame_skip),
            **extra}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1, default=_json_default) + "\n")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save(path, lambda tmp: torch.save(state, tmp))
    return path


def _json_default(o):
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


MAX_GHOST_BYTES = 256 * 2**20  # a ghost checkpoint file (the shipped sizes are ~100 KB)
MAX_GHOST_SIDECAR_BYTES = 2**20  # its JSON config


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The ghost checkpoint named by ``path``: the file itself, or in a run folder
    ``checkpoints/ghost.pt`` (else ``ghost.pt``). FileNotFoundError naming what was looked for."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / "checkpoints" / "ghost.pt", p / "ghost.pt"):
            if cand.is_file():
                return cand
        raise FileNotFoundError(f"{p}: no ghost checkpoint in this folder (looked for checkpoints/ghost.pt and "
                                "ghost.pt); train one with `sandbox train ghost --demos DIR --out RUN`")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such ghost checkpoint (give a run folder or its checkpoints/ghost.pt)")
    return p


def load_ghost(path: str | os.PathLike, device="cpu") -> tuple[Any, dict]:
    """``(GhostPolicy in eval mode, its JSON config)`` from a checkpoint file or run folder.

    Loaded with ``torch.load(weights_only=True)``; a missing file or sidecar raises FileNotFoundError,
    a corrupt one or one made for another observation layout a ValueError; each names the file."""
    torch = _torch()
    from nets.device import resolve_device

    p = find_checkpoint(path)
    side = p.with_suffix(".json")
    if not side.is_file():
        raise FileNotFoundError(f"{p}: missing its config sidecar {side.name}")
    if side.stat().st_size > MAX_GHOST_SIDECAR_BYTES:  # untrusted: size first
        raise ValueError(f"{side}: {side.stat().st_size} bytes, more than the {MAX_GHOST_SIDECAR_BYTES} a ghost "
                         "config may have")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("kind") != "ghost" or not isinstance(meta.get("model"), dict):
            raise ValueError('expected a JSON object with "kind": "ghost" and a "model" config')
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{side}: not a ghost config ({exc})") from None
    if meta.get("obs_layout_hash") != obs_layout_hash():
        raise ValueError(f"{p}: trained on observation layout {meta.get('obs_layout_hash')!r}, the duel now has "
                         f"{obs_layout_hash()!r}; retrain it on new demos")
    dev = resolve_device(device)
    from nets.torchfile import load_tensors

    try:
        state = load_tensors(p, max_bytes=MAX_GHOST_BYTES, map_location=dev)  # weights_only, sizes checked
    except ValueError as exc:  # truncated zip, not a torch file, pickled objects refused...
        raise ValueError(f"{p}: corrupt or unreadable ghost checkpoint ({exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{p}: not a state dict of tensors")
    try:
        with torch.device("meta"):  # the config's shapes, checked against the file's before any allocation
            shapes = {k: tuple(v.shape) for k, v in make_policy(**meta["model"]).state_dict().items()}
        if shapes != {k: tuple(v.shape) for k, v in state.items()}:
            raise ValueError("its tensors' names or shapes differ from the model its config describes")
        model = make_policy(**meta["model"]).to(dev)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{p}: checkpoint does not match its config ({first})") from None
    model.eval()
    return model, meta


# ---- fidelity statistics ------------------------------------------------------------------------------

# distance bins (gap between the bodies, stage units) for the distance-kept distribution
GAP_BINS = np.array([0, 10, 20, 35, 50, 70, 100, 140, 200, 280, 400, 800.0001])


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence in bits, ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with
    ``m = (p + q) / 2`` (``0 log 0 = 0``); inputs are normalised counts. In [0, 1]: 0 iff p = q,
    1 for disjoint supports."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be 1-D of one length; got {p.shape}, {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0 or (p < 0).any() or (q < 0).any():
        raise ValueError("p and q must be non-negative with a positive sum")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return min(max(0.5 * kl(p) + 0.5 * kl(q), 0.0), 1.0)


def behaviour_stats(obs_list: Sequence[np.ndarray], actions_list: Sequence[np.ndarray]) -> dict:
    """Play-style statistics of one player over rounds (their observations and actions per step):

    ``stick`` (9) and ``button`` (4) frequencies of the inputs; ``moves`` (8): frequencies of the moves
    the fighter started (jab ... projectile, a move starts where the own-move one-hot switches to it);
    ``gap``: histogram of the gap between the bodies over :data:`GAP_BINS`; ``mean_gap`` (stage units);
    ``guard_rate``: fraction of steps guarding (standing or crouching guard); ``steps``."""
    from envs.duel import env as E
    from envs.duel.rules import STAGE_WIDTH

    stick = np.zeros(N_STICK)
    button = np.zeros(N_BUTTON)
    moves = np.zeros(E.N_MOVES - 1)
    gap_hist = np.zeros(len(GAP_BINS) - 1)
    guard = steps = 0
    gaps = []
    for obs, act in zip(obs_list, actions_list, strict=True):
        act = np.asarray(act).reshape(-1, 2)
        stick += np.bincount(act[:, 0], minlength=N_STICK)
        button += np.bincount(act[:, 1], minlength=N_BUTTON)
        move = obs[:, E.SELF + E.F_MOVE:E.SELF + E.F_MOVE + E.N_MOVES].argmax(1)
        prev = np.concatenate([[0], move[:-1]])
        starts = move[(move != 0) & (move != prev)]
        moves += np.bincount(starts - 1, minlength=E.N_MOVES - 1)[:E.N_MOVES - 1] if len(starts) else 0
        gap = obs[:, E.OBS_GAP] * STAGE_WIDTH
        gap_hist += np.histogram(gap, GAP_BINS)[0]
        gaps.append(gap)
        guard += int(((obs[:, E.SELF + E.F_GUARD_STAND] + obs[:, E.SELF + E.F_GUARD_CROUCH]) > 0.5).sum())
        steps += len(act)
    norm = lambda v: (v / v.sum()).tolist() if v.sum() > 0 else v.tolist()  # noqa: E731
    return {"stick": norm(stick), "button": norm(button), "moves": norm(moves), "gap": norm(gap_hist),
            "mean_gap": float(np.concatenate(gaps).mean()) if gaps else float("nan"),
            "guard_rate": guard / max(steps, 1), "steps": steps}


def stats_divergence(a: dict, b: dict) -> dict:
    """JS divergences between two :func:`behaviour_stats` (stick, button, moves, gap), their mean
    ``divergence`` (the style-matrix figure) and the guard-rate difference."""
    out = {}
    for key in ("stick", "button", "moves", "gap"):
        pa, pb = np.asarray(a[key]), np.asarray(b[key])
        out[f"js_{key}"] = js_divergence(pa, pb) if pa.sum() > 0 and pb.sum() > 0 else float(pa.sum() != pb.sum())
    out["divergence"] = float(np.mean([out[f"js_{k}"] for k in ("stick", "button", "moves", "gap")]))
    out["guard_rate_diff"] = abs(a["guard_rate"] - b["guard_rate"])
    return out


def config_dict(cfg: GhostTrainConfig) -> dict:
    d = asdict(cfg)
    d["periods"] = list(cfg.periods)
    return d
