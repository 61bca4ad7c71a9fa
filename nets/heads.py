"""Controller heads: a fully connected trunk that splits into a stick-direction and a button softmax.

``ControllerHead(in_features, directions=9, buttons=4)`` matches the duel's ``MultiDiscrete([9, 4])``
action. Calling it returns a :class:`ControllerDistribution` over ``(direction, button)`` pairs, the two
parts independent given the features, so

    log p(d, b) = log softmax(z_dir)[d] + log softmax(z_btn)[b]
    H = H(dir) + H(btn)

For one softmax head trained with cross-entropy, ``L = -sum_k t_k log y_k`` with ``y = softmax(z)``,
the gradient with respect to the logits is ``dL/dz = y - t`` (tests check it against autograd).

Use it as ``from nets.heads import ControllerHead``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical

from nets.mlp import MLP, init_linear

__all__ = ["ControllerHead", "ControllerDistribution", "softmax_cross_entropy_grad"]


def softmax_cross_entropy_grad(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Closed-form gradient of ``sum(cross_entropy(logits, target))`` wrt ``logits``: ``y - t``.

    ``target`` holds class indices; ``t`` is their one-hot encoding."""
    t = torch.nn.functional.one_hot(target, logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits, dim=-1) - t


class ControllerDistribution:
    """Two independent categoricals, over stick direction and button. Actions are (..., 2) int64."""

    def __init__(self, direction_logits: torch.Tensor, button_logits: torch.Tensor) -> None:
        self.direction = Categorical(logits=direction_logits)
        self.button = Categorical(logits=button_logits)

    @property
    def logits(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.direction.logits, self.button.logits

    def sample(self) -> torch.Tensor:
        return torch.stack([self.direction.sample(), self.button.sample()], dim=-1)

    def mode(self) -> torch.Tensor:
        return torch.stack([self.direction.logits.argmax(-1), self.button.logits.argmax(-1)], dim=-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Sum of the two heads' log-probabilities of ``actions[..., 0]`` and ``actions[..., 1]``."""
        actions = torch.as_tensor(actions, device=self.direction.logits.device).long()
        if actions.shape[-1] != 2:
            raise ValueError(
                f"actions must end in a (direction, button) pair, got shape {tuple(actions.shape)}"
            )
        return self.direction.log_prob(actions[..., 0]) + self.button.log_prob(actions[..., 1])

    def entropy(self) -> torch.Tensor:
        return self.direction.entropy() + self.button.entropy()


class ControllerHead(nn.Module):
    """FC trunk -> (direction logits, button logits) -> :class:`ControllerDistribution`.

    Args:
        in_features: size of the features (e.g. a CW-RNN's hidden vector).
        directions: number of stick directions (9: neutral and eight ways).
        buttons: number of buttons (4, including "none").
        hidden: trunk widths (empty for linear heads straight on the features).
        activation, init: as in :class:`nets.mlp.MLP`.
    """

    def __init__(
        self,
        in_features: int,
        directions: int = 9,
        buttons: int = 4,
        hidden: Sequence[int] = (64,),
        activation: str = "relu",
        init: str = "orthogonal",
    ) -> None:
        super().__init__()
        if directions < 1 or buttons < 1:
            raise ValueError(f"directions and buttons must be >= 1, got {directions}, {buttons}")
        mlp = MLP(in_features, hidden, None, activation=activation, init=init) if hidden else None
        self.trunk: nn.Module = mlp if mlp is not None else nn.Identity()
        width = mlp.out_features if mlp is not None else in_features
        self.direction = nn.Linear(width, directions)
        self.button = nn.Linear(width, buttons)
        for layer in (self.direction, self.button):  # small output gain: near-uniform first policy
            init_linear(layer, init if init != "he" else "xavier", 0.01)

    def logits(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(features)
        return self.direction(z), self.button(z)

    def forward(self, features: torch.Tensor) -> ControllerDistribution:
        return ControllerDistribution(*self.logits(features))
