"""The fighters' poses: a stick figure for every state and every phase of every move, as a pure
function of a :class:`rules.Fighter` (no pygame; the renderer draws what this returns).

A pose is a dict of joints -> (x, y) in stage units (y up from the floor). Joints are built in the
fighter's own frame, ``u`` forward from its centre and ``v`` up from its feet, then turned to face
the way it faces. During a move's active ticks the striking limb's tip (:func:`strike_tip`) lies
inside the move's real hitbox (:func:`rules.attack_box`), so the picture shows what can hit.
"""

from __future__ import annotations

import math

from envs.duel.rules import Fighter, FState, Move

JOINTS = ("head", "neck", "hip", "f_elbow", "f_hand", "b_elbow", "b_hand", "f_knee", "f_foot", "b_knee", "b_foot")
HEAD_RADIUS = 10

_STAND = dict(head=(3, 89), neck=(2, 77), hip=(0, 48), f_elbow=(16, 62), f_hand=(20, 76), b_elbow=(6, 60),
              b_hand=(14, 72), f_knee=(10, 24), f_foot=(14, 0), b_knee=(-8, 24), b_foot=(-14, 0))
_GUARD_HIGH = dict(f_elbow=(20, 70), f_hand=(16, 92), b_elbow=(16, 64), b_hand=(22, 86))
_CROUCH = dict(head=(10, 51), neck=(6, 40), hip=(-4, 26), f_elbow=(18, 32), f_hand=(24, 42), b_elbow=(10, 30),
               b_hand=(18, 38), f_knee=(16, 22), f_foot=(14, 0), b_knee=(-14, 18), b_foot=(-14, 0))
_GUARD_LOW = dict(f_elbow=(22, 28), f_hand=(28, 14), b_elbow=(16, 30), b_hand=(24, 20))
_AIR = dict(head=(3, 89), neck=(2, 77), hip=(0, 48), f_elbow=(16, 66), f_hand=(22, 80), b_elbow=(-6, 64),
            b_hand=(-12, 76), f_knee=(14, 34), f_foot=(6, 18), b_knee=(-4, 30), b_foot=(-14, 16))
_HITSTUN = dict(head=(-16, 82), neck=(-10, 71), hip=(-2, 46), f_elbow=(-2, 58), f_hand=(8, 48), b_elbow=(-20, 66),
                b_hand=(-30, 76), f_knee=(10, 22), f_foot=(16, 0), b_knee=(-12, 24), b_foot=(-20, 0))
_GRABBED = dict(head=(22, 66), neck=(14, 58), hip=(-8, 40), f_elbow=(22, 46), f_hand=(26, 34), b_elbow=(6, 46),
                b_hand=(10, 34), f_knee=(0, 20), f_foot=(10, 10), b_knee=(-14, 22), b_foot=(-6, 8))
_KO = dict(head=(-70, 10), neck=(-56, 8), hip=(-22, 6), f_elbow=(-46, 24), f_hand=(-38, 36), b_elbow=(-60, 2),
           b_hand=(-74, 0), f_knee=(0, 12), f_foot=(22, 4), b_knee=(-2, 6), b_foot=(24, 0))

# per move: (startup, active, recovery) overrides of a base pose ("stand", "crouch" or "air")
_MOVES: dict[int, tuple[str, dict, dict, dict]] = {
    Move.JAB: ("stand",
               dict(f_elbow=(-2, 64), f_hand=(8, 72), neck=(0, 77), head=(0, 89)),
               dict(f_elbow=(36, 74), f_hand=(56, 72), neck=(6, 77), head=(8, 88)),
               dict(f_elbow=(24, 66), f_hand=(34, 72))),
    Move.HEAVY: ("stand",
                 dict(head=(-8, 87), neck=(-6, 75), f_elbow=(-20, 64), f_hand=(-10, 74), b_elbow=(14, 66),
                      b_hand=(22, 78), b_knee=(-12, 24), b_foot=(-20, 0)),
                 dict(head=(16, 84), neck=(12, 73), hip=(2, 46), f_elbow=(46, 72), f_hand=(80, 70),
                      b_elbow=(-8, 62), b_hand=(-18, 54), f_knee=(22, 22), f_foot=(28, 0), b_knee=(-12, 20),
                      b_foot=(-26, 0)),
                 dict(head=(12, 85), neck=(8, 74), f_elbow=(30, 62), f_hand=(50, 54), f_knee=(18, 22),
                      f_foot=(24, 0), b_foot=(-22, 0))),
    Move.LOW: ("crouch",
               dict(f_knee=(18, 26), f_foot=(6, 10), b_hand=(-4, 4), b_elbow=(-2, 18)),
               dict(head=(-10, 48), neck=(-4, 40), hip=(-6, 20), f_knee=(32, 12), f_foot=(64, 6),
                    b_elbow=(-16, 18), b_hand=(-24, 2), f_elbow=(10, 30), f_hand=(16, 38)),
               dict(f_knee=(24, 14), f_foot=(40, 4), b_hand=(-14, 4), b_elbow=(-8, 18))),
    Move.OVERHEAD: ("stand",
                    dict(head=(-4, 88), neck=(-4, 76), f_elbow=(2, 100), f_hand=(-2, 118), b_elbow=(-4, 98),
                         b_hand=(-8, 114), f_knee=(12, 20), b_knee=(-10, 20)),
                    dict(head=(16, 82), neck=(12, 72), hip=(2, 46), f_elbow=(32, 96), f_hand=(58, 88),
                         b_elbow=(28, 90), b_hand=(52, 82), f_knee=(18, 22), f_foot=(24, 0)),
                    dict(head=(22, 72), neck=(14, 66), hip=(2, 44), f_elbow=(26, 54), f_hand=(40, 42),
                         b_elbow=(20, 52), b_hand=(34, 40), f_knee=(18, 22), f_foot=(24, 0))),
    Move.ANTI_AIR: ("crouch",
                    dict(head=(6, 46), neck=(4, 36), hip=(-4, 22), f_elbow=(6, 22), f_hand=(14, 14)),
                    dict(head=(14, 94), neck=(8, 82), hip=(2, 48), f_elbow=(24, 116), f_hand=(36, 150),
                         b_elbow=(-6, 52), b_hand=(-14, 40), f_knee=(10, 22), f_foot=(12, 0), b_knee=(-8, 20),
                         b_foot=(-12, 0)),
                    dict(head=(10, 66), neck=(6, 56), hip=(0, 34), f_elbow=(22, 80), f_hand=(28, 102))),
    Move.AIR_KICK: ("air",
                    dict(f_knee=(20, 40), f_foot=(12, 22), b_knee=(-4, 28), b_foot=(-14, 14)),
                    dict(head=(-6, 86), neck=(-4, 74), f_knee=(28, 18), f_foot=(50, -6), b_knee=(-8, 30),
                         b_foot=(-18, 20), f_elbow=(-8, 66), f_hand=(-18, 74)),
                    dict(f_knee=(22, 28), f_foot=(32, 14))),
    Move.THROW: ("stand",
                 dict(head=(-2, 88), neck=(-2, 76), f_elbow=(14, 70), f_hand=(16, 86), b_elbow=(10, 66),
                      b_hand=(14, 80), f_knee=(12, 22), b_knee=(-10, 22)),
                 dict(head=(12, 86), neck=(8, 75), f_elbow=(26, 68), f_hand=(40, 64), b_elbow=(24, 58),
                      b_hand=(38, 54)),
                 dict(head=(-10, 86), neck=(-6, 75), f_elbow=(-4, 86), f_hand=(-16, 98), b_elbow=(-8, 80),
                      b_hand=(-20, 90), f_knee=(14, 22), f_foot=(20, 0))),
    Move.PROJECTILE: ("crouch",
                      dict(head=(0, 62), neck=(-2, 52), hip=(-6, 30), f_elbow=(2, 44), f_hand=(-10, 40),
                           b_elbow=(-4, 42), b_hand=(-14, 36), f_knee=(18, 22), f_foot=(22, 0)),
                      dict(head=(10, 64), neck=(8, 54), hip=(-4, 30), f_elbow=(26, 64), f_hand=(44, 68),
                           b_elbow=(24, 58), b_hand=(42, 60), f_knee=(20, 22), f_foot=(24, 0)),
                      dict(head=(6, 62), neck=(4, 52), hip=(-4, 30), f_elbow=(22, 54), f_hand=(36, 56),
                           b_elbow=(20, 50), b_hand=(34, 50), f_knee=(20, 22), f_foot=(24, 0))),
}
# the limb that strikes, per move (its tip is inside the hitbox on the active ticks)
STRIKER = {Move.JAB: "f_hand", Move.HEAVY: "f_hand", Move.LOW: "f_foot", Move.OVERHEAD: "f_hand",
           Move.ANTI_AIR: "f_hand", Move.AIR_KICK: "f_foot", Move.THROW: "f_hand", Move.PROJECTILE: "f_hand"}
_BASES = {"stand": _STAND, "crouch": _CROUCH, "air": _AIR}


def local_pose(f: Fighter) -> dict[str, tuple[float, float]]:
    """The pose in the fighter's frame: u forward from its centre, v up from its feet."""
    pose: dict[str, tuple[float, float]]
    if f.health <= 0:
        return dict(_KO)
    st = f.state
    if st == FState.GRABBED:
        return dict(_GRABBED)
    if st == FState.HITSTUN:
        pose = dict(_HITSTUN)
        if f.y > 0:  # knocked out of the air: tilted further
            pose.update(f_foot=(20, 10), f_knee=(14, 26), b_foot=(4, 6), b_knee=(-6, 22))
        return pose
    if f.move:
        base, *phases = _MOVES[f.move]
        pose = dict(_BASES[base])
        phase = f.phase()  # 1 startup, 2 active, 3 recovery
        pose.update(phases[phase - 1])
        if f.move == Move.THROW and phase == 3 and not f.connected:  # a whiffed grab: arms hang out
            pose.update(head=(10, 86), neck=(8, 75), f_elbow=(24, 60), f_hand=(36, 50), b_elbow=(20, 56),
                        b_hand=(32, 46), f_knee=(10, 24), f_foot=(14, 0))
        return pose
    if st == FState.AIR:
        pose = dict(_AIR)
        if f.vy < -4:  # falling: legs reach for the floor
            pose.update(f_knee=(10, 24), f_foot=(12, 2), b_knee=(-6, 24), b_foot=(-10, 4))
        return pose
    crouched = st == FState.CROUCH or f.guard == 2
    pose = dict(_CROUCH if crouched else _STAND)
    if f.guard == 2:
        pose.update(_GUARD_LOW)
    elif f.guard == 1:
        pose.update(_GUARD_HIGH)
    if st == FState.BLOCKSTUN:  # pushed back behind the guard
        pose = {k: (u - 4, v) for k, (u, v) in pose.items()}
        pose["b_foot"] = (pose["b_foot"][0] - 6, 0)
    elif st in (FState.WALK_FORWARD, FState.WALK_BACK):  # a stride cycle from the position on stage
        swing = math.sin(f.x * 0.12)
        pose.update(f_foot=(2 + 14 * swing, 0 if swing < 0.3 else 5),
                    b_foot=(-2 - 14 * swing, 0 if swing > -0.3 else 5),
                    f_knee=(6 + 8 * swing, 25), b_knee=(-6 - 8 * swing, 25))
        if st == FState.WALK_BACK:
            pose.update(head=(-1, 89), neck=(-1, 77))
    return pose


def pose(f: Fighter) -> dict[str, tuple[float, float]]:
    """Joints of fighter ``f`` in stage units (x to the right, y up from the floor)."""
    return {k: (f.x + u * f.facing, f.y + v) for k, (u, v) in local_pose(f).items()}


def strike_tip(f: Fighter) -> tuple[float, float] | None:
    """Stage position of the striking limb's tip while ``f`` does a move, else None."""
    if not f.move or f.health <= 0 or f.state in (FState.HITSTUN, FState.GRABBED):
        return None
    return pose(f)[STRIKER[Move(f.move)]]


def descriptor(f: Fighter) -> tuple[tuple[str, int, int], ...]:
    """A hashable summary of the picture (joints rounded, relative to the fighter): equal descriptors
    mean the same drawing."""
    return tuple((k, round(u), round(v)) for k, (u, v) in sorted(local_pose(f).items()))

