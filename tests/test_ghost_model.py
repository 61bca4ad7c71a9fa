"""Issue 6, model side: GhostPolicy state handling, the NumPy stepper, checkpoints and the ghost agent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents.ghost as ghost
from agents import make_agent
from agents.ghost import GhostAgent, parse_ghost_arg
from nets import imitation as im


def _policy(encoder, seed=0, head="conditional"):
    torch.manual_seed(seed)
    m = im.make_policy(encoder=encoder, hidden=24, periods=(1, 2, 4), fc=16, frame_stack=3, head=head)
    with torch.no_grad():  # larger output weights than the near-uniform init, so actions differ
        m.head.direction.weight.mul_(100)
        m.head.button.weight.mul_(100)
    return m.eval()


@pytest.mark.parametrize("encoder", im.ENCODERS)
def test_windows_with_carried_state_equal_one_pass(encoder):
    m = _policy(encoder)
    x = torch.randn(3, 23, 76)
    with torch.no_grad():
        full_s, full_b, _ = m(x)
        outs, state = [], None
        for s in range(0, 23, 5):
            sl, bl, state = m(x[:, s:s + 5], state)
            outs.append((sl, bl))
    torch.testing.assert_close(torch.cat([o[0] for o in outs], 1), full_s, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat([o[1] for o in outs], 1), full_b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("encoder", im.ENCODERS)
def test_episode_start_resets_a_row(encoder):
    m = _policy(encoder)
    x = torch.randn(2, 6, 76)
    with torch.no_grad():
        _, _, state = m(x[:, :4])
        reset = m(x[:, 4:], state, episode_start=np.array([True, False]))
        fresh = m(x[:, 4:])
        cont = m(x[:, 4:], state)
    torch.testing.assert_close(reset[0][0], fresh[0][0])  # row 0 starts over
    torch.testing.assert_close(reset[0][1], cont[0][1])  # row 1 carries on


@pytest.mark.parametrize("encoder,head", [(e, "conditional") for e in im.ENCODERS] + [("cwrnn", "independent")])
def test_numpy_stepper_matches_the_torch_forward(encoder, head):
    m = _policy(encoder, head=head)
    x = torch.rand(1, 40, 76) * 2 - 1
    with torch.no_grad():
        s, b, _ = m(x)
    st = im.GhostStepper(m)
    for t in range(40):
        zs, zb = st.advance(x[0, t].numpy())
        np.testing.assert_allclose(zs, s[0, t].numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(zb, b[0, t].numpy(), rtol=1e-4, atol=1e-4)


def test_checkpoint_round_trip_same_actions_same_seed(tmp_path):
    m = _policy("cwrnn", seed=1)
    path = ghost.save_ghost(m, tmp_path / "run" / "checkpoints" / "ghost.pt", frame_skip=4)
    loaded, meta = ghost.load_ghost(tmp_path / "run")  # the run folder works as well as the file
    assert meta["model"] == m.config and meta["frame_skip"] == 4 and path.with_suffix(".json").is_file()
    obs = np.random.default_rng(0).uniform(-1, 1, (120, 76)).astype(np.float32)
    a1 = GhostAgent(m, meta, rng=np.random.default_rng(7))
    a2 = make_agent(f"ghost:{path}", rng=np.random.default_rng(7))
    acts1 = [a1.predict(o)[0] for o in obs]
    acts2 = [a2.predict(o)[0] for o in obs]
    np.testing.assert_array_equal(acts1, acts2)
    assert len({tuple(a) for a in acts1}) > 3  # really sampled, not a constant
    # in a seeded round the env hands its generator to the ghost: the same seed replays the same round
    from agents.opponents import make_duel_env

    def trajectory():
        env = make_duel_env(opponent=f"ghost:{tmp_path / 'run'}", round_seconds=3)
        o, _ = env.reset(seed=11)
        xs = []
        for _ in range(40):
            o, _, done, _, _ = env.step(np.array([0, 0]))
            xs.append(o)
        return np.array(xs)

    np.testing.assert_array_equal(trajectory(), trajectory())


def test_checkpoint_errors_name_the_file(tmp_path):
    m = _policy("lstm")
    path = ghost.save_ghost(m, tmp_path / "g" / "ghost.pt", frame_skip=4)
    with pytest.raises(FileNotFoundError, match="nope"):
        make_agent(f"ghost:{tmp_path / 'nope'}")
    with pytest.raises(FileNotFoundError, match=r"empty: no ghost checkpoint in this folder"):
        (tmp_path / "empty").mkdir()
        ghost.load_ghost(tmp_path / "empty")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"ghost\.pt: corrupt or unreadable ghost checkpoint"):
        ghost.load_ghost(path)
    path.write_bytes(data)
    side = path.with_suffix(".json")
    text = side.read_text()
    side.write_text(text.replace(ghost.obs_layout_hash(), "ffffffffffffffff"))
    with pytest.raises(ValueError, match=r"ghost\.pt: trained on observation layout 'ffffffffffffffff'"):
        ghost.load_ghost(path)
    side.unlink()
    with pytest.raises(FileNotFoundError, match=r"ghost\.pt: missing its config sidecar ghost\.json"):
        ghost.load_ghost(path)


def test_agent_state_runs_through_a_round_and_resets(tmp_path):
    m = _policy("cwrnn", seed=2)
    meta = {"frame_skip": 4}
    obs = np.random.default_rng(1).uniform(-1, 1, (30, 76)).astype(np.float32)
    ag = GhostAgent(m, meta, greedy=True)
    first = [ag.predict(o)[0].tolist() for o in obs]
    again = [ag.predict(o)[0].tolist() for o in obs]  # no reset: the state carries on, so it differs
    ag.reset()
    after_reset = [ag.predict(o)[0].tolist() for o in obs]
    ag.predict(obs[0])
    via_episode_start = [ag.predict(o, episode_start=np.array([i == 0]))[0].tolist() for i, o in enumerate(obs)]
    assert first == after_reset == via_episode_start
    assert first != again
    # greedy = the most likely stick of the torch model on the same sequence, then its most likely button
    with torch.no_grad():
        s, b, _ = m(torch.as_tensor(obs)[None])
    sticks = s[0].argmax(-1)
    buttons = b[0, torch.arange(len(obs)), sticks].argmax(-1)
    assert b.shape == (1, 30, 9, 4)
    assert first == np.stack([sticks.numpy(), buttons.numpy()], 1).tolist()


def test_agent_probs_temperature_and_holding():
    m = _policy("mlp", seed=3)
    obs = np.random.default_rng(2).uniform(-1, 1, (5, 76)).astype(np.float32)
    ag = GhostAgent(m, {"frame_skip": 4}, temperature=0.5)
    ag.predict(obs[0])
    p = ag.action_probs(obs[0])
    assert [len(q) for q in p] == [9, 4] and all(q.sum() == pytest.approx(1) for q in p)
    peek = ag.action_probs(obs[1])  # a look-ahead leaves the state alone
    ag.predict(obs[1])
    np.testing.assert_allclose(ag.action_probs(obs[1])[0], peek[0])
    with torch.no_grad():
        s, _, _ = m(torch.as_tensor(obs[:2])[None])
    np.testing.assert_allclose(peek[0], torch.softmax(s[0, 1] / 0.5, -1).numpy(), rtol=1e-4)
    # in an env that steps every tick, a ghost trained at frame_skip 4 decides every 4th call and holds
    hold = GhostAgent(m, {"frame_skip": 4}, frame_skip=1, rng=np.random.default_rng(0))
    acts = [hold.predict(obs[i // 4])[0].tolist() for i in range(12)]
    assert acts[0:4] == [acts[0]] * 4 and acts[4:8] == [acts[4]] * 4
    flat = GhostAgent(m, {"frame_skip": 4}, flat=True)
    assert isinstance(flat.predict(obs[0])[0], int)
    batch = ag.predict(obs[:3], episode_start=np.ones(3, bool))[0]
    assert batch.shape == (3, 2)


def test_conditional_head_known_answers():
    # logits of 2 sticks x 2 buttons: p(stick) = (0.5, 0.5); p(button | stick 0) = (0.5, 0.5),
    # p(button | stick 1) = (e / (1 + e), 1 / (1 + e))
    e = float(np.e)
    sl = torch.zeros(1, 1, 2)
    bl = torch.tensor([[[[0.0, 0.0], [1.0, 0.0]]]])
    lp = im.pair_log_probs(sl, bl).exp()[0, 0]
    torch.testing.assert_close(lp, torch.tensor([[0.25, 0.25], [0.5 * e / (1 + e), 0.5 / (1 + e)]]))
    assert float(lp.sum()) == pytest.approx(1.0)
    # the loss is -log p(stick) - log p(button | stick) of the demonstrator's pair
    loss = im._loss_any(sl, bl, torch.tensor([[[1, 1]]]), torch.ones(1, 1, dtype=torch.bool))
    assert float(loss) == pytest.approx(-np.log(0.5) - np.log(1 / (1 + e)), rel=1e-6)
    # the independent head: log p = log p(stick) + log p(button)
    lp2 = im.pair_log_probs(sl, torch.tensor([[[0.0, float(np.log(3.0))]]])).exp()[0, 0]
    torch.testing.assert_close(lp2, torch.tensor([[0.125, 0.375], [0.125, 0.375]]))
    # the agent's button marginal of the conditional head
    probs = GhostAgent._marginal(np.array([[0.5, 0.5]]), np.array([[[0.5, 0.5], [0.8, 0.2]]]))
    np.testing.assert_allclose(probs, [[0.65, 0.35]])


def test_env_with_a_ghost_opponent_pickles(tmp_path):
    import pickle

    from agents.opponents import make_duel_env

    ghost.save_ghost(_policy("cwrnn"), tmp_path / "g" / "ghost.pt", frame_skip=4)
    env = make_duel_env(opponent=f"ghost:{tmp_path / 'g'}", round_seconds=2)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    a = np.array([3, 1])
    for _ in range(10):  # the copy carries the ghost's state and generator: both continue identically
        o1 = env.step(a)[0]
        o2 = clone.step(a)[0]
        np.testing.assert_array_equal(o1, o2)


def test_spec_syntax():
    assert parse_ghost_arg("runs/me") == ("runs/me", None, False)
    assert parse_ghost_arg("runs/me@0.5") == ("runs/me", 0.5, False)
    assert parse_ghost_arg("runs/me@greedy") == ("runs/me", None, True)
    assert parse_ghost_arg("runs/a@b") == ("runs/a@b", None, False)  # an @ inside a path
    with pytest.raises(ValueError, match="temperature must be > 0"):
        parse_ghost_arg("runs/me@0")
    with pytest.raises(ValueError, match="needs a path"):
        make_agent("ghost")
