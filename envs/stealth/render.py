"""Drawing the stealth grid. Reads the compiled world and the player's state; changes nothing.

pygame is imported inside :class:`Renderer` only, so headless code that never renders never loads it.
``rgb_array`` draws to an off-screen surface and needs no display; ``human`` opens a window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from envs.stealth.rules import DELTAS, World

if TYPE_CHECKING:
    import pygame

ARROWS = {0.0: ">", 90.0: "^", 180.0: "<", 270.0: "v"}

COLOURS = {
    "floor": (236, 233, 224),
    "wall": (54, 58, 68),
    "watched": (246, 196, 120),
    "watched_next": (250, 224, 178),
    "goal": (92, 178, 104),
    "start": (180, 200, 230),
    "player": (40, 96, 200),
    "guard": (196, 52, 52),
    "grid": (210, 206, 196),
    "path": (40, 96, 200),
}
# overlay name -> tint (alpha grows with the overlay's value); unknown names use the threat tint
OVERLAY_COLOURS = {"threat": (140, 40, 180), "hiding": (40, 160, 90), "value": (20, 150, 200),
                   "fear": (230, 120, 40)}


def ansi(world: World, cell: int, phase: int) -> str:
    """Text picture: ``#`` wall, ``.`` floor, ``*`` watched, ``S``/``G`` start and goal, ``@`` player,
    guards as ``^ v < >`` (their facing, rounded to a quarter turn)."""
    h, w = world.height, world.width
    chars = np.where(world.walls.reshape(h, w), "#", ".").astype("<U1")
    chars[world.watched[phase].reshape(h, w)] = "*"
    chars[world.rc(world.start)] = "S"
    chars[world.rc(world.goal)] = "G"
    for g, gc in enumerate(world.guard_cells[phase]):
        quarter = (round(world.guard_facing[phase, g] / 90.0) * 90.0) % 360.0
        chars[world.rc(gc)] = ARROWS[quarter]
    chars[world.rc(cell)] = "@"
    return "\n".join("".join(row) for row in chars) + "\n"


class Renderer:
    """pygame renderer for ``human`` (a window) and ``rgb_array`` (an (H, W, 3) uint8 array)."""

    def __init__(self, world: World, mode: str, fps: int = 8, cell_px: int | None = None):
        import pygame

        self.pygame = pygame
        self.world, self.mode, self.fps = world, mode, fps
        self.cell_px = cell_px or max(6, min(40, 640 // max(world.height, world.width)))
        self.window: pygame.Surface | None = None
        self.clock: pygame.time.Clock | None = None

    def _surface(self, cell: int, phase: int, overlays: Mapping[str, npt.ArrayLike] | None = None,
                 path: Sequence[int] | None = None, arrows: Mapping[int, int] | None = None) -> pygame.Surface:
        pygame, world, px = self.pygame, self.world, self.cell_px
        h, w = world.height, world.width
        surf = pygame.Surface((w * px, h * px))
        surf.fill(COLOURS["floor"])
        walls = world.walls.reshape(h, w)
        watched = world.watched[phase].reshape(h, w)
        watched_next = world.watched[(phase + 1) % world.period].reshape(h, w)
        for r in range(h):
            for c in range(w):
                rect = (c * px, r * px, px, px)
                if walls[r, c]:
                    surf.fill(COLOURS["wall"], rect)
                elif watched[r, c]:
                    surf.fill(COLOURS["watched"], rect)
                elif watched_next[r, c]:
                    surf.fill(COLOURS["watched_next"], rect)
        for name, grid in (overlays or {}).items():  # navigation-AI overlays, e.g. a threat map
            grid = np.asarray(grid, dtype=float).reshape(h, w)
            tint = pygame.Surface((px, px), pygame.SRCALPHA)
            colour = OVERLAY_COLOURS.get(name, OVERLAY_COLOURS["threat"])
            for r, c in zip(*np.nonzero(grid > 0), strict=False):
                tint.fill((*colour, int(40 + 150 * min(1.0, grid[r, c]))))
                surf.blit(tint, (c * px, r * px))
        if px >= 10:
            for r in range(h + 1):
                pygame.draw.line(surf, COLOURS["grid"], (0, r * px), (w * px, r * px))
            for c in range(w + 1):
                pygame.draw.line(surf, COLOURS["grid"], (c * px, 0), (c * px, h * px))
        sr, sc = world.rc(world.start)
        gr, gc = world.rc(world.goal)
        surf.fill(COLOURS["start"], (sc * px + 2, sr * px + 2, px - 4, px - 4))
        surf.fill(COLOURS["goal"], (gc * px + 2, gr * px + 2, px - 4, px - 4))
        if path is not None and len(path) > 1:
            points = [((c + 0.5) * px, (r + 0.5) * px) for r, c in (world.rc(p) for p in path)]
            pygame.draw.lines(surf, COLOURS["path"], False, points, max(2, px // 6))
        for flat, action in (arrows or {}).items():  # a policy: one small arrow per cell (stay: a dot)
            r, c = world.rc(flat)
            centre = ((c + 0.5) * px, (r + 0.5) * px)
            dr, dc = DELTAS[int(action)]
            if (dr, dc) == (0, 0):
                pygame.draw.circle(surf, (90, 90, 90), centre, max(1, px // 10))
                continue
            tip = (centre[0] + dc * px * 0.35, centre[1] + dr * px * 0.35)
            pygame.draw.line(surf, (90, 90, 90), centre, tip, max(1, px // 12))
            pygame.draw.circle(surf, (90, 90, 90), tip, max(1, px // 10))
        for g, gcell in enumerate(world.guard_cells[phase]):  # guards: a disc and a facing tick
            r, c = world.rc(gcell)
            centre = ((c + 0.5) * px, (r + 0.5) * px)
            pygame.draw.circle(surf, COLOURS["guard"], centre, px * 0.38)
            f = math.radians(world.guard_facing[phase, g])
            tip = (centre[0] + math.cos(f) * px * 0.6, centre[1] - math.sin(f) * px * 0.6)
            pygame.draw.line(surf, (30, 20, 20), centre, tip, max(2, px // 8))
        r, c = world.rc(cell)
        pygame.draw.circle(surf, COLOURS["player"], ((c + 0.5) * px, (r + 0.5) * px), px * 0.32)
        return surf

    def draw(self, cell: int, phase: int, overlays: Mapping[str, npt.ArrayLike] | None = None,
             path: Sequence[int] | None = None, arrows: Mapping[int, int] | None = None) -> np.ndarray | None:
        pygame = self.pygame
        surf = self._surface(cell, phase, overlays, path, arrows)
        if self.mode == "rgb_array":
            return np.transpose(pygame.surfarray.array3d(surf), (1, 0, 2)).copy()
        if self.window is None:
            pygame.init()
            pygame.display.init()
            pygame.display.set_caption("sandbox/Stealth-v0")
            self.window = pygame.display.set_mode(surf.get_size())
            self.clock = pygame.time.Clock()
        pygame.event.pump()
        assert self.clock is not None  # made with the window
        self.window.blit(surf, (0, 0))
        pygame.display.flip()
        self.clock.tick(self.fps)
        return None

    def close(self) -> None:
        if self.window is not None:
            self.pygame.display.quit()
            self.window = None


def frame(
    world: World, cell: int | None = None, phase: int = 0, overlays: Mapping[str, npt.ArrayLike] | None = None,
    path: Sequence[int] | None = None, arrows: Mapping[int, int] | None = None, cell_px: int | None = None
) -> np.ndarray:
    """One (H, W, 3) uint8 picture of ``world`` at ``phase`` (player on ``cell``, default the start).

    ``path``: flat cells drawn as a line; ``arrows``: {flat cell: action} drawn as small arrows.
    """
    renderer = Renderer(world, "rgb_array", cell_px=cell_px)
    image = renderer.draw(
        world.start if cell is None else cell, phase, overlays=overlays, path=path, arrows=arrows
    )
    assert image is not None  # (rgb_array)
    return image


def save_png(image: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write an (H, W, 3) uint8 image as PNG, atomically (temporary file, then rename)."""
    import pygame

    from envs.fileio import atomic_save

    surf = pygame.surfarray.make_surface(np.ascontiguousarray(np.transpose(image, (1, 0, 2))))
    atomic_save(path, lambda tmp: pygame.image.save(surf, tmp), suffix=".png")
