"""Naming topics: a small written lexicon of fighting-game archetypes, matched against a topic's tokens.

Each archetype is a list of **cues**, each a set of decision words (:data:`agents.style.tokens.WORDS`) and,
optionally, the distance bands they count in. A decision token ``what|band|state|outcome`` matches a cue
when its word is in the cue's words and its band is in the cue's bands (any band when none are given); an
n-gram ``what>what>...`` matches an archetype when every word of it is one of the archetype's words. A
topic's **score** for an archetype is the probability mass of the topic's tokens that match it, a token
matching several archetypes sharing its mass among them. The topic takes the name of its best archetype
when that archetype holds at least :data:`NAME_SHARE` of the matched mass and the topic's tokens match
the lexicon at all (:data:`MIN_MATCHED`); otherwise it is ``unnamed``.

The archetypes (what a player of each does, in the duel's terms, docs/duel.md):

* ``rushdown``: walks and jumps in, and attacks up close (jab, low, overhead);
* ``zoner``: throws projectiles from far and backs off to keep the distance;
* ``turtle``: guards, standing (back) and crouching (down-back), at close and mid range, waiting;
* ``grappler``: throws at close range;
* ``anti-air``: meets jump-ins with the anti-air;
* ``footsies``: walks in and out at mid range and pokes there with heavies and lows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ARCHETYPES", "LEXICON", "MIN_MATCHED", "NAME_SHARE", "UNNAMED", "archetype_scores", "name_topics"]

UNNAMED = "unnamed"
NAME_SHARE = 0.4  # the best archetype's share of the matched mass needed to name a topic
MIN_MATCHED = 0.2  # the least share of a topic's mass that must match the lexicon at all
# archetype -> cues: (words, bands); no bands: any band
LEXICON: dict[str, list[tuple[frozenset[str], frozenset[str]]]] = {
    "rushdown": [(frozenset({"walk_f", "jump_f"}), frozenset()),
                 (frozenset({"jab", "low", "overhead", "air_attack"}), frozenset({"close"}))],
    "zoner": [(frozenset({"projectile"}), frozenset()),
              (frozenset({"walk_b", "jump_b", "stand"}), frozenset({"far", "vfar"}))],
    "turtle": [(frozenset({"guard_low", "walk_b"}), frozenset({"close", "mid"})),
               (frozenset({"crouch"}), frozenset({"close", "mid"}))],
    "grappler": [(frozenset({"throw", "tech"}), frozenset({"close"}))],
    "anti-air": [(frozenset({"anti_air"}), frozenset())],
    "footsies": [(frozenset({"heavy", "low"}), frozenset({"mid"}))],
}
ARCHETYPES = tuple(LEXICON)


def _words(archetype: str) -> frozenset[str]:
    return frozenset().union(*(words for words, _ in LEXICON[archetype]))


def _matches(token: str) -> list[str]:
    """The archetypes a token matches (module docstring)."""
    if "|" in token:
        what, band = token.split("|")[:2]
        return [a for a, cues in LEXICON.items() if any(what in w and (not b or band in b) for w, b in cues)]
    words = token.split(">")
    return [a for a in ARCHETYPES if all(w in _words(a) for w in words)]


def archetype_scores(topic_word: np.ndarray, tokens: Sequence[str]) -> np.ndarray:
    """(topics, archetypes): the mass of each topic's tokens matching each archetype (rows of ``topic_word``
    are normalised first; a token matching k archetypes gives each 1/k of its mass)."""
    tw = np.asarray(topic_word, dtype=np.float64)
    tw = tw / tw.sum(1, keepdims=True)
    m = np.zeros((len(tokens), len(ARCHETYPES)))
    for j, t in enumerate(tokens):
        hits = _matches(t)
        for a in hits:
            m[j, ARCHETYPES.index(a)] = 1.0 / len(hits)
    return tw @ m


def name_topics(topic_word: np.ndarray, tokens: Sequence[str]) -> list[str]:
    """Each topic's archetype name, or ``unnamed`` (module docstring). Two topics may carry one name (a style
    the model split in two); mixtures add them up."""
    scores = archetype_scores(topic_word, tokens)
    names = []
    for row in scores:
        matched = row.sum()
        best = int(row.argmax())
        ok = matched >= MIN_MATCHED and row[best] >= NAME_SHARE * matched
        names.append(ARCHETYPES[best] if ok else UNNAMED)
    return names
