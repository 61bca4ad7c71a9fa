"""Every name of the duel's layout, defined once: the controller and move enums, the stage, the
struct-of-arrays state, the observation vector, the events and the character table's columns.

Nothing here computes anything: the rules (:mod:`envs.duel.kernels`), the envs, the renderer and the
agents all read these names, so a field is added or moved in one place. The observation offsets are
covered by :func:`envs.duel.env.obs_layout_hash`, so demos and ghosts recorded for another layout are
refused rather than misread.
"""

from __future__ import annotations

from enum import IntEnum

# ---- controller, moves, states -------------------------------------------------------------------


class Stick(IntEnum):
    """Stick direction relative to the fighter's facing (numpad notation in brackets)."""

    NEUTRAL = 0  # (5)
    UP = 1  # (8)
    UP_FORWARD = 2  # (9)
    FORWARD = 3  # (6)
    DOWN_FORWARD = 4  # (3)
    DOWN = 5  # (2)
    DOWN_BACK = 6  # (1)
    BACK = 7  # (4)
    UP_BACK = 8  # (7)


class Button(IntEnum):
    NONE = 0
    LIGHT = 1
    HEAVY = 2
    SPECIAL = 3


class Move(IntEnum):
    NONE = 0
    JAB = 1
    HEAVY = 2
    LOW = 3
    OVERHEAD = 4
    ANTI_AIR = 5
    AIR_KICK = 6
    THROW = 7
    PROJECTILE = 8


class Level(IntEnum):
    """Where an attack hits, which decides the guard that stops it."""

    HIGH = 0  # stopped by a standing guard only
    MID = 1  # stopped by either guard
    LOW = 2  # stopped by a crouching guard only
    THROW = 3  # unblockable; cannot grab a fighter in startup/active frames


class FState(IntEnum):
    """A fighter's state (one-hot in the observation)."""

    STAND = 0
    WALK_FORWARD = 1
    WALK_BACK = 2
    CROUCH = 3
    AIR = 4
    ATTACK = 5  # a ground move (AIR_KICK keeps the state AIR)
    HITSTUN = 6
    BLOCKSTUN = 7
    GRABBED = 8


N_STICK, N_BUTTON, N_MOVES, N_STATES = len(Stick), len(Button), len(Move), len(FState)
N_ACTIONS = N_STICK * N_BUTTON  # the flat action: stick * N_BUTTON + button
NEUTRAL_STATES = frozenset({FState.STAND, FState.WALK_FORWARD, FState.WALK_BACK, FState.CROUCH})
UP_STICKS = frozenset({Stick.UP, Stick.UP_FORWARD, Stick.UP_BACK})
DOWN_STICKS = frozenset({Stick.DOWN, Stick.DOWN_FORWARD, Stick.DOWN_BACK})

# ---- the stage --------------------------------------------------------------------------------------
TICKS_PER_SECOND = 60
STAGE_WIDTH = 800  # stage units; walls at 0 and STAGE_WIDTH
START_GAP = 300  # distance between the fighters at the start of a round
DEFAULT_ROUND_TICKS = 60 * TICKS_PER_SECOND
OBS_VX_SCALE = 8.0  # horizontal speeds are observed over this (the character limits keep them within)
OBS_ADVANTAGE_SCALE = 30.0  # frame advantage is observed over this many ticks, clipped

# ---- the state of N rounds (struct of arrays, int32) ----------------------------------------------
# F[N, 2, NF]: per fighter; P[N, 2, NP]: per fighter, its projectile; G[N, NG]: per round.
FIGHTER_FIELDS = ("x", "y", "vx", "vy", "facing", "health", "state", "move", "frame", "stun", "guard",
                  "connected", "air_attacked")
X, Y, VX, VY, FACING, HEALTH, STATE, MOVE, FRAME, STUN, GUARD, CONNECTED, AIR_ATTACKED = range(len(FIGHTER_FIELDS))
CHARACTER = len(FIGHTER_FIELDS)  # one more column: the fighter's row of the character table (set when built)
NF = CHARACTER + 1
P_ON, P_X, P_VX = range(3)  # projectile present, its x, its horizontal speed
NP = 3
G_TICK, G_OVER, G_WINNER = range(3)  # winner: 0, 1, or -1 for a draw (meaningful once over)
NG = 3
GUARD_NONE, GUARD_STAND, GUARD_CROUCH = 0, 1, 2  # a standing guard stops high and mid, crouching low and mid

# ---- events (what happened in a tick) ----------------------------------------------------------------
# An event is a row (kind, by, move, damage) of int32: ``by`` is the acting fighter (0 or 1; -1 for a
# draw's ko/timeout), ``move`` a Move.
EVENT_KINDS = ("hit", "block", "grab", "throw", "tech", "projectile", "clash", "ko", "timeout")
EV_HIT, EV_BLOCK, EV_GRAB, EV_THROW, EV_TECH, EV_PROJECTILE, EV_CLASH, EV_KO, EV_TIMEOUT = range(len(EVENT_KINDS))
EV_KIND, EV_BY, EV_MOVE, EV_DAMAGE = range(4)
EVENTS_PER_TICK = 12  # at most: 2 grabs or escapes, 4 hits, a clash, 2 spawns, the end, with room

# ---- the character table (one int64 row per character: T[n, NT]) ------------------------------------
# Columns 0..NC-1: the body (C_*), the last of them derived from the others when the table is built;
# then the frame data of each move m at T_MOVES + m * ND (D_*; move NONE's row is zeros).
BODY_FIELDS = ("max_health", "half_width", "stand_height", "crouch_height", "walk_forward_speed",
               "walk_back_speed", "jump_speed", "jump_drift", "gravity", "air_hit_speed", "projectile_speed",
               "projectile_half_width", "tech_window", "tech_pushback")
(C_MAX_HEALTH, C_HALF_WIDTH, C_STAND_HEIGHT, C_CROUCH_HEIGHT, C_WALK_FORWARD, C_WALK_BACK, C_JUMP_SPEED,
 C_JUMP_DRIFT, C_GRAVITY, C_AIR_HIT_SPEED, C_PROJ_SPEED, C_PROJ_HALF_WIDTH, C_TECH_WINDOW,
 C_TECH_PUSHBACK) = range(len(BODY_FIELDS))
C_MAX_JUMP = len(BODY_FIELDS)  # the apex of a jump, for the observation's y
C_VY_SCALE = C_MAX_JUMP + 1  # jump_speed + 1: |vy| never exceeds it
C_MAX_STUN = C_MAX_JUMP + 2  # the longest hitstun or blockstun of the table, for the observation's stun
NC = C_MAX_JUMP + 3
# The frame data of a move, ND columns; TOTAL and CROUCH are derived.
MOVE_FIELDS = ("startup", "active", "recovery", "damage", "chip", "hitstun", "blockstun", "knockback", "reach",
               "box_low", "box_high")
(D_STARTUP, D_ACTIVE, D_RECOVERY, D_DAMAGE, D_CHIP, D_HITSTUN, D_BLOCKSTUN, D_KNOCKBACK, D_REACH, D_BOX_LOW,
 D_BOX_HIGH) = range(len(MOVE_FIELDS))
D_LEVEL = len(MOVE_FIELDS)  # a Level
D_TOTAL = D_LEVEL + 1  # startup + active + recovery
D_CROUCH = D_LEVEL + 2  # 1 for the moves done crouched (the body is crouch_height tall)
ND = D_LEVEL + 3
T_MOVES = NC
NT = T_MOVES + N_MOVES * ND
CROUCH_MOVES = frozenset({Move.LOW, Move.ANTI_AIR, Move.PROJECTILE})

# ---- the observation (76 float32 in [-1, 1], in the viewer's frame) ----------------------------------
# Every x is mirrored so that the viewer faces +x: a mirrored state gives the same observation
# (except OBS_ABS_FACING), and either fighter can use it.
FIGHTER_FEATURES = 32
# offsets inside a fighter block
F_X, F_Y, F_VX, F_VY, F_HEALTH, F_FACING = 0, 1, 2, 3, 4, 5
F_STATE = 6  # 9-way one-hot of FState
F_MOVE = F_STATE + N_STATES  # 15: 9-way one-hot of Move (index 0 = no move)
F_PHASE = F_MOVE + N_MOVES  # 24..26: one-hot startup, active, recovery (all 0 without a move)
F_PROGRESS = F_PHASE + 3  # 27: ticks into the move / the move's total ticks
F_STUN = F_PROGRESS + 1  # 28
F_GUARD_STAND, F_GUARD_CROUCH = F_STUN + 1, F_STUN + 2  # 29, 30
F_PROJ = F_STUN + 3  # 31: this fighter has a projectile on screen
SELF, OPP = 0, FIGHTER_FEATURES  # block offsets: the viewer at 0..31, the opponent at 32..63
OBS_DX = 2 * FIGHTER_FEATURES  # 64
OBS_DY, OBS_GAP = OBS_DX + 1, OBS_DX + 2
OBS_MY_PROJ_DX = OBS_DX + 3  # 67
OBS_OPP_PROJ, OBS_OPP_PROJ_DX, OBS_OPP_PROJ_VX = OBS_DX + 4, OBS_DX + 5, OBS_DX + 6  # 68, 69, 70
OBS_TIME, OBS_HEALTH_DIFF, OBS_ABS_FACING, OBS_BACK_WALL = OBS_DX + 7, OBS_DX + 8, OBS_DX + 9, OBS_DX + 10
OBS_ADVANTAGE = OBS_BACK_WALL + 1  # 75: (opponent's busy ticks - viewer's busy ticks) / 30
OBS_SIZE = OBS_ADVANTAGE + 1  # 76
