"""A duel round as a document: one token per decision, plus 2- and 3-grams of what was done.

A round of one player is its observations and controller inputs at every decision step (the demo format of
:mod:`agents.ghost.demos`, the rounds :func:`agents.ghost.batched.play_batched` returns). It becomes words:

* **A decision** is a step on which the fighter was free to act (standing, walking, crouching, in the air
  without an attack, or grabbed, where only the escape counts); steps in an attack's frames or in stun take
  no input and make no word. Consecutive steps holding the same input in the same situation are **one**
  decision (a held walk is one word, not one per frame).
* **Its token** is ``what|band|state|outcome``:

  - ``what``: the input read as the game reads it (docs/duel.md's table): a movement (``stand``, ``walk_f``,
    ``walk_b``, ``crouch``, ``guard_low``, ``jump``, ``jump_f``, ``jump_b``), an attack (``jab``, ``low``,
    ``heavy``, ``overhead``, ``anti_air``, ``throw``, ``projectile``, ``air_attack``) or ``tech`` (a throw
    escape while grabbed);
  - ``band``: the gap between the bodies, ``close`` (< 40 units, jab and throw range), ``mid`` (< 90, heavy
    and low range), ``far`` (< 200), ``vfar``;
  - ``state``: the fighter's own state, ``ground``, ``air`` or ``grabbed``;
  - ``outcome``: what happened before the next decision, ``hit`` (the opponent lost health), ``hurt`` (the
    fighter did), ``trade`` (both) or ``none``.
* **n-grams**: ``what>what`` and ``what>what>what`` over consecutive decisions (situations left out, so the
  vocabulary stays small), telling sequences apart: a rushdown's ``walk_f>jab>throw`` from a zoner's
  ``walk_b>projectile``.

:func:`round_tokens` gives the tokens of one round; :func:`build_corpus` turns rounds into documents, refusing
a round with no decisions and skipping (and counting) rounds shorter than ``min_decisions``.
:class:`Vocabulary` maps tokens to columns, sorted so that a corpus gives the same matrix every time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from envs.duel import layout as L

__all__ = ["BANDS", "MIN_DECISIONS", "WORDS", "Corpus", "RoundLike", "Vocabulary", "build_corpus", "decisions",
           "round_tokens", "tokens_of", "word_of"]

MIN_DECISIONS = 20  # a round with fewer decisions is skipped (and counted): too little to read a style from
BAND_EDGES = (40.0, 90.0, 200.0)  # gap (stage units) below which each band ends: close, mid, far; then vfar
BANDS = ("close", "mid", "far", "vfar")
# what each (stick, button) does on the ground (docs/duel.md, "the controller")
_MOVE_WORD = {L.Stick.NEUTRAL: "stand", L.Stick.UP: "jump", L.Stick.UP_FORWARD: "jump_f", L.Stick.FORWARD: "walk_f",
              L.Stick.DOWN_FORWARD: "crouch", L.Stick.DOWN: "crouch", L.Stick.DOWN_BACK: "guard_low",
              L.Stick.BACK: "walk_b", L.Stick.UP_BACK: "jump_b"}
_DOWN = {int(s) for s in L.DOWN_STICKS}
WORDS = ("stand", "walk_f", "walk_b", "crouch", "guard_low", "jump", "jump_f", "jump_b", "jab", "low", "heavy",
         "overhead", "anti_air", "throw", "projectile", "air_attack", "tech")
_FREE = {int(s) for s in L.NEUTRAL_STATES}
_AIR, _GRABBED = int(L.FState.AIR), int(L.FState.GRABBED)


def word_of(stick: int, button: int, air: bool = False) -> str:
    """What the input ``(stick, button)`` does for a free fighter (in the air: any button is an air attack)."""
    stick, button = int(stick), int(button)
    if button == L.Button.NONE:
        return _MOVE_WORD[L.Stick(stick)]
    if air:
        return "air_attack"
    down = stick in _DOWN
    if button == L.Button.LIGHT:
        return "low" if down else "jab"
    if button == L.Button.HEAVY:
        return "anti_air" if down else ("overhead" if stick == L.Stick.FORWARD else "heavy")
    return "projectile" if down else "throw"


class RoundLike:
    """What a round must have to be read: ``obs`` (T, 76) and ``actions`` (T, 2) (a demo
    :class:`agents.ghost.demos.Round`, a :class:`agents.ghost.batched.PlayedRound`)."""

    obs: np.ndarray
    actions: np.ndarray


def decisions(obs: np.ndarray, actions: np.ndarray) -> list[tuple[str, str, str, str]]:
    """The decisions of one round as ``(what, band, state, outcome)`` (module docstring)."""
    obs = np.asarray(obs, dtype=np.float64)
    actions = np.asarray(actions).reshape(-1, 2)
    if obs.ndim != 2 or obs.shape[1] != L.OBS_SIZE or len(obs) != len(actions):
        raise ValueError(f"a round needs obs (T, {L.OBS_SIZE}) and actions (T, 2); got {obs.shape}, {actions.shape}")
    state = obs[:, L.SELF + L.F_STATE:L.SELF + L.F_STATE + L.N_STATES].argmax(1)
    move = obs[:, L.SELF + L.F_MOVE:L.SELF + L.F_MOVE + L.N_MOVES].argmax(1)
    gap = obs[:, L.OBS_GAP] * L.STAGE_WIDTH
    band = np.searchsorted(np.asarray(BAND_EDGES), gap, side="right")
    mine, theirs = obs[:, L.SELF + L.F_HEALTH], obs[:, L.OPP + L.F_HEALTH]
    out: list[tuple[str, str, str, str]] = []
    start = -1  # the step of the open decision
    key: tuple[str, str, str] | None = None
    for t in range(len(obs)):
        s = int(state[t])
        if s == _GRABBED:
            what, where = ("tech" if actions[t, 1] == L.Button.SPECIAL else None), "grabbed"
        elif s in _FREE and move[t] == 0:
            what, where = word_of(actions[t, 0], actions[t, 1]), "ground"
        elif s == _AIR and move[t] == 0:
            what, where = word_of(actions[t, 0], actions[t, 1], air=True), "air"
        else:
            what, where = None, ""
        if what is None:
            continue
        k = (what, BANDS[int(band[t])], where)
        if k == key:
            continue  # the same input held in the same situation: one decision
        if key is not None:
            out.append((*key, _outcome(mine, theirs, start, t)))
        key, start = k, t
    if key is not None:
        out.append((*key, _outcome(mine, theirs, start, len(obs) - 1)))
    return out


def _outcome(mine: np.ndarray, theirs: np.ndarray, t0: int, t1: int) -> str:
    """``hit``, ``hurt``, ``trade`` or ``none``: health lost by each side from step ``t0`` to ``t1``."""
    hit = theirs[t1] < theirs[t0] - 1e-6
    hurt = mine[t1] < mine[t0] - 1e-6
    return "trade" if hit and hurt else "hit" if hit else "hurt" if hurt else "none"


def round_tokens(obs: np.ndarray, actions: np.ndarray, ngrams: int = 3) -> list[str]:
    """The tokens of one round: one ``what|band|state|outcome`` per decision, then the ``what>what`` (and up to
    ``ngrams``-word) sequences."""
    return tokens_of(decisions(obs, actions), ngrams)


def tokens_of(ds: Sequence[tuple[str, str, str, str]], ngrams: int = 3) -> list[str]:
    """The tokens of a round's :func:`decisions` (see :func:`round_tokens`)."""
    words = [d[0] for d in ds]
    tokens = ["|".join(d) for d in ds]
    for n in range(2, ngrams + 1):
        tokens += [">".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return tokens


@dataclass
class Vocabulary:
    """Tokens and their columns (sorted: the same corpus always gives the same columns)."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_documents(cls, docs: Iterable[Sequence[str]], min_docs: int = 2) -> Vocabulary:
        """Every token seen in at least ``min_docs`` documents, sorted."""
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set(d))
        return cls(sorted(t for t, n in df.items() if n >= min_docs))

    def __len__(self) -> int:
        return len(self.tokens)

    def counts(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """The document-term matrix (documents x tokens, float64); tokens outside the vocabulary are dropped."""
        x = np.zeros((len(docs), len(self.tokens)))
        for i, d in enumerate(docs):
            for t, n in Counter(d).items():
                j = self.index.get(t)
                if j is not None:
                    x[i, j] = n
        return x


@dataclass
class Corpus:
    """Documents (one per round of one player), their labels and sources, and the rounds skipped as short."""

    docs: list[list[str]]
    labels: list[str]  # the player of each document
    sources: list[str]  # where each round came from (a file, or player#k)
    decisions: list[int]  # decisions per document
    skipped: int = 0  # rounds shorter than min_decisions

    def __len__(self) -> int:
        return len(self.docs)

    def extend(self, other: Corpus) -> None:
        self.docs += other.docs
        self.labels += other.labels
        self.sources += other.sources
        self.decisions += other.decisions
        self.skipped += other.skipped


def build_corpus(rounds: Sequence[object], label: str, *, min_decisions: int = MIN_DECISIONS, ngrams: int = 3,
                 sources: Sequence[str] | None = None) -> Corpus:
    """The documents of ``rounds`` (each with ``obs`` and ``actions``) of one player ``label``. A round with no
    decision at all is refused with a one-line ValueError naming it; a round with fewer than
    ``min_decisions`` decisions is skipped and counted in ``skipped``."""
    corpus = Corpus([], [], [], [])
    for k, r in enumerate(rounds):
        name = str(sources[k]) if sources is not None else str(getattr(r, "path", f"{label}#{k}"))
        obs, actions = getattr(r, "obs", None), getattr(r, "actions", None)
        if obs is None or actions is None:
            raise ValueError(f"{name}: not a round (needs obs and actions)")
        ds = decisions(obs, actions)
        if not ds:
            raise ValueError(f"{name}: a round with no decisions (the fighter never acted); not a usable log")
        if len(ds) < min_decisions:
            corpus.skipped += 1
            continue
        corpus.docs.append(tokens_of(ds, ngrams))
        corpus.labels.append(label)
        corpus.sources.append(name)
        corpus.decisions.append(len(ds))
    return corpus
