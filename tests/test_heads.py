"""nets.heads: the softmax/cross-entropy known answer and the two-headed controller distribution."""

from __future__ import annotations

import math

import pytest
import torch

from nets.heads import ControllerHead, softmax_cross_entropy_grad


def test_softmax_cross_entropy_gradient_is_y_minus_t_hand_worked():
    # logits (0, ln 3): softmax = (1/4, 3/4); target class 1 -> dL/dz = (1/4, 3/4) - (0, 1)
    z = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([1])
    torch.nn.functional.cross_entropy(z, t, reduction="sum").backward()
    torch.testing.assert_close(z.grad, torch.tensor([[0.25, -0.25]], dtype=torch.float64))
    torch.testing.assert_close(softmax_cross_entropy_grad(z.detach(), t), z.grad)


def test_softmax_cross_entropy_gradient_matches_autograd():
    torch.manual_seed(0)
    z = torch.randn(16, 9, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 9, (16,))
    torch.nn.functional.cross_entropy(z, t, reduction="sum").backward()
    torch.testing.assert_close(softmax_cross_entropy_grad(z.detach(), t), z.grad)


def test_log_prob_is_the_sum_of_the_two_categoricals():
    torch.manual_seed(1)
    head = ControllerHead(12, directions=9, buttons=4, hidden=(16,))
    feats = torch.randn(5, 12)
    dist = head(feats)
    actions = torch.tensor([[0, 0], [8, 3], [4, 1], [2, 2], [7, 0]])
    zd, zb = head.logits(feats)
    expected = (
        torch.log_softmax(zd, -1).gather(1, actions[:, :1])[:, 0]
        + torch.log_softmax(zb, -1).gather(1, actions[:, 1:])[:, 0]
    )
    torch.testing.assert_close(dist.log_prob(actions), expected)
    # Probabilities of all 36 joint actions sum to one.
    grid = torch.cartesian_prod(torch.arange(9), torch.arange(4))
    total = torch.exp(head(feats[:1].expand(36, 12)).log_prob(grid)).sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_entropy_mode_and_sample():
    head = ControllerHead(3, hidden=())
    with torch.no_grad():
        for layer in (head.direction, head.button):
            layer.weight.zero_()
            layer.bias.zero_()
        head.button.bias[2] = 5.0
        head.direction.bias[6] = 5.0
    dist = head(torch.zeros(2, 3))
    assert dist.mode().tolist() == [[6, 2], [6, 2]]
    sample = dist.sample()
    assert sample.shape == (2, 2) and sample.dtype == torch.long
    assert (sample[:, 0] < 9).all() and (sample[:, 1] < 4).all()
    uniform = ControllerHead(3, hidden=())
    with torch.no_grad():
        for layer in (uniform.direction, uniform.button):
            layer.weight.zero_()
            layer.bias.zero_()
    ent = uniform(torch.zeros(1, 3)).entropy()
    assert ent.item() == pytest.approx(math.log(9) + math.log(4))


def test_gradients_reach_the_trunk_and_bad_actions_are_clear():
    head = ControllerHead(4)
    loss = -head(torch.randn(3, 4)).log_prob(torch.tensor([[1, 1], [2, 2], [3, 3]])).mean()
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())
    with pytest.raises(ValueError, match="direction, button"):
        head(torch.randn(3, 4)).log_prob(torch.tensor([1, 2, 3]))
