"""The one input module of the duel: keyboard and gamepads, the input buffer, window commands and
:class:`HumanAgent` (the ``human`` agent spec, used by ``sandbox play``, ``sandbox record`` and the
watcher's ``human`` slot).

pygame is imported inside the functions, so importing this module never touches a display.

How an input reaches the game, as fighting games do it:

- **Buttons are edges.** A ``KEYDOWN`` or a controller ``BUTTONDOWN`` event is a press. Whoever drains
  pygame's event queue (the duel's window, the watcher's loop, or :meth:`HumanAgent.predict` itself)
  goes through :func:`pump`, which hands every event to every live human player before the window
  sees it, so a press that starts and ends between two decisions is never lost.
- **The input buffer.** A press is latched (:class:`ButtonLatch`) and applied at the next decision at
  which the fighter can act. If the fighter is still busy (in a move's recovery, in stun), the press
  waits, and comes out on the fighter's first free tick if that tick is at most :data:`BUFFER_TICKS`
  ticks after the press; later than that it is dropped (a press made early in a long recovery does not
  fire by surprise). A press is always usable at the first decision after it, whatever the frame skip.
- **The stick is the held direction**: the arrow keys held now, or the pad's d-pad / left stick.

Player 1: arrows for the stick, Z / X / C for light / heavy / special. Player 2 (a second human as
the opponent): W A S D and F / G / H. Pads: d-pad or left stick; A light, B heavy, X special (Y also
special); pads are taken by players in the order they are plugged in, and can come and go at any
time (hot-plugging). Window: Esc quits, P pauses, F1 toggles the hitbox overlay, F2 the training-mode
aids. Keys and pad buttons can be remapped in a TOML file (:func:`load_controls`).
"""

from __future__ import annotations

import os
import tomllib
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from envs.duel.rules import N_BUTTON, Button, Stick
from envs.protocols import RecurrentState

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pygame
    from gymnasium import spaces

# An early press comes out if the fighter becomes free at most this many ticks (1/60 s) after it.
# 6 ticks = 0.1 s: more than one decision interval of the default frame skip (4 ticks), so a press
# just before a decision during the last ticks of a recovery still comes out, and short enough that
# a press in the middle of a long recovery (10-28 ticks) is dropped, as in commercial fighting games
# (their buffers are 3 to 10 frames).
BUFFER_TICKS = 6
INPUT_MODES = ("auto", "keyboard", "pad")
ACTIONS = ("up", "down", "left", "right", "light", "heavy", "special")
BUTTON_ACTIONS = {"light": int(Button.LIGHT), "heavy": int(Button.HEAVY), "special": int(Button.SPECIAL)}
# key names (pygame.key.key_code) per player: up, down, left, right, light, heavy, special
KEYMAPS = {
    1: ("up", "down", "left", "right", "z", "x", "c"),
    2: ("w", "s", "a", "d", "f", "g", "h"),
}
# pad buttons (SDL game-controller names) per game button; several buttons may give one game button
PAD_BUTTONS = {"a": "light", "b": "heavy", "x": "special", "y": "special"}
PAD_BUTTON_NAMES = ("a", "b", "x", "y", "back", "guide", "start", "leftstick", "rightstick",
                    "leftshoulder", "rightshoulder", "dpad_up", "dpad_down", "dpad_left", "dpad_right")
PAD_DEADZONE = 0.5  # left stick: fraction of full tilt that counts as a direction
CONTROLS_TEXT = [
    "arrows / d-pad: move, jump, crouch (hold back to guard, down-back to guard low)",
    "Z / A light   X / B heavy   C / X special (down+C projectile, C throw)",
    "forward+X overhead   down+X anti-air   Esc quit   P pause   F1 hitboxes   F2 training",
]

# (vertical, forward) -> Stick, with vertical +1 up, -1 down and forward +1 towards the facing
_STICK = {
    (0, 0): Stick.NEUTRAL, (1, 0): Stick.UP, (1, 1): Stick.UP_FORWARD, (0, 1): Stick.FORWARD,
    (-1, 1): Stick.DOWN_FORWARD, (-1, 0): Stick.DOWN, (-1, -1): Stick.DOWN_BACK, (0, -1): Stick.BACK,
    (1, -1): Stick.UP_BACK,
}
_PRIORITY = {int(Button.SPECIAL): 0, int(Button.HEAVY): 1, int(Button.LIGHT): 2}  # same tick: special first


def stick_from_keys(up: bool, down: bool, left: bool, right: bool, facing: int) -> int:
    """The facing-relative :class:`Stick` for the held directions (opposite directions cancel)."""
    vertical = int(up) - int(down)
    horizontal = int(right) - int(left)  # +1 towards larger x
    return int(_STICK[(vertical, horizontal * (1 if facing >= 0 else -1))])


def button_from_keys(light: bool, heavy: bool, special: bool) -> int:
    """One button; if several are held, special beats heavy beats light."""
    if special:
        return int(Button.SPECIAL)
    if heavy:
        return int(Button.HEAVY)
    return int(Button.LIGHT) if light else int(Button.NONE)


# ---- the input buffer (pure) ---------------------------------------------------------------------
@dataclass
class ButtonLatch:
    """Button presses waiting for the fighter, each ``[tick, button, deadline]``.

    :meth:`press` latches a press made at game tick ``tick``; :meth:`take` is called at each decision
    and returns the button to send for the coming ``span`` ticks (0 for none)."""

    buffer: int = BUFFER_TICKS
    pending: list = field(default_factory=list)

    def press(self, button: int, tick: int) -> None:
        self.pending.append([int(tick), int(button), None])
        self.pending.sort(key=lambda p: (p[0], _PRIORITY.get(p[1], 3)))
        del self.pending[:-8]  # a few at most; older ones could not come out anyway

    def clear(self) -> None:
        self.pending.clear()

    def take(self, now: int, lag: int, span: int = 1) -> int:
        """The button for the decision at tick ``now``, when the fighter's input is ignored for the
        next ``lag`` ticks (it acts on tick ``now + lag + 1``) and this decision's input is held for
        ``span`` ticks. A press comes out if the fighter acts within this span and no later than
        ``max(press tick + buffer, first decision after the press + 1)``; a press that cannot meet its
        deadline any more is dropped; the others wait for the next decision."""
        acts_at = now + lag + 1
        keep, out = [], 0
        for p in self.pending:
            if p[2] is None:  # first decision that sees this press
                p[2] = max(p[0] + self.buffer, now + 1) if p[0] <= now else now + self.buffer
            if acts_at > p[2]:
                continue  # too early a press: the fighter is busy past its buffer
            if out == 0 and lag < span:
                out = p[1]
                continue
            keep.append(p)
        self.pending = keep
        return out


def ticks_until_free(observation: np.ndarray) -> int:
    """How many of the next ticks ignore the viewer's input (its "lag"), read from its own features:
    the rest of a move (+1: the tick on which the move ends takes no input), stun - 1, or the rest of
    the arc of a jump whose one air attack is spent. 0 for a fighter that can act now."""
    from envs.duel import layout as L
    from envs.duel.rules import FRAME_DATA, GRAVITY, JUMP_SPEED, MAX_JUMP_HEIGHT, MAX_STUN, N_MOVES, FState, Move

    o = np.asarray(observation, dtype=np.float64)
    state = int(np.argmax(o[L.F_STATE:L.F_STATE + len(FState)]))
    move = int(np.argmax(o[L.F_MOVE:L.F_MOVE + N_MOVES]))
    if state in (FState.HITSTUN, FState.BLOCKSTUN):
        return max(int(round(o[L.F_STUN] * MAX_STUN)) - 1, 0)
    if state == FState.GRABBED:
        return 0  # the throw escape takes a press at once
    lag = 0
    if move:
        total = FRAME_DATA[Move(move)].total
        lag = total - int(round(o[L.F_PROGRESS] * total)) + 1
    if state == FState.AIR and move:  # after the air attack, nothing until landing
        # the observation scales y by the apex and vy by jump_speed + gravity (the default fighter's here)
        y, vy = int(round(o[L.F_Y] * MAX_JUMP_HEIGHT)), int(round(o[L.F_VY] * (JUMP_SPEED + GRAVITY)))
        land = 0
        while y > 0 and land < 64:
            y, vy, land = y + vy, vy - GRAVITY, land + 1
        lag = max(lag, land)
    return lag


# ---- the controls file ---------------------------------------------------------------------------
@dataclass
class Controls:
    """Key names per player (``up down left right light heavy special``), pad button -> game button,
    and the left stick's dead zone."""

    keys: dict = field(default_factory=lambda: {p: dict(zip(ACTIONS, k, strict=True)) for p, k in KEYMAPS.items()})
    pad: dict = field(default_factory=lambda: dict(PAD_BUTTONS))
    deadzone: float = PAD_DEADZONE


def load_controls(path: str | Path | None) -> Controls:
    """Read a controls file; missing entries keep their defaults. The format::

        [keys.p1]            # any of: up down left right light heavy special
        light = "j"          # a pygame key name ("a", "space", "left shift", "[4]" for keypad 4, ...)
        [keys.p2]
        up = "i"
        [pad]
        a = "light"          # SDL controller button -> light, heavy, special or none
        leftshoulder = "heavy"
        deadzone = 0.4       # left stick, fraction of full tilt

    Any bad entry raises ``ValueError`` with one line naming the file and the key."""
    controls = Controls()
    if path is None:
        return controls
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the controls file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    for section in data:
        if section not in ("keys", "pad"):
            raise ValueError(f"{path}: [{section}]: unknown section; valid: [keys.p1], [keys.p2], [pad]")
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise ValueError(f"{path}: keys: must be tables [keys.p1] / [keys.p2]")
    for player_name, table in keys.items():
        if player_name not in ("p1", "p2") or not isinstance(table, dict):
            raise ValueError(f"{path}: keys.{player_name}: unknown player table; valid: [keys.p1], [keys.p2]")
        player = int(player_name[1])
        for action, name in table.items():
            where = f"{path}: keys.{player_name}.{action}"
            if action not in ACTIONS:
                raise ValueError(f"{where}: unknown action; valid: {', '.join(ACTIONS)}")
            if not isinstance(name, str) or _key_code(name) is None:
                raise ValueError(f"{where} = {name!r}: not a pygame key name (e.g. \"z\", \"space\", \"left shift\")")
            controls.keys[player][action] = name
    pad = data.get("pad", {})
    if not isinstance(pad, dict):
        raise ValueError(f"{path}: pad: must be a table [pad]")
    for name, value in pad.items():
        where = f"{path}: pad.{name}"
        if name == "deadzone":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
                raise ValueError(f"{where} = {value!r}: must be a number in (0, 1)")
            controls.deadzone = float(value)
        elif name not in PAD_BUTTON_NAMES:
            raise ValueError(f"{where}: unknown pad button; valid: {', '.join(PAD_BUTTON_NAMES)}, deadzone")
        elif value not in (*BUTTON_ACTIONS, "none"):
            raise ValueError(f"{where} = {value!r}: must be one of light, heavy, special, none")
        elif value == "none":
            controls.pad.pop(name, None)
        else:
            controls.pad[name] = value
    return controls


def _key_code(name: str) -> int | None:
    import warnings

    import pygame

    try:
        with warnings.catch_warnings():  # "pygame.init() has not been called": names do not need it
            warnings.simplefilter("ignore")
            return pygame.key.key_code(name)
    except (ValueError, pygame.error):
        return None


# ---- the event hub -------------------------------------------------------------------------------
class _Hub:
    """pygame's event queue is one per process; this is its one reader. It stamps every event with
    the game tick last drawn (:func:`note_tick`), gives it to every live :class:`HumanAgent`, opens and
    closes game controllers as they are plugged in and out, and keeps the events for the window
    (:func:`window_events`)."""

    def __init__(self):
        self.tick = 0
        self.players: list = []  # weak references to HumanAgents
        self.backlog: list = []
        self.pads: dict = {}  # instance id -> controller object, in plug-in order

    def listeners(self) -> list:
        alive = [r() for r in self.players]
        self.players = [r for r, a in zip(self.players, alive, strict=True) if a is not None]
        return [a for a in alive if a is not None]

    def dispatch(self, events: Iterable[pygame.event.Event]) -> None:
        import pygame

        players = self.listeners()
        for ev in events:
            if ev.type == pygame.CONTROLLERDEVICEADDED:
                self.open_pad(ev.device_index)
            elif ev.type == pygame.CONTROLLERDEVICEREMOVED:
                self.pads.pop(getattr(ev, "instance_id", None), None)
            for p in players:
                p.feed(ev, self.tick)
        self.backlog.extend(events)
        del self.backlog[:-256]

    def open_pad(self, device_index: int) -> None:
        try:
            from pygame._sdl2 import controller

            pad = controller.Controller(device_index)
            self.pads[pad.as_joystick().get_instance_id()] = pad
        except Exception:  # not a game controller after all, or gone again
            pass

    def pad_for(self, player: int) -> tuple[int | None, Any]:
        """(instance id, controller) of the player-th pad plugged in, or (None, None)."""
        items = list(self.pads.items())
        return items[player - 1] if len(items) >= player else (None, None)


HUB = _Hub()


def note_tick(tick: int) -> None:
    """The game tick now on screen; presses read after this are stamped with it."""
    HUB.tick = int(tick)


def pump() -> None:
    """Read pygame's event queue and hand the events to the human players (the window gets them
    later from :func:`window_events`)."""
    import pygame

    HUB.dispatch(pygame.event.get())


def window_events() -> list:
    """Every event since the last call (after the human players have seen them): the window's
    loop calls this instead of ``pygame.event.get()``."""
    pump()
    events, HUB.backlog = HUB.backlog, []
    return events


def init_pads() -> None:
    """Start SDL's game-controller support; pads already plugged in arrive as DEVICEADDED events."""
    import pygame

    try:
        from pygame._sdl2 import controller

        if not pygame.joystick.get_init():
            pygame.joystick.init()
        if not controller.get_init():
            controller.init()
        for k in range(controller.get_count()):
            if controller.is_controller(k) and not any(
                    getattr(p, "id", None) == k for p in HUB.pads.values()):
                HUB.open_pad(k)
    except (ImportError, pygame.error):
        pass


def handle_events(events: Iterable[pygame.event.Event], ui: Any) -> None:
    """Apply window commands from pygame events to ``ui`` (an object with ``quit_requested``,
    ``paused``, ``show_hitboxes`` and optionally ``show_training`` attributes)."""
    import pygame

    for ev in events:
        if ev.type == pygame.QUIT:
            ui.quit_requested = True
        elif ev.type == pygame.KEYDOWN:
            if ev.key == pygame.K_ESCAPE:
                ui.quit_requested = True
            elif ev.key == pygame.K_p:
                ui.paused = not ui.paused
            elif ev.key == pygame.K_F1:
                ui.show_hitboxes = not ui.show_hitboxes
            elif ev.key == pygame.K_F2 and hasattr(ui, "show_training"):
                ui.show_training = not ui.show_training
        elif ev.type == pygame.CONTROLLERBUTTONDOWN and ev.button == pygame.CONTROLLER_BUTTON_START:
            ui.paused = not ui.paused


# ---- devices -------------------------------------------------------------------------------------
class PadReader:
    """One player's view of a game controller: the stick (d-pad, else left stick beyond the dead
    zone) and the game button of a controller button. ``pad`` is anything with ``get_button(b)`` and
    ``get_axis(a)`` (pygame's ``Controller``, or a stand-in in tests)."""

    def __init__(self, controls: Controls):
        import pygame

        self.deadzone = controls.deadzone
        self.buttons = {getattr(pygame, f"CONTROLLER_BUTTON_{name.upper()}"): BUTTON_ACTIONS[action]
                        for name, action in controls.pad.items()}
        self._dpad = tuple(getattr(pygame, f"CONTROLLER_BUTTON_DPAD_{d}") for d in ("UP", "DOWN", "LEFT", "RIGHT"))
        self._axes = (pygame.CONTROLLER_AXIS_LEFTX, pygame.CONTROLLER_AXIS_LEFTY)

    def button(self, sdl_button: int) -> int:
        return self.buttons.get(sdl_button, int(Button.NONE))

    def directions(self, pad: Any) -> tuple[bool, bool, bool, bool]:
        """(up, down, left, right) held on ``pad``."""
        up, down, left, right = (bool(pad.get_button(b)) for b in self._dpad)
        if not (up or down or left or right):
            x, y = (pad.get_axis(a) / 32767.0 for a in self._axes)  # SDL: y grows downwards
            up, down, left, right = y < -self.deadzone, y > self.deadzone, x < -self.deadzone, x > self.deadzone
        return up, down, left, right


class HumanAgent:
    """The person at the keyboard and/or a gamepad, speaking the agent protocol.

    Button presses are latched from events (see the module docstring) and the stick is read when
    :meth:`predict` is called. ``input`` is ``"keyboard"``, ``"pad"`` or ``"auto"`` (both: the pad adds
    to the keyboard when one is plugged in). ``frame_skip`` is the number of ticks each decision is
    held for (1 when ``predict`` is called every tick). ``presses`` counts the button presses read
    since the last :meth:`reset`, ``out`` the ones that came out."""

    def __init__(self, player: int = 1, flat: bool = False, *, input: str = "auto", controls: Controls | None = None,
                 frame_skip: int = 1, pad: Any = None):
        if player not in KEYMAPS:
            raise ValueError(f"human player must be 1 or 2; got {player}")
        if input not in INPUT_MODES:
            raise ValueError(f"input must be one of {', '.join(INPUT_MODES)}; got {input!r}")
        self.player, self.flat, self.input = player, flat, input
        self.controls = controls or Controls()
        self.frame_skip = max(int(frame_skip), 1)
        self.latch = ButtonLatch()
        self.presses = 0
        self.out = 0
        self._pad = pad  # a fixed controller object (tests); None: the hub's player-th pad
        self._keys: dict[str, int] | None = None  # action -> pygame key code
        self._reader: PadReader | None = None
        HUB.players.append(weakref.ref(self))
        if input != "keyboard" and pad is None:
            init_pads()

    # the hub stays process-wide; a pickled copy (SB3 / Ray workers) re-registers lazily
    def __getstate__(self):
        d = self.__dict__.copy()
        d["_keys"] = d["_reader"] = None
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        HUB.players.append(weakref.ref(self))

    def _setup(self) -> None:
        if self._keys is None:
            # (Controls refused any name without a key code)
            codes = {a: cast(int, _key_code(self.controls.keys[self.player][a])) for a in ACTIONS}
            self._keys = codes
            self._buttons = {codes[a]: b for a, b in BUTTON_ACTIONS.items()}
        if self._reader is None and self.input != "keyboard":
            self._reader = PadReader(self.controls)

    def pad(self) -> tuple[int | None, Any]:
        """(instance id, controller) of this player's pad, or (None, None)."""
        if self._pad is not None:
            return getattr(self._pad, "instance_id", None), self._pad
        return HUB.pad_for(self.player)

    def feed(self, ev: pygame.event.Event, tick: int) -> None:
        """Latch a press from one pygame event."""
        import pygame

        self._setup()
        button = 0
        if ev.type == pygame.KEYDOWN and self.input != "pad":
            button = self._buttons.get(ev.key, 0)
        elif ev.type == pygame.CONTROLLERBUTTONDOWN and self.input != "keyboard":
            pad_id, pad = self.pad()
            if pad is not None and getattr(ev, "instance_id", None) == pad_id:
                assert self._reader is not None  # _setup makes one for every input but the keyboard
                button = self._reader.button(ev.button)
        if button:
            self.presses += 1
            self.latch.press(button, tick)

    def reset(self) -> None:
        """A new round: forget the last round's presses, but keep any made since the new round's first
        picture went up (the env's reset draws it, stamped tick 0, before the caller resets us)."""
        self.latch.pending = [p for p in self.latch.pending if p[0] == HUB.tick == 0]
        self.presses, self.out = len(self.latch.pending), 0

    def stick(self, facing: int) -> int:
        import pygame

        self._setup()
        up = down = left = right = False
        if self.input != "pad" and pygame.display.get_init():
            held = pygame.key.get_pressed()
            k = self._keys
            assert k is not None  # _setup made it
            up, down, left, right = (bool(held[k[a]]) for a in ("up", "down", "left", "right"))
        if self.input != "keyboard" and not (up or down or left or right):
            _, pad = self.pad()
            if pad is not None:
                try:
                    assert self._reader is not None  # _setup makes one for every input but the keyboard
                    up, down, left, right = self._reader.directions(pad)
                except Exception:  # unplugged between the event and now
                    pass
        return stick_from_keys(up, down, left, right, facing)

    def decide(self, observation: np.ndarray, now: int) -> tuple[int, int]:
        """(stick, button) at the decision on game tick ``now`` (the events already fed)."""
        from envs.duel.layout import OBS_ABS_FACING

        facing = 1 if float(observation[OBS_ABS_FACING]) >= 0 else -1
        stick = self.stick(facing)
        button = self.latch.take(now, ticks_until_free(observation), self.frame_skip)
        self.out += button != 0
        return stick, button

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        import pygame

        if not pygame.display.get_init() or pygame.display.get_surface() is None:
            raise RuntimeError("the human agent needs the pygame window: use render_mode='human'")
        pump()
        stick, button = self.decide(observation, HUB.tick)
        if self.flat:
            return stick * N_BUTTON + button, state
        return np.array([stick, button], dtype=np.int64), state


CONTROLS_ENV = "SANDBOX_CONTROLS"  # the controls file, when no ``controls`` argument is given


def with_input(spec: str, input: str | None) -> str:
    """``human`` -> ``human:INPUT`` (other specs, and a human spec that names its input, unchanged)."""
    prefix, _, arg = spec.partition(":")
    return f"human:{input}" if prefix == "human" and not arg and input else spec


def use_controls_file(path: str | None) -> None:
    """Check the controls file now (one-line ``ValueError`` naming the file and key) and make every
    human player built later in this process use it (through ``$SANDBOX_CONTROLS``)."""
    if path:
        load_controls(path)
        os.environ[CONTROLS_ENV] = str(path)


def make_human(arg: str | None, *, action_space: spaces.Space | None = None, player: int = 1, frame_skip: int = 1,
               controls: Controls | str | Path | None = None, **_: Any) -> HumanAgent:
    """Factory for the ``human[:auto|keyboard|pad]`` spec (the env passes ``player=2`` for its opponent
    slot). ``controls`` is a :class:`Controls` or the path of a controls file (default:
    ``$SANDBOX_CONTROLS`` if set)."""
    flat = action_space is not None and not hasattr(action_space, "nvec")
    if controls is None:
        controls = os.environ.get(CONTROLS_ENV) or None
    if controls is None or isinstance(controls, str | Path):
        controls = load_controls(controls)
    if arg not in (None, *INPUT_MODES):
        raise ValueError(f"human:{arg}: the input must be one of {', '.join(INPUT_MODES)}")
    return HumanAgent(player=player, flat=flat, input=arg or "auto", controls=controls, frame_skip=frame_skip)
