"""``sandbox/Duel-v0``: the fighting duel as a single-agent Gymnasium environment."""

from __future__ import annotations

import struct
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.checks import check_int, check_number, discrete_action, episode_over_message, pair_action
from envs.duel import rules
from envs.duel.rules import (
    FRAME_DATA,
    HALF_WIDTH,
    MAX_HEALTH,
    MAX_JUMP_HEIGHT,
    MAX_STUN,
    N_BUTTON,
    N_MOVES,
    N_STATES,
    N_STICK,
    PROJECTILE_SPEED,
    STAGE_WIDTH,
    TICKS_PER_SECOND,
    DuelState,
)
from envs.duel.step import decision_step

# ---- observation layout -------------------------------------------------------------------------
# Every x is expressed in the viewer's frame: mirrored so that the viewer faces +x. A mirrored state
# therefore gives the same observation (except OBS_ABS_FACING), and either fighter can use it.
FIGHTER_FEATURES = 32
# offsets inside a fighter block
F_X, F_Y, F_VX, F_VY, F_HEALTH, F_FACING = 0, 1, 2, 3, 4, 5
F_STATE = 6  # 9-way one-hot of rules.FState
F_MOVE = F_STATE + N_STATES  # 15: 9-way one-hot of rules.Move (index 0 = no move)
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

_W = float(STAGE_WIDTH)
_PACK = struct.Struct(f"={OBS_SIZE}f").pack
_MOVE_TOTAL = [1] + [FRAME_DATA[rules.Move(m)].total for m in range(1, N_MOVES)]
_MOVE_PHASE = [(0, 0)] + [
    (FRAME_DATA[rules.Move(m)].startup, FRAME_DATA[rules.Move(m)].startup + FRAME_DATA[rules.Move(m)].active)
    for m in range(1, N_MOVES)
]
_VY_SCALE = float(rules.JUMP_SPEED + 1)  # vy lies in [-(JUMP_SPEED + 1), JUMP_SPEED]


def _onehot(n: int, k: int) -> list[float]:
    v = [0.0] * n
    v[k] = 1.0
    return v


_STATE_1HOT = [_onehot(N_STATES, k) for k in range(N_STATES)]
_MOVE_1HOT = [_onehot(N_MOVES, k) for k in range(N_MOVES)]
_PHASE_1HOT = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
# _ONEHOTS[state][move][phase]: the 21 one-hot features of a fighter block, built once
_ONEHOTS = [[[tuple(_STATE_1HOT[st] + _MOVE_1HOT[m] + _PHASE_1HOT[ph]) for ph in range(4)]
             for m in range(N_MOVES)] for st in range(N_STATES)]


def _fighter_block(f: rules.Fighter, sign: int, has_proj: bool) -> list[float]:
    m = f.move
    if m:
        s_end, a_end = _MOVE_PHASE[m]
        phase = 1 if f.frame <= s_end else (2 if f.frame <= a_end else 3)
    else:
        phase = 0
    x = f.x if sign > 0 else STAGE_WIDTH - f.x
    block = [x / _W, f.y / MAX_JUMP_HEIGHT, f.vx * sign / 8.0, f.vy / _VY_SCALE, f.health / MAX_HEALTH,
             float(f.facing * sign)]
    block += _ONEHOTS[f.state][m][phase]  # state, move and phase one-hots, precomputed
    block += (f.frame / _MOVE_TOTAL[m], min(f.stun / MAX_STUN, 1.0), float(f.guard == 1), float(f.guard == 2),
              float(has_proj))
    return block


def _busy(f: rules.Fighter) -> int:
    """Ticks until the fighter can act again (stun, or what is left of its move)."""
    if f.stun:
        return f.stun
    return _MOVE_TOTAL[f.move] - f.frame if f.move else 0


def observe(s: DuelState, me: int) -> np.ndarray:
    """The float32 feature vector of fighter ``me`` (0 or 1); see :class:`DuelEnv` for the layout."""
    f, o = s.fighters[me], s.fighters[1 - me]
    sign = f.facing
    mp, op = s.projectiles[me], s.projectiles[1 - me]
    dx = (o.x - f.x) * sign
    back_wall = f.x if sign > 0 else STAGE_WIDTH - f.x
    vec = _fighter_block(f, sign, mp is not None) + _fighter_block(o, sign, op is not None) + [
        dx / _W,
        (o.y - f.y) / MAX_JUMP_HEIGHT,
        max(abs(o.x - f.x) - 2 * HALF_WIDTH, 0) / _W,
        0.0 if mp is None else (mp.x - f.x) * sign / _W,
        0.0 if op is None else 1.0,
        0.0 if op is None else (op.x - f.x) * sign / _W,
        0.0 if op is None else op.vx * sign / PROJECTILE_SPEED,
        1.0 - s.tick / s.round_ticks,
        (f.health - o.health) / MAX_HEALTH,
        float(sign),
        (back_wall - HALF_WIDTH) / _W,
        min(max((_busy(o) - _busy(f)) / 30.0, -1.0), 1.0),
    ]
    # every entry is in [-1, 1] by construction (tested); struct packing is the fastest float32 route
    return np.frombuffer(bytearray(_PACK(*vec)), dtype=np.float32)


def decode_action(action: Any) -> tuple[int, int]:
    """``(stick, button)`` from either action form: an int in [0, 36) (``stick * 4 + button``) or a
    pair ``[stick, button]``. Raises ValueError for anything else."""
    if type(action) is np.ndarray and action.shape == (2,):  # the common case, fast
        stick, button = action.tolist()
        if 0 <= stick < N_STICK and 0 <= button < N_BUTTON:
            return int(stick), int(button)
    if np.ndim(action) == 0:
        a = int(action)
        if not 0 <= a < N_STICK * N_BUTTON:
            raise ValueError(f"flat duel action must be in [0, {N_STICK * N_BUTTON}); got {a}")
        return a // N_BUTTON, a % N_BUTTON
    a = np.asarray(action).reshape(-1)
    if a.shape[0] != 2:
        raise ValueError(f"duel action must be [stick, button]; got shape {np.shape(action)}")
    stick, button = int(a[0]), int(a[1])
    if not (0 <= stick < N_STICK and 0 <= button < N_BUTTON):
        raise ValueError(f"duel action [stick, button] must be in [0,{N_STICK})x[0,{N_BUTTON}); got {a}")
    return stick, button


class DuelEnv(gym.Env):
    """A frame-accurate 2-D fighting duel between the agent and an opponent agent.

    ## Description
    Two fighters on a side-view stage with walls, at 60 ticks per second (the rules, frame data and
    move list are in :mod:`envs.duel.rules`). The agent plays one fighter; the opponent slot holds any
    agent (``random``, ``scripted:easy|normal|hard|rushdown|zoner|turtle``, ``sb3:PATH``, ``human`` or an
    agent object), which sees the same features from its own side.

    ## Action Space
    ``MultiDiscrete([9, 4])``: a stick direction relative to facing (:class:`rules.Stick`: 0 neutral,
    1 up, 2 up-forward, 3 forward, 4 down-forward, 5 down, 6 down-back, 7 back, 8 up-back) and a button
    (:class:`rules.Button`: 0 none, 1 light, 2 heavy, 3 special). With ``flat_actions=True`` it is
    ``Discrete(36)``, action ``stick * 4 + button``. Moves: light = jab (down: low), heavy = heavy
    (forward: overhead, down: anti-air), special = throw (down: projectile); light/heavy in the air =
    air kick. The action is held for ``frame_skip`` ticks.

    ## Observation Space
    ``Box(-1, 1, (76,), float32)``. x coordinates are in the viewer's frame (mirrored so that the viewer
    faces +x). Indices 0..31 describe the viewer, 32..63 the opponent, with the same layout:

    - +0 x / stage width; +1 y / max jump height; +2 vx / 8; +3 vy / 17; +4 health / max health;
    - +5 facing relative to the viewer's facing (+1 same, -1 opposite);
    - +6..+14 one-hot state (stand, walk forward, walk back, crouch, air, attack, hitstun, blockstun,
      grabbed);
    - +15..+23 one-hot move (none, jab, heavy, low, overhead, anti_air, air_kick, throw, projectile);
    - +24..+26 one-hot phase of the move (startup, active, recovery; all 0 without a move); +27 ticks
      into the move / the move's total ticks;
    - +28 remaining stun / 30; +29 standing guard; +30 crouching guard; +31 has a projectile on screen.

    Then: 64 opponent x - viewer x (viewer frame) / stage width; 65 height difference / max jump
    height; 66 gap between the bodies / stage width; 67 viewer's projectile x - viewer x (0 if none);
    68 opponent projectile present; 69 its x - viewer x; 70 its velocity / 6 (negative = towards a
    viewer that faces it); 71 fraction of the round time left; 72 (viewer health - opponent health) /
    max health; 73 viewer's absolute facing (+1 right, -1 left; for keyboard mapping only); 74 distance
    from the viewer's back to the wall behind it / stage width; 75 frame advantage: (ticks until the
    opponent can act - ticks until the viewer can act) / 30. Values are clipped to [-1, 1].

    ## Rewards
    The change of ``(own health - opponent health) / max health`` each step, plus +1 for winning and
    -1 for losing the round (0 for a draw).

    ## Starting State
    Full health, 300 units apart in the middle of the stage, facing each other. ``side`` chooses which
    fighter (left or right) the agent controls.

    ## Episode End
    Terminates at a KO or when the round timer (``round_seconds``) runs out; at time-out the healthier
    fighter wins. ``info["winner"]`` is ``"agent"``, ``"opponent"`` or ``"draw"`` once over (None
    before), and ``info["is_success"]`` (SB3's convention) is then whether the agent won; ``info``
    also carries both healths and the step's events (hits, blocks, throws, ...). One step is
    :func:`envs.duel.step.decision_step`; ``env.on_tick = fn`` sees every tick of it.

    ## Arguments
    ``opponent`` (an agent; ``gym.make("sandbox/Duel-v0", opponent="scripted:hard")`` and
    ``agents.opponents.make_duel_env`` resolve spec strings, default ``"scripted:normal"``),
    ``frame_skip`` (ticks per step, default 4), ``flat_actions`` (default False), ``difficulty`` (None
    or a float in [0, 1]: the scripted opponent's strength; ``set_difficulty(x)`` changes it between episodes and
    ``reset(options={"difficulty": x})`` overrides it for one episode), ``round_seconds`` (default
    60), ``side`` (``"left"``, ``"right"`` or ``"random"``), ``render_mode`` (None, ``"human"``,
    ``"rgb_array"``). An opponent with an ``rng``
    attribute is given the env's ``np_random`` at every reset, so seeded rollouts repeat exactly.

    ## Version History
    - v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": TICKS_PER_SECOND}

    def __init__(
        self,
        *,
        opponent: Any = None,
        frame_skip: int = 4,
        flat_actions: bool = False,
        difficulty: float | None = None,
        round_seconds: float = 60,
        side: str = "left",
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'human' or 'rgb_array'; got {render_mode!r}")
        frame_skip = check_int("frame_skip", frame_skip, 1)
        if side not in ("left", "right", "random"):
            raise ValueError(f"side must be 'left', 'right' or 'random'; got {side!r}")
        # at least one tick; at most an hour (a demo round then has at most 216,000 decision steps)
        round_seconds = check_number("round_seconds", round_seconds, 1.0 / TICKS_PER_SECOND, 3600.0)
        self.render_mode = render_mode
        self.frame_skip = int(frame_skip)
        self.flat_actions = bool(flat_actions)
        self.round_ticks = int(round(round_seconds * TICKS_PER_SECOND))
        self.side = side
        self.difficulty = None if difficulty is None else _check_difficulty(difficulty)
        self.action_space, self.observation_space = duel_spaces(self.flat_actions)
        if opponent is None:
            raise TypeError("DuelEnv needs opponent=<an agent>; gym.make('sandbox/Duel-v0', ...) and "
                            "agents.opponents.make_duel_env(...) build one from a spec (default 'scripted:normal')")
        if isinstance(opponent, str) or not hasattr(opponent, "predict"):
            raise TypeError(
                f"DuelEnv(opponent=...) takes an agent (an object with predict()), got {opponent!r}; a spec "
                "string such as 'scripted:hard' is resolved by gym.make('sandbox/Duel-v0', opponent=...) or "
                "agents.opponents.make_duel_env(opponent=...) (envs imports no agents)"
            )
        self.opponent_spec = type(opponent).__name__  # make_duel_env sets the spec string it resolved
        self.opponent = opponent
        self.on_tick = None  # optional hook on_tick(state, events) after every tick (the watcher draws)
        self.state: DuelState = rules.initial_state(self.round_ticks)
        self.me = 0
        self._opp_obs: np.ndarray | None = None
        self._last_events: list[dict] = []
        self._renderer = None

    # ---- difficulty -----------------------------------------------------------------------------
    def set_difficulty(self, difficulty: float | None) -> None:
        """Set the scripted opponent's strength in [0, 1] (None: its preset) from the next reset."""
        self.difficulty = None if difficulty is None else _check_difficulty(difficulty)

    # ---- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        difficulty = self.difficulty
        if "difficulty" in options:
            difficulty = _check_difficulty(options["difficulty"])
        if hasattr(self.opponent, "rng"):
            self.opponent.rng = self.np_random  # the generator is replaced when reseeded
        if hasattr(self.opponent, "set_difficulty"):
            self.opponent.set_difficulty(difficulty)
        self.episode_difficulty = difficulty
        if hasattr(self.opponent, "reset"):
            self.opponent.reset()
        if self.side == "random":
            self.me = int(self.np_random.integers(2))
        else:
            self.me = 0 if self.side == "left" else 1
        self.state = rules.initial_state(self.round_ticks)
        self._last_events = []
        if self.render_mode == "human":
            self.render()
        self._opp_obs = observe(self.state, 1 - self.me)
        return observe(self.state, self.me), self._info([])

    def step(self, action):
        if self.state.over:
            raise RuntimeError(episode_over_message("sandbox/Duel-v0"))
        action = self._check_action(action)
        mine = decode_action(action)
        opp_action, _ = self.opponent.predict(self._opp_obs, deterministic=False)
        theirs = decode_action(opp_action)
        p0, p1 = (mine, theirs) if self.me == 0 else (theirs, mine)
        self._last_inputs = (p0, p1)  # for the renderer's input history (training-mode aids)
        on_tick = self.on_tick
        if self.render_mode == "human":
            on_tick = self._draw_tick if on_tick is None else _both(self._draw_tick, on_tick)
        result = decision_step(self.state, p0, p1, self.frame_skip, on_tick)
        reward = result.reward0 if self.me == 0 else -result.reward0
        self._last_events = result.events
        self._opp_obs = observe(self.state, 1 - self.me)
        return observe(self.state, self.me), float(reward), result.over, False, self._info(result.events)

    def _draw_tick(self, state, events) -> None:
        self._last_events = events
        self.render()

    def _check_action(self, action):
        """The agent's action, checked as every sandbox env checks one (:mod:`envs.checks`): an integer
        in [0, 36) or an integer pair [stick, button]; floats and strings are refused, not truncated."""
        valid = (f"an integer pair [stick, button] in [0, {N_STICK}) x [0, {N_BUTTON}), or an integer "
                 f"stick * {N_BUTTON} + button in [0, {N_STICK * N_BUTTON})")
        if isinstance(action, np.ndarray) and action.ndim == 1 or isinstance(action, list | tuple):
            return pair_action(action, (N_STICK, N_BUTTON), "sandbox/Duel-v0", valid)
        return discrete_action(action, N_STICK * N_BUTTON, "sandbox/Duel-v0", valid)

    def _info(self, events: list[dict]) -> dict:
        s = self.state
        roles = ("agent", "opponent") if self.me == 0 else ("opponent", "agent")
        if s.over:
            winner = "draw" if s.winner is None else roles[s.winner]
        else:
            winner = None
        info = {
            "agent_health": s.fighters[self.me].health,
            "opponent_health": s.fighters[1 - self.me].health,
            "winner": winner,
            "tick": s.tick,
            "events": [{**e, "by": roles[e["by"]] if e["by"] in (0, 1) else None} for e in events],
        }
        if s.over:
            info["is_success"] = winner == "agent"  # success, defined here once: the round won (a draw is not)
        return info

    # ---- rendering ------------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array' or 'human'")
            return None
        if self._renderer is None:
            from envs.duel.render import DuelRenderer

            self._renderer = DuelRenderer(self.render_mode, fps=TICKS_PER_SECOND)
        labels = ("you", "cpu") if self.me == 0 else ("cpu", "you")
        return self._renderer.draw(self.state, self._last_events, labels=labels,
                                   inputs=getattr(self, "_last_inputs", None))

    @property
    def renderer(self):
        """The pygame renderer (None until the first render); its ``show_hitboxes`` toggles with F1."""
        return self._renderer

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_renderer"] = None  # pygame surfaces do not pickle; a copy opens its own window lazily
        d["on_tick"] = None  # a hook belongs to whoever is watching this instance, not to a copy
        return d


def duel_spaces(flat_actions: bool = False) -> tuple[spaces.Space, spaces.Box]:
    """``(action_space, observation_space)`` of the duel: ``MultiDiscrete([9, 4])`` (``Discrete(36)`` with
    ``flat_actions``) and ``Box(-1, 1, (OBS_SIZE,), float32)``."""
    action = spaces.Discrete(N_STICK * N_BUTTON) if flat_actions else spaces.MultiDiscrete([N_STICK, N_BUTTON])
    return action, spaces.Box(-1.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32)


def _check_difficulty(x: Any) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"difficulty must be a number in [0, 1]; got {x!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1]; got {value}")
    return value


def _both(first, second):
    def on_tick(state, events):
        first(state, events)
        second(state, events)

    return on_tick


def obs_layout_hash() -> str:
    """A 16-hex-digit hash of the duel's observation *layout* (not of any data).

    It covers every named offset of this module (``F_*``, ``OBS_*``, ``SELF``, ``OPP``,
    ``FIGHTER_FEATURES``), the one-hot widths and the action sizes, so moving, adding or removing a
    feature changes it, and demos and ghosts recorded for another layout are rejected instead of
    silently misread (:mod:`agents.ghost`)."""
    import hashlib

    here = globals()
    names = sorted(n for n, v in here.items() if type(v) is int and (
        n.startswith(("F_", "OBS_")) or n in ("SELF", "OPP", "FIGHTER_FEATURES")))
    parts = [f"{n}={here[n]}" for n in names]
    parts += [f"N_STATES={rules.N_STATES}", f"N_MOVES={rules.N_MOVES}", f"N_STICK={rules.N_STICK}",
              f"N_BUTTON={rules.N_BUTTON}"]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]
