"""Glue so stable-baselines3's PPO, A2C and DQN can use :class:`nets.mlp.MLP` on the sandbox envs.

``MLPExtractor`` is an SB3 features extractor (flatten the observation, then an MLP). The helpers
return ``policy_kwargs`` for each algorithm::

    from stable_baselines3 import PPO
    from nets.sb3 import mlp_policy_kwargs
    model = PPO("MlpPolicy", env, policy_kwargs=mlp_policy_kwargs("ppo", hidden=(64, 64)))

The features extractor carries the whole MLP; SB3's own ``net_arch`` is left empty by default, so
the actor, critic (or Q) heads are single linear layers on top of our features. Models saved with
``model.save`` load back with ``PPO.load`` as usual (the extractor class is importable from here).
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import torch
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from nets.mlp import MLP

__all__ = ["MLPExtractor", "mlp_policy_kwargs", "ALGOS"]

ALGOS = ("ppo", "a2c", "dqn")


class MLPExtractor(BaseFeaturesExtractor):
    """Flatten the observation and run it through ``nets.MLP``; features are the last hidden layer."""

    def __init__(
        self,
        observation_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        init: str = "orthogonal",
    ) -> None:
        hidden = tuple(int(h) for h in hidden)
        if not hidden:
            raise ValueError("MLPExtractor needs at least one hidden layer")
        super().__init__(observation_space, features_dim=hidden[-1])
        self.flatten = torch.nn.Flatten()
        n_in = get_flattened_obs_dim(observation_space)
        self.mlp = MLP(n_in, hidden, None, activation=activation, init=init)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.flatten(observations).float())


def mlp_policy_kwargs(
    algo: str,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    init: str = "orthogonal",
    head_arch: Sequence[int] = (),
) -> dict:
    """``policy_kwargs`` that put ``nets.MLP`` under SB3's ``algo`` (``"ppo"``, ``"a2c"`` or ``"dqn"``).

    ``head_arch`` adds SB3 layers after the shared MLP features (actor and critic alike for PPO/A2C,
    the Q network for DQN); empty means linear heads."""
    algo = algo.lower()
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    kwargs: dict = {
        "features_extractor_class": MLPExtractor,
        "features_extractor_kwargs": {"hidden": tuple(hidden), "activation": activation, "init": init},
    }
    head = [int(h) for h in head_arch]
    if algo == "dqn":
        kwargs["net_arch"] = head
    else:
        kwargs["net_arch"] = {"pi": head, "vf": list(head)}
        kwargs["share_features_extractor"] = True
    return kwargs
