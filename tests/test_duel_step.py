"""The one duel decision step (envs/duel/step.py) against ticks worked by hand from the frame-data table.

The env, the PettingZoo view, the arena and the watcher all step through ``decision_step``, so they
agree by construction; these tests pin the step itself. Numbers come from ``FRAME_DATA`` in
envs/duel/rules.py, worked out below and written in as literals:

* jab: startup 4, active 3, recovery 8, damage 5, hitstun 14, knockback 8, reach 40 (box y 50..85, mid);
* throw: startup 5, active 2, reach 25; the grabbed fighter escapes by pressing THROW within
  THROW_TECH_WINDOW = 7 ticks, and both are pushed TECH_PUSHBACK // 2 = 15 apart;
* a body is 2 * HALF_WIDTH = 40 wide; MAX_HEALTH = 200.
"""

from __future__ import annotations

import pytest

from envs.duel import rules
from envs.duel.rules import Button, FState, Move, Stick
from envs.duel.step import decision_step

N = (int(Stick.NEUTRAL), int(Button.NONE))
JAB = (int(Stick.NEUTRAL), int(Button.LIGHT))
THROW = (int(Stick.NEUTRAL), int(Button.SPECIAL))
BACK = (int(Stick.BACK), int(Button.NONE))
FORWARD = (int(Stick.FORWARD), int(Button.NONE))


def placed(x0: int, x1: int, round_ticks: int = rules.DEFAULT_ROUND_TICKS) -> rules.DuelState:
    s = rules.initial_state(round_ticks)
    s.fighters[0].x, s.fighters[1].x = x0, x1
    return s


class Ticks:
    """on_tick hook: (tick, events so far) at every tick."""

    def __init__(self):
        self.seen = []

    def __call__(self, state, events):
        self.seen.append((state.tick, len(events)))


def test_jab_startup_hit_and_hitstun():
    # fighter 0 at x=430, fighter 1 at x=500: 30 units between the bodies. The jab's box reaches from
    # 0's front edge 450 to 490; 1's hurtbox is 480..520, so it connects on its first active tick.
    s = placed(430, 500)

    # decision 1 (ticks 1-4): the jab starts on tick 1 and is in startup (frames 1..4): nothing lands
    hook = Ticks()
    r = decision_step(s, JAB, N, 4, hook)
    assert hook.seen == [(1, 0), (2, 0), (3, 0), (4, 0)]
    assert (r.events, r.ticks, r.reward0, r.over, r.winner) == ([], 4, 0.0, False, None)
    assert (s.fighters[0].move, s.fighters[0].frame, s.fighters[0].state) == (Move.JAB, 4, FState.ATTACK)

    # decision 2 (ticks 5-8): frame 5 = startup + 1 hits: 5 damage, 14 ticks of hitstun, pushed 8 to x=508;
    # the hitstun then counts down one per tick: 13, 12, 11 at ticks 6, 7, 8
    hook = Ticks()
    r = decision_step(s, JAB, N, 4, hook)
    assert r.events == [{"type": "hit", "by": 0, "move": "jab", "damage": 5}]
    assert hook.seen == [(5, 1), (6, 1), (7, 1), (8, 1)]
    assert r.ticks == 4 and r.reward0 == 5 / 200 == 0.025 and not r.over
    b = s.fighters[1]
    assert (b.health, b.state, b.stun, b.x) == (195, FState.HITSTUN, 11, 508)
    assert s.fighters[0].frame == 8  # connected: the later active ticks (6, 7) do not hit again

    # ticks 9-18: still in hitstun on tick 18 (stun 14 - (18 - 5) = 1), even holding forward
    r = decision_step(s, N, FORWARD, 10)
    assert r.events == [] and r.reward0 == 0.0
    assert (b.state, b.stun, b.x) == (FState.HITSTUN, 1, 508)
    # tick 19 = 5 + 14: free, and walks forward at once (facing left: x 508 - 4)
    decision_step(s, N, FORWARD, 1)
    assert (b.state, b.x, s.tick) == (FState.WALK_FORWARD, 504, 19)


def test_throw_tech():
    # fighter 1 cornered at x=780 (the right wall is at 800 - 20), fighter 0 at x=730: 10 units apart.
    # 0's throw box reaches from its front edge 750 to 775; 1's hurtbox is 760..800.
    s = placed(730, 780)
    # ticks 1-6: the throw's startup is frames 1..5; on tick 6 (frame 6) it grabs 1, who is only walking
    # back (guarding: throws ignore guard). 1 is GRABBED with THROW_TECH_WINDOW = 7 ticks to escape.
    r = decision_step(s, THROW, BACK, 6)
    assert r.events == [{"type": "grab", "by": 0, "move": "throw", "damage": 0}]
    assert r.reward0 == 0.0 and r.ticks == 6
    assert (s.fighters[1].state, s.fighters[1].stun, s.fighters[1].x) == (FState.GRABBED, 7, 780)

    # tick 7: 1 presses THROW inside the window: a tech by fighter 1, nobody takes damage. Both are
    # pushed 15 apart; 1 is cornered, so 0 is pushed back twice: 730 - 15 - 15 = 700.
    r = decision_step(s, N, THROW, 1)
    assert r.events == [{"type": "tech", "by": 1, "move": "throw", "damage": 0}]
    assert r.reward0 == 0.0
    f0, f1 = s.fighters
    assert (f0.x, f1.x, f0.health, f1.health) == (700, 780, 200, 200)
    assert (f0.move, f1.state) == (Move.NONE, FState.STAND)


def test_the_step_stops_at_round_end_and_scores_the_result():
    # a 6-tick round: the jab lands on tick 5 (195 - 200), the timer ends the round on tick 6, the
    # healthier fighter 0 wins: reward0 = 5 / 200 + 1, and the two remaining ticks are not played
    s = placed(430, 500, round_ticks=6)
    decision_step(s, JAB, N, 4)
    hook = Ticks()
    r = decision_step(s, JAB, N, 4, hook)
    assert [e["type"] for e in r.events] == ["hit", "timeout"]
    assert hook.seen == [(5, 1), (6, 2)]
    assert (r.ticks, r.over, r.winner, s.tick) == (2, True, 0, 6)
    assert r.reward0 == 5 / 200 + 1.0 == 1.025
    with pytest.raises(RuntimeError, match="over"):
        decision_step(s, N, N, 4)


def test_fighter_one_scores_the_negation():
    """The env's reward for the right-hand player is exactly -reward0 (health is integer, one division)."""
    from agents.opponents import make_duel_env

    class Jabber:
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return [0, 1], state  # neutral + light: the jab

    env = make_duel_env(opponent=Jabber(), side="right", frame_skip=4)
    env.reset(seed=0)
    s = env.state
    s.fighters[0].x, s.fighters[1].x = 430, 500  # the opponent (left) jabs the agent (right)
    env.state = s
    env.step([0, 0])
    _, reward, *_ = env.step([0, 0])
    assert reward == -0.025
