"""League bookkeeping (experiments.train.league) against hand-worked numbers: PFSP weights, the pool's
probabilities, the snapshot gate at exactly its threshold, Elo updates and the Bradley-Terry refit."""

import json
import math

import numpy as np
import pytest

from experiments.train.league import MAIN, League, pfsp_weights


def test_pfsp_hard_weights_hand_worked():
    # f(x) = (1 - x)^2 at x = 0.1, 0.5, 0.9: 0.81, 0.25, 0.01; sum 1.07
    w = pfsp_weights([0.1, 0.5, 0.9], "hard", p=2)
    np.testing.assert_allclose(w, [0.81 / 1.07, 0.25 / 1.07, 0.01 / 1.07], rtol=1e-12)
    # p = 1 is linear: 0.9, 0.5, 0.1 over 1.5
    np.testing.assert_allclose(pfsp_weights([0.1, 0.5, 0.9], "hard", p=1), [0.6, 1 / 3, 1 / 15])
    np.testing.assert_allclose(pfsp_weights([0.1, 0.5, 0.9], "linear"), [0.6, 1 / 3, 1 / 15])


def test_pfsp_variance_uniform_and_all_zero():
    # x(1 - x) = 0.09, 0.25, 0.09 over 0.43
    np.testing.assert_allclose(pfsp_weights([0.1, 0.5, 0.9], "variance"), [0.09 / 0.43, 0.25 / 0.43, 0.09 / 0.43])
    np.testing.assert_allclose(pfsp_weights([0.0, 1.0], "uniform"), [0.5, 0.5])
    # the main agent beats everyone every time: every (1 - x)^p is 0, so the draw is uniform
    np.testing.assert_allclose(pfsp_weights([1.0, 1.0, 1.0], "hard"), [1 / 3] * 3)
    with pytest.raises(ValueError, match="valid: hard"):
        pfsp_weights([0.5], "softmax")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pfsp_weights([1.5])


def test_pool_probabilities_from_recorded_games():
    league = League(weighting="hard", p=2, self_play=0.2, prior_games=1)
    league.add("A", "scripted")
    league.add("B", "scripted")
    for _ in range(3):
        league.record("A", 1.0)  # main beats A 3 times: x_A = (3 + 0.5) / (3 + 1) = 0.875
    league.record("B", 0.0)  # main loses to B once: x_B = (0 + 0.5) / (1 + 1) = 0.25
    assert league.win_rate("A") == pytest.approx(0.875)
    assert league.win_rate("B") == pytest.approx(0.25)
    probs = league.probabilities()
    # f_A = 0.125^2 = 0.015625, f_B = 0.75^2 = 0.5625, sum 0.578125; 0.8 of the games are PFSP
    assert probs[MAIN] == pytest.approx(0.2)
    assert probs["A"] == pytest.approx(0.8 * 0.015625 / 0.578125)
    assert probs["B"] == pytest.approx(0.8 * 0.5625 / 0.578125)
    # sampling follows them
    draws = league.sample(np.random.default_rng(0), 20_000)
    assert draws.count("B") / 20_000 == pytest.approx(probs["B"], abs=0.015)
    # alone, the main agent plays itself
    assert League().probabilities() == {MAIN: 1.0}


def test_gate_at_exactly_the_threshold_and_pool_growth():
    league = League(window=20, gate=0.9)
    league.add("scripted:easy", "scripted")
    league.record("scripted:easy", 0.0)
    league.record("scripted:easy", 0.0)
    for _ in range(17):
        league.record("scripted:easy", 1.0)
    assert not league.gate_open()  # 19 games: the window is not full
    league.record("scripted:easy", 1.0)
    assert league.gate_rate == pytest.approx(0.9)  # 18 of 20 is exactly 0.9: not above it
    assert not league.gate_open()
    league.record("scripted:easy", 1.0)  # the oldest loss leaves the window: 19 of the last 20 = 0.95
    assert league.gate_rate == pytest.approx(0.95)
    assert league.gate_open()
    # a snapshot enters at the main agent's rating and empties the window; the pool grows by one
    assert len(league) == 2
    main_rating = league.ratings()[MAIN]
    league.add("snapshot-1", "snapshot")
    assert len(league) == 3 and league.snapshots == 1
    assert league.ratings()["snapshot-1"] == main_rating
    assert not league.gate_open() and math.isnan(league.gate_rate)
    assert league.main_win_rate == pytest.approx(0.95)  # the log's window is not emptied
    # draws count a half: 1 loss, 2 draws, 17 wins = 18/20 = 0.9, closed; the loss leaves: 0.95, open
    for s in [0.0, 0.5, 0.5] + [1.0] * 17:
        league.record("snapshot-1", s)
    assert not league.gate_open()
    league.record("snapshot-1", 1.0)
    assert league.gate_open()
    with pytest.raises(ValueError, match="already"):
        league.add("snapshot-1", "snapshot")
    with pytest.raises(ValueError, match="valid: main"):
        league.add("x", "teacher")


def test_elo_update_hand_worked_and_self_play_unrated():
    league = League(k=32)
    league.add("random", "scripted")
    league.record("random", 1.0)  # equal ratings: E = 1/2, main +16, random -16
    assert league.ratings() == {MAIN: 1016.0, "random": 984.0}
    league.record("random", 0.0)
    # gap 32: E_main = 1 / (1 + 10^(-32/400)) = 1 / (1 + 0.831764) = 0.545922; delta = -32 * 0.545922
    assert league.ratings()[MAIN] == pytest.approx(1016 - 17.46951, abs=1e-4)
    assert league.ratings()["random"] == pytest.approx(984 + 17.46951, abs=1e-4)
    before = league.ratings()
    league.record(MAIN, 1.0)  # self-play is not rated and has no win rate
    assert league.ratings() == before
    assert league.members[MAIN].games == 1 and len(league.members[MAIN].recent) == 0
    with pytest.raises(ValueError, match="score"):
        league.record("random", 0.7)


def test_refit_bradley_terry_hand_worked():
    league = League()
    assert league.refit() == {}
    league.add("random", "scripted")
    league.add("scripted:hard", "scripted")
    for s in (1.0, 1.0, 1.0, 0.0):
        league.record("random", s)
    # two players, one virtual draw: main scored 3.5 of 5, random 1.5 -> gap 400 log10(3.5 / 1.5)
    fit = league.refit()
    assert set(fit) == {MAIN, "random"}  # scripted:hard never played: not rated yet
    assert fit["random"] == 1000.0
    assert fit[MAIN] == pytest.approx(1000 + 400 * math.log10(3.5 / 1.5), abs=1e-6)
    assert league.summary()["pool"] == 3


# ---- the snapshot gate, shared with RLlib's self-play (experiments.train.gate) ------------------------------

def test_snapshot_gate_hand_worked():
    from experiments.train.gate import SnapshotGate

    gate = SnapshotGate(window=20, gate=0.9)
    assert math.isnan(gate.rate) and not gate.open() and len(gate) == 0
    for s in [0.0] + [1.0] * 18:
        gate.record(s)
    assert gate.rate == pytest.approx(18 / 19) and not gate.open()  # 18/19 > 0.9, but 19 games: not full
    gate.record(0.0)
    assert gate.full and gate.rate == 0.9 and not gate.open()  # 18 of 20 is exactly the gate: closed
    gate.record(1.0)  # the first loss leaves: 18 + 1 of 20 = 0.95
    assert gate.rate == pytest.approx(0.95) and gate.open() and gate.games == 21
    state = gate.state()
    assert state == {"window": 20, "gate": 0.9, "scores": [1.0] * 18 + [0.0, 1.0], "games": 21}
    back = SnapshotGate.from_state(json.loads(json.dumps(state)))
    assert back.state() == state and back.open() and back.rate == gate.rate
    gate.reset()  # a snapshot empties it
    assert len(gate) == 0 and gate.games == 0 and not gate.open() and math.isnan(gate.rate)
    assert back.open()  # the copy is its own
    # batches of unknown order: each game of a batch scores the batch's mean
    g = SnapshotGate(window=10, gate=0.9)
    g.record_many(1, 5)
    g.record_many(9, 10)  # the window holds this batch alone: 9/10, exactly the gate: closed
    assert g.rate == pytest.approx(0.9) and not g.open() and g.games == 15
    g.record_many(3, 4)  # 4 games at 3/4 and the newest 6 of the batch before at 9/10: (3 + 5.4) / 10
    assert g.rate == pytest.approx(0.84) and not g.open()
    g.record_many(10, 10)
    assert g.rate == 1.0 and g.open()
    g.record_many(0, 0)  # nothing
    assert g.games == 29 and len(g) == 10
    # 19 wins of 20 in two batches opens it; 18 of 20 does not, however the sum rounds
    for wins, opens in ((19, True), (18, False)):
        h = SnapshotGate(20, 0.9)
        h.record_many(wins - 9, 10)
        h.record_many(9, 10)
        assert h.open() is opens, wins
    h = SnapshotGate(3, -1.0)  # a gate below 0 opens once the window is full
    h.record_many(0, 2)
    assert not h.open()
    h.record(0.0)
    assert h.open()
    for bad in (lambda: SnapshotGate(0, 0.5), lambda: SnapshotGate(2.5, 0.5), lambda: SnapshotGate(5, math.nan),
                lambda: SnapshotGate(5, 0.5).record(1.5), lambda: SnapshotGate(5, 0.5).record_many(6, 5),
                lambda: SnapshotGate(5, 0.5).record_many(1, -1),
                lambda: SnapshotGate.from_state({"window": 2, "gate": 0.5, "scores": [1, 1, 1]}),
                lambda: SnapshotGate.from_state({"window": 2, "gate": 0.5})):
        with pytest.raises(ValueError):
            bad()


def test_league_gate_is_the_snapshot_gate():
    league = League(window=4, gate=0.5)
    league.add("random", "scripted")
    for s in (1.0, 0.5, 0.5, 1.0):
        league.record("random", s)
    assert league.snapshot_gate.state()["scores"] == [1.0, 0.5, 0.5, 1.0]
    assert league.gate_rate == 0.75 and league.gate_open()
    league.add("snapshot-1", "snapshot")
    assert league.snapshot_gate.games == 0 and not league.gate_open()


# ---- the league's state, for resuming ------------------------------------------------------------------------

def played_league() -> League:
    rng = np.random.default_rng(7)
    league = League(weighting="variance", p=3.0, self_play=0.3, window=6, gate=0.6, opp_window=5, prior_games=2.0,
                    k=24.0)
    league.add("random", "scripted", payload="random-player")
    league.add("scripted:hard", "scripted", payload="hard-player")
    league.add("bundle", "fixed", payload="bundle-player")
    for i in range(60):
        name = league.sample(rng)[0]
        league.record(name, float(rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.2, 0.5])))
        if league.gate_open():
            league.add(f"snapshot-{league.snapshots + 1}", "snapshot", payload=f"weights-{i}")
    league.record("random", 1.0)  # a few games into the window after the last snapshot
    league.record("random", 0.5)
    return league


def test_league_state_round_trips():
    league = played_league()
    assert league.snapshots >= 1 and 0 < len(league.snapshot_gate) < league.window  # the test covers both
    state = league.state()
    text = json.dumps(state)  # plain JSON
    assert "player" not in text and "weights-" not in text  # payloads are not part of it
    back = League.from_state(json.loads(text), payloads={"random": "R"})
    assert back.state() == state
    assert back.members["random"].payload == "R" and back.members["bundle"].payload is None
    assert back.names == league.names and back.settings() == league.settings()
    assert back.probabilities() == league.probabilities()
    assert back.ratings() == league.ratings()
    assert back.refit() == league.refit()
    assert back.gate_rate == league.gate_rate and back.gate_open() == league.gate_open()
    assert back.main_win_rate == league.main_win_rate and back.summary() == league.summary()
    # both go on the same way: the same draws, the same results, the same gate
    for a, b in ((league, back), (back, league)):
        assert a.sample(np.random.default_rng(3), 50) == b.sample(np.random.default_rng(3), 50)
    for s in (1.0, 1.0, 1.0, 1.0, 0.0, 1.0):
        league.record("scripted:hard", s)
        back.record("scripted:hard", s)
        assert back.gate_open() == league.gate_open() and back.ratings() == league.ratings()
    assert back.state() == league.state()
    # load_state into a league that holds the payloads: they are kept by name; the rest are None
    fresh = League()
    fresh.add("random", "scripted", payload="random-player")
    fresh.add("elsewhere", "fixed", payload="gone")
    fresh.load_state(state)
    assert fresh.state() == state and fresh.settings() == league.settings()
    assert fresh.members["random"].payload == "random-player" and fresh.members["snapshot-1"].payload is None
    assert "elsewhere" not in fresh.members
    fresh.add(f"snapshot-{fresh.snapshots + 1}", "snapshot")  # and it goes on: the count continues
    assert fresh.snapshots == league.snapshots + 1 and len(fresh.snapshot_gate) == 0


def test_league_state_refuses_malformed():
    state = played_league().state()

    def member(**change):  # the state with its second member changed
        return {**state, "members": [state["members"][0], {**state["members"][1], **change}, *state["members"][2:]]}

    assert League.from_state(member()).state() == state
    broken = [
        {**state, "format": "other"},
        {k: v for k, v in state.items() if k != "gate"},
        {**state, "settings": {**state["settings"], "gate": 2.0}},
        {**state, "settings": {**state["settings"], "unknown": 1}},
        {**state, "members": state["members"][1:]},
        {**state, "members": state["members"] + [state["members"][1]]},
        member(kind="teacher"),
        member(recent=[0.7]),
        member(rating=float("nan")),
        member(games=-1),
        member(recent=[1.0] * 6),  # opp_window is 5
        member(name="main"),
        {**state, "gate": {**state["gate"], "window": 99}},
        {**state, "results": [["main", "nobody", 1, 0, 0]]},
        {**state, "results": state["results"] + state["results"][:1]},
        {**state, "games": 1.5},
    ]
    for i, bad in enumerate(broken):
        with pytest.raises(ValueError):
            League.from_state(bad)
            pytest.fail(f"broken state {i} was accepted")
