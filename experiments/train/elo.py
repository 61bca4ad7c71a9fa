"""Elo ratings: the expected score, the online update, and a batch fit of a round-robin's results.

Scale. A rating gap ``d = R_a - R_b`` predicts that ``a`` scores (win 1, draw 1/2, loss 0)

    E(d) = 1 / (1 + 10 ** (-d / 400))

on average (Elo's logistic curve; 200 points is 76%, 400 points is 91%). This is the Bradley-Terry model
``P(a beats b) = g_a / (g_a + g_b)`` with strengths ``g = 10 ** (R / 400)``.

Batch fit (:func:`fit_ratings`). The order in which round-robin games were played means nothing, so
instead of running the online update game by game the ratings are the maximum-likelihood
Bradley-Terry strengths of all the results at once, computed with Zermelo's / Hunter's minorise-
maximise iteration ``g_i <- W_i / sum_j n_ij / (g_i + g_j)`` (W_i: points scored by i, a draw counting
1/2 to each side; n_ij: games between i and j), which converges to the unique maximum when the "who
scored against whom" graph is strongly connected. A player who won (or lost) every game has no
finite maximum-likelihood rating, so by default every pair that played also gets ``prior_draws``
virtual draws (1 by default): a light prior that pulls ratings together by a few points when many
games were played and keeps perfect scores finite. Pass ``prior_draws=0`` for the pure maximum.

Anchor. Ratings are only defined up to a constant, fixed by giving one named player (``random`` in
``sandbox compare duel``) a fixed rating, 1000 by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SCALE = 400.0  # rating points per factor of 10 in the odds
ANCHOR_RATING = 1000.0


def expected_score(rating_a: float, rating_b: float) -> float:
    """Expected score of ``a`` against ``b``: ``1 / (1 + 10 ** ((R_b - R_a) / 400))``."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / SCALE))


def update(rating_a: float, rating_b: float, score_a: float, k: float = 32.0) -> tuple[float, float]:
    """Elo's online update after one game in which ``a`` scored ``score_a`` (1, 1/2 or 0):
    ``R_a += k (S_a - E_a)`` and ``R_b -= k (S_a - E_a)`` (the sum of the ratings is unchanged)."""
    if not 0.0 <= score_a <= 1.0:
        raise ValueError(f"score_a must be in [0, 1] (1 win, 0.5 draw, 0 loss), got {score_a}")
    delta = k * (score_a - expected_score(rating_a, rating_b))
    return rating_a + delta, rating_b - delta


def gap_for_score(score: float) -> float:
    """The rating gap at which the expected score is ``score``: ``400 log10(score / (1 - score))``."""
    if not 0.0 < score < 1.0:
        raise ValueError(f"score must be in (0, 1), got {score}")
    return SCALE * math.log10(score / (1.0 - score))


def score_matrix(names: Sequence[str], results: list[tuple[str, str, float, float, float]]):
    """``(points, games)``, both ``(n, n)``, from results ``(a, b, wins_a, wins_b, draws)``:
    ``points[i, j]`` is what i scored against j (a draw is 1/2 each), ``games[i, j]`` how many they played."""
    pos = {name: i for i, name in enumerate(names)}
    n = len(names)
    points, games = np.zeros((n, n)), np.zeros((n, n))
    for a, b, wa, wb, d in results:
        if a not in pos or b not in pos:
            raise ValueError(f"result {a!r} vs {b!r} names a player not in the list {list(names)}")
        if a == b:
            raise ValueError(f"result {a!r} vs itself")
        if min(wa, wb, d) < 0:
            raise ValueError(f"result {a!r} vs {b!r} has a negative count ({wa}, {wb}, {d})")
        i, j = pos[a], pos[b]
        points[i, j] += wa + 0.5 * d
        points[j, i] += wb + 0.5 * d
        games[i, j] += wa + wb + d
        games[j, i] += wa + wb + d
    return points, games


def _strongly_connected(points: np.ndarray) -> bool:
    """Does every player reach every other along "scored against" edges (points[i, j] > 0)?"""
    n = points.shape[0]
    for adj in (points > 0, (points > 0).T):
        seen = np.zeros(n, dtype=bool)
        seen[0] = True
        frontier = [0]
        while frontier:
            i = frontier.pop()
            for j in np.flatnonzero(adj[i] & ~seen):
                seen[j] = True
                frontier.append(int(j))
        if not seen.all():
            return False
    return True


def fit_ratings(
    names: Sequence[str],
    results: list[tuple[str, str, float, float, float]],
    *,
    anchor: str | None = None,
    anchor_rating: float = ANCHOR_RATING,
    prior_draws: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> dict[str, float]:
    """Maximum-likelihood Elo ratings of ``names`` from ``results`` (see the module docstring).

    ``results``: tuples ``(a, b, wins_a, wins_b, draws)``, several per pair allowed. ``anchor``
    (default: the first name) gets ``anchor_rating``. Raises ValueError when the results cannot rank
    everyone (a player who never played, or a group that never scored against the rest).
    """
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError(f"player names must be unique, got {names}")
    if len(names) < 2:
        raise ValueError("need at least two players")
    anchor = names[0] if anchor is None else anchor
    if anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not a player; players: {', '.join(names)}")
    points, games = score_matrix(names, results)
    played = games > 0
    points = points + 0.5 * prior_draws * played
    games = games + prior_draws * played
    if not _strongly_connected(points):
        raise ValueError("the results cannot rank every player: someone never played, or a group of players "
                         "never scored against the others (use prior_draws > 0 or play more pairings)")
    wins = points.sum(axis=1)
    g = np.ones(len(names))
    for _ in range(max_iter):
        denom = (games / (g[:, None] + g[None, :])).sum(axis=1)
        new = wins / denom
        new /= np.exp(np.mean(np.log(new)))  # keep the scale fixed (geometric mean 1)
        done = np.max(np.abs(np.log(new) - np.log(g))) < tol
        g = new
        if done:
            break
    ratings = SCALE * np.log10(g)
    k = names.index(anchor)
    ratings = ratings - ratings[k] + anchor_rating
    ratings[k] = anchor_rating  # exactly, not up to rounding
    return {name: float(r) for name, r in zip(names, ratings, strict=True)}
