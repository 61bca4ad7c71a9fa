"""``sandbox/Duel-v0``: the fighting duel as a single-agent Gymnasium environment (a batch of one)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.checks import check_choice, check_difficulty, discrete_action, episode_over_message, pair_action
from envs.duel import kernels as K
from envs.duel import layout as L
from envs.duel import rules
from envs.duel.config import DuelConfig
from envs.duel.core import DuelCore
from envs.duel.drives import DuelDrives
from envs.duel.layout import (  # noqa: F401  (the observation layout, re-exported under its old home)
    F_FACING,
    F_GUARD_CROUCH,
    F_GUARD_STAND,
    F_HEALTH,
    F_MOVE,
    F_PHASE,
    F_PROGRESS,
    F_PROJ,
    F_STATE,
    F_STUN,
    F_VX,
    F_VY,
    F_X,
    F_Y,
    FIGHTER_FEATURES,
    N_BUTTON,
    N_STICK,
    OBS_ABS_FACING,
    OBS_ADVANTAGE,
    OBS_BACK_WALL,
    OBS_DX,
    OBS_DY,
    OBS_GAP,
    OBS_HEALTH_DIFF,
    OBS_MY_PROJ_DX,
    OBS_OPP_PROJ,
    OBS_OPP_PROJ_DX,
    OBS_OPP_PROJ_VX,
    OBS_SIZE,
    OBS_TIME,
    OPP,
    SELF,
    STAGE_WIDTH,
    TICKS_PER_SECOND,
)
from envs.duel.rules import (  # noqa: F401  (names this module had before the layout had a module)
    FRAME_DATA,
    HALF_WIDTH,
    MAX_HEALTH,
    MAX_JUMP_HEIGHT,
    MAX_STUN,
    N_MOVES,
    N_STATES,
    PROJECTILE_SPEED,
    DuelState,
)
from envs.protocols import Agent, BatchedAgent, RecurrentState

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13

    from envs.duel.render import DuelRenderer

#: An action of the duel as ``step`` takes it: ``[stick, button]`` (an array or a sequence) or the flat
#: ``stick * 4 + button`` (an int, or a 0-d array).
DuelAction: TypeAlias = "np.ndarray | int | Sequence[int]"

_VALID_ACTION = (f"an integer pair [stick, button] in [0, {N_STICK}) x [0, {N_BUTTON}), or an integer "
                 f"stick * {N_BUTTON} + button in [0, {N_STICK * N_BUTTON})")
_NVEC = (N_STICK, N_BUTTON)
_PAIR = (2,)
_ROLES = (("agent", "opponent"), ("opponent", "agent"))


def observe(s: rules.DuelState, me: int) -> np.ndarray:
    """The float32 feature vector of fighter ``me`` (0 or 1) in state ``s``; see :class:`DuelEnv` for the layout."""
    F, P, G = rules.to_arrays(s)
    O = np.zeros((1, OBS_SIZE), dtype=np.float32)
    K.observe(O, F, P, G, rules.table(s.characters), 0, s.round_ticks, int(me))
    return O[0]


def decode_action(action: DuelAction) -> tuple[int, int]:
    """``(stick, button)`` from either action form: an int in [0, 36) (``stick * 4 + button``) or a
    pair ``[stick, button]``. Raises ValueError for anything else."""
    if type(action) is np.ndarray and action.shape == (2,):  # the common case, fast
        stick, button = action.tolist()
        if 0 <= stick < N_STICK and 0 <= button < N_BUTTON:
            return int(stick), int(button)
    if np.ndim(action) == 0:
        flat = int(action)  # type: ignore[arg-type]  # a 0-d array or an int (np.ndim says so)
        if not 0 <= flat < N_STICK * N_BUTTON:
            raise ValueError(f"flat duel action must be in [0, {N_STICK * N_BUTTON}); got {flat}")
        return flat // N_BUTTON, flat % N_BUTTON
    a = np.asarray(action).reshape(-1)
    if a.shape[0] != 2:
        raise ValueError(f"duel action must be [stick, button]; got shape {np.shape(action)}")
    stick, button = int(a[0]), int(a[1])
    if not (0 <= stick < N_STICK and 0 <= button < N_BUTTON):
        raise ValueError(f"duel action [stick, button] must be in [0,{N_STICK})x[0,{N_BUTTON}); got {a}")
    return stick, button


def _speaks_batched(opponent: object) -> TypeIs[BatchedAgent]:
    """Whether ``opponent`` has the batched protocol's methods (``bind``, ``reset_envs``, ``act``)."""
    return all(hasattr(opponent, a) for a in ("bind", "reset_envs", "act"))


class PredictOpponent:
    """An agent speaking the single-env protocol (``predict``, optional ``reset`` and ``rng``) as the
    opponent of a batch of one: it is given the env's generator at every reset, as before batching, and
    its recurrent state is passed back to it with ``episode_start`` set on the round's first decision."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.spec = getattr(agent, "spec", type(agent).__name__)
        self.state: RecurrentState = None
        self.first = np.ones(1, dtype=np.bool_)

    def bind(self, num_envs: int) -> None:
        if num_envs != 1:
            raise ValueError(f"an opponent with predict() only plays one round at a time; got {num_envs} rounds: "
                             "pass a spec string or a batched agent (agents.make_batched_agent)")

    def start(self, rng: np.random.Generator, difficulty: float | None) -> None:
        agent = self.agent
        if hasattr(agent, "rng"):
            agent.rng = rng  # the generator is replaced when reseeded
        if hasattr(agent, "set_difficulty"):
            agent.set_difficulty(difficulty)
        if hasattr(agent, "reset"):
            agent.reset()
        self.state, self.first[0] = None, True

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        action, self.state = self.agent.predict(obs[0], state=self.state, episode_start=self.first,
                                                deterministic=False)
        self.first[0] = False
        out[0] = decode_action(action)


class DuelEnv(gym.Env[np.ndarray, DuelAction]):
    """A frame-accurate 2-D fighting duel between the agent and an opponent agent.

    ## Description
    Two fighters on a side-view stage with walls, at 60 ticks per second (the rules are in
    :mod:`envs.duel.kernels`; the frame data and physics of each fighter are a character table,
    ``envs/duel/characters/default.toml``). The agent plays one fighter; the opponent slot holds any
    agent (``random``, ``scripted:easy|normal|hard|rushdown|zoner|turtle``, ``sb3:PATH``, ``bundled:NAME``,
    ``human`` or an agent object), which sees the same features from its own side. This env is a batch
    of one of the batched duel (:class:`envs.duel.vector.DuelVectorEnv`): the same arrays and kernels.

    ## Action Space
    ``MultiDiscrete([9, 4])``: a stick direction relative to facing (:class:`envs.duel.layout.Stick`: 0
    neutral, 1 up, 2 up-forward, 3 forward, 4 down-forward, 5 down, 6 down-back, 7 back, 8 up-back) and
    a button (:class:`envs.duel.layout.Button`: 0 none, 1 light, 2 heavy, 3 special). With
    ``flat_actions=True`` it is ``Discrete(36)``, action ``stick * 4 + button``. Moves: light = jab (down:
    low), heavy = heavy (forward: overhead, down: anti-air), special = throw (down: projectile);
    light/heavy in the air = air kick. The action is held for ``frame_skip`` ticks.

    ## Observation Space
    ``Box(-1, 1, (76,), float32)`` (names in :mod:`envs.duel.layout`). x coordinates are in the viewer's
    frame (mirrored so that the viewer faces +x). Indices 0..31 describe the viewer, 32..63 the
    opponent, with the same layout:

    - +0 x / stage width; +1 y / max jump height; +2 vx / 8; +3 vy / (jump speed + gravity); +4 health /
      max health;
    - +5 facing relative to the viewer's facing (+1 same, -1 opposite);
    - +6..+14 one-hot state (stand, walk forward, walk back, crouch, air, attack, hitstun, blockstun,
      grabbed);
    - +15..+23 one-hot move (none, jab, heavy, low, overhead, anti_air, air_kick, throw, projectile);
    - +24..+26 one-hot phase of the move (startup, active, recovery; all 0 without a move); +27 ticks
      into the move / the move's total ticks;
    - +28 remaining stun / the longest stun of the table (30); +29 standing guard; +30 crouching guard;
      +31 has a projectile on screen.

    Then: 64 opponent x - viewer x (viewer frame) / stage width; 65 height difference / max jump
    height; 66 gap between the bodies / stage width; 67 viewer's projectile x - viewer x (0 if none);
    68 opponent projectile present; 69 its x - viewer x; 70 its velocity / its speed (negative =
    towards a viewer that faces it); 71 fraction of the round time left; 72 (viewer health - opponent
    health) / max health; 73 viewer's absolute facing (+1 right, -1 left; for keyboard mapping only); 74
    distance from the viewer's back to the wall behind it / stage width; 75 frame advantage: (ticks
    until the opponent can act - ticks until the viewer can act) / 30. Values lie in [-1, 1].

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
    also carries both healths, the tick and the step's events (hits, blocks, grabs, throws, escapes,
    projectiles, clashes, the end). ``env.on_tick = fn`` sees every tick of a step: ``fn(state, events)``.

    ## Arguments
    ``opponent`` (an agent: a batched agent or one with ``predict``; ``gym.make("sandbox/Duel-v0",
    opponent="scripted:hard")`` and ``agents.opponents.make_duel_env`` resolve spec strings, default
    ``"scripted:normal"``), ``difficulty`` (None or a float in [0, 1]: the scripted opponent's strength;
    ``set_difficulty(x)`` changes it between episodes and ``reset(options={"difficulty": x})`` overrides
    it for one episode), ``render_mode`` (None, ``"human"``, ``"rgb_array"``), and the settings of
    :class:`envs.duel.config.DuelConfig`, as ``config=`` or as keywords: ``frame_skip`` (ticks per step,
    default 4), ``flat_actions`` (default False), ``round_seconds`` (default 60), ``side`` (``"left"``,
    ``"right"`` or ``"random"``), ``character`` (a shipped name, a TOML file, an
    :class:`envs.duel.character.Character`, or a ``(left, right)`` pair; default ``"default"``), ``drives``
    (None, or the agent's drive table: ``"default"``, pain and boredom, a TOML file or a
    :class:`envs.drives.table.DriveTable`; its levels are appended to the observation, the reward is the
    table's and ``info`` holds ``drives``, ``drive_reward`` and ``unshaped_reward``: docs/drives.md). The
    opponent's random draws are keyed by a seed drawn from the env's generator at every reset (an
    opponent with only ``predict`` and an ``rng`` attribute is given the generator itself), so seeded
    rollouts repeat exactly.

    ## Version History
    - v0: initial version. Since 2026-12: the single env is a batch of one of the batched kernels;
      fighters are character tables (``character=``); events include ``grab``; the scripted opponents
      draw from a counter-based stream, so seeded rollouts differ from earlier releases while the game,
      its observation and its rewards are unchanged.

    ## Examples
    One round against the hard scripted fighter, walking forward and jabbing:

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import envs  # registers the sandbox/* ids
    >>> env = gym.make("sandbox/Duel-v0", opponent="scripted:hard")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype, env.action_space
    ((76,), dtype('float32'), MultiDiscrete([9 4]))
    >>> terminated = truncated = False
    >>> while not (terminated or truncated):
    ...     obs, reward, terminated, truncated, info = env.step(np.array([3, 1]))  # forward, light
    ...     assert -2.0 <= reward <= 2.0 and -1.0 <= obs.min() <= obs.max() <= 1.0
    >>> info["winner"] in ("agent", "opponent", "draw"), info["is_success"] == (info["winner"] == "agent")
    (True, True)
    >>> env.close()
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": TICKS_PER_SECOND}

    def __init__(self, *, opponent: BatchedAgent | Agent | None = None, config: DuelConfig | None = None,
                 difficulty: float | None = None, render_mode: str | None = None, **settings: Any):
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.config = DuelConfig.build(config, **settings)
        self.render_mode = render_mode
        self.frame_skip, self.flat_actions = self.config.frame_skip, self.config.flat_actions
        self.round_ticks, self.side = self.config.round_ticks, self.config.side
        self.difficulty = None if difficulty is None else check_difficulty(difficulty)
        self.action_space, self.observation_space = duel_spaces(self.flat_actions)
        if opponent is None:
            raise TypeError("DuelEnv needs opponent=<an agent>; gym.make('sandbox/Duel-v0', ...) and "
                            "agents.opponents.make_duel_env(...) build one from a spec (default 'scripted:normal')")
        batched = _speaks_batched(opponent)
        if isinstance(opponent, str) or not (batched or hasattr(opponent, "predict")):
            raise TypeError(
                f"DuelEnv(opponent=...) takes an agent (a batched agent or one with predict()), got {opponent!r}; "
                "a spec string such as 'scripted:hard' is resolved by gym.make('sandbox/Duel-v0', opponent=...) or "
                "agents.opponents.make_duel_env(opponent=...) (envs imports no agents)")
        self.opponent = opponent  # as given; _opp is what the core calls
        self._opp: BatchedAgent | PredictOpponent = (
            opponent if _speaks_batched(opponent) else PredictOpponent(opponent))
        self._opp.bind(1)
        self.opponent_spec = getattr(opponent, "spec", type(opponent).__name__)  # make_duel_env sets the spec
        # optional hook on_tick(state, events) after every tick (the watcher draws)
        self.on_tick: Callable[[rules.DuelState, list[dict[str, Any]]], object] | None = None
        self._core = DuelCore(1, self.config, events=True)
        self.drives = DuelDrives(self.config.drives, self._core) if self.config.drives is not None else None
        if self.drives is not None:
            self.observation_space = spaces.Box(-1.0, 1.0, shape=(OBS_SIZE + self.drives.state.size,),
                                                dtype=np.float32)
        if render_mode is not None:  # a watched env steps tick by tick: load those kernels now, not mid-round
            self._core.reset()
            self._core.step_by_tick(lambda k: None)
        self._core.reset()
        self.me = 0
        self.episode_difficulty = self.difficulty
        self._over = False
        self._last_events: list[dict[str, Any]] = []
        self._renderer: DuelRenderer | None = None
        self._one = np.ones(1, dtype=np.bool_)
        self._idx0 = np.zeros(1, dtype=np.int64)
        self._seed = np.zeros(1, dtype=np.int64)
        self._diff = np.full(1, np.nan)

    # ---- difficulty -----------------------------------------------------------------------------
    def set_difficulty(self, difficulty: float | None) -> None:
        """Set the scripted opponent's strength in [0, 1] (None: its preset) from the next reset."""
        self.difficulty = None if difficulty is None else check_difficulty(difficulty)

    # ---- the state, as a value --------------------------------------------------------------------
    @property
    def state(self) -> rules.DuelState:
        """The round as a :class:`rules.DuelState` (a copy: for drawing and checks); assign a state to
        set the round (both observations follow)."""
        return self._core.state(0)

    @state.setter
    def state(self, s: rules.DuelState) -> None:
        self._core.write_state(0, s)
        self._core.observe()
        self._over = bool(s.over)

    # ---- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        difficulty = self.difficulty
        if options and "difficulty" in options:
            difficulty = check_difficulty(options["difficulty"])
        self.episode_difficulty = difficulty
        if isinstance(self._opp, PredictOpponent):
            self._opp.start(self.np_random, difficulty)
        else:
            self._seed[0] = self.np_random.integers(2**63)
            self._diff[0] = np.nan if difficulty is None else difficulty
            self._opp.reset_envs(self._idx0, self._seed, self._diff)
        if self.side == "random":
            self.me = int(self.np_random.integers(2))
        else:
            self.me = 0 if self.side == "left" else 1
        core = self._core
        core.me[0] = self.me
        core.reset()
        self._over = False
        self._last_events = []
        if self.render_mode == "human":
            self.render()
        if self.drives is not None:
            self.drives.start()
            info = self._info()
            info["drives"] = self.drives.state.h[0].copy()
            return self.drives.observe(core.obs[:1, 0])[0], info
        return core.obs[0, 0].copy(), self._info()

    def step(self, action: DuelAction) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._over:
            raise RuntimeError(episode_over_message("sandbox/Duel-v0"))
        core = self._core
        act = core.act[0]
        if type(action) is np.ndarray and action.shape == _PAIR and action.dtype.kind in "iu":  # the common case
            stick, button = action.tolist()
            if not (0 <= stick < N_STICK and 0 <= button < N_BUTTON):
                pair_action(action, _NVEC, "sandbox/Duel-v0", _VALID_ACTION)  # raises, naming the action
            act[0, 0] = stick
            act[0, 1] = button
        elif isinstance(action, np.ndarray) and action.ndim == 1 or isinstance(action, list | tuple):
            act[0] = pair_action(action, _NVEC, "sandbox/Duel-v0", _VALID_ACTION)
        else:
            a = discrete_action(action, N_STICK * N_BUTTON, "sandbox/Duel-v0", _VALID_ACTION)
            act[0, 0], act[0, 1] = divmod(a, N_BUTTON)
        self._opp.act(core.obs_other, self._one, act[1:])
        if self.on_tick is None and self.render_mode != "human":
            core.step()
        else:
            core.step_by_tick(self._tick_hook)
        terminated = bool(core.terminated[0])
        self._over = terminated
        self._last_events = core.events(0) if core.EV[0, 0, 0] else []
        if self.drives is not None:
            return self._step_drives(terminated)
        return core.obs[0, 0].copy(), float(core.reward[0]), terminated, False, self._info()

    def _step_drives(self, terminated: bool) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The step's outputs with drives: their reward, the levels appended, and in info the game's reward
        (``unshaped_reward``), the drive reward and the levels."""
        core, drives = self._core, self.drives
        assert drives is not None
        drive_reward = drives.step(None)
        reward = float(drives.state.reward(core.reward, drive_reward)[0])
        info = self._info()
        info["unshaped_reward"], info["drive_reward"] = float(core.reward[0]), float(drive_reward[0])
        info["drives"] = drives.state.h[0].copy()
        return drives.observe(core.obs[:1, 0])[0], reward, terminated, False, info

    def _tick_hook(self, k: int) -> None:
        self._last_events = self._core.events(0)
        if self.render_mode == "human":
            self.render()
        if self.on_tick is not None:
            self.on_tick(self.state, self._last_events)

    def _info(self) -> dict[str, Any]:
        core, me = self._core, self.me
        F, G = core.F, core.G
        roles = _ROLES[me]
        events = self._last_events
        info: dict[str, Any] = {
            "agent_health": int(F[0, me, L.HEALTH]),
            "opponent_health": int(F[0, 1 - me, L.HEALTH]),
            "winner": None,
            "tick": int(G[0, L.G_TICK]),
            "events": [{**e, "by": roles[e["by"]] if e["by"] in (0, 1) else None} for e in events] if events else [],
        }
        if G[0, L.G_OVER]:
            w = int(G[0, L.G_WINNER])
            info["winner"] = "draw" if w < 0 else roles[w]
            info["is_success"] = info["winner"] == "agent"  # success, defined here once: the round won
        return info

    # ---- rendering ------------------------------------------------------------------------------
    # gymnasium types render() with a type variable bound nowhere (RenderFrame): no override can match it
    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array' or 'human'")
            return None
        if self._renderer is None:
            from envs.duel.render import DuelRenderer

            self._renderer = DuelRenderer(self.render_mode, fps=TICKS_PER_SECOND)
        labels = ("you", "cpu") if self.me == 0 else ("cpu", "you")
        act = self._core.act[0].tolist()  # the last inputs, agent's first (for the input history)
        inputs = (tuple(act[0]), tuple(act[1])) if self.me == 0 else (tuple(act[1]), tuple(act[0]))
        return self._renderer.draw(self.state, self._last_events, labels=labels, inputs=inputs)

    @property
    def renderer(self) -> DuelRenderer | None:
        """The pygame renderer (None until the first render); its ``show_hitboxes`` toggles with F1."""
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_renderer"] = None  # pygame surfaces do not pickle; a copy opens its own window lazily
        d["on_tick"] = None  # a hook belongs to whoever is watching this instance, not to a copy
        return d


def duel_spaces(flat_actions: bool = False) -> tuple[spaces.Space, spaces.Box]:
    """``(action_space, observation_space)`` of the duel: ``MultiDiscrete([9, 4])`` (``Discrete(36)`` with
    ``flat_actions``) and ``Box(-1, 1, (OBS_SIZE,), float32)``."""
    action = spaces.Discrete(N_STICK * N_BUTTON) if flat_actions else spaces.MultiDiscrete([N_STICK, N_BUTTON])
    return action, spaces.Box(-1.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32)


def obs_layout_hash() -> str:
    """A 16-hex-digit hash of the duel's observation *layout* (not of any data).

    It covers every named offset of the layout (``F_*``, ``OBS_*``, ``SELF``, ``OPP``,
    ``FIGHTER_FEATURES``), the one-hot widths and the action sizes, so moving, adding or removing a
    feature changes it, and demos and ghosts recorded for another layout are rejected instead of
    silently misread (:mod:`agents.ghost`)."""
    import hashlib

    here = vars(L)
    names = sorted(n for n, v in here.items() if type(v) is int and (
        n.startswith(("F_", "OBS_")) or n in ("SELF", "OPP", "FIGHTER_FEATURES")))
    parts = [f"{n}={here[n]}" for n in names]
    parts += [f"N_STATES={L.N_STATES}", f"N_MOVES={L.N_MOVES}", f"N_STICK={L.N_STICK}", f"N_BUTTON={L.N_BUTTON}"]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]
