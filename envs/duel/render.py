"""pygame drawing of a duel state (imported lazily: only when an env renders).

The renderer reads the state, the tick's events and the inputs, and changes none of them. Its own
UI state is the spark animations (started by hit / block / throw events), the input history of the
training-mode aids, the toggles (F1 hitbox overlay, F2 training-mode aids), pause and the quit request.

The fighters are stick figures drawn in code from :mod:`envs.duel.poses`: a pose for every state and
every phase of every move, the striking limb reaching into the real hitbox on the active ticks.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from envs.duel import poses, rules
from envs.duel.controls import CONTROLS_TEXT, handle_events, note_tick, window_events
from envs.duel.rules import FRAME_DATA, MAX_HEALTH, STAGE_WIDTH, TICKS_PER_SECOND, Button, FState, Move, Stick

WIDTH, HEIGHT = STAGE_WIDTH, 450
FLOOR = 400  # screen y of the floor
COLORS = ((70, 130, 230), (230, 80, 70))
STATE_NAMES = {s: s.name.lower() for s in FState}
HISTORY_ROWS = 14
BUTTON_GLYPHS = {int(Button.LIGHT): ("L", (120, 220, 120)), int(Button.HEAVY): ("H", (250, 170, 70)),
                 int(Button.SPECIAL): ("S", (220, 120, 250))}
# (dx, dy) on screen of a facing-relative stick direction for a fighter facing right
STICK_ARROWS = {Stick.NEUTRAL: (0, 0), Stick.UP: (0, -1), Stick.UP_FORWARD: (1, -1), Stick.FORWARD: (1, 0),
                Stick.DOWN_FORWARD: (1, 1), Stick.DOWN: (0, 1), Stick.DOWN_BACK: (-1, 1), Stick.BACK: (-1, 0),
                Stick.UP_BACK: (-1, -1)}
PHASE_COLORS = ((90, 200, 110), (240, 70, 70), (80, 130, 240))  # startup, active, recovery


def advantage(fd: rules.FrameData, blocked: bool) -> int:
    """Frame advantage of a move that connects on its first active tick: ticks between the
    attacker's first free tick and the defender's. The defender acts again ``stun`` ticks after the
    hit; the attacker after the rest of the active ticks, the recovery and the tick on which the move
    ends (:func:`rules.advance` takes no input on it): ``stun - (active + recovery + 1)``."""
    stun = fd.blockstun if blocked else fd.hitstun
    return stun - (fd.active + fd.recovery + 1)


SPARK_EVENTS = ("hit", "block", "throw", "tech", "clash")


def spark_at(s: rules.DuelState, e: dict) -> tuple[int, int, int] | None:
    """Where the spark of event ``e`` on state ``s`` is drawn: ``(x, y, direction)`` in screen pixels
    (direction -1 when the attacker stands right of the defender), or None for an event without one."""
    if e["type"] not in SPARK_EVENTS or e["by"] not in (0, 1):
        return None
    a, d = s.fighters[e["by"]], s.fighters[1 - e["by"]]
    if e["type"] == "clash":
        p = s.projectiles[e["by"]]
        x, y = ((a.x + d.x) // 2 if p is None else p.x), FLOOR - 67
    else:  # at the defender's body edge facing the attacker, at the height of the blow
        side = 1 if a.x > d.x else -1
        x = d.x + side * rules.HALF_WIDTH
        fd = FRAME_DATA.get(Move[e["move"].upper()]) if e["move"] != "none" else None
        height = d.height // 2 if fd is None else min(max((fd.box_low + fd.box_high) // 2, 10), d.height)
        y = FLOOR - d.y - height
    return int(x), int(y), -1 if a.x > d.x else 1


def _shade(color, k: float):
    return tuple(max(0, min(255, int(c * k))) for c in color)


class DuelRenderer:
    """Draws a :class:`rules.DuelState` to a window (``"human"``) or an array (``"rgb_array"``)."""

    def __init__(self, mode: str, fps: int = TICKS_PER_SECOND):
        self.mode, self.fps = mode, fps
        self.show_hitboxes = False
        self.show_training = False
        self.paused = False
        self.quit_requested = False
        self.show_controls_ticks = 4 * TICKS_PER_SECOND  # the controls stay on screen this long
        self._sparks: list[list] = []  # [x, y, ticks_left, kind, direction]
        self._last_tick = -1
        self._input_tick = -1
        # per fighter: [stick, button, ticks held]
        self._history: tuple[deque[list[int]], deque[list[int]]] = (deque(maxlen=HISTORY_ROWS),
                                                                    deque(maxlen=HISTORY_ROWS))
        self.window: pygame.Surface | None
        self.clock: pygame.time.Clock | None
        if mode == "human":
            pygame.display.init()
            self.window = pygame.display.set_mode((WIDTH, HEIGHT))
            pygame.display.set_caption("game-ai-sandbox: duel")
            self.clock = pygame.time.Clock()
        else:
            self.window, self.clock = None, None
        pygame.font.init()
        self.font = pygame.font.Font(None, 22)
        self.small = pygame.font.Font(None, 18)
        self.big = pygame.font.Font(None, 40)
        self.canvas = pygame.Surface((WIDTH, HEIGHT))

    # ---- drawing ---------------------------------------------------------------------------------
    def draw(self, s: rules.DuelState, events: list[dict], labels: tuple[str, str] = ("P1", "P2"),
             inputs: Sequence[tuple[int, int]] | None = None) -> np.ndarray | None:
        """Draw ``s``; ``events`` are the ticks' events since the last draw, ``inputs`` the
        ``(stick, button)`` each fighter is holding (for the input history), if known."""
        note_tick(s.tick)
        self._add_sparks(s, events)
        self.note_inputs(s.tick, inputs)
        self._last_tick = s.tick
        c = self.canvas
        c.fill((24, 26, 36))
        pygame.draw.rect(c, (60, 56, 52), (0, FLOOR, WIDTH, HEIGHT - FLOOR))
        pygame.draw.line(c, (90, 84, 78), (0, FLOOR), (WIDTH, FLOOR), 2)
        for f in s.fighters:  # shadows first
            w = max(36 - f.y // 6, 14)
            pygame.draw.ellipse(c, (44, 41, 38), (f.x - w, FLOOR - 4, 2 * w, 8))
        for i, p in enumerate(s.projectiles):
            if p is not None:
                self._draw_projectile(c, p, COLORS[i], s.fighters[i])
        for i, f in enumerate(s.fighters):
            self._draw_fighter(c, f, COLORS[i])
        self._draw_sparks(c)
        self._draw_hud(c, s, labels)
        if self.show_hitboxes:
            self._draw_boxes(c, s)
        if self.show_training:
            self._draw_training(c, s)
        if s.tick < self.show_controls_ticks and self.mode == "human" and not self.show_training:
            for k, line in enumerate(CONTROLS_TEXT):
                img = self.font.render(line, True, (220, 220, 220))
                c.blit(img, (WIDTH // 2 - img.get_width() // 2, 120 + 22 * k))
        if s.over:
            name = None if s.winner is None else labels[s.winner]
            text = "DRAW" if name is None else (f"{name} win" if name == "you" else f"{name} wins").upper()
            img = self.big.render(text, True, (255, 255, 255))
            c.blit(img, (WIDTH // 2 - img.get_width() // 2, 180))
        if self.mode == "human":
            self._present(s, labels)
            return None
        return np.transpose(np.array(pygame.surfarray.pixels3d(c)), axes=(1, 0, 2)).copy()

    def _present(self, s: rules.DuelState, labels: tuple[str, str]) -> None:
        handle_events(window_events(), self)
        window, clock = self.window, self.clock
        assert window is not None and clock is not None  # the human mode has both
        window.blit(self.canvas, (0, 0))
        pygame.display.flip()
        clock.tick(self.fps)
        while self.paused and not self.quit_requested:  # P: hold the picture until P again
            img = self.big.render("PAUSED (P)", True, (255, 255, 255))
            window.blit(img, (WIDTH // 2 - img.get_width() // 2, 240))
            pygame.display.flip()
            clock.tick(30)
            handle_events(window_events(), self)
        return None

    # ---- effects (derived from events and state) --------------------------------------------------
    def _add_sparks(self, s, events) -> None:
        if s.tick != self._last_tick:
            steps = max(s.tick - self._last_tick, 1) if s.tick > self._last_tick else 1
            for spark in self._sparks:
                spark[2] -= steps
            self._sparks = [sp for sp in self._sparks if sp[2] > 0]
        for e in events:
            found = spark_at(s, e)
            if found is not None:
                x, y, direction = found
                self._sparks.append([x, y, 10, e["type"], direction])
        del self._sparks[:-16]

    def _draw_sparks(self, c) -> None:
        for x, y, left, kind, direction in self._sparks:
            age = 10 - left
            if kind in ("hit", "throw"):  # a star burst that grows and fades
                color = (255, 240, 90) if kind == "hit" else (255, 130, 255)
                r_out, r_in = 10 + 3 * age, 3 + age
                for k in range(10):
                    ang = k * np.pi / 5 + 0.3
                    p0 = (x + r_in * np.cos(ang), y + r_in * np.sin(ang))
                    p1 = (x + r_out * np.cos(ang), y + r_out * np.sin(ang))
                    pygame.draw.line(c, color, p0, p1, 3 if k % 2 == 0 else 2)
                if age < 4:
                    pygame.draw.circle(c, (255, 255, 255), (x, y), 9 - 2 * age)
            elif kind == "block":  # a shield arc in front of the defender
                color = (120, 200, 255)
                r = 16 + 2 * age
                rect = pygame.Rect(x - r, y - r, 2 * r, 2 * r)
                start = np.pi - np.pi / 2.5 if direction > 0 else -np.pi / 2.5
                pygame.draw.arc(c, color, rect, start, start + 2 * np.pi / 2.5, 4)
                pygame.draw.arc(c, (230, 245, 255), rect.inflate(-10, -10), start, start + 2 * np.pi / 2.5, 2)
            else:  # tech / clash: a white ring
                pygame.draw.circle(c, (240, 240, 255), (x, y), 8 + 3 * age, 3)

    def _draw_projectile(self, c, p, color, owner) -> None:
        pd = FRAME_DATA[Move.PROJECTILE]
        y = FLOOR - (pd.box_low + pd.box_high) // 2
        direction = 1 if p.vx > 0 else -1
        for k in range(6, 0, -1):  # the trail: where it was over the last ticks (not behind the thrower)
            tx = p.x - direction * k * 7
            if (tx - owner.x) * direction < rules.HALF_WIDTH + pd.reach:
                continue
            r = max(rules.PROJECTILE_HALF_WIDTH - k, 3)
            pygame.draw.circle(c, _shade((255, 200, 90), 1.0 - 0.13 * k), (tx, y), r)
        pygame.draw.circle(c, (255, 230, 120), (p.x, y), rules.PROJECTILE_HALF_WIDTH)
        pygame.draw.circle(c, color, (p.x, y), rules.PROJECTILE_HALF_WIDTH // 2)
        pygame.draw.circle(c, (255, 255, 255), (p.x + direction * 3, y - 2), 3)

    # ---- the fighter -------------------------------------------------------------------------------
    def _draw_fighter(self, c, f: rules.Fighter, color) -> None:
        j = {k: (x, FLOOR - y) for k, (x, y) in poses.pose(f).items()}
        hurt = f.state in (FState.HITSTUN, FState.GRABBED) or f.health <= 0
        body = _shade(color, 1.25) if hurt else color
        back = _shade(body, 0.6)
        outline = (16, 16, 22)

        def limb(a, b, m, colour, width):
            pts = [j[a], j[b], j[m]]
            pygame.draw.lines(c, outline, False, pts, width + 4)
            pygame.draw.lines(c, colour, False, pts, width)
            for pt in pts[1:]:
                pygame.draw.circle(c, colour, pt, width // 2)

        limb("hip", "b_knee", "b_foot", back, 8)  # far limbs first, darker
        limb("neck", "b_elbow", "b_hand", back, 7)
        pygame.draw.line(c, outline, j["hip"], j["neck"], 17)  # torso
        pygame.draw.line(c, body, j["hip"], j["neck"], 13)
        pygame.draw.circle(c, body, j["hip"], 7)
        pygame.draw.circle(c, body, j["neck"], 7)
        limb("hip", "f_knee", "f_foot", body, 8)
        hx, hy = j["head"]
        pygame.draw.circle(c, outline, (hx, hy), poses.HEAD_RADIUS + 2)
        pygame.draw.circle(c, body, (hx, hy), poses.HEAD_RADIUS)
        if f.health <= 0:  # knocked out: eyes shut
            pygame.draw.line(c, outline, (hx - 4, hy - 3), (hx + 4, hy - 3), 2)
        else:  # the eye shows where it faces; a squint when hurt
            ex = hx + f.facing * 5
            if hurt:
                pygame.draw.line(c, (255, 255, 255), (ex - 3, hy - 2), (ex + 3, hy - 2), 2)
            else:
                pygame.draw.circle(c, (255, 255, 255), (ex, hy - 2), 3)
        limb("neck", "f_elbow", "f_hand", body, 7)
        tip = poses.strike_tip(f)
        if tip is not None and f.phase() == 2:  # the striking limb glows on its active ticks
            tx, ty = tip[0], FLOOR - tip[1]
            glow = (255, 255, 255) if not f.connected else (255, 240, 150)
            pygame.draw.circle(c, glow, (tx, ty), 7)
            pygame.draw.circle(c, (255, 120, 60), (tx, ty), 7, 2)
        if f.move == Move.PROJECTILE and f.phase() == 1 and f.state == FState.ATTACK:  # charging
            hx2, hy2 = j["f_hand"]
            r = 3 + 9 * f.frame // FRAME_DATA[Move.PROJECTILE].startup
            pygame.draw.circle(c, (255, 220, 110), (hx2, hy2), r)
            pygame.draw.circle(c, (255, 255, 255), (hx2, hy2), max(r // 2, 2))
        if f.guard and f.state != FState.HITSTUN:  # the guard as a faint shield, high or low
            gx = f.x + f.facing * (rules.HALF_WIDTH + 8)
            top = FLOOR - f.y - f.height
            rect = pygame.Rect(gx - 5, top, 10, f.height)
            pygame.draw.rect(c, (150, 200, 255), rect, 2, border_radius=5)

    # ---- HUD ---------------------------------------------------------------------------------------
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

    # ---- training-mode aids (F2) ---------------------------------------------------------------------
    def note_inputs(self, tick: int, inputs: Sequence[tuple[int, int]] | None) -> None:
        """Add one tick's ``(stick, button)`` per fighter to the input history (for callers that
        step several ticks per drawing; :meth:`draw` does it for the ticks it is shown)."""
        if tick < self._input_tick or tick == 0:  # a new round
            for h in self._history:
                h.clear()
            self._input_tick = tick
        if inputs is None or tick <= self._input_tick:
            return
        ticks = tick - self._input_tick if self._input_tick >= 0 else 1
        self._input_tick = tick
        for i, (stick, button) in enumerate(inputs):
            h = self._history[i]
            entry = (int(stick), int(button))
            if h and (h[-1][0], h[-1][1]) == entry:
                h[-1][2] += ticks
            else:
                h.append([entry[0], entry[1], ticks])

    def _draw_training(self, c, s) -> None:
        for i, f in enumerate(s.fighters):
            self._draw_history(c, i)
            self._draw_frame_data(c, f, i)

    def _draw_history(self, c, i: int) -> None:
        x = 8 if i == 0 else WIDTH - 86
        top = 70
        panel = pygame.Surface((78, 22 * HISTORY_ROWS + 20), pygame.SRCALPHA)
        panel.fill((0, 0, 0, 140))
        c.blit(panel, (x - 4, top - 4))
        c.blit(self.small.render("inputs", True, COLORS[i]), (x, top))
        for k, (stick, button, ticks) in enumerate(reversed(self._history[i])):  # newest on top
            y = top + 26 + 22 * k
            self._draw_arrow(c, (x + 10, y), Stick(stick))
            if button:
                glyph, colour = BUTTON_GLYPHS[button]
                pygame.draw.circle(c, colour, (x + 32, y), 8)
                img = self.small.render(glyph, True, (0, 0, 0))
                c.blit(img, (x + 32 - img.get_width() // 2, y - img.get_height() // 2))
            img = self.small.render(str(min(ticks, 999)), True, (220, 220, 220))
            c.blit(img, (x + 70 - img.get_width(), y - img.get_height() // 2))

    def _draw_arrow(self, c, centre, stick: Stick) -> None:
        """Numpad-style arrow relative to facing (right = forward), as in fighting games' input logs."""
        dx, dy = STICK_ARROWS[stick]
        x, y = centre
        if dx == 0 and dy == 0:
            pygame.draw.circle(c, (160, 160, 170), (x, y), 3)
            return
        n = (dx * dx + dy * dy) ** 0.5
        ux, uy = dx / n, dy / n
        tail, head = (x - 7 * ux, y - 7 * uy), (x + 7 * ux, y + 7 * uy)
        pygame.draw.line(c, (235, 235, 235), tail, head, 3)
        left = (head[0] - 6 * ux + 5 * uy, head[1] - 6 * uy - 5 * ux)
        right = (head[0] - 6 * ux - 5 * uy, head[1] - 6 * uy + 5 * ux)
        pygame.draw.polygon(c, (235, 235, 235), (head, left, right))

    def _draw_frame_data(self, c, f: rules.Fighter, i: int) -> None:
        """The move in progress: its startup / active / recovery as a bar with the current tick, and
        the advantage if it connects on its first active tick."""
        x = 96 if i == 0 else WIDTH - 96 - 250
        y = 66
        if not f.move:
            return
        fd = FRAME_DATA[Move(f.move)]
        panel = pygame.Surface((250, 48), pygame.SRCALPHA)
        panel.fill((0, 0, 0, 150))
        c.blit(panel, (x - 4, y - 2))
        hit, block = advantage(fd, False), advantage(fd, True)
        line = f"{fd.name}  {fd.startup}/{fd.active}/{fd.recovery}   hit {hit:+d}  block {block:+d}"
        c.blit(self.small.render(line, True, (240, 240, 240)), (x, y))
        scale = 240 / rules.MAX_MOVE_TICKS
        bx: float = x
        for n, colour in zip((fd.startup, fd.active, fd.recovery), PHASE_COLORS, strict=True):
            pygame.draw.rect(c, colour, (int(bx), y + 18, max(int(n * scale) - 1, 1), 10))
            bx += n * scale
        mx = x + int((min(f.frame, fd.total) - 0.5) * scale)
        pygame.draw.line(c, (255, 255, 255), (mx, y + 15), (mx, y + 31), 2)
        phase = ("startup", "active", "recovery")[f.phase() - 1]
        c.blit(self.small.render(f"tick {f.frame}/{fd.total}  {phase}", True, PHASE_COLORS[f.phase() - 1]),
               (x, y + 32))

    def close(self) -> None:
        if self.mode == "human" and pygame.display.get_init():
            pygame.display.quit()
