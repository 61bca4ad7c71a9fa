"""The duel's drawn fighters (envs/duel/poses.py, envs/duel/render.py): a picture of its own for every
move, phases that differ, the striking limb in the real hitbox, frame advantage from the table, and
a renderer that only reads."""

from __future__ import annotations

import pytest

pytest.importorskip("pygame")

from envs.duel import poses, rules  # noqa: E402
from envs.duel.rules import FRAME_DATA, FState, Move  # noqa: E402

MOVES = [m for m in Move if m != Move.NONE]


def _fighter_in(move: Move, frame: int, x: int = 300, facing: int = 1) -> rules.Fighter:
    air = move == Move.AIR_KICK
    return rules.Fighter(x, y=70 if air else 0, facing=facing, state=int(FState.AIR if air else FState.ATTACK),
                         move=int(move), frame=frame)


def _first_active(move: Move) -> int:
    return FRAME_DATA[move].startup + 1


def _picture(f: rules.Fighter):
    """The pixels of one fighter drawn alone (its own region of the canvas)."""
    from envs.duel.render import FLOOR, DuelRenderer

    r = DuelRenderer("rgb_array")
    s = rules.initial_state()
    s.fighters = [f, rules.Fighter(760, facing=-1)]
    img = r.draw(s, [])
    return img[FLOOR - 200:FLOOR + 5, f.x - 100:f.x + 110]


def test_every_move_has_its_own_picture_at_its_first_active_tick():
    standing = rules.Fighter(300)
    descs = {m: poses.descriptor(_fighter_in(m, _first_active(m))) for m in MOVES}
    assert len(set(descs.values())) == len(MOVES)  # all different from each other
    assert poses.descriptor(standing) not in descs.values()
    # and the drawn pixels differ as well (move by move, and from standing)
    pictures = {m: _picture(_fighter_in(m, _first_active(m))) for m in MOVES}
    stand = _picture(standing)
    for m in MOVES:
        assert (pictures[m] != stand).any(axis=-1).sum() > 150, m
        for other in MOVES:
            if other != m:
                assert (pictures[m] != pictures[other]).any(axis=-1).sum() > 150, (m, other)


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.name.lower())
def test_startup_active_and_recovery_of_a_move_differ(move):
    fd = FRAME_DATA[move]
    startup = poses.descriptor(_fighter_in(move, 1))
    active = poses.descriptor(_fighter_in(move, fd.startup + 1))
    recovery = poses.descriptor(_fighter_in(move, fd.startup + fd.active + 1))
    assert len({startup, active, recovery}) == 3
    # every tick of a phase shows that phase's pose
    assert poses.descriptor(_fighter_in(move, fd.startup)) == startup
    assert poses.descriptor(_fighter_in(move, fd.total)) == recovery


@pytest.mark.parametrize("move", [m for m in MOVES if m != Move.PROJECTILE], ids=lambda m: m.name.lower())
@pytest.mark.parametrize("facing", [1, -1])
def test_the_striking_limb_reaches_into_the_real_hitbox(move, facing):
    fd = FRAME_DATA[move]
    for frame in range(fd.startup + 1, fd.startup + fd.active + 1):
        f = _fighter_in(move, frame, facing=facing)
        x0, x1, y0, y1 = rules.attack_box(f)
        tx, ty = poses.strike_tip(f)
        assert x0 <= tx <= x1 and y0 <= ty <= y1
    f = _fighter_in(move, fd.startup)  # in startup the limb has not reached it
    x0, x1, y0, y1 = rules.attack_box(_fighter_in(move, fd.startup + 1, facing=1))
    tx, ty = poses.strike_tip(f)
    assert not (x0 <= tx <= x1 and y0 <= ty <= y1)


def test_states_have_distinct_poses():
    pictures = {
        "stand": rules.Fighter(300),
        "walk": rules.Fighter(300, state=int(FState.WALK_FORWARD)),
        "guard high": rules.Fighter(300, state=int(FState.WALK_BACK), guard=1),
        "crouch": rules.Fighter(300, state=int(FState.CROUCH)),
        "guard low": rules.Fighter(300, state=int(FState.CROUCH), guard=2),
        "jump": rules.Fighter(300, y=60, vy=5, state=int(FState.AIR)),
        "hitstun": rules.Fighter(300, state=int(FState.HITSTUN), stun=8),
        "grabbed": rules.Fighter(300, state=int(FState.GRABBED), stun=5),
        "knockout": rules.Fighter(300, health=0),
    }
    descs = {k: poses.descriptor(f) for k, f in pictures.items()}
    assert len(set(descs.values())) == len(descs)


def test_frame_advantage_matches_the_rules():
    """The readout's advantage, from the table, against the rules: a jab that hits (or is guarded) on
    its first active tick, then both fighters hold a button; whoever starts a move first is ahead."""
    from envs.duel.render import advantage

    for blocked in (False, True):
        s = rules.initial_state()
        a, d = s.fighters
        a.x, d.x = 300, 300 + 2 * rules.HALF_WIDTH + 10
        light = int(rules.Button.LIGHT)
        back = int(rules.Stick.BACK)
        s, _ = rules.step(s, ((0, light), (back if blocked else 0, 0)))  # the jab starts on tick 1
        hit_tick = None
        first_free = [None, None]
        for _ in range(80):
            prev = s
            # the attacker holds light, the defender too (once the hit or guard has happened)
            inputs = ((0, light if hit_tick else 0), (back if blocked else 0, light if hit_tick else 0))
            s, events = rules.step(prev, inputs)
            if hit_tick is None and any(e["type"] in ("hit", "block") for e in events):
                hit_tick = s.tick
                assert s.fighters[0].frame == FRAME_DATA[Move.JAB].startup + 1
            for i in (0, 1):
                f = s.fighters[i]
                if hit_tick and first_free[i] is None and s.tick > hit_tick and f.move == Move.JAB and f.frame == 1:
                    first_free[i] = s.tick
        assert None not in first_free
        assert first_free[1] - first_free[0] == advantage(FRAME_DATA[Move.JAB], blocked)
    assert advantage(FRAME_DATA[Move.JAB], False) == 14 - (3 + 8 + 1)  # +2 on hit
    assert advantage(FRAME_DATA[Move.JAB], True) == 10 - (3 + 8 + 1)  # -2 on block
    assert advantage(FRAME_DATA[Move.HEAVY], True) == 14 - (4 + 18 + 1)  # -9 on block


def test_rendering_reads_the_state_and_changes_nothing():
    from envs.duel.render import DuelRenderer

    s = rules.initial_state()
    s.fighters[0].state, s.fighters[0].move, s.fighters[0].frame = int(FState.ATTACK), int(Move.JAB), 5
    s.projectiles[1] = rules.Projectile(500, -6)
    before = s.copy()
    r = DuelRenderer("rgb_array")
    r.show_hitboxes = r.show_training = True
    events = [{"type": "hit", "by": 0, "move": "jab", "damage": 5}]
    img = r.draw(s, events, inputs=((3, 1), (0, 0)))
    assert s == before and img.shape == (450, 800, 3)
