"""The shipped style model, a tracker of a learner's style during training, and the choice of an opponent by style.

* :data:`REFERENCE_MODEL`: ``agents/style/reference.json``, fitted by ``sandbox style --study --save-model
  agents/style/reference.json`` to the scripted reference corpus (:func:`agents.style.logs.reference_corpus`);
  :func:`load_reference` reads it (as data, checked).
* :class:`StyleTracker`: follows some rows of a batched duel, turns each finished round of the tracked
  player into a document and keeps the last ``keep``; :meth:`StyleTracker.shares` is their style mixture
  (the league's archetype shares over training).
* :func:`least_met_opponent`: of candidate opponents with known mixtures, the one whose style the player has
  met least so far (the director's choice of an opponent by style).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.style.model import StyleModel, load_model
from agents.style.tokens import decisions, tokens_of

__all__ = ["REFERENCE_MODEL", "StyleTracker", "least_met_opponent", "load_reference", "rounds_mixture"]

REFERENCE_MODEL = Path(__file__).with_name("reference.json")


def load_reference() -> StyleModel:
    """The shipped style model (:data:`REFERENCE_MODEL`)."""
    return load_model(REFERENCE_MODEL)


class StyleTracker:
    """The style of the player acting in rows ``0 .. rows - 1`` of a batched duel, over its last ``keep``
    finished rounds. Call :meth:`observe` with each step's observations and actions (the player's, all rows)
    and which rows ended on that step."""

    def __init__(self, model: StyleModel, rows: int = 8, keep: int = 200):
        self.model, self.rows = model, int(rows)
        self.docs: deque[list[str]] = deque(maxlen=int(keep))
        self._obs: list[list[np.ndarray]] = [[] for _ in range(self.rows)]
        self._act: list[list[np.ndarray]] = [[] for _ in range(self.rows)]
        self.rounds = 0

    def observe(self, obs: np.ndarray, actions: np.ndarray, ended: np.ndarray, skip: np.ndarray | None = None) -> None:
        """One step: the tracked player's observations and actions (all rows), the rows whose round ended
        on it, and rows to ``skip`` (an autoreset step, whose action the env ignored)."""
        n = min(self.rows, len(obs))
        for r in range(n):
            if skip is not None and skip[r]:
                continue
            self._obs[r].append(np.asarray(obs[r], dtype=np.float32))
            self._act[r].append(np.asarray(actions[r], dtype=np.int64).reshape(2))
            if ended[r]:
                ds = decisions(np.stack(self._obs[r]), np.stack(self._act[r]))
                if len(ds) >= self.model.min_decisions:
                    self.docs.append(tokens_of(ds, self.model.ngrams))
                    self.rounds += 1
                self._obs[r], self._act[r] = [], []

    def shares(self) -> dict[str, float]:
        """The mean named mixture of the rounds kept (NaN per style before the first)."""
        if not self.docs:
            return {s: float("nan") for s in self.model.styles}
        m = self.model.named(self.model.topic_mixtures(list(self.docs))).mean(0)
        return {s: round(float(v), 4) for s, v in zip(self.model.styles, m, strict=True)}


def least_met_opponent(met: Mapping[str, float], candidates: Mapping[str, Mapping[str, float]]) -> str:
    """The candidate opponent whose style the player has met least: ``met`` is how much of each style the
    player has faced so far (e.g. rounds weighted by the opponents' mixtures), ``candidates`` each opponent's
    mixture. Each candidate scores the overlap of its mixture with ``met`` (normalised); the lowest wins,
    ties going to the first named."""
    if not candidates:
        raise ValueError("no candidate opponents to choose from")
    total = sum(max(0.0, v) for v in met.values())
    seen = {k: max(0.0, v) / total for k, v in met.items()} if total > 0 else {}
    scores = {name: sum(w * seen.get(s, 0.0) for s, w in mix.items()) for name, mix in candidates.items()}
    return min(scores, key=lambda n: scores[n])


def rounds_mixture(rounds: Sequence[object], model: StyleModel | None = None) -> dict[str, Any]:
    """The style mixture (:func:`agents.style.identify.mixture`) of rounds with ``obs`` and ``actions``, by the
    shipped model unless ``model``; ``{"rounds": 0, "skipped": n}`` when every round is short."""
    from agents.style.identify import mixture
    from agents.style.tokens import build_corpus

    model = model or load_reference()
    corpus = build_corpus(rounds, "player", min_decisions=model.min_decisions, ngrams=model.ngrams)
    if not len(corpus):
        return {"mixture": {}, "rounds": 0, "skipped": corpus.skipped}
    return {**mixture(model, corpus.docs), "skipped": corpus.skipped}
