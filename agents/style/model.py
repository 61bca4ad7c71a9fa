"""The topic model of play styles: LDA (scikit-learn's ``LatentDirichletAllocation``) over round documents.

As DeNA's *Reverse Othellonia* ran LDA over decks (deck = document, card = word, topic = archetype), this runs
it over duel rounds: a round of one player is a document (:mod:`agents.style.tokens`), a decision a word, a
topic a way of fighting, named from the lexicon (:mod:`agents.style.naming`).

* :func:`select_k`: the number of topics, from **held-out perplexity** (documents kept out of the fit) and
  **stability across seeds** (the topics of fits from different seeds matched one to one, Hungarian, by the
  cosine of their token distributions; 1 = the same topics every time). The chosen K is the smallest whose
  held-out perplexity is within :data:`PERPLEXITY_SLACK` of the best among the stable ones (stability at
  least :data:`STABLE`).
* :func:`fit_model`: the model for a corpus and K, the best of ``restarts`` seeds by the fit's own bound.
* :class:`StyleModel`: the vocabulary, the topics (pseudo-counts per token), their names; :meth:`~StyleModel.
  topic_mixtures` gives each document's topic mixture (LDA's variational inference, the topics fixed) and
  :meth:`~StyleModel.named` adds up topics of one name. Saved as JSON (plain numbers, no pickle) and loaded
  with size and shape checks.

Deterministic: every fit takes ``random_state`` from the one seed given, and the vocabulary is sorted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.style.naming import UNNAMED, name_topics
from agents.style.tokens import MIN_DECISIONS, Vocabulary

__all__ = ["MODEL_FORMAT", "PERPLEXITY_SLACK", "STABLE", "KChoice", "StyleModel", "fit_corpus", "fit_lda", "fit_model",
           "load_model", "select_k", "term_weights", "topic_stability"]

MODEL_FORMAT = "sandbox-style/1"
STABLE = 0.8  # mean matched cosine between seeds' topics for a K to count as stable
PERPLEXITY_SLACK = 0.02  # a smaller K within this fraction of the best held-out perplexity is preferred
MAX_MODEL_BYTES = 20_000_000  # a model file larger than this is refused
MAX_ITER = 50
DOC_TOPIC_PRIOR = 0.1  # LDA's alpha: below 1, a round's mixture leans on few topics


def term_weights(counts: np.ndarray) -> np.ndarray:
    """Sublinear term weights, ``1 + log n`` for a token seen ``n > 0`` times in a round (0 otherwise): a held
    habit (a turtle's hundreds of back-walks) counts, but does not drown the rarer decisions that tell styles
    apart. LDA is fitted to these weights and infers mixtures from them."""
    x = np.asarray(counts, dtype=np.float64)
    return np.where(x > 0, 1.0 + np.log(np.maximum(x, 1.0)), 0.0)


def fit_lda(x: np.ndarray, k: int, seed: int, max_iter: int = MAX_ITER) -> Any:
    """scikit-learn's batch LDA with ``k`` topics fitted to the counts ``x`` (documents x tokens), with a
    sparse document prior (:data:`DOC_TOPIC_PRIOR`: a round is mostly of one style)."""
    from sklearn.decomposition import LatentDirichletAllocation

    lda = LatentDirichletAllocation(n_components=int(k), learning_method="batch", max_iter=max_iter,
                                    random_state=int(seed), doc_topic_prior=DOC_TOPIC_PRIOR)
    lda.fit(x)
    return lda


def _unit_rows(m: np.ndarray) -> np.ndarray:
    m = m / m.sum(1, keepdims=True)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def topic_stability(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two fits' topics are: their topic-token rows matched one to one (Hungarian) by cosine
    similarity, the mean cosine of the matched pairs (1: the same topics)."""
    from scipy.optimize import linear_sum_assignment

    cos = _unit_rows(np.asarray(a, dtype=np.float64)) @ _unit_rows(np.asarray(b, dtype=np.float64)).T
    rows, cols = linear_sum_assignment(-cos)
    return float(cos[rows, cols].mean())


@dataclass
class KChoice:
    """The choice of K: per K, the mean held-out perplexity and stability over seeds, and the K chosen."""

    k: int
    rows: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.k, "candidates": self.rows}


def select_k(x: np.ndarray, ks: Sequence[int], *, seed: int = 0, seeds: int = 3, heldout: float = 0.2,
             max_iter: int = MAX_ITER) -> KChoice:
    """Choose the number of topics for the counts ``x`` (module docstring): a random ``heldout`` share of the
    documents (drawn from ``seed``) is kept out; for each K, ``seeds`` fits on the rest give the held-out
    perplexity (mean) and the stability (mean over pairs of fits)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    order = rng.permutation(n)
    cut = max(1, int(round(n * heldout)))
    test, train = x[order[:cut]], x[order[cut:]]
    fit_seeds = rng.integers(2**31, size=int(seeds)).tolist()
    rows = []
    for k in ks:
        fits = [fit_lda(train, k, s, max_iter) for s in fit_seeds]
        perplexity = float(np.mean([f.perplexity(test) for f in fits]))
        pairs = [(i, j) for i in range(len(fits)) for j in range(i + 1, len(fits))]
        stability = float(np.mean([topic_stability(fits[i].components_, fits[j].components_) for i, j in pairs])) \
            if pairs else 1.0
        rows.append({"k": int(k), "perplexity": round(perplexity, 3), "stability": round(stability, 4)})
    stable = [r for r in rows if r["stability"] >= STABLE] or [max(rows, key=lambda r: r["stability"])]
    best = min(r["perplexity"] for r in stable)
    chosen = min(r["k"] for r in stable if r["perplexity"] <= best * (1 + PERPLEXITY_SLACK))
    return KChoice(int(chosen), rows)


@dataclass
class StyleModel:
    """A fitted style model: vocabulary, topics (``components``: topics x tokens pseudo-counts, LDA's
    ``components_``), the two Dirichlet priors, each topic's name, and how it was made (``info``)."""

    tokens: list[str]
    components: np.ndarray
    doc_topic_prior: float
    topic_word_prior: float
    names: list[str]
    min_decisions: int = MIN_DECISIONS
    ngrams: int = 3
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary(list(self.tokens))
        self.components = np.asarray(self.components, dtype=np.float64)
        self._lda: Any = None

    @property
    def k(self) -> int:
        return int(self.components.shape[0])

    @property
    def styles(self) -> list[str]:
        """The distinct topic names in topic order, ``unnamed`` last if present."""
        named = list(dict.fromkeys(n for n in self.names if n != UNNAMED))
        return named + ([UNNAMED] if UNNAMED in self.names else [])

    def _estimator(self) -> Any:
        """An sklearn LDA holding these topics (for its inference of a document's mixture)."""
        if self._lda is None:
            from scipy.special import psi
            from sklearn.decomposition import LatentDirichletAllocation

            lda = LatentDirichletAllocation(n_components=self.k, doc_topic_prior=self.doc_topic_prior,
                                            topic_word_prior=self.topic_word_prior, learning_method="batch")
            c = self.components
            lda.components_ = c
            lda.exp_dirichlet_component_ = np.exp(psi(c) - psi(c.sum(1))[:, None])
            lda.doc_topic_prior_, lda.topic_word_prior_ = self.doc_topic_prior, self.topic_word_prior
            lda.n_features_in_ = c.shape[1]
            lda.n_batch_iter_, lda.n_iter_, lda.bound_ = 1, 1, 0.0
            self._lda = lda
        return self._lda

    def counts(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """The weighted document-term matrix the topics were fitted to (:func:`term_weights`)."""
        return term_weights(self.vocabulary.counts(docs))

    def topic_mixtures(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """(documents, topics): each document's topic mixture (rows sum to 1; a document with no known token
        gets the uniform mixture)."""
        x = self.counts(docs)
        if not len(x):
            return np.zeros((0, self.k))
        return np.asarray(self._estimator().transform(x))

    def named(self, mixtures: np.ndarray) -> np.ndarray:
        """(documents, styles): topic mixtures with the topics of one name added up (columns: :attr:`styles`)."""
        styles = self.styles
        out = np.zeros((len(mixtures), len(styles)))
        for t, name in enumerate(self.names):
            out[:, styles.index(name)] += mixtures[:, t]
        return out

    def dominant(self, docs: Sequence[Sequence[str]]) -> list[str]:
        """Each document's dominant named style (``unnamed`` only when no named topic has any weight)."""
        m = self.named(self.topic_mixtures(docs))
        styles = self.styles
        named = [i for i, s in enumerate(styles) if s != UNNAMED]
        cols = m[:, named] if named else m
        return [styles[named[i]] if named else styles[i] for i in cols.argmax(1)]

    # ---- files ------------------------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "tokens": self.tokens,
                "components": [[round(float(v), 6) for v in row] for row in self.components],
                "doc_topic_prior": self.doc_topic_prior, "topic_word_prior": self.topic_word_prior,
                "names": self.names, "min_decisions": self.min_decisions, "ngrams": self.ngrams, "info": self.info}

    def save(self, path: str | os.PathLike) -> Path:
        from envs.fileio import atomic_write_text

        return atomic_write_text(path, json.dumps(self.as_json(), separators=(",", ":")) + "\n")


def fit_model(x: np.ndarray, tokens: Sequence[str], k: int, *, seed: int = 0, restarts: int = 3,
              max_iter: int = MAX_ITER, min_decisions: int = MIN_DECISIONS, ngrams: int = 3,
              info: dict[str, Any] | None = None) -> StyleModel:
    """The style model of the counts ``x`` over ``tokens`` with ``k`` topics: the best of ``restarts`` fits
    (seeds drawn from ``seed``) by the variational bound on ``x``, topics named from the lexicon."""
    seeds = np.random.default_rng(seed).integers(2**31, size=int(restarts)).tolist()
    fits = [fit_lda(x, k, s, max_iter) for s in seeds]
    best = max(fits, key=lambda f: f.score(x))
    comps = np.asarray(best.components_, dtype=np.float64)
    return StyleModel(list(tokens), comps, float(best.doc_topic_prior_), float(best.topic_word_prior_),
                      name_topics(comps, tokens), min_decisions, ngrams, dict(info or {}))


def fit_corpus(docs: Sequence[Sequence[str]], *, ks: Sequence[int] = (3, 4, 5, 6), seed: int = 0, seeds: int = 3,
               min_share: float = 0.05, k: int = 0, min_decisions: int = MIN_DECISIONS,
               info: dict[str, Any] | None = None) -> tuple[StyleModel, KChoice | None]:
    """The style model of a corpus: the vocabulary (tokens in at least ``min_share`` of the documents, and in
    two), K chosen by :func:`select_k` over ``ks`` (or ``k`` if > 0), then :func:`fit_model`."""
    vocabulary = Vocabulary.from_documents(docs, min_docs=max(2, int(np.ceil(min_share * len(docs)))))
    if not len(vocabulary):
        raise ValueError("no token occurs in enough rounds to fit a style model; give more rounds")
    x = term_weights(vocabulary.counts(docs))
    choice = None if k > 0 else select_k(x, ks, seed=seed, seeds=seeds)
    chosen = k if k > 0 else choice.k if choice is not None else 0
    extra = {"k_choice": choice.as_dict()} if choice is not None else {}
    model = fit_model(x, vocabulary.tokens, chosen, seed=seed, min_decisions=min_decisions,
                      info={**(info or {}), **extra})
    return model, choice


def load_model(path: str | os.PathLike) -> StyleModel:
    """A :class:`StyleModel` from its JSON file; anything malformed is a one-line ValueError naming the file."""
    from envs.fileio import read_json_object

    d = read_json_object(path, MAX_MODEL_BYTES, "style model")
    if d.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a style model (expected format {MODEL_FORMAT!r})")
    try:
        tokens, comps, names = d["tokens"], np.asarray(d["components"], dtype=np.float64), d["names"]
        alpha, eta = float(d["doc_topic_prior"]), float(d["topic_word_prior"])
        min_decisions, ngrams = int(d.get("min_decisions", MIN_DECISIONS)), int(d.get("ngrams", 3))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed style model ({type(exc).__name__}: {exc})") from None
    if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens) and len(set(tokens)) == len(tokens)):
        raise ValueError(f"{path}: a style model's tokens must be distinct strings")
    if comps.ndim != 2 or comps.shape[1] != len(tokens) or not 1 <= comps.shape[0] <= 64:
        raise ValueError(f"{path}: components must be (1..64 topics, {len(tokens)} tokens); got {comps.shape}")
    if not (np.isfinite(comps).all() and (comps > 0).all() and alpha > 0 and eta > 0):
        raise ValueError(f"{path}: components and priors must be finite and > 0")
    if not (isinstance(names, list) and len(names) == comps.shape[0] and all(isinstance(n, str) for n in names)):
        raise ValueError(f"{path}: names must be one string per topic")
    raw = d.get("info")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return StyleModel(list(tokens), comps, alpha, eta, list(names), min_decisions, ngrams, info)
