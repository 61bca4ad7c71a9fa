"""Load a stable-baselines3 model zip as an agent (spec ``sb3:PATH``).

The algorithm is read from a sidecar ``PATH.json`` (``{"algo": "PPO"}``) when there is one; otherwise it
is told from the fields the zip holds. Nothing in the file is unpickled: see :func:`nets.sb3.load_sb3_zip`.
"""

from __future__ import annotations

from pathlib import Path

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


def load_sb3(path: str | Path, device: str = "auto", *, env=None, hyper: dict | None = None,
             tensorboard_log: str | None = None, observation_space=None, action_space=None):
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

    def __init__(self, model, deterministic: bool = True):
        self.model = model
        self.deterministic = deterministic

    def predict(self, observation, state=None, episode_start=None, deterministic=None):
        det = self.deterministic if deterministic is None else deterministic
        return self.model.predict(observation, state=state, episode_start=episode_start, deterministic=det)

    def action_probs(self, observation) -> list | None:
        """One probability vector per action head for one observation: ``[p(n)]`` for ``Discrete``,
        one per dimension for ``MultiDiscrete`` (duel: ``[stick(9), button(4)]``). None for policies
        without a categorical distribution (DQN's Q-network, continuous actions)."""
        import numpy as np
        import torch

        policy = self.model.policy
        if not hasattr(policy, "get_distribution"):
            return None
        obs_tensor, _ = policy.obs_to_tensor(observation)
        with torch.no_grad():
            dist = policy.get_distribution(obs_tensor).distribution
        heads = dist if isinstance(dist, list | tuple) else [dist]
        if not all(hasattr(d, "probs") for d in heads):
            return None
        return [np.asarray(d.probs[0].cpu().numpy(), dtype=np.float64) for d in heads]

    def reset(self) -> None:
        pass


def make_sb3(arg: str | None, **kwargs) -> SB3Agent:
    if not arg:
        raise ValueError("agent spec 'sb3' needs a path: sb3:PATH/TO/model.zip")
    # the env's spaces stand in for a model's spaces that its zip cannot describe without a pickle
    return SB3Agent(load_sb3(arg, kwargs.get("device", "auto"), observation_space=kwargs.get("observation_space"),
                             action_space=kwargs.get("action_space")))
