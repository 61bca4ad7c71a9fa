"""Sequence behaviour cloning: a two-head recurrent policy learned from (observation, action) sequences.

This module knows no game. Its data are *sequences*: any objects with ``obs`` (T, D) float32 and
``actions`` (T, 2) int64 arrays (an action is a pair ``(direction, button)`` of a two-head
controller) and a length; a *dataset* is any object with ``rounds`` (a list of sequences) and
``split(val_frac, seed)``. The duel's demo format, ghost checkpoints and fidelity statistics, which
do know the game, live in :mod:`agents.ghost`. The pieces, in the order data flows through them:

* **Windows.** :func:`split_rounds` splits sequences **by sequence** into train and validation, and
  :func:`tbptt_windows` serves truncated-BPTT windows in which each batch row follows one sequence
  from its first step to its last, so the recurrent state is carried across the windows of a
  sequence and starts from zero at a new one.
* **Model.** :class:`GhostPolicy`: encoder (``cwrnn`` clockwork RNN, ``lstm`` or ``mlp`` over a frame
  stack) -> fully connected layer -> :class:`nets.heads.ControllerHead` (direction x button softmaxes;
  by default the button softmax is conditioned on the direction, ``p(stick) p(button | stick)``),
  sized from the spaces (:func:`sizes_from_spaces`) or the data.
* **Training.** :func:`train_ghost`: summed cross-entropy of the two heads, Adam, early stopping on the
  validation loss; :func:`evaluate_ghost` gives per-head and joint accuracy, the majority-class baseline
  and the confusion matrices. :class:`GhostStepper` runs one decision at a time in NumPy.
* **Divergence.** :func:`js_divergence` (Jensen-Shannon, bits), for comparing behaviour histograms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeAlias, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch
    from gymnasium import spaces
    from torch import nn

    from nets.clockwork import ClockworkRNN, ClockworkState
    from nets.heads import ControllerHead
    from nets.mlp import MLP

N_STICK, N_BUTTON = 9, 4  # default controller sizes (a two-head controller; sized from spaces when given)

__all__ = [
    "make_policy", "GhostStepper", "GhostTrainConfig", "GhostTrainResult", "split_rounds", "tbptt_windows",
    "train_ghost", "evaluate_ghost", "js_divergence", "sizes_from_spaces", "ENCODERS", "HEADS",
]

#: The recurrent state of a ghost network: the CW-RNN's ``ClockworkState``, the LSTM's ``(h, c)`` or the frame
#: stack's ``(previous frames,)``; every part is a tensor with the batch in it.
GhostState: TypeAlias = "ClockworkState | tuple[torch.Tensor, ...]"
#: ``episode_start`` as the network takes it: a bool per row (batch,) or per row and step (batch, time).
EpisodeStart: TypeAlias = "torch.Tensor | np.ndarray | None"
#: What :class:`GhostStepper` carries between decisions: NumPy arrays (plus the CW-RNN's clock).
StepperState: TypeAlias = "tuple[np.ndarray, int] | tuple[np.ndarray, np.ndarray] | tuple[np.ndarray]"


class Trajectory(Protocol):
    """One sequence (a demonstration) as this module reads it: ``obs`` (T, D) float32, ``actions`` (T, 2) int64."""

    @property
    def obs(self) -> np.ndarray: ...

    @property
    def actions(self) -> np.ndarray: ...

    def __len__(self) -> int: ...


class Dataset(Protocol):
    """A dataset of sequences: ``rounds`` and ``split(val_frac, seed) -> (train indices, validation indices)``
    (``agents.ghost.DemoDataset`` is one); ``sizes`` (as :func:`sizes_from_spaces` returns) is optional."""

    @property
    def rounds(self) -> Sequence[Trajectory]: ...

    def split(self, val_frac: float, seed: int) -> tuple[list[int], list[int]]: ...


class GhostModel(Protocol):
    """A :class:`GhostPolicy` as the rest of the project sees it (the class itself is built on first use, so
    that ``import nets.imitation`` needs no torch; see its docstring for the meaning of each part)."""

    config: dict[str, Any]
    conditional: bool
    directions: int
    buttons: int
    encoder_kind: str
    obs_size: int
    frame_stack: int
    encoder: nn.Module
    head: ControllerHead
    training: bool

    def __call__(self, x: torch.Tensor, state: GhostState | None = None,
                 episode_start: EpisodeStart = None) -> tuple[torch.Tensor, torch.Tensor, GhostState]: ...

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> GhostState: ...

    def slice_state(self, state: GhostState, rows: int) -> GhostState: ...

    def encode(self, x: torch.Tensor, state: GhostState | None = None,
               episode_start: EpisodeStart = None) -> tuple[torch.Tensor, GhostState]: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any: ...

    def to(self, device: torch.device | str) -> Self: ...

    def cpu(self) -> Self: ...

    def eval(self) -> Self: ...

    def train(self, mode: bool = True) -> Self: ...


def sizes_from_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> dict[str, int]:
    """``{"obs_size", "directions", "buttons"}`` of a policy for a flat ``Box`` observation space and a
    two-part ``MultiDiscrete([directions, buttons])`` action space."""
    nvec = getattr(action_space, "nvec", None)
    if nvec is None or len(nvec) != 2:
        raise ValueError(f"a two-head policy needs a MultiDiscrete([directions, buttons]) action space; "
                         f"got {action_space}")
    shape = getattr(observation_space, "shape", None)
    if not shape or len(shape) != 1:
        raise ValueError(f"a sequence policy needs a flat (D,) observation space; got {observation_space}")
    return {"obs_size": int(shape[0]), "directions": int(nvec[0]), "buttons": int(nvec[1])}


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


def tbptt_windows(rounds: Sequence[Trajectory], window: int, batch_size: int,
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


def pair_log_probs(stick_logits: torch.Tensor, button_logits: torch.Tensor) -> torch.Tensor:
    """``log p(stick, button)``, shape (..., directions, buttons), from either head's logits."""
    torch = _torch()
    ls = torch.log_softmax(stick_logits, -1)
    lb = torch.log_softmax(button_logits, -1)
    return ls[..., :, None] + (lb if lb.dim() == ls.dim() + 1 else lb[..., None, :])


def button_logits_given(button_logits: torch.Tensor, stick: torch.Tensor) -> torch.Tensor:
    """The button logits for the chosen ``stick`` (conditional head) or as they are (independent)."""
    torch = _torch()
    if button_logits.dim() == stick.dim() + 2:
        idx = stick[..., None, None].expand(*stick.shape, 1, button_logits.shape[-1])
        return torch.gather(button_logits, -2, idx).squeeze(-2)
    return button_logits


def _torch() -> ModuleType:
    import torch

    return torch


def _build_policy_class() -> Callable[..., GhostModel]:
    import torch
    from torch import nn

    from nets.clockwork import ClockworkRNN, ClockworkState
    from nets.heads import ControllerHead
    from nets.mlp import MLP

    class GhostPolicy(nn.Module):
        """Encoder -> fully connected layer -> two softmax heads (``directions`` sticks, ``buttons`` buttons).

        Args:
            obs_size: observation features (the flat observation space's size).
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
                     directions: int = N_STICK, buttons: int = N_BUTTON, head: str = "conditional") -> None:
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
            self.encoder: nn.Module
            if encoder == "cwrnn":
                cwrnn = ClockworkRNN(obs_size, max(1, hidden // len(periods)), periods)
                self.encoder, width = cwrnn, cwrnn.hidden_size
            elif encoder == "lstm":
                self.encoder = nn.LSTM(obs_size, hidden, batch_first=True)
                width = hidden
            else:
                mlp = MLP(obs_size * frame_stack, (hidden,), None, activation="tanh")
                self.encoder, width = mlp, mlp.out_features
            # conditional: the button softmax has one row of logits per stick direction, p(button | stick)
            self.head = ControllerHead(width, directions, buttons * directions if self.conditional else buttons,
                                       hidden=(fc,))

        # -- state helpers (every encoder's state is a tuple of tensors with the batch somewhere)
        def initial_state(self, batch: int, device: torch.device | str | None = None) -> GhostState:
            device = device if device is not None else next(self.parameters()).device
            if self.encoder_kind == "cwrnn":
                return cast("ClockworkRNN", self.encoder).initial_state(batch, device=device)
            if self.encoder_kind == "lstm":
                h = torch.zeros(1, batch, cast("nn.LSTM", self.encoder).hidden_size, device=device)
                return (h, h.clone())
            return (torch.zeros(batch, self.frame_stack - 1, self.obs_size, device=device),)

        def slice_state(self, state: GhostState, rows: int) -> GhostState:
            """The state of the first ``rows`` batch rows, detached (for the next TBPTT window)."""
            if self.encoder_kind == "cwrnn":
                cw = cast("ClockworkState", state)
                return ClockworkState(cw.hidden[:rows].detach(), cw.step[:rows])
            if self.encoder_kind == "lstm":
                return tuple(s[:, :rows].detach() for s in state)
            return (state[0][:rows].detach(),)

        def _reset_rows(self, state: tuple[torch.Tensor, ...], rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
            """Zero the state of the rows where ``rows`` (batch,) bool tensor is True."""
            if self.encoder_kind == "lstm":
                keep = (~rows).to(state[0].dtype)[None, :, None]
                return tuple(s * keep for s in state)
            keep = (~rows).to(state[0].dtype)[:, None, None]
            return (state[0] * keep,)

        def encode(self, x: torch.Tensor, state: GhostState | None = None,
                   episode_start: EpisodeStart = None) -> tuple[torch.Tensor, GhostState]:
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

        def forward(self, x: torch.Tensor, state: GhostState | None = None,
                    episode_start: EpisodeStart = None) -> tuple[torch.Tensor, torch.Tensor, GhostState]:
            features, state = self.encode(x, state, episode_start)
            stick, button = self.head.logits(features)
            if self.conditional:
                button = button.unflatten(-1, (self.directions, self.buttons))
            return stick, button, state

    GhostPolicy.__qualname__ = "GhostPolicy"  # named nets.imitation.GhostPolicy (the module __getattr__)
    GhostPolicy.__module__ = __name__
    return GhostPolicy


_CLASSES: dict[str, Callable[..., GhostModel]] = {}


def __getattr__(name: str) -> Callable[..., GhostModel]:
    # GhostPolicy is built on first use so that `import nets.imitation` needs no torch
    if name == "GhostPolicy":
        if name not in _CLASSES:
            _CLASSES[name] = _build_policy_class()
        return _CLASSES[name]
    raise AttributeError(f"module 'nets.imitation' has no attribute {name!r}")


def make_policy(**config: Any) -> GhostModel:
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

    def model_config(self, obs_size: int, directions: int = N_STICK, buttons: int = N_BUTTON) -> dict[str, Any]:
        """The policy config (as :class:`GhostPolicy` stores it) for these sizes."""
        return {"obs_size": obs_size, "encoder": self.encoder, "hidden": self.hidden, "periods": list(self.periods),
                "fc": self.fc, "frame_stack": self.frame_stack, "directions": directions, "buttons": buttons,
                "head": self.head}


@dataclass
class GhostTrainResult:
    model: GhostModel  # the GhostPolicy with the best validation loss (on the CPU, eval mode)
    history: list[dict[str, float]]  # one row per epoch: epoch, train_loss, val_loss, val_*_acc, seconds
    metrics: dict[str, Any]  # evaluate_ghost on the validation rounds, with the train-set majority baseline
    train_idx: list[int]
    val_idx: list[int]
    best_epoch: int
    sequences_per_second: float  # training windows (sequences of ``window`` steps) per second
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _loss(model: GhostModel | None, stick_logits: torch.Tensor, button_logits: torch.Tensor, actions: torch.Tensor,
          mask: torch.Tensor) -> torch.Tensor:
    """Mean over the unmasked steps of CE(stick) + CE(button)."""
    torch = _torch()
    f = torch.nn.functional
    s = f.cross_entropy(stick_logits.reshape(-1, stick_logits.shape[-1]), actions[..., 0].reshape(-1),
                        reduction="none")
    b = f.cross_entropy(button_logits.reshape(-1, button_logits.shape[-1]), actions[..., 1].reshape(-1),
                        reduction="none")
    m = mask.reshape(-1).to(s.dtype)
    return ((s + b) * m).sum() / m.sum().clamp(min=1.0)


def _loss_any(stick_logits: torch.Tensor, button_logits: torch.Tensor, actions: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
    """:func:`_loss` for either head: the conditional head's button logits are those of the
    demonstrator's stick (teacher forcing), so the loss is ``-log p(stick) - log p(button | stick)``."""
    return _loss(None, stick_logits, button_logits_given(button_logits, actions[..., 0]), actions, mask)


def majority_baseline(rounds: Sequence[Trajectory], directions: int = N_STICK,
                      buttons: int = N_BUTTON) -> dict[str, int]:
    """The most frequent stick, button and (stick, button) pair of ``rounds``."""
    acts = np.concatenate([r.actions for r in rounds])
    joint = acts[:, 0] * buttons + acts[:, 1]
    return {"stick": int(np.bincount(acts[:, 0], minlength=directions).argmax()),
            "button": int(np.bincount(acts[:, 1], minlength=buttons).argmax()),
            "joint": int(np.bincount(joint, minlength=directions * buttons).argmax())}


def evaluate_ghost(model: GhostModel, rounds: Sequence[Trajectory], *,
                   baseline_from: Sequence[Trajectory] | None = None, device: torch.device | str | None = None,
                   window: int = 256, batch_size: int = 32) -> dict[str, Any]:
    """Held-out metrics of a ghost on ``rounds`` (teacher forcing: it sees the demonstrator's states).

    Returns ``loss`` (mean CE(stick) + CE(button) per step, the button's given the demonstrator's stick
    for the conditional head), ``stick_acc`` and ``button_acc`` (argmax of each marginal), ``joint_acc``
    (the most likely (stick, button) pair is the demonstrator's), ``baseline`` (the same accuracies of
    always answering the majority classes of ``baseline_from``, default ``rounds``), ``stick_confusion``
    (directions x directions) and ``button_confusion`` (buttons x buttons), rows = demonstrator's class,
    columns = ghost's argmax, and
    ``steps``."""
    torch = _torch()
    device = device if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    n_dir, n_but = model.directions, model.buttons
    cs = np.zeros((n_dir, n_dir), np.int64)
    cb = np.zeros((n_but, n_but), np.int64)
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
    maj = majority_baseline(baseline_from if baseline_from is not None else rounds, n_dir, n_but)
    base = {"stick_acc": float(np.mean(acts[:, 0] == maj["stick"])),
            "button_acc": float(np.mean(acts[:, 1] == maj["button"])),
            "joint_acc": float(np.mean(acts[:, 0] * n_but + acts[:, 1] == maj["joint"])),
            "classes": maj}
    return {"loss": loss_sum / max(total, 1), "stick_acc": float(np.trace(cs) / max(total, 1)),
            "button_acc": float(np.trace(cb) / max(total, 1)), "joint_acc": joint_right / max(total, 1),
            "baseline": base, "stick_confusion": cs.tolist(), "button_confusion": cb.tolist(), "steps": total}


def train_ghost(dataset: Dataset, config: GhostTrainConfig | None = None, *, device: torch.device | str = "auto",
                progress: bool = False, on_epoch: Callable[[dict[str, float]], None] | None = None,
                init_state_dict: Mapping[str, Any] | None = None) -> GhostTrainResult:
    """Behaviour cloning: minimise CE(stick) + CE(button) over the training rounds with truncated BPTT,
    keep the parameters of the epoch with the lowest validation loss, stop after ``patience`` epochs
    without improvement. ``on_epoch(row)`` is called after each epoch (for CSV / TensorBoard).

    ``dataset``: ``rounds`` (sequences with ``obs`` and ``actions``) and ``split(val_frac, seed)``; the
    policy's sizes are ``dataset.sizes`` (a dict as :func:`sizes_from_spaces` returns) when it has
    them, else the observation width of the data and the default controller sizes."""
    from nets.device import threads

    cfg = config or GhostTrainConfig()

    with threads(cfg.threads):  # restored afterwards: not a global change
        return _train(dataset, cfg, device, progress, on_epoch, init_state_dict)


def _train(dataset: Dataset, cfg: GhostTrainConfig, device: torch.device | str, progress: bool,
           on_epoch: Callable[[dict[str, float]], None] | None,
           init_state_dict: Mapping[str, Any] | None) -> GhostTrainResult:
    torch = _torch()
    from nets.device import resolve_device

    if cfg.epochs < 1 or cfg.patience < 1:
        raise ValueError(f"epochs and patience must be >= 1; got {cfg.epochs}, {cfg.patience}")
    dev = resolve_device(device)
    train_idx, val_idx = dataset.split(cfg.val_frac, cfg.seed)
    train = [dataset.rounds[i] for i in train_idx]
    val = [dataset.rounds[i] for i in val_idx]
    torch.manual_seed(cfg.seed)
    sizes = getattr(dataset, "sizes", None) or {"obs_size": dataset.rounds[0].obs.shape[1]}
    model = make_policy(**cfg.model_config(**sizes)).to(dev)
    if init_state_dict is not None:
        model.load_state_dict(init_state_dict)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs, desc="ghost", unit="epoch", dynamic_ncols=True)
    best: tuple[float, dict[str, Any] | None, int] = (math.inf, None, 0)  # (val loss, state dict, epoch)
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
            # (the state of the window before, in the same rounds, unless this window starts them)
            state = None if w.first else model.slice_state(cast("GhostState", state), w.rows)
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
    model.load_state_dict(cast("dict[str, Any]", best[1]))  # (set by the first epoch, unless its loss was NaN)
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

    def __init__(self, model: GhostModel):
        from nets.clockwork import active_modules

        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.kind = model.encoder_kind
        self.obs_size = model.obs_size
        trunk = [m for m in model.head.trunk.modules() if isinstance(m, _torch().nn.Linear)]
        self.trunk = [(sd_w, sd_b) for sd_w, sd_b in ((lin.weight.detach().cpu().numpy().astype(np.float32),
                                                       lin.bias.detach().cpu().numpy().astype(np.float32))
                                                      for lin in trunk)]
        self.trunk_act = cast("MLP", model.head.trunk).activation if trunk else None
        self.w_out = np.concatenate([sd["head.direction.weight"], sd["head.button.weight"]])
        self.b_out = np.concatenate([sd["head.direction.bias"], sd["head.button.bias"]])
        self.n_stick = sd["head.direction.bias"].shape[0]
        self.conditional = model.conditional
        self.n_button = model.buttons
        self.state: StepperState
        if self.kind == "cwrnn":
            enc = cast("ClockworkRNN", model.encoder)
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

    def reset(self) -> None:
        """Zero state, clock 0 (a new round)."""
        if self.kind == "cwrnn":
            self.state = (np.zeros(self.hidden, np.float32), 0)
        elif self.kind == "lstm":
            self.state = (np.zeros(self.hidden, np.float32), np.zeros(self.hidden, np.float32))
        else:
            self.state = (np.zeros((self.frame_stack, self.obs_size), np.float32),)

    def step(self, x: np.ndarray,
             state: StepperState | None = None) -> tuple[np.ndarray, np.ndarray, StepperState]:
        """``(stick_logits, button_logits, new_state)`` for one observation ``x`` (obs_size,) from
        ``state``; the button logits are (buttons,), or (directions, buttons) for the conditional head,
        from ``state`` (default ``self.state``); ``self.state`` is not changed (see :meth:`advance`)."""
        state = self.state if state is None else state
        new: StepperState
        if self.kind == "cwrnn":
            h, clock = cast("tuple[np.ndarray, int]", state)
            sel, w_in, w_rec, b = self.plans[clock % self.period]
            h = h.copy()
            h[sel] = np.tanh(w_in @ x + w_rec @ state[0] + b)
            feat, new = h, (h, clock + 1)
        elif self.kind == "lstm":
            h, c = cast("tuple[np.ndarray, np.ndarray]", state)
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

    def advance(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step from ``self.state`` and keep the new state; returns the two logit vectors."""
        s, b, self.state = self.step(x)
        return s, b


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# ---- divergence of behaviour histograms ------------------------------------------------------------


def js_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon divergence in bits, ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with
    ``m = (p + q) / 2`` (``0 log 0 = 0``); inputs are normalised counts. In [0, 1]: 0 iff p = q,
    1 for disjoint supports."""
    pa = np.asarray(p, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    if pa.shape != qa.shape or pa.ndim != 1:
        raise ValueError(f"p and q must be 1-D of one length; got {pa.shape}, {qa.shape}")
    if pa.sum() <= 0 or qa.sum() <= 0 or (pa < 0).any() or (qa < 0).any():
        raise ValueError("p and q must be non-negative with a positive sum")
    pa, qa = pa / pa.sum(), qa / qa.sum()
    m = (pa + qa) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return min(max(0.5 * kl(pa) + 0.5 * kl(qa), 0.0), 1.0)


def config_dict(cfg: GhostTrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["periods"] = list(cfg.periods)
    return d
