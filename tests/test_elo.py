"""Elo: known answers for the expected score, the update and the maximum-likelihood batch fit."""

import math

import numpy as np
import pytest

from experiments.train.elo import expected_score, fit_ratings, gap_for_score, score_matrix, update


def test_expected_score_known_values():
    assert expected_score(1000, 1000) == 0.5
    assert expected_score(1400, 1000) == pytest.approx(10 / 11)  # 400 points: odds 10 to 1
    assert expected_score(1200, 1000) == pytest.approx(1 / (1 + 10 ** -0.5))  # 0.7597
    assert expected_score(1000, 1200) + expected_score(1200, 1000) == pytest.approx(1.0)


def test_gap_for_score_inverts_the_curve():
    assert gap_for_score(0.76) == pytest.approx(400 * math.log10(76 / 24))  # 200.3
    assert gap_for_score(0.76) == pytest.approx(200.0, abs=1.0)
    assert gap_for_score(10 / 11) == pytest.approx(400.0)
    with pytest.raises(ValueError):
        gap_for_score(1.0)


def test_update_by_hand():
    # equal ratings, a wins, k = 32: a gains 32 * (1 - 0.5) = 16 and b loses 16
    assert update(1500, 1500, 1.0) == pytest.approx((1516.0, 1484.0))
    # 1400 vs 1000, the favourite draws: loses 32 * (0.5 - 10/11)
    ra, rb = update(1400, 1000, 0.5)
    assert ra == pytest.approx(1400 + 32 * (0.5 - 10 / 11))
    assert ra + rb == pytest.approx(2400)
    with pytest.raises(ValueError, match="score_a"):
        update(1000, 1000, 2.0)


def test_76_percent_is_200_points():
    r = fit_ratings(["b", "a"], [("a", "b", 76, 24, 0)], prior_draws=0)
    assert r["b"] == 1000.0
    assert r["a"] - r["b"] == pytest.approx(400 * math.log10(76 / 24), abs=1e-6)
    # a draw counts half to each side: 70 wins, 12 draws, 18 losses is also 76%
    r2 = fit_ratings(["b", "a"], [("a", "b", 70, 18, 12)], prior_draws=0)
    assert r2["a"] == pytest.approx(r["a"], abs=1e-6)


def test_symmetric_results_give_equal_ratings_and_the_anchor_holds():
    names = ["random", "x", "y"]
    results = [("x", "y", 30, 30, 4), ("random", "x", 10, 10, 0), ("y", "random", 5, 5, 10)]
    r = fit_ratings(names, results, anchor="random", anchor_rating=1000)
    assert r == pytest.approx({"random": 1000.0, "x": 1000.0, "y": 1000.0}, abs=1e-6)
    r = fit_ratings(names, results, anchor="x", anchor_rating=1500)
    assert r["x"] == 1500 and r["y"] == pytest.approx(1500, abs=1e-6)


def test_consistent_three_player_chain():
    """Results generated exactly from ratings 1000/1200/1400 are fitted back to those ratings."""
    true = {"c": 1000.0, "b": 1200.0, "a": 1400.0}
    n = 10_000
    results = []
    for x, y in (("a", "b"), ("b", "c"), ("a", "c")):
        p = expected_score(true[x], true[y])
        results.append((x, y, p * n, (1 - p) * n, 0))
    r = fit_ratings(["c", "b", "a"], results, anchor="c", prior_draws=0)
    assert r == pytest.approx(true, abs=1e-4)


def test_mle_fit_matches_the_likelihood_gradient_zero():
    """At the maximum, each player's expected points equal its actual points (the BT score equation)."""
    names = ["p0", "p1", "p2", "p3"]
    rng = np.random.default_rng(0)
    results = [(names[i], names[j], *rng.integers(1, 20, size=2), rng.integers(0, 5))
               for i in range(4) for j in range(i + 1, 4)]
    r = fit_ratings(names, results, prior_draws=0)
    points, games = score_matrix(names, results)
    R = np.array([r[x] for x in names])
    E = 1 / (1 + 10 ** ((R[None, :] - R[:, None]) / 400))
    assert (games * E).sum(axis=1) == pytest.approx(points.sum(axis=1), abs=1e-6)


def test_perfect_scores_stay_finite_with_the_prior_and_fail_without():
    results = [("strong", "random", 20, 0, 0)]
    r = fit_ratings(["random", "strong"], results)  # one virtual draw: 20.5 / 0.5 -> 41 to 1
    assert r["strong"] - r["random"] == pytest.approx(400 * math.log10(41), abs=1e-6)
    with pytest.raises(ValueError, match="cannot rank"):
        fit_ratings(["random", "strong"], results, prior_draws=0)


def test_bad_input():
    with pytest.raises(ValueError, match="not a player"):
        fit_ratings(["a", "b"], [("a", "b", 1, 1, 0)], anchor="z")
    with pytest.raises(ValueError, match="not in the list"):
        fit_ratings(["a", "b"], [("a", "c", 1, 1, 0)])
    with pytest.raises(ValueError, match="cannot rank"):
        fit_ratings(["a", "b", "c"], [("a", "b", 1, 1, 0)])  # c never played
    with pytest.raises(ValueError, match="unique"):
        fit_ratings(["a", "a"], [])
