"""Known-answer and property tests of nets.clockwork: schedule, connectivity, equivalences, gradients."""

from __future__ import annotations

import pytest
import torch

from nets.clockwork import (
    ClockworkRNN,
    ClockworkState,
    active_modules,
    active_prefix,
    clockwork_param_count,
    exponential_periods,
)


def _net(input_size=3, module_size=2, periods=(1, 2, 4, 8), seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return ClockworkRNN(input_size, module_size, periods, init_std=0.5).to(dtype)


def _random_state(net, batch, clock=0, seed=1):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.rand(batch, net.hidden_size, generator=g) * 2 - 1
    return ClockworkState(hidden.to(net.bias.dtype), torch.full((batch,), clock, dtype=torch.long))


def _module_slices(net):
    return [slice(net.offsets[i], net.offsets[i + 1]) for i in range(net.num_modules)]


def test_schedule_helpers_hand_worked():
    assert exponential_periods(4) == (1, 2, 4, 8)
    assert active_modules(12, (1, 2, 4, 8)) == [True, True, True, False]
    assert active_prefix(12, (1, 2, 4, 8)) == 3
    assert active_prefix(0, (1, 2, 4, 8)) == 4
    assert active_prefix(7, (1, 2, 4, 8)) == 1
    assert active_prefix(9, (2, 3, 5)) == 2  # 9 mod 3 == 0, module 0 (period 2) is idle
    assert active_prefix(7, (2, 3, 5)) == 0


@pytest.mark.parametrize("periods", [(1, 2, 4, 8), (1, 3, 5), (2, 3, 7)])
@pytest.mark.parametrize("start_clock", [0, 5])
def test_update_schedule_bit_for_bit(periods, start_clock):
    net = _net(periods=periods)
    steps = 24
    x = torch.randn(2, steps, 3)
    state = _random_state(net, 2, clock=start_clock)
    with torch.no_grad():
        out, new_state = net(x, state)
    prev = state.hidden
    for t in range(steps):
        clock = start_clock + t
        for i, sl in enumerate(_module_slices(net)):
            if clock % net.periods[i] == 0:
                assert not torch.equal(out[:, t, sl], prev[:, sl]), (t, i)
            else:
                assert torch.equal(out[:, t, sl], prev[:, sl]), (t, i)  # bit for bit
        prev = out[:, t]
    assert new_state.step.tolist() == [start_clock + steps] * 2
    assert torch.equal(new_state.hidden, out[:, -1])


def test_periods_are_sorted_with_their_module_sizes():
    net = ClockworkRNN(1, (3, 1, 2), periods=(4, 1, 2))
    assert net.periods == (1, 2, 4)
    assert net.module_sizes == (1, 2, 3)
    assert net.offsets == (0, 1, 3, 6)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="distinct"):
        ClockworkRNN(1, 2, (1, 2, 2))
    with pytest.raises(ValueError, match="one per period"):
        ClockworkRNN(1, (2, 2), (1, 2, 4))
    net = ClockworkRNN(2, 2, (1, 2))
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match="episode_start"):
        net(torch.zeros(2, 3, 2), episode_start=torch.zeros(3, dtype=torch.bool))


def test_connectivity_slow_feeds_fast_never_the_reverse():
    net = _net(periods=(1, 2, 4, 8))
    x = torch.randn(2, 1, 3)
    base = _random_state(net, 2, clock=0)  # clock 0: every module updates
    sl = _module_slices(net)
    with torch.no_grad():
        ref, _ = net(x, base)
        for m in range(net.num_modules):
            bumped = base.hidden.clone()
            bumped[:, sl[m]] += 0.5
            out, _ = net(x, ClockworkState(bumped, base.step))
            for i in range(net.num_modules):
                same = torch.equal(out[:, 0, sl[i]], ref[:, 0, sl[i]])
                if i > m:  # slower module than the perturbed one: untouched
                    assert same, f"perturbing module {m} changed slower module {i}"
                else:  # the module itself and every faster one hear it
                    assert not same, f"perturbing module {m} did not reach module {i}"
    dense = net.dense_recurrent_weight()
    for i in range(net.num_modules):
        for j in range(i):
            assert torch.count_nonzero(dense[sl[i], sl[j]]) == 0


def test_single_period_one_module_equals_torch_rnn():
    torch.manual_seed(3)
    rnn = torch.nn.RNN(4, 6, nonlinearity="tanh", batch_first=True)
    net = ClockworkRNN(4, 6, periods=(1,))
    with torch.no_grad():
        net.weight_ih.copy_(rnn.weight_ih_l0)
        net.recurrent[0].copy_(rnn.weight_hh_l0)
        net.bias.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
    x = torch.randn(3, 17, 4)
    h0 = torch.randn(3, 6) * 0.3
    with torch.no_grad():
        ref, ref_h = rnn(x, h0[None])
        out, state = net(x, ClockworkState(h0, torch.zeros(3, dtype=torch.long)))
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(state.hidden, ref_h[0], atol=1e-6, rtol=1e-5)


def test_stepwise_equals_whole_sequence():
    net = _net(input_size=3, module_size=(2, 3, 1, 2), periods=(1, 2, 4, 8), seed=4)
    x = torch.randn(3, 40, 3)
    state0 = _random_state(net, 3, clock=0)
    with torch.no_grad():
        whole, whole_state = net(x, state0)
        state, outs = state0, []
        for t in range(40):
            o, state = net(x[:, t : t + 1], state)
            outs.append(o)
        # uneven chunks too
        state2, chunks, t = state0, [], 0
        for length in (1, 7, 3, 13, 16):
            o, state2 = net(x[:, t : t + length], state2)
            chunks.append(o)
            t += length
    torch.testing.assert_close(torch.cat(outs, 1), whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cat(chunks, 1), whole, atol=1e-6, rtol=0)
    assert state.step.tolist() == whole_state.step.tolist() == [40, 40, 40]


@pytest.mark.parametrize("clocks", [[0, 0, 0], [0, 3, 6]])
def test_autograd_path_equals_no_grad_path_bit_for_bit(clocks):
    """Without autograd the layer writes into one buffer; with it, it concatenates fresh tensors."""
    net = _net(seed=7)
    x = torch.randn(3, 21, 3)
    state = ClockworkState(_random_state(net, 3).hidden, torch.tensor(clocks))
    tracked, tracked_state = net(x, state)
    assert tracked.requires_grad
    with torch.no_grad():
        plain, plain_state = net(x, state)
    assert torch.equal(tracked.detach(), plain)
    assert torch.equal(tracked_state.hidden.detach(), plain_state.hidden)
    assert torch.equal(tracked_state.step, plain_state.step)


def test_episode_start_resets_row_state_and_clock():
    net = _net(seed=5)
    x = torch.randn(2, 30, 3)
    with torch.no_grad():
        full, _ = net(x)
        # Row 0 restarts at t = 11 (mid-call), row 1 runs on: clocks now differ per row.
        starts = torch.zeros(2, 30, dtype=torch.bool)
        starts[0, 11] = True
        out, state = net(x, episode_start=starts)
        fresh, _ = net(x[:1, 11:])
        # The same reset, given frame by frame as a game loop would.
        st, frames = None, []
        for t in range(30):
            o, st = net(x[:, t : t + 1], st, episode_start=starts[:, t])
            frames.append(o)
    torch.testing.assert_close(out[1], full[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[0, :11], full[0, :11], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[0, 11:], fresh[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cat(frames, 1), out, atol=1e-6, rtol=0)
    assert state.step.tolist() == [19, 30]
    assert st.step.tolist() == [19, 30]


def test_rows_at_different_phases_follow_their_own_clock():
    net = _net(seed=6)
    x = torch.randn(3, 20, 3)
    base = _random_state(net, 3)
    clocks = torch.tensor([0, 3, 6])
    with torch.no_grad():
        together, st = net(x, ClockworkState(base.hidden, clocks))
        for b in range(3):
            alone, _ = net(x[b : b + 1], ClockworkState(base.hidden[b : b + 1], clocks[b : b + 1]))
            torch.testing.assert_close(together[b], alone[0], atol=1e-6, rtol=0)
    assert st.step.tolist() == [20, 23, 26]


def test_gradcheck_float64():
    net = _net(input_size=2, module_size=(2, 1, 2), periods=(1, 2, 4), dtype=torch.float64)
    x = torch.randn(2, 9, 2, dtype=torch.float64, requires_grad=True)
    h0 = (torch.randn(2, net.hidden_size, dtype=torch.float64) * 0.5).requires_grad_(True)
    step = torch.tensor([0, 1])  # differing clocks exercise the masked path as well
    params = list(net.parameters())

    def f(x, h0, *ps):
        names = [name for name, _ in net.named_parameters()]
        out, state = torch.func.functional_call(
            net, dict(zip(names, ps, strict=True)), (x, ClockworkState(h0, step))
        )
        return out.sum(dim=2), state.hidden

    inputs = (x, h0, *[p.detach().clone().requires_grad_(True) for p in params])
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)
    same_clock = lambda x, h0: net(x, ClockworkState(h0, torch.zeros(2, dtype=torch.long)))[0]  # noqa: E731
    assert torch.autograd.gradcheck(same_clock, (x, h0), eps=1e-6, atol=1e-5)


def test_parameter_count_matches_the_paper_formula_and_no_dead_weights():
    g, k, inp = 4, 3, 2
    net = ClockworkRNN(inp, k, exponential_periods(g))
    n = g * k
    formula = k * k * g * (g + 1) // 2 + n * inp + n
    assert formula == 126  # 9 * 10 + 12 * 2 + 12, worked by hand
    total = sum(p.numel() for p in net.parameters())
    assert total == formula == clockwork_param_count(inp, [k] * g)
    assert [tuple(p.shape) for p in net.recurrent] == [(3, 12), (3, 9), (3, 6), (3, 3)]
    # The optimiser keeps state only for stored blocks: same number of moment entries as parameters.
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    out, _ = net(torch.randn(2, 8, inp))
    out.pow(2).sum().backward()
    opt.step()
    moments = sum(s["exp_avg"].numel() for s in opt.state.values())
    assert moments == formula
    # Uneven module sizes: sum_i k_i * (k_i + ... + k_g)
    assert clockwork_param_count(0, (2, 1, 3)) == 2 * 6 + 1 * 4 + 3 * 3 + 6


def test_inactive_rows_never_touch_zero_weights_gradient_flows_only_to_strips():
    net = _net(periods=(1, 2))
    out, _ = net(torch.randn(1, 4, 3))
    out.sum().backward()
    for strip in net.recurrent:
        assert strip.grad is not None and strip.grad.shape == strip.shape


def test_state_dict_round_trip_and_pickle(tmp_path):
    import pickle

    net = _net()
    clone = pickle.loads(pickle.dumps(net))
    x = torch.randn(1, 5, 3)
    torch.testing.assert_close(net(x)[0], clone(x)[0])
    path = tmp_path / "cw.pt"
    torch.save(net.state_dict(), path)
    other = ClockworkRNN(3, 2, (1, 2, 4, 8))
    other.load_state_dict(torch.load(path, weights_only=True))
    torch.testing.assert_close(net(x)[0], other(x)[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    from nets.device import resolve_device

    net = _net()
    x = torch.randn(2, 12, 3)
    ref, ref_state = net(x)
    device = resolve_device("cuda")
    out, state = net.to(device)(x.to(device))
    torch.testing.assert_close(out.cpu(), ref, atol=1e-5, rtol=1e-4)
    assert state.step.device.type == "cuda"
    assert state.step.cpu().tolist() == ref_state.step.tolist()
