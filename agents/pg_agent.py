"""The agent spec ``pg:PATH``: a checkpoint of our policy-gradient learners (``sandbox train --algo
reinforce|a2c-pg|ppo-pg``, a ``.pt`` with its JSON sidecar), loaded without unpickling anything
(``nets.policy_gradient.load_learner``: ``torch.load(weights_only=True)``, sizes checked first).

Imports: ``nets``, ``agents``; never ``experiments``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.protocol import PolicyRows

if TYPE_CHECKING:
    from gymnasium import spaces

    from nets.on_policy import OnPolicyLearner

MAX_SIDECAR_BYTES = 1 << 20  # a JSON sidecar beside a checkpoint


def read_sidecar(path: str | Path) -> dict:
    """The JSON sidecar beside checkpoint ``path`` (``NAME.json``; ``path`` may be the sidecar), or ``{}``
    when there is none; a ValueError naming the file when it is too large, not JSON or not an object."""
    from envs.fileio import read_json_object

    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return {}
    return read_json_object(side, MAX_SIDECAR_BYTES, "checkpoint sidecar")  # plain data, never unpickled


def checkpoint_in(path: str | Path, suffix: str, spec: str) -> Path:
    """``path`` itself, or for a run folder of ``sandbox train`` its ``checkpoints/final`` (else ``latest``)
    with ``suffix`` (``.pt``, ``.zip``): a run folder is an agent spec as its checkpoint is."""
    p = Path(path)
    if not p.is_dir():
        return p
    for name in ("final", "latest"):
        if (p / "checkpoints" / f"{name}{suffix}").is_file():
            return p / "checkpoints" / f"{name}{suffix}"
    raise FileNotFoundError(f"{spec}:{path}: a folder without checkpoints/final{suffix} or latest{suffix}; give a run "
                            f"folder of sandbox train or a {suffix} checkpoint")


def load_pg(path: str | Path, device: str = "auto") -> OnPolicyLearner:
    """Our learner saved at ``path`` (``.pt``), its sidecar as ``agent.info``; one-line ValueErrors
    naming the file for anything that is not such a checkpoint."""
    from nets.policy_gradient import load_learner

    path = checkpoint_in(path, ".pt", "pg")
    try:
        agent = load_learner(path, device=device)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as exc:  # a corrupt file fails in torch / json in many ways
        raise ValueError(f"{path}: cannot load the checkpoint ({type(exc).__name__}: {exc})") from None
    agent.info = read_sidecar(path)
    return agent


def make_pg(arg: str | None, **kwargs: Any) -> OnPolicyLearner:
    """Factory for the agent spec ``pg:PATH``."""
    if not arg:
        raise ValueError("agent spec 'pg' needs a path: pg:runs/NAME (a run folder) or a .pt checkpoint")
    return load_pg(arg, kwargs.get("device", "auto"))



class BatchedLearner(PolicyRows):
    """Our learner (``pg:PATH``, ``bundled:NAME`` of a ``.pt``, or a live learner) acting for N rows: one
    :meth:`nets.on_policy.OnPolicyLearner.logits` call on the active rows, then the arg-max or a draw
    per row (:class:`agents.protocol.PolicyRows`). A CW-RNN learner keeps each row's hidden state and clock,
    zeroed at the row's reset and advanced only when the row acts. The learner is read, never copied: a
    live learner's opponent plays its current weights."""

    def __init__(self, learner: OnPolicyLearner, *, deterministic: bool = False, target: spaces.Space | None = None,
                 spec: str = "pg"):
        super().__init__(learner.action_space, deterministic=deterministic, target=target, spec=spec)
        self.learner = learner
        self.hidden: np.ndarray | None = None
        self.clock: np.ndarray | None = None

    def bind_state(self, num_envs: int) -> None:
        self.hidden = self.clock = None
        if self.learner.recurrent:
            st = self.learner.policy.initial_state(num_envs)
            assert st is not None  # a recurrent policy has a state
            self.hidden, self.clock = st.hidden.cpu().numpy(), st.step.cpu().numpy()

    def reset_state(self, idx: np.ndarray) -> None:
        if self.hidden is not None and self.clock is not None:
            self.hidden[idx] = 0.0
            self.clock[idx] = 0

    def scores(self, obs: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        hidden, clock = self.hidden, self.clock
        if hidden is None or clock is None:
            return self.learner.logits(obs)[0]
        logits, state = self.learner.logits(obs, (hidden[rows], clock[rows]))
        assert state is not None  # a recurrent policy returns its new state
        hidden[rows], clock[rows] = state
        return logits
