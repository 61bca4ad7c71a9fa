"""Known-answer tests of the duel's pure rules (envs/duel/rules.py)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.duel import rules
from envs.duel.rules import (
    FRAME_DATA,
    HALF_WIDTH,
    JUMP_SPEED,
    MAX_HEALTH,
    MAX_JUMP_HEIGHT,
    STAGE_WIDTH,
    THROW_TECH_WINDOW,
    Button,
    FState,
    Move,
    Stick,
)

N = (Stick.NEUTRAL, Button.NONE)
JAB = (Stick.NEUTRAL, Button.LIGHT)
LOW = (Stick.DOWN, Button.LIGHT)
OVERHEAD = (Stick.FORWARD, Button.HEAVY)
THROW = (Stick.NEUTRAL, Button.SPECIAL)
FIREBALL = (Stick.DOWN, Button.SPECIAL)
GUARD_HIGH = (Stick.BACK, Button.NONE)
GUARD_LOW = (Stick.DOWN_BACK, Button.NONE)


def duel(gap: int, cornered: bool = False, round_ticks: int = rules.DEFAULT_ROUND_TICKS) -> rules.DuelState:
    """Fighter 0 facing right, fighter 1 facing left, ``gap`` units between their bodies; with
    ``cornered`` fighter 1 has its back to the right wall (so holding back does not move it)."""
    s = rules.initial_state(round_ticks)
    b_x = STAGE_WIDTH - HALF_WIDTH if cornered else STAGE_WIDTH // 2 + 100
    s.fighters[1].x = b_x
    s.fighters[0].x = b_x - 2 * HALF_WIDTH - gap
    return s


def run(s: rules.DuelState, inputs0, inputs1, ticks: int):
    """Step ``ticks`` ticks; inputs are a pair (held every tick) or a list of pairs (then neutral).
    Returns the final state and a list of (tick, event)."""
    log = []
    for t in range(ticks):
        a = inputs0[t] if isinstance(inputs0, list) and t < len(inputs0) else (
            N if isinstance(inputs0, list) else inputs0)
        b = inputs1[t] if isinstance(inputs1, list) and t < len(inputs1) else (
            N if isinstance(inputs1, list) else inputs1)
        s, events = rules.step(s, (a, b))
        log += [(s.tick, e) for e in events]
    return s, log


def test_frame_data_table_is_complete_and_sane():
    assert set(FRAME_DATA) == set(Move) - {Move.NONE}
    for move, fd in FRAME_DATA.items():
        assert fd.startup > 0 and fd.active > 0 and fd.recovery > 0, move
        assert fd.chip <= fd.damage and fd.box_low < fd.box_high and fd.reach > 0
    assert FRAME_DATA[Move.JAB].startup < FRAME_DATA[Move.THROW].startup  # a jab beats a throw's startup
    assert FRAME_DATA[Move.HEAVY].reach > FRAME_DATA[Move.JAB].reach  # the heavy has more reach


def test_light_in_range_hits_for_its_damage_and_hitstun():
    fd = FRAME_DATA[Move.JAB]
    s, log = run(duel(gap=30), [JAB], N, fd.startup + 1)
    got = [(t, e["type"], e["move"], e["damage"]) for t, e in log]
    assert got == [(fd.startup + 1, "hit", "jab", fd.damage)]
    b = s.fighters[1]
    assert b.health == MAX_HEALTH - fd.damage
    assert b.state == FState.HITSTUN and b.stun == fd.hitstun
    # stunned for exactly `hitstun` ticks: still stunned one tick before, free (and walking) after
    s, _ = run(s, N, (Stick.FORWARD, Button.NONE), fd.hitstun - 1)
    assert s.fighters[1].state == FState.HITSTUN
    s, _ = run(s, N, (Stick.FORWARD, Button.NONE), 1)
    assert s.fighters[1].state == FState.WALK_FORWARD


def test_light_out_of_range_whiffs():
    s, log = run(duel(gap=FRAME_DATA[Move.JAB].reach + 5), [JAB], N, 20)
    assert log == [] and s.fighters[1].health == MAX_HEALTH


def test_heavy_reaches_farther_than_jab():
    gap = FRAME_DATA[Move.JAB].reach + 10
    _, log = run(duel(gap=gap), [(Stick.NEUTRAL, Button.HEAVY)], N, 20)
    assert [e["type"] for _, e in log] == ["hit"] and log[0][1]["damage"] == FRAME_DATA[Move.HEAVY].damage


@pytest.mark.parametrize(
    ("attack", "guard", "expected"),
    [
        (JAB, GUARD_HIGH, "block"),  # standing guard blocks a mid
        (JAB, GUARD_LOW, "block"),  # crouching guard blocks a mid
        (LOW, GUARD_HIGH, "hit"),  # standing guard does not block a low
        (LOW, GUARD_LOW, "block"),
        (OVERHEAD, GUARD_LOW, "hit"),  # an overhead must be guarded standing
        (OVERHEAD, GUARD_HIGH, "block"),
        (JAB, N, "hit"),  # not holding back: no guard
    ],
)
def test_guard_levels(attack, guard, expected):
    s, log = run(duel(gap=25, cornered=True), [attack], guard, 25)
    kinds = [e["type"] for _, e in log]
    assert kinds == [expected]
    move = FRAME_DATA[Move(rules.command(attack[0], attack[1], False))]
    b = s.fighters[1]
    assert b.health == MAX_HEALTH - (move.chip if expected == "block" else move.damage)


def test_blockstun_lasts_blockstun_ticks():
    fd = FRAME_DATA[Move.HEAVY]
    s, log = run(duel(gap=30, cornered=True), [(Stick.NEUTRAL, Button.HEAVY)], GUARD_HIGH, fd.startup + 1)
    b = s.fighters[1]
    assert log[-1][1]["type"] == "block" and b.state == FState.BLOCKSTUN and b.stun == fd.blockstun
    s, _ = run(s, N, GUARD_HIGH, fd.blockstun)
    assert s.fighters[1].state == FState.WALK_BACK  # free again, still holding back


def test_throw_beats_guard_after_the_escape_window():
    fd = FRAME_DATA[Move.THROW]
    s, log = run(duel(gap=10, cornered=True), [THROW], GUARD_HIGH, fd.startup + 1 + THROW_TECH_WINDOW)
    kinds = [(t, e["type"]) for t, e in log]
    assert kinds == [(fd.startup + 1, "grab"), (fd.startup + 1 + THROW_TECH_WINDOW, "throw")]
    assert s.fighters[1].health == MAX_HEALTH - fd.damage
    assert s.fighters[1].state == FState.HITSTUN


def test_throw_can_be_escaped():
    fd = FRAME_DATA[Move.THROW]
    s = duel(gap=10, cornered=True)
    s, log = run(s, [THROW], GUARD_HIGH, fd.startup + 1)
    assert s.fighters[1].state == FState.GRABBED
    s, log = run(s, N, THROW, 1)  # press throw inside the window
    assert [e["type"] for _, e in log] == ["tech"]
    s, _ = run(s, N, N, 30)
    assert s.fighters[1].health == MAX_HEALTH and s.fighters[0].health == MAX_HEALTH


def test_attack_beats_a_throws_startup():
    # both press on the same tick: the jab (startup 4) lands during the throw's startup (5)
    s, log = run(duel(gap=10), [THROW], [JAB], 30)
    kinds = [(e["type"], e["by"]) for _, e in log]
    assert kinds == [("hit", 1)]
    assert s.fighters[0].health == MAX_HEALTH - FRAME_DATA[Move.JAB].damage
    assert s.fighters[1].health == MAX_HEALTH


def test_throw_whiffs_on_an_attacking_fighter():
    # the defender's heavy is in its startup when the throw becomes active: throws lose to attacks
    s, log = run(duel(gap=10), [THROW], [(Stick.NEUTRAL, Button.HEAVY)], 8)
    assert "grab" not in [e["type"] for _, e in log]


def test_projectile_limit_one_per_fighter():
    fd = FRAME_DATA[Move.PROJECTILE]
    s = duel(gap=560)
    s, log = run(s, [FIREBALL], N, fd.total + 1)
    assert [e["type"] for _, e in log] == ["projectile"] and s.projectiles[0] is not None
    first_x = s.projectiles[0].x
    s, log = run(s, FIREBALL, N, 20)  # mash it while the first is still on screen
    assert [e["type"] for _, e in log] == []
    assert s.fighters[0].move == Move.NONE and s.projectiles[0].x == first_x + 20 * rules.PROJECTILE_SPEED
    # once the projectile lands, a new one can be thrown
    s, log = run(s, N, N, 200)
    assert [e["type"] for _, e in log] == ["hit"] and s.projectiles[0] is None
    s, log = run(s, [FIREBALL], N, fd.startup + 1)
    assert [e["type"] for _, e in log] == ["projectile"]


def test_projectiles_cancel_out():
    s, log = run(duel(gap=400), [FIREBALL], [FIREBALL], 80)
    assert [e["type"] for _, e in log] == ["projectile", "projectile", "clash"]
    assert s.projectiles == [None, None] and s.fighters[0].health == s.fighters[1].health == MAX_HEALTH


def test_ko_ends_the_round():
    s = duel(gap=30)
    s.fighters[1].health = 3
    s, log = run(s, [JAB], N, 10)
    assert s.over and s.winner == 0 and s.fighters[1].health == 0
    assert [e["type"] for _, e in log] == ["hit", "ko"]
    s2, events = rules.step(s, (JAB, JAB))
    assert events == [] and s2.tick == s.tick  # an ended round does not advance


@pytest.mark.parametrize(("h0", "h1", "winner"), [(150, 100, 0), (90, 120, 1), (80, 80, None)])
def test_time_out_goes_to_the_healthier(h0, h1, winner):
    s = duel(gap=200, round_ticks=12)
    s.fighters[0].health, s.fighters[1].health = h0, h1
    s, log = run(s, N, N, 11)
    assert not s.over
    s, log = run(s, N, N, 1)
    assert s.over and s.winner == winner and log[-1][1]["type"] == "timeout"


def test_walls_hold_and_bodies_do_not_overlap():
    s = duel(gap=100)
    rng = np.random.default_rng(3)
    for _ in range(3000):
        a = (int(rng.choice([Stick.BACK, Stick.UP_BACK, Stick.FORWARD, Stick.UP_FORWARD])), 0)
        b = (int(rng.choice([Stick.BACK, Stick.UP_BACK, Stick.FORWARD, Stick.UP_FORWARD])), 0)
        s, _ = rules.step(s, (a, b))
        for f in s.fighters:
            assert HALF_WIDTH <= f.x <= STAGE_WIDTH - HALF_WIDTH
        f0, f1 = s.fighters
        if f0.y == 0 and f1.y == 0:
            assert abs(f0.x - f1.x) >= 2 * HALF_WIDTH


def test_jump_arc():
    s = duel(gap=300)
    heights = []
    for _ in range(2 * JUMP_SPEED + 2):
        s, _ = rules.step(s, ((Stick.UP, 0), N))
        heights.append(s.fighters[0].y)
        if s.fighters[0].y == 0:
            break
    assert max(heights) == MAX_JUMP_HEIGHT
    assert len(heights) == 2 * JUMP_SPEED + 1 and heights[-1] == 0


def test_auto_facing_after_a_cross_up():
    s = duel(gap=30)
    for _ in range(2 * JUMP_SPEED + 1):  # jump forward over the opponent
        s, _ = rules.step(s, ((Stick.UP_FORWARD, 0), (Stick.DOWN, 0)))
    s, _ = run(s, N, N, 3)
    f0, f1 = s.fighters
    assert f0.x > f1.x and f0.facing == -1 and f1.facing == 1


def test_anti_air_hits_a_jumper_and_air_kick_is_overhead():
    # fighter 1 jumps in; fighter 0's anti-air meets it in the air
    s = duel(gap=60)
    s, _ = run(s, N, [(Stick.UP_FORWARD, 0)], 8)
    s, log = run(s, [(Stick.DOWN, Button.HEAVY)], N, 12)
    assert ("hit", "anti_air") in [(e["type"], e["move"]) for _, e in log]
    # an air kick on the way down is not stopped by a crouching guard, but is by a standing one
    for guard, expected in ((GUARD_LOW, "hit"), (GUARD_HIGH, "block")):
        s = duel(gap=120, cornered=True)
        s, log = run(s, [(Stick.UP_FORWARD, 0)] + [N] * 20 + [JAB], guard, 40)
        assert [(e["type"], e["move"]) for _, e in log] == [(expected, "air_kick")]


def test_step_is_pure():
    s = duel(gap=30)
    before = s.copy()
    rules.step(s, (JAB, LOW))
    assert s == before


def _random_state(rng) -> rules.DuelState:
    s = rules.initial_state()
    s.fighters[0].x = int(rng.integers(HALF_WIDTH, STAGE_WIDTH // 2))
    s.fighters[1].x = int(rng.integers(STAGE_WIDTH // 2, STAGE_WIDTH - HALF_WIDTH))
    if rng.random() < 0.5:
        s.fighters.reverse()
        for f in s.fighters:
            f.facing = -f.facing
    return s


def _random_inputs(rng, n):
    return [((int(rng.integers(9)), int(rng.integers(4))), (int(rng.integers(9)), int(rng.integers(4))))
            for _ in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_mirror_symmetry_over_random_input_sequences(seed):
    """Mirroring positions (inputs are relative to facing, so unchanged) mirrors every later state."""
    rng = np.random.default_rng(seed)
    s = _random_state(rng)
    m = rules.mirror(s)
    for pair in _random_inputs(rng, 1500):
        s, e1 = rules.step(s, pair)
        m, e2 = rules.step(m, pair)
        assert rules.mirror(s) == m
        assert e1 == e2
        if s.over:
            break


@pytest.mark.parametrize("seed", range(3))
def test_player_swap_symmetry(seed):
    """The rules favour neither player: swapping players and inputs swaps the result."""
    rng = np.random.default_rng(100 + seed)
    s = _random_state(rng)
    w = rules.swap(s)
    for a, b in _random_inputs(rng, 1500):
        s, _ = rules.step(s, (a, b))
        w, _ = rules.step(w, (b, a))
        assert rules.swap(s) == w
        if s.over:
            break


def test_determinism():
    rng = np.random.default_rng(7)
    inputs = _random_inputs(rng, 2000)
    a = b = rules.initial_state()
    for pair in inputs:
        a, ea = rules.step(a, pair)
        b, eb = rules.step(b, pair)
        assert a == b and ea == eb
