"""A plain multi-layer perceptron with named activations and initialisers.

Use it as ``from nets.mlp import MLP``. The initialisers follow their usual definitions, for a layer
with ``fan_in`` inputs and ``fan_out`` outputs:

* ``"xavier"`` (Glorot & Bengio 2010, uniform): ``W ~ U(-a, a)`` with
  ``a = gain * sqrt(6 / (fan_in + fan_out))``, so ``Var W = gain^2 * 2 / (fan_in + fan_out)``.
* ``"he"`` (He et al. 2015, normal, fan-in mode): ``W ~ N(0, gain^2 / fan_in)``; with ReLU's
  ``gain = sqrt(2)`` that is ``N(0, 2 / fan_in)``.
* ``"orthogonal"`` (Saxe et al. 2014): ``W`` is ``gain`` times a random (semi-)orthogonal matrix,
  so ``W W^T = gain^2 I`` when ``fan_out <= fan_in`` (and ``W^T W = gain^2 I`` otherwise).

Hidden layers use the activation's recommended gain (``torch.nn.init.calculate_gain``: ReLU
``sqrt(2)``, tanh ``5/3``, sigmoid ``1``); the output layer uses ``output_gain`` (default 1). Biases
start at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import torch
from torch import nn

__all__ = ["MLP", "ACTIVATIONS", "INITS", "init_linear"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
INITS = ("orthogonal", "xavier", "he")


def init_linear(layer: nn.Linear, init: str, gain: float) -> None:
    """Initialise ``layer.weight`` with ``init`` (see the module docstring) and zero its bias."""
    with torch.no_grad():
        if init == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain=gain)
        elif init == "xavier":
            nn.init.xavier_uniform_(layer.weight, gain=gain)
        elif init == "he":
            fan_in = layer.weight.shape[1]
            layer.weight.normal_(0.0, gain / fan_in**0.5)
        else:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
        if layer.bias is not None:
            layer.bias.zero_()


class MLP(nn.Module):
    """``in_features -> hidden[0] -> ... -> hidden[-1] (-> out_features)``.

    Args:
        in_features: size of the (flat) input.
        hidden: widths of the hidden layers, each followed by ``activation``.
        out_features: size of a final linear layer with no activation; None means the network ends
            with the last hidden layer (its width is then ``self.out_features``).
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        init: ``"orthogonal"``, ``"xavier"`` or ``"he"``.
        output_gain: gain of the output layer's initialiser.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        out_features: int | None = None,
        activation: str = "relu",
        init: str = "orthogonal",
        output_gain: float = 1.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
        hidden = [int(h) for h in hidden]
        if in_features < 1 or any(h < 1 for h in hidden) or (out_features is not None and out_features < 1):
            raise ValueError(f"layer sizes must be >= 1, got {in_features}, {hidden}, {out_features}")
        if not hidden and out_features is None:
            raise ValueError("an MLP needs at least one hidden layer or an out_features")
        self.in_features = int(in_features)
        self.activation = activation
        self.init = init
        gain = nn.init.calculate_gain(cast(Literal["relu", "tanh", "sigmoid"], activation))  # one of ACTIVATIONS
        layers: list[nn.Module] = []
        width = self.in_features
        for h in hidden:
            linear = nn.Linear(width, h)
            init_linear(linear, init, gain)
            layers += [linear, ACTIVATIONS[activation]()]
            width = h
        if out_features is not None:
            linear = nn.Linear(width, out_features)
            init_linear(linear, init, output_gain)
            layers.append(linear)
            width = out_features
        self.out_features = width
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
