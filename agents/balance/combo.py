"""Combo search: the most damaging input string the defender cannot escape, and whether it loops.

An input string is a sequence of **tokens**; a token walks forward ``walk`` ticks (0 to 3) whenever the
attacker is free, then presses one move's input on its next free tick, then waits until the attacker is
free again (so the next token starts on the first tick it can). Strings are played tick by tick
(``frame_skip`` 1) on one :class:`envs.duel.core.DuelCore` of many rounds: every candidate string against
**every defender action** (the 36 ``(stick, button)`` inputs), the defender standing still until the first
hit lands and holding that action from then on, so it acts on the first tick it is free (a held SPECIAL
escapes a grab; a held back guards). A combo ends the first tick the defender is free again (standing,
walking or crouching after the first hit): damage after that is not the combo's. A string's **guaranteed
damage** is the least combo damage over the 36 defenders: the part no input escapes.

:func:`find_combo` is a beam search over strings: each depth extends the beam's strings by every token and
keeps, for each move, the ``beam`` best strings ending with it that still add guaranteed damage; the
best string's repeated tail (period 1 to 4 tokens, or one token repeated) is then played again and again:
if every defender is knocked out from full health, the combo **loops** (an infinite). Start positions (the
attacker's x and the gap) are drawn from ``seed``; the search itself is deterministic, so a seed only moves
the start.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.duel.character import Character, default_character
from envs.duel.config import DuelConfig
from envs.duel.core import DuelCore
from envs.duel.layout import (
    G_OVER,
    HEALTH,
    N_BUTTON,
    N_STICK,
    STAGE_WIDTH,
    STATE,
    Button,
    FState,
    Stick,
    X,
)

#: the move inputs a token presses: name -> (stick, button), on the ground
MOVE_INPUTS: dict[str, tuple[int, int]] = {
    "jab": (Stick.NEUTRAL, Button.LIGHT), "low": (Stick.DOWN, Button.LIGHT), "heavy": (Stick.NEUTRAL, Button.HEAVY),
    "overhead": (Stick.FORWARD, Button.HEAVY), "anti_air": (Stick.DOWN, Button.HEAVY),
    "throw": (Stick.NEUTRAL, Button.SPECIAL), "projectile": (Stick.DOWN, Button.SPECIAL),
}
WALKS = (0, 1, 2, 3)  # ticks walked forward before a token's press
TOKENS: tuple[tuple[int, str], ...] = tuple((w, m) for w in WALKS for m in MOVE_INPUTS)
DEFENDER_ACTIONS = N_STICK * N_BUTTON  # every (stick, button), held
_FREE = np.array([int(s) for s in (FState.STAND, FState.WALK_FORWARD, FState.WALK_BACK, FState.CROUCH)])
_WALK, _PRESS, _WAIT, _DONE = 0, 1, 2, 3


def token_name(token: tuple[int, str]) -> str:
    walk, move = token
    return f"{'f' * walk}{'+' if walk else ''}{move}"


def planted_infinite(base: Character | None = None, *, spare: int = 2) -> Character:
    """``base`` (the shipped fighter) with a jab that loops: its hitstun set to ``startup + active + recovery
    + 1`` plus the ticks needed to walk back into range after its knockback, plus ``spare``."""
    ch = base if base is not None else default_character()
    jab = ch.moves[0]
    walk = math.ceil(jab.knockback / max(ch.walk_forward_speed, 1))
    hitstun = jab.startup + jab.active + jab.recovery + 1 + walk + spare
    moves = (jab._replace(hitstun=hitstun), *ch.moves[1:])
    return dataclasses.replace(ch, name=f"{ch.name}-planted-infinite", moves=moves).validate()


@dataclass
class ComboResult:
    """The best string found: its tokens, guaranteed damage (health points and share of max health), ticks,
    whether it loops (every defender knocked out from full health by repeating its tail) and the budget used."""

    tokens: list[tuple[int, str]]
    damage: int
    share: float
    ticks: int
    loops: bool
    period: list[tuple[int, str]] = field(default_factory=list)
    loop_damage: int = 0  # the guaranteed damage of the repeated string (max health when it loops)
    evaluations: int = 0  # strings played (each against every defender action)
    rounds: int = 0  # rounds simulated (strings x defender actions)
    ticks_simulated: int = 0  # rounds x ticks
    start: tuple[int, int] = (0, 0)  # the attacker's x and the gap between the bodies

    @property
    def string(self) -> str:
        """The tokens; a loop as its head and ``(period) xN``."""
        if self.loops and self.period:
            p = len(self.period)
            body = list(self.tokens)
            reps = 0
            while len(body) >= p and body[-p:] == self.period:
                body, reps = body[:-p], reps + 1
            head = " ".join(token_name(t) for t in body)
            return f"{head} ({' '.join(token_name(t) for t in self.period)}) x{reps}".strip()
        return " ".join(token_name(t) for t in self.tokens)

    def as_dict(self) -> dict[str, Any]:
        return {"string": self.string, "damage": self.damage, "share": round(self.share, 4), "ticks": self.ticks,
                "hits_tokens": len(self.tokens), "loops": self.loops,
                "period": " ".join(token_name(t) for t in self.period), "loop_damage": self.loop_damage,
                "evaluations": self.evaluations, "rounds": self.rounds, "ticks_simulated": self.ticks_simulated,
                "start": {"x": self.start[0], "gap": self.start[1]}}


class ComboBench:
    """Plays input strings on one character (both fighters), every string against every defender action."""

    def __init__(self, character: Character | None = None, *, start_x: int = 100, gap: int = 10,
                 max_ticks: int = 2400):
        self.character = character if character is not None else default_character()
        self.start_x, self.gap, self.max_ticks = int(start_x), int(gap), int(max_ticks)
        self.evaluations = self.rounds = self.ticks = 0
        self.used = np.zeros(0, dtype=np.int64)

    def play(self, strings: list[list[tuple[int, str]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(damage[S, D], ticks[S], health[S, D])``: each string's combo damage against each defender action
        (up to the defender's first free tick), the ticks it lasted (to its last token's end, or the knock-out)
        and the defender's health at the end."""
        s_n, d_n = len(strings), DEFENDER_ACTIONS
        n = s_n * d_n
        ch = self.character
        core = DuelCore(n, DuelConfig.build(None, character=ch, frame_skip=1, round_seconds=self.max_ticks / 60 + 1))
        core.reset()
        w = ch.half_width
        core.F[:, 0, X] = self.start_x
        core.F[:, 1, X] = min(self.start_x + 2 * w + self.gap, STAGE_WIDTH - w)
        core.observe()
        length = max((len(s) for s in strings), default=0)
        walk = np.zeros((s_n, max(length, 1)), dtype=np.int64)
        stick = np.zeros_like(walk)
        button = np.zeros_like(walk)
        count = np.array([len(s) for s in strings], dtype=np.int64)
        for i, s in enumerate(strings):
            for j, (wk, move) in enumerate(s):
                walk[i, j] = wk
                stick[i, j], button[i, j] = MOVE_INPUTS[move]
        row = np.repeat(np.arange(s_n), d_n)
        d_act = np.tile(np.arange(d_n), s_n)
        d_stick, d_button = d_act // N_BUTTON, d_act % N_BUTTON
        tok = np.zeros(n, dtype=np.int64)
        phase = np.where(count[row] > 0, np.where(walk[row, 0] > 0, _WALK, _PRESS), _DONE)
        left = walk[row, 0].copy()
        health0 = core.F[:, 1, HEALTH].astype(np.int64).copy()
        hit = np.zeros(n, dtype=bool)
        escaped = np.zeros(n, dtype=bool)
        left_at = health0.copy()  # the defender's health when it first got free after the first hit
        end_tick = np.zeros(n, dtype=np.int64)
        act = core.act
        t = 0
        while t < self.max_ticks and (phase != _DONE).any():
            free = np.isin(core.F[:, 0, STATE], _FREE)
            over = core.G[:, G_OVER] != 0
            # a token whose wait is over passes to the next token on this tick
            nxt = (phase == _WAIT) & free
            if nxt.any():
                tok[nxt] += 1
                fin = nxt & ((tok >= count[row]) | ~hit)  # the last token, or the first one missed: over
                end_tick[fin] = t
                go = nxt & ~fin
                phase[fin] = _DONE
                k = np.minimum(tok, walk.shape[1] - 1)
                left[go] = walk[row[go], k[go]]
                phase[go] = np.where(left[go] > 0, _WALK, _PRESS)
            ending = over & (phase != _DONE)
            end_tick[ending] = t
            phase[ending] = _DONE
            k = np.minimum(tok, walk.shape[1] - 1)
            a_stick = np.zeros(n, dtype=np.int64)
            a_button = np.zeros(n, dtype=np.int64)
            walking = (phase == _WALK) & free
            a_stick[walking] = int(Stick.FORWARD)
            left[walking] -= 1
            phase[walking & (left <= 0)] = _PRESS
            pressing = (phase == _PRESS) & free & ~walking
            a_stick[pressing] = stick[row[pressing], k[pressing]]
            a_button[pressing] = button[row[pressing], k[pressing]]
            phase[pressing] = _WAIT
            act[:, 0, 0], act[:, 0, 1] = a_stick, a_button
            act[:, 1, 0] = np.where(hit, d_stick, 0)
            act[:, 1, 1] = np.where(hit, d_button, 0)
            core.step()
            health = core.F[:, 1, HEALTH]
            free_now = hit & ~escaped & np.isin(core.F[:, 1, STATE], _FREE)
            left_at[free_now] = health[free_now]
            escaped |= free_now
            stop = free_now & (phase != _DONE)  # the combo is over: the rest of the string is not played
            end_tick[stop] = t + 1
            phase[stop] = _DONE
            hit |= health < health0
            t += 1
        end_tick[phase != _DONE] = t
        self.used = np.minimum(tok + 1, count[row]).reshape(s_n, d_n).max(axis=1)  # tokens started, per string
        self.evaluations += s_n
        self.rounds += n
        self.ticks += n * t
        last = np.where(escaped, left_at, core.F[:, 1, HEALTH])
        damage = (health0 - last).reshape(s_n, d_n)
        return damage, end_tick.reshape(s_n, d_n).max(axis=1), core.F[:, 1, HEALTH].reshape(s_n, d_n)


def find_combo(character: Character | None = None, *, beam: int = 1, depth: int = 8, seed: int = 0,
               loop_cap: int = 80, start: tuple[int, int] | None = None) -> ComboResult:
    """A beam search (``beam`` strings kept per last move, ``depth`` tokens at most) for the string with the
    most guaranteed damage; then its repeated tail is tried as a loop, up to ``loop_cap`` tokens. ``start``
    (attacker x, gap) defaults to one drawn from ``seed``."""
    if beam < 1 or depth < 1:
        raise ValueError(f"beam and depth must be >= 1; got {beam}, {depth}")
    ch = character if character is not None else default_character()
    if start is None:
        rng = np.random.default_rng(seed)
        start = (int(rng.integers(60, 300)), int(rng.integers(0, 25)))
    bench = ComboBench(ch, start_x=start[0], gap=start[1])
    best: tuple[int, int, list[tuple[int, str]]] = (0, 0, [])
    frontier: list[list[tuple[int, str]]] = [[]]
    frontier_damage = [0]
    for _ in range(depth):
        cands = [s + [tkn] for s in frontier for tkn in TOKENS]
        parent = [frontier_damage[i] for i in range(len(frontier)) for _ in TOKENS]
        damage, ticks, _ = bench.play(cands)
        guaranteed = damage.min(axis=1)
        order = sorted(range(len(cands)), key=lambda i: (-int(guaranteed[i]), int(ticks[i]), i))
        per_move: dict[str, int] = {}
        kept = []
        for i in order:  # the beam keeps the best strings of each last move (so a weak loop is not crowded out)
            last = cands[i][-1][1]
            if guaranteed[i] > parent[i] and per_move.get(last, 0) < beam:
                per_move[last] = per_move.get(last, 0) + 1
                kept.append(i)
        if not kept:
            break
        top = kept[0]
        if (int(guaranteed[top]), -int(ticks[top])) > (best[0], -best[1]) or not best[2]:
            best = (int(guaranteed[top]), int(ticks[top]), cands[top])
        frontier = [cands[i] for i in kept]
        frontier_damage = [int(guaranteed[i]) for i in kept]
        if guaranteed[top] >= ch.max_health:
            break
    dmg, tk, tokens = best
    result = ComboResult(tokens, dmg, dmg / ch.max_health, tk, False, start=start)
    # the loop check: repeat the best strings' tails, and each token on its own
    tried: set[tuple] = set()
    for s in [tokens, *frontier, *([t, t] for t in TOKENS)]:
        for p in (1, 2, 3, 4):
            if len(s) < 2 * p or s[-p:] != s[-2 * p:-p] or tuple(s[-p:]) in tried:
                continue
            tried.add(tuple(s[-p:]))
            head, tail = s[:-2 * p], s[-p:]
            reps = max((loop_cap - len(head)) // p, 2)
            long = head + tail * reps
            d, t_, _ = bench.play([long])
            g = int(d.min())
            if g >= ch.max_health:
                long = long[: max(int(bench.used[0]), len(head) + p)]  # up to the knock-out
            if g >= ch.max_health and (not result.loops or len(long) < len(result.tokens)):
                result = ComboResult(long, g, 1.0, int(t_[0]), True, period=list(tail), loop_damage=g, start=start)
            elif not result.loops:
                result.loop_damage = max(result.loop_damage, g)
    result.evaluations, result.rounds, result.ticks_simulated = bench.evaluations, bench.rounds, bench.ticks
    return result
