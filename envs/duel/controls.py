"""Keyboard for the duel: the key map, window commands (Esc, P, F1) and :class:`HumanAgent`.

pygame is imported inside the functions, so importing this module never touches a display.
Player 1: arrows for the stick, Z / X / C for light / heavy / special.
Player 2 (a second human as the opponent): W A S D for the stick, F / G / H for the buttons.
Window: Esc quits, P pauses, F1 toggles the hitbox overlay.
"""

from __future__ import annotations

import numpy as np

from envs.duel.rules import N_BUTTON, Button, Stick

# key names (pygame.key.key_code) per player: up, down, left, right, light, heavy, special
KEYMAPS = {
    1: ("up", "down", "left", "right", "z", "x", "c"),
    2: ("w", "s", "a", "d", "f", "g", "h"),
}
CONTROLS_TEXT = [
    "arrows: move / jump / crouch (hold back to guard, down-back to guard low)",
    "Z light   X heavy   C special (down+C projectile, C throw)",
    "forward+X overhead   down+X anti-air   Esc quit   P pause   F1 hitboxes",
]

# (vertical, forward) -> Stick, with vertical +1 up, -1 down and forward +1 towards the facing
_STICK = {
    (0, 0): Stick.NEUTRAL, (1, 0): Stick.UP, (1, 1): Stick.UP_FORWARD, (0, 1): Stick.FORWARD,
    (-1, 1): Stick.DOWN_FORWARD, (-1, 0): Stick.DOWN, (-1, -1): Stick.DOWN_BACK, (0, -1): Stick.BACK,
    (1, -1): Stick.UP_BACK,
}


def stick_from_keys(up: bool, down: bool, left: bool, right: bool, facing: int) -> int:
    """The facing-relative :class:`Stick` for the held arrow keys (opposite keys cancel)."""
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


def handle_events(events, ui) -> None:
    """Apply window commands from pygame events to ``ui`` (an object with ``quit_requested``,
    ``paused`` and ``show_hitboxes`` attributes)."""
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


class HumanAgent:
    """The person at the keyboard, speaking the agent protocol. Needs an open pygame window (the
    env's ``render_mode="human"``); reads the held keys each time ``predict`` is called."""

    def __init__(self, player: int = 1, flat: bool = False):
        if player not in KEYMAPS:
            raise ValueError(f"human player must be 1 or 2; got {player}")
        self.player = player
        self.flat = flat
        self._codes = None

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        import pygame

        from envs.duel.env import OBS_ABS_FACING

        if not pygame.display.get_init() or pygame.display.get_surface() is None:
            raise RuntimeError("the human agent needs the pygame window: use render_mode='human'")
        if self._codes is None:
            self._codes = [pygame.key.key_code(name) for name in KEYMAPS[self.player]]
        pygame.event.pump()
        held = pygame.key.get_pressed()
        up, down, left, right, light, heavy, special = (bool(held[c]) for c in self._codes)
        facing = 1 if float(observation[OBS_ABS_FACING]) >= 0 else -1
        stick = stick_from_keys(up, down, left, right, facing)
        button = button_from_keys(light, heavy, special)
        if self.flat:
            return stick * N_BUTTON + button, state
        return np.array([stick, button], dtype=np.int64), state


def make_human(arg: str | None, *, action_space=None, player: int = 1, **_) -> HumanAgent:
    """Factory for the ``human`` spec (the env passes ``player=2`` for its opponent slot)."""
    flat = action_space is not None and not hasattr(action_space, "nvec")
    return HumanAgent(player=player, flat=flat)
