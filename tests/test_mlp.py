"""nets.mlp: shapes, hand-worked forward pass, and the initialisers' defining statistics."""

from __future__ import annotations

import math

import pytest
import torch

from nets.mlp import MLP


def test_layers_and_shapes():
    net = MLP(5, (7, 3), 2, activation="tanh")
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 7), (7, 3), (3, 2)]
    assert net(torch.zeros(4, 5)).shape == (4, 2)
    assert MLP(5, (7, 3)).out_features == 3


def test_forward_hand_worked():
    net = MLP(2, (2,), 1, activation="relu")
    lin1, lin2 = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.5]]))
        lin1.bias.copy_(torch.tensor([0.0, -1.0]))
        lin2.weight.copy_(torch.tensor([[3.0, -2.0]]))
        lin2.bias.copy_(torch.tensor([0.5]))
    # x = (1, 2): hidden pre = (1-2, 2+1-1) = (-1, 2) -> relu (0, 2) -> 3*0 - 2*2 + 0.5 = -3.5
    assert net(torch.tensor([[1.0, 2.0]])).item() == pytest.approx(-3.5)
    sig = MLP(1, (1,), None, activation="sigmoid")
    with torch.no_grad():
        sig.net[0].weight.fill_(1.0)
    assert sig(torch.tensor([[0.0]])).item() == pytest.approx(0.5)


def _first_weight(net):
    return net.net[0].weight.detach()


def test_xavier_uniform_bound_and_variance():
    torch.manual_seed(0)
    fan_in, fan_out = 400, 300
    w = _first_weight(MLP(fan_in, (fan_out,), init="xavier", activation="tanh"))
    gain = 5.0 / 3.0
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert w.abs().max() <= a
    assert w.abs().max() > 0.99 * a  # uses the whole interval
    assert w.var().item() == pytest.approx(a * a / 3.0, rel=0.03)


def test_he_normal_std():
    torch.manual_seed(0)
    w = _first_weight(MLP(500, (400,), init="he", activation="relu"))
    assert w.mean().item() == pytest.approx(0.0, abs=3e-3)
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / 500), rel=0.02)


def test_orthogonal_rows():
    torch.manual_seed(0)
    w = _first_weight(MLP(30, (20,), init="orthogonal", activation="relu"))
    torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(20), atol=1e-5, rtol=0)  # gain^2 = 2 for ReLU


def test_biases_start_at_zero_and_bad_names_are_clear():
    net = MLP(3, (4,), 2)
    assert all(torch.count_nonzero(m.bias) == 0 for m in net.modules() if isinstance(m, torch.nn.Linear))
    with pytest.raises(ValueError, match="valid: relu, tanh, sigmoid"):
        MLP(3, (4,), activation="gelu")
    with pytest.raises(ValueError, match="valid: orthogonal, xavier, he"):
        MLP(3, (4,), init="lecun")


def test_import_nets_stays_light_and_exports_lazily():
    import subprocess
    import sys

    code = (
        "import sys, nets\n"
        "assert 'torch' not in sys.modules, 'import nets pulled in torch'\n"
        "from nets.mlp import MLP\n"
        "assert nets.MLP is MLP and nets.ClockworkRNN.__name__ == 'ClockworkRNN'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
