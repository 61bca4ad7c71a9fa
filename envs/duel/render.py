"""pygame drawing of a duel state (imported lazily: only when an env renders).

The renderer reads the state and the tick's events and changes neither. Its own UI state is the
spark animations, the F1 hitbox overlay, pause and the quit request.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from envs.duel import rules
from envs.duel.controls import CONTROLS_TEXT, handle_events
from envs.duel.rules import FRAME_DATA, MAX_HEALTH, STAGE_WIDTH, TICKS_PER_SECOND, FState, Move

WIDTH, HEIGHT = STAGE_WIDTH, 450
FLOOR = 400  # screen y of the floor
COLORS = ((70, 130, 230), (230, 80, 70))
STATE_NAMES = {s: s.name.lower() for s in FState}


class DuelRenderer:
    """Draws a :class:`rules.DuelState` to a window (``"human"``) or an array (``"rgb_array"``)."""

    def __init__(self, mode: str, fps: int = TICKS_PER_SECOND):
        self.mode, self.fps = mode, fps
        self.show_hitboxes = False
        self.paused = False
        self.quit_requested = False
        self.show_controls_ticks = 4 * TICKS_PER_SECOND  # the controls stay on screen this long
        self._sparks: list[list] = []  # [x, y, ticks_left, color]
        self._last_tick = -1
        if mode == "human":
            pygame.display.init()
            self.window = pygame.display.set_mode((WIDTH, HEIGHT))
            pygame.display.set_caption("game-ai-sandbox: duel")
            self.clock = pygame.time.Clock()
        else:
            self.window, self.clock = None, None
        pygame.font.init()
        self.font = pygame.font.Font(None, 22)
        self.big = pygame.font.Font(None, 40)
        self.canvas = pygame.Surface((WIDTH, HEIGHT))

    # ---- drawing ---------------------------------------------------------------------------------
    def draw(self, s: rules.DuelState, events: list[dict], labels=("P1", "P2")):
        self._add_sparks(s, events)
        c = self.canvas
        c.fill((24, 26, 36))
        pygame.draw.rect(c, (60, 56, 52), (0, FLOOR, WIDTH, HEIGHT - FLOOR))
        for i, f in enumerate(s.fighters):
            self._draw_fighter(c, f, COLORS[i])
        for i, p in enumerate(s.projectiles):
            if p is not None:
                y = FLOOR - (FRAME_DATA[Move.PROJECTILE].box_low + FRAME_DATA[Move.PROJECTILE].box_high) // 2
                pygame.draw.circle(c, (255, 230, 120), (p.x, y), rules.PROJECTILE_HALF_WIDTH)
                pygame.draw.circle(c, COLORS[i], (p.x, y), rules.PROJECTILE_HALF_WIDTH // 2)
        for spark in self._sparks:
            x, y, left, color = spark
            pygame.draw.circle(c, color, (x, y), 6 + 2 * left, 3)
        self._draw_hud(c, s, labels)
        if self.show_hitboxes:
            self._draw_boxes(c, s)
        if s.tick < self.show_controls_ticks and self.mode == "human":
            for k, line in enumerate(CONTROLS_TEXT):
                img = self.font.render(line, True, (220, 220, 220))
                c.blit(img, (WIDTH // 2 - img.get_width() // 2, 120 + 22 * k))
        if s.over:
            name = None if s.winner is None else labels[s.winner]
            text = "DRAW" if name is None else (f"{name} win" if name == "you" else f"{name} wins").upper()
            img = self.big.render(text, True, (255, 255, 255))
            c.blit(img, (WIDTH // 2 - img.get_width() // 2, 180))
        if self.mode == "human":
            return self._present(s, labels)
        return np.transpose(np.array(pygame.surfarray.pixels3d(c)), axes=(1, 0, 2)).copy()

    def _present(self, s, labels) -> None:
        handle_events(pygame.event.get(), self)
        self.window.blit(self.canvas, (0, 0))
        pygame.display.flip()
        self.clock.tick(self.fps)
        while self.paused and not self.quit_requested:  # P: hold the picture until P again
            img = self.big.render("PAUSED (P)", True, (255, 255, 255))
            self.window.blit(img, (WIDTH // 2 - img.get_width() // 2, 240))
            pygame.display.flip()
            self.clock.tick(30)
            handle_events(pygame.event.get(), self)
        return None

    def _add_sparks(self, s, events) -> None:
        if s.tick != self._last_tick:
            for spark in self._sparks:
                spark[2] -= 1
            self._sparks = [sp for sp in self._sparks if sp[2] > 0]
            self._last_tick = s.tick
        for e in events:
            if e["type"] in ("hit", "block", "throw") and e["by"] in (0, 1):
                d = s.fighters[1 - e["by"]]
                color = {"hit": (255, 240, 90), "block": (120, 200, 255)}.get(e["type"], (255, 120, 255))
                self._sparks.append([d.x, FLOOR - d.y - d.height // 2, 8, color])
        del self._sparks[:-16]

    def _draw_fighter(self, c, f: rules.Fighter, color) -> None:
        h = f.height
        body = pygame.Rect(f.x - rules.HALF_WIDTH, FLOOR - f.y - h, 2 * rules.HALF_WIDTH, h)
        shade = color if f.state not in (FState.HITSTUN, FState.GRABBED) else (255, 255, 255)
        pygame.draw.rect(c, shade, body, border_radius=6)
        eye_x = f.x + f.facing * (rules.HALF_WIDTH - 8)
        pygame.draw.circle(c, (250, 250, 250), (eye_x, FLOOR - f.y - h + 15), 4)
        if f.guard:
            gx = f.x + f.facing * (rules.HALF_WIDTH + 4)
            pygame.draw.line(c, (200, 220, 255), (gx, FLOOR - f.y - h), (gx, FLOOR - f.y), 3)
        box = rules.attack_box(f)
        if box is not None:  # the striking limb
            x0, x1, y0, y1 = box
            limb = (x0, FLOOR - y1 + (y1 - y0) // 3, x1 - x0, max(6, (y1 - y0) // 4))
            pygame.draw.rect(c, (250, 250, 250), limb)

    def _draw_hud(self, c, s, labels) -> None:
        for i, f in enumerate(s.fighters):
            w = 320
            x = 20 if i == 0 else WIDTH - 20 - w
            pygame.draw.rect(c, (80, 20, 20), (x, 20, w, 18))
            fill = int(w * max(f.health, 0) / MAX_HEALTH)
            fx = x if i == 0 else x + w - fill
            pygame.draw.rect(c, (240, 200, 60), (fx, 20, fill, 18))
            pygame.draw.rect(c, (255, 255, 255), (x, 20, w, 18), 2)
            name = rules.MOVE_NAMES[f.move] if f.move else STATE_NAMES[f.state]
            img = self.font.render(f"{labels[i]}  {name}", True, COLORS[i])
            c.blit(img, (x if i == 0 else x + w - img.get_width(), 44))
        seconds = max(s.round_ticks - s.tick, 0) // TICKS_PER_SECOND
        img = self.big.render(f"{seconds:02d}", True, (255, 255, 255))
        c.blit(img, (WIDTH // 2 - img.get_width() // 2, 14))

    def _draw_boxes(self, c, s) -> None:
        for f in s.fighters:
            x0, x1, y0, y1 = rules.hurtbox(f)
            pygame.draw.rect(c, (60, 255, 60), (x0, FLOOR - y1, x1 - x0, y1 - y0), 1)
            box = rules.attack_box(f)
            if box is not None:
                x0, x1, y0, y1 = box
                pygame.draw.rect(c, (255, 40, 40), (x0, FLOOR - y1, x1 - x0, y1 - y0), 2)
        pd = FRAME_DATA[Move.PROJECTILE]
        for p in s.projectiles:
            if p is not None:
                hw = rules.PROJECTILE_HALF_WIDTH
                rect = (p.x - hw, FLOOR - pd.box_high, 2 * hw, pd.box_high - pd.box_low)
                pygame.draw.rect(c, (255, 40, 40), rect, 2)

    def close(self) -> None:
        if self.mode == "human" and pygame.display.get_init():
            pygame.display.quit()
