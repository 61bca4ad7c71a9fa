"""Load a stable-baselines3 model zip as an agent (spec ``sb3:PATH``).

The algorithm is read from a sidecar ``PATH.json`` (``{"algo": "PPO"}``) when there is one; otherwise it
is told from the fields the zip holds. Nothing in the file is unpickled: see :func:`nets.sb3.load_sb3_zip`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from agents.protocol import PolicyRows

if TYPE_CHECKING:
    import gymnasium as gym
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.vec_env import VecEnv
    from torch.distributions import Categorical

ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")


def _sidecar_algo(path: Path) -> str | None:
    from agents.pg_agent import read_sidecar

    for side in (path.with_suffix(".json"), Path(str(path) + ".json")):
        if side.is_file():
            algo = read_sidecar(side).get("algo")
            if algo is not None and (not isinstance(algo, str) or algo.upper() not in ALGOS):
                raise ValueError(f"{side}: unknown algo {algo!r}; valid: {', '.join(ALGOS)}")
            return None if algo is None else str(algo).upper()
    return None


def load_sb3(path: str | os.PathLike[str], device: str = "auto", *, env: gym.Env | VecEnv | None = None,
             hyper: dict[str, Any] | None = None, tensorboard_log: str | None = None,
             observation_space: spaces.Space | None = None, action_space: spaces.Space | None = None) -> BaseAlgorithm:
    """The SB3 model saved at ``path`` (``.zip`` optional), its algorithm from the sidecar or its fields.

    Loaded by :func:`nets.sb3.load_sb3_zip`, which never unpickles anything from the file (SB3's own
    ``Algo.load`` would); ``env``, ``hyper`` and the spaces are passed on to it. A bad file raises a
    one-line ValueError naming it."""
    from nets.device import resolve_device
    from nets.sb3 import load_sb3_zip

    p = Path(path)
    if not p.exists() and p.with_suffix(".zip").exists():
        p = p.with_suffix(".zip")
    if not p.is_file():
        raise FileNotFoundError(f"sb3 model {str(path)!r} not found (expected a stable-baselines3 .zip)")
    return load_sb3_zip(p, _sidecar_algo(p), env=env, device=resolve_device(device), hyper=hyper,
                        tensorboard_log=tensorboard_log, observation_space=observation_space,
                        action_space=action_space)


class SB3Agent:
    """An SB3 model behind the agent protocol (it already speaks it; this adds ``reset`` and the
    deterministic default)."""

    info: dict[str, Any]  # a bundled agent's sidecar (set by agents.bundled)

    def __init__(self, model: BaseAlgorithm, deterministic: bool = True):
        self.model = model
        self.deterministic = deterministic

    def predict(self, observation: np.ndarray, state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool | None = None) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        from nets.device import inference

        det = self.deterministic if deterministic is None else deterministic
        shape = cast("tuple[int, ...]", self.model.observation_space.shape)
        rows = len(observation) if np.ndim(observation) > len(shape) else 1
        with inference(rows):
            return self.model.predict(observation, state=state, episode_start=episode_start, deterministic=det)

    def action_probs(self, observation: np.ndarray) -> list[np.ndarray] | None:
        """One probability vector per action head for one observation: ``[p(n)]`` for ``Discrete``,
        one per dimension for ``MultiDiscrete`` (duel: ``[stick(9), button(4)]``). None for policies
        without a categorical distribution (DQN's Q-network, continuous actions)."""
        import numpy as np
        import torch

        policy = self.model.policy
        if not hasattr(policy, "get_distribution"):
            return None
        actor = cast("ActorCriticPolicy", policy)  # (PPO's and A2C's policies have get_distribution)
        obs_tensor, _ = actor.obs_to_tensor(observation)
        with torch.no_grad():
            dist = actor.get_distribution(obs_tensor).distribution
        heads = dist if isinstance(dist, list | tuple) else [dist]
        if not all(hasattr(d, "probs") for d in heads):
            return None
        return [np.asarray(d.probs[0].cpu().numpy(), dtype=np.float64) for d in cast("list[Categorical]", heads)]

    def reset(self) -> None:
        pass


def make_sb3(arg: str | None, **kwargs: Any) -> SB3Agent:
    if not arg:
        raise ValueError("agent spec 'sb3' needs a path: sb3:runs/NAME (a run folder) or sb3:PATH/TO/model.zip")
    from agents.pg_agent import checkpoint_in

    arg = str(checkpoint_in(arg, ".zip", "sb3"))
    # the env's spaces stand in for a model's spaces that its zip cannot describe without a pickle
    return SB3Agent(load_sb3(arg, kwargs.get("device", "auto"), observation_space=kwargs.get("observation_space"),
                             action_space=kwargs.get("action_space")))


class BatchedSB3(PolicyRows):
    """An SB3 model with a categorical policy (PPO, A2C: ``get_distribution``; DQN: its Q-network) acting for
    N rows: one forward pass over the active rows. The arg-max is SB3's own ``deterministic`` action (the
    most probable category of each head; DQN's greedy action); sampling draws each row from SB3's
    probabilities (DQN: epsilon-greedy with the model's ``exploration_rate``, as ``DQN.predict``)."""

    probs = True

    def __init__(self, model: BaseAlgorithm, *, deterministic: bool = False, target: spaces.Space | None = None,
                 spec: str = "sb3"):
        super().__init__(model.action_space, deterministic=deterministic, target=target, spec=spec)
        self.model = model
        self.q = not hasattr(model.policy, "get_distribution")

    def scores(self, obs: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        from nets.device import inference

        policy = self.model.policy
        policy.set_training_mode(False)
        with inference(len(rows)):
            x, _ = policy.obs_to_tensor(obs)
            if self.q:  # a DQN policy: its Q-network
                q = cast("torch.nn.Module", policy.q_net)(x).cpu().numpy().astype(np.float64)
                greedy = np.zeros_like(q)
                greedy[np.arange(len(q)), q.argmax(-1)] = 1.0
                if self.deterministic:
                    return [greedy]
                eps = float(getattr(self.model, "exploration_rate", 0.0))
                return [(1.0 - eps) * greedy + eps / q.shape[-1]]
            dist = cast("ActorCriticPolicy", policy).get_distribution(x).distribution
            heads = dist if isinstance(dist, list | tuple) else [dist]  # categorical: a discrete action space
            return [d.probs.cpu().numpy() for d in cast("list[Categorical]", heads)]


class SB3PredictRows:
    """An SB3 model without categorical actions (SAC, TD3, DDPG): one ``model.predict`` call on the batch
    of active rows (SB3 draws any noise from torch's generator, not from the rows' seeds)."""

    def __init__(self, model: BaseAlgorithm, *, deterministic: bool = False, spec: str = "sb3"):
        self.model, self.deterministic, self.spec = model, bool(deterministic), spec
        self.num_envs = 0

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        from nets.device import inference

        rows = np.flatnonzero(active)
        if rows.size:
            with inference(len(rows)):
                a, _ = self.model.predict(obs[rows], deterministic=self.deterministic)
            out[rows] = np.asarray(a).reshape((len(rows), *out.shape[1:]))


def batched_sb3(agent: SB3Agent | BaseAlgorithm, *, deterministic: bool = False, target: spaces.Space | None = None,
                spec: str = "sb3") -> BatchedSB3 | SB3PredictRows:
    """The batched form of an :class:`SB3Agent` or an SB3 model."""
    model = agent.model if isinstance(agent, SB3Agent) else agent
    policy = model.policy
    if hasattr(policy, "get_distribution") or hasattr(policy, "q_net"):
        try:
            return BatchedSB3(model, deterministic=deterministic, target=target, spec=spec)
        except ValueError:  # not a Discrete/MultiDiscrete space
            pass
    return SB3PredictRows(model, deterministic=deterministic, spec=spec)
