"""Mixtures with confidence, player identification, and the known-answer measures.

* :func:`mixture`: a player's style mixture over its rounds, the mean of the rounds' named mixtures, each
  style with a 95% interval (normal approximation over rounds) and the share of rounds it dominates.
* :class:`PlayerIndex`: identifies a player from its rounds. Each reference player is a smoothed distribution
  over the model's tokens (its rounds' token counts + ``smoothing``); rounds of an unknown player go to the
  reference player under which their tokens are most likely (a multinomial naive Bayes over decisions).
  :func:`id_accuracy` measures it against the number of rounds seen, drawing the rounds from a seeded
  generator; ``shuffle=True`` is the control with the reference labels permuted (expected: chance).
* :func:`nmi`, :func:`kmeans_baseline`: normalised mutual information of a clustering with the true styles,
  and the simple baseline (k-means over each round's move-frequency vector).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.style.model import StyleModel
from agents.style.tokens import WORDS

__all__ = ["PlayerIndex", "id_accuracy", "kmeans_baseline", "mixture", "mixture_distance", "move_frequencies",
           "nmi"]


def mixture(model: StyleModel, docs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``{"mixture": {style: share}, "interval": {style: [lo, hi]}, "dominant": {style: share of rounds},
    "rounds": n}`` over the documents ``docs`` of one player (styles: the model's named topics)."""
    if not docs:
        raise ValueError("no rounds to name a style from")
    m = model.named(model.topic_mixtures(docs))
    styles = model.styles
    mean = m.mean(0)
    half = 1.96 * m.std(0, ddof=1) / np.sqrt(len(m)) if len(m) > 1 else np.full(len(styles), np.nan)
    dom = model.dominant(docs)
    return {"mixture": {s: round(float(v), 4) for s, v in zip(styles, mean, strict=True)},
            "interval": {s: [round(float(max(0.0, v - h)), 4), round(float(min(1.0, v + h)), 4)]
                         for s, v, h in zip(styles, mean, half, strict=True)},
            "dominant": {s: round(dom.count(s) / len(dom), 4) for s in styles},
            "rounds": len(docs)}


def mixture_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Total-variation distance between two mixtures (0 = the same, 1 = disjoint)."""
    keys = set(a) | set(b)
    return round(0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys), 4)


class PlayerIndex:
    """Reference players as smoothed token distributions (module docstring)."""

    def __init__(self, model: StyleModel, docs: Sequence[Sequence[str]], labels: Sequence[str],
                 smoothing: float = 0.5):
        if len(docs) != len(labels) or not docs:
            raise ValueError("a player index needs reference rounds, one label each")
        self.model = model
        self.players = sorted(set(labels))
        x = model.vocabulary.counts(docs)
        lab = np.asarray(labels)
        counts = np.stack([x[lab == p].sum(0) for p in self.players]) + smoothing
        self.log_p = np.log(counts / counts.sum(1, keepdims=True))

    def scores(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """(players,): the log-likelihood of all of ``docs`` under each reference player."""
        return self.model.vocabulary.counts(docs).sum(0) @ self.log_p.T

    def identify(self, docs: Sequence[Sequence[str]]) -> str:
        """The reference player most likely to have played ``docs`` (rounds of one player)."""
        return self.players[int(np.argmax(self.scores(docs)))]


def id_accuracy(model: StyleModel, ref_docs: Sequence[Sequence[str]], ref_labels: Sequence[str],
                test_docs: Sequence[Sequence[str]], test_labels: Sequence[str], seen: Sequence[int] = (1, 2, 4, 8),
                *, trials: int = 40, seed: int = 0, shuffle: bool = False) -> dict[int, float]:
    """Accuracy of :class:`PlayerIndex` by rounds seen: for each test player and each ``n`` in ``seen``,
    ``trials`` draws of ``n`` of its test rounds (without replacement; from a generator seeded ``seed``) are
    identified. ``shuffle``: the reference labels are permuted first (the control)."""
    rng = np.random.default_rng(seed)
    labels = list(ref_labels)
    if shuffle:
        labels = [labels[i] for i in rng.permutation(len(labels))]
    index = PlayerIndex(model, ref_docs, labels)
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(test_labels):
        by.setdefault(lab, []).append(i)
    out = {}
    for n in seen:
        right = total = 0
        for lab in sorted(by):
            rows = by[lab]
            for _ in range(trials):
                pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
                right += index.identify([test_docs[rows[k]] for k in pick]) == lab
                total += 1
        out[int(n)] = round(right / total, 4)
    return out


def nmi(truth: Sequence[str], found: Sequence[str]) -> float:
    """Normalised mutual information of two labellings (scikit-learn's, arithmetic mean)."""
    from sklearn.metrics import normalized_mutual_info_score

    return round(float(normalized_mutual_info_score(list(truth), list(found))), 4)


def move_frequencies(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """(documents, words): each round's share of decisions per word (the baseline's features)."""
    x = np.zeros((len(docs), len(WORDS)))
    col = {w: i for i, w in enumerate(WORDS)}
    for i, d in enumerate(docs):
        for t in d:
            if "|" in t:
                x[i, col[t.split("|", 1)[0]]] += 1
    return x / np.maximum(x.sum(1, keepdims=True), 1)


def kmeans_baseline(docs: Sequence[Sequence[str]], k: int, seed: int = 0) -> list[str]:
    """Cluster labels of k-means (scikit-learn, ``n_init=10``) over the rounds' move-frequency vectors."""
    from sklearn.cluster import KMeans

    found = KMeans(n_clusters=int(k), n_init=10, random_state=int(seed)).fit_predict(move_frequencies(docs))
    return [f"cluster-{c}" for c in found]
