"""League bookkeeping (experiments.train.league) against hand-worked numbers: PFSP weights, the pool's
probabilities, the snapshot gate at exactly its threshold, Elo updates and the Bradley-Terry refit."""

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
