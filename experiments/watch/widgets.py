"""What `sandbox watch` draws besides the game, and how it records.

- Pure helpers (no pygame): :func:`duel_heads` turns an agent's ``action_probs`` into stick and button
  distributions; :class:`EmpiricalPolicy` is the stand-in for agents without one (the frequencies of
  their recent decisions, labelled as such); :class:`DuelTally` counts hits, blocks and recent moves
  from the duel's state and events; :func:`value_heat` maps V* of one guard phase to a heat grid.
- Panels (pygame, imported inside the functions): probability bars, the director's mini plot, lines
  of text. They only read what they are given.
- :class:`Recorder`: frames to a GIF (Pillow) or an MP4 (imageio + imageio-ffmpeg), written to a
  temporary file beside the target and renamed at the end (:func:`envs.fileio.atomic_target`).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from envs.duel.rules import MOVE_NAMES, N_BUTTON, N_STICK

STICK_LABELS = ("neu", "up", "u-f", "fwd", "d-f", "dn", "d-b", "back", "u-b")
BUTTON_LABELS = ("none", "light", "heavy", "spec")
STEALTH_LABELS = ("stay", "N", "S", "E", "W")
DIFFICULTY_COLOUR, RATE_COLOUR = (240, 170, 60), (110, 200, 255)


# ---- pure helpers --------------------------------------------------------------------------------
def duel_heads(probs) -> tuple[np.ndarray, np.ndarray]:
    """``(p_stick (9,), p_button (4,))`` from ``action_probs`` output: two heads ``[stick, button]``
    (MultiDiscrete) or one head over the 36 flat actions (``stick * 4 + button``), marginalised."""
    heads = [np.asarray(p, dtype=np.float64).reshape(-1) for p in probs]
    if len(heads) == 2 and heads[0].size == N_STICK and heads[1].size == N_BUTTON:
        return heads[0], heads[1]
    if len(heads) == 1 and heads[0].size == N_STICK * N_BUTTON:
        joint = heads[0].reshape(N_STICK, N_BUTTON)
        return joint.sum(axis=1), joint.sum(axis=0)
    raise ValueError(f"duel action_probs must be [stick(9), button(4)] or [p(36)]; got sizes {[h.size for h in heads]}")


class EmpiricalPolicy:
    """The frequencies of an agent's last ``window`` decisions, per action head: what the watcher
    shows for agents that expose no distribution (scripted, human)."""

    def __init__(self, sizes: tuple[int, ...], window: int = 60):
        self.sizes = tuple(int(n) for n in sizes)
        self.recent: deque[tuple[int, ...]] = deque(maxlen=int(window))

    def add(self, action: tuple[int, ...]) -> None:
        self.recent.append(tuple(int(a) for a in action))

    def clear(self) -> None:
        self.recent.clear()

    def probs(self) -> list[np.ndarray]:
        """One frequency vector per head (all zeros before the first decision)."""
        out = [np.zeros(n) for n in self.sizes]
        for action in self.recent:
            for head, a in enumerate(action):
                out[head][a] += 1.0
        if self.recent:
            out = [p / len(self.recent) for p in out]
        return out


class DuelTally:
    """Per fighter: hits and blocks landed (this round and in total) and the moves recently started,
    read from the duel's state and each tick's events (``by`` = 0 or 1); plus the round score."""

    def __init__(self, recent: int = 6):
        self.total_hits, self.total_blocks = [0, 0], [0, 0]
        self.score = {0: 0, 1: 0, None: 0}  # wins of fighter 0, 1, and draws
        self.rounds = 0
        self._recent = recent
        self.new_round()

    def new_round(self) -> None:
        self.hits, self.blocks = [0, 0], [0, 0]
        self.moves = [deque(maxlen=self._recent), deque(maxlen=self._recent)]
        self._last = [(0, 0), (0, 0)]  # (move, frame) of each fighter at the previous tick

    def update(self, state, events) -> None:
        for e in events:
            by = e.get("by")
            if by not in (0, 1):
                continue
            if e["type"] in ("hit", "throw"):
                self.hits[by] += 1
                self.total_hits[by] += 1
            elif e["type"] == "block":
                self.blocks[by] += 1
                self.total_blocks[by] += 1
        for i, f in enumerate(state.fighters):
            move, frame = int(f.move), int(f.frame)
            last_move, last_frame = self._last[i]
            if move and (move != last_move or frame < last_frame):  # a move started since the last tick
                self.moves[i].append(MOVE_NAMES[move])
            self._last[i] = (move, frame)

    def round_over(self, winner: int | None) -> None:
        self.score[winner] += 1
        self.rounds += 1


def rolling_rate(outcomes, window: int) -> list[float]:
    """The trailing ``window``-episode win rate after each outcome."""
    out, acc, q = [], 0.0, deque()
    for won in outcomes:
        q.append(1.0 if won else 0.0)
        acc += q[-1]
        if len(q) > window:
            acc -= q.popleft()
        out.append(acc / len(q))
    return out


def value_heat(solution_v: np.ndarray, index, phase: int) -> np.ndarray:
    """(n_cells,) heat in [0.05, 1] of V*(cell, phase) for the cells that are MDP states at ``phase``
    (0 elsewhere), by rank within the phase: 0.05 for the lowest value, 1 for the highest, ties sharing
    their mean rank. (Ranks, not values: a few doomed states near -1 would wash out the rest.)"""
    n = index.n_cells
    slots = index.slot[(phase % index.period) * n : (phase % index.period + 1) * n]
    heat = np.zeros(n)
    valid = slots >= 0
    if not valid.any():
        return heat
    from scipy.stats import rankdata

    values = np.asarray(solution_v, dtype=np.float64)[slots[valid]]
    ranks = rankdata(values) - 1.0  # 0 .. k-1, ties averaged
    heat[valid] = 0.05 + 0.95 * ranks / max(values.size - 1, 1)
    return heat


# ---- drawing (pygame) -----------------------------------------------------------------------------
class Fonts:
    """The few fonts the panels use (pygame's default font; needs only ``pygame.font``)."""

    def __init__(self):
        import pygame

        pygame.font.init()
        self.small = pygame.font.Font(None, 17)
        self.body = pygame.font.Font(None, 21)
        self.title = pygame.font.Font(None, 26)


def text(surf, font, s: str, pos, colour=(230, 230, 230)) -> int:
    """Blit one line; returns its height."""
    img = font.render(s, True, colour)
    surf.blit(img, pos)
    return img.get_height()


def draw_bars(surf, fonts, rect, probs: np.ndarray, labels, colour, chosen: int | None = None) -> None:
    """Vertical probability bars in ``rect`` (x, y, w, h), one per label; the chosen action outlined."""
    import pygame

    x, y, w, h = rect
    n = len(labels)
    slot = w / n
    label_h = 14
    bar_h = h - label_h - 2
    pygame.draw.line(surf, (90, 90, 100), (x, y + bar_h), (x + w, y + bar_h))
    for k in range(n):
        p = float(probs[k]) if k < len(probs) else 0.0
        bx = int(x + k * slot + 2)
        bw = max(2, int(slot - 4))
        fill = int(round(bar_h * min(max(p, 0.0), 1.0)))
        pygame.draw.rect(surf, (50, 52, 64), (bx, y, bw, bar_h))
        if fill:
            pygame.draw.rect(surf, colour, (bx, y + bar_h - fill, bw, fill))
        if chosen == k:
            pygame.draw.rect(surf, (255, 255, 255), (bx - 1, y - 1, bw + 2, bar_h + 2), 1)
        img = fonts.small.render(labels[k], True, (200, 200, 210))
        surf.blit(img, (int(x + k * slot + slot / 2 - img.get_width() / 2), y + bar_h + 2))


def draw_director(surf, fonts, rect, difficulties, outcomes, window: int, target: float = 0.5,
                  band: float = 0.1, name: str = "director") -> None:
    """The director's mini plot: difficulty per episode (orange) and the player's rolling win rate
    (blue) over the last 40 episodes, on a 0..1 scale with the target band shaded; the current values
    as text above it."""
    import pygame

    x, y, w, h = rect
    rates = rolling_rate(outcomes, window)
    diff_now = difficulties[-1] if difficulties else float("nan")
    rate_now = f"{rates[-1]:.2f}" if rates else "-"
    text(surf, fonts.small, f"{name}, {len(outcomes)} episodes", (x, y), (235, 235, 235))
    img = fonts.small.render(f"difficulty {diff_now:.2f}", True, DIFFICULTY_COLOUR)
    surf.blit(img, (x, y + 14))
    text(surf, fonts.small, f"win rate (last {window}) {rate_now}", (x + img.get_width() + 10, y + 14), RATE_COLOUR)
    py, ph = y + 30, h - 30
    pygame.draw.rect(surf, (34, 36, 46), (x, py, w, ph))
    lo_y = py + ph - int(ph * (target - band))
    hi_y = py + ph - int(ph * (target + band))
    pygame.draw.rect(surf, (48, 70, 56), (x, hi_y, w, lo_y - hi_y))
    pygame.draw.rect(surf, (90, 90, 100), (x, py, w, ph), 1)
    shown = 40  # the last episodes on the plot

    def points(series):
        series = list(series)[-shown:]
        if len(series) < 2:
            return None
        step = (w - 4) / (shown - 1)
        return [(x + 2 + k * step, py + ph - 1 - (ph - 2) * min(max(v, 0.0), 1.0)) for k, v in enumerate(series)]

    for series, colour in ((difficulties, DIFFICULTY_COLOUR), (rates, RATE_COLOUR)):
        pts = points(series)
        if pts:
            pygame.draw.lines(surf, colour, False, pts, 2)


# ---- recording ---------------------------------------------------------------------------------------
class Recorder:
    """Collects ``(H, W, 3)`` uint8 frames and writes ``path`` (``.gif`` or ``.mp4``) atomically.

    GIF frames are palette-quantised as they arrive (Pillow) and saved at :meth:`close`; at most
    ``max_gif_frames`` are kept (the rest are dropped with a notice: use MP4 for long sessions).
    MP4 frames stream to ffmpeg (imageio-ffmpeg) in a temporary file renamed at :meth:`close`.
    """

    def __init__(self, path: str | Path, fps: float, max_gif_frames: int = 1800):
        self.path = Path(path)
        self.fps = float(fps)
        self.kind = self.path.suffix.lower().lstrip(".")
        if self.kind not in ("gif", "mp4"):
            raise ValueError(f"--record {str(path)!r}: the file must end in .gif or .mp4")
        self.frames = 0
        self.dropped = 0
        self.max_gif_frames = int(max_gif_frames)
        self._images: list = []
        self._writer = None
        self._target = None
        if self.kind == "mp4":
            try:
                import imageio.v2 as imageio
                import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio uses)
            except ImportError as exc:
                raise ValueError(f"--record {str(path)!r}: MP4 needs imageio and imageio-ffmpeg ({exc}); "
                                 "pip install imageio imageio-ffmpeg, or record a .gif") from None
            from envs.fileio import atomic_target

            self._target = atomic_target(self.path, suffix=".mp4")
            tmp = self._target.__enter__()
            self._writer = imageio.get_writer(tmp, format="FFMPEG", fps=self.fps, codec="libx264",
                                              quality=7, macro_block_size=2, pixelformat="yuv420p")

    def add(self, frame: np.ndarray) -> None:
        if self._writer is not None:
            self._writer.append_data(np.ascontiguousarray(frame))
            self.frames += 1
            return
        if len(self._images) >= self.max_gif_frames:
            self.dropped += 1
            return
        from PIL import Image

        self._images.append(Image.fromarray(np.ascontiguousarray(frame)).quantize(
            colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE))
        self.frames += 1

    def close(self) -> Path | None:
        """Write the file; returns its path (None when no frame was recorded)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._target.__exit__(None, None, None)
            return self.path if self.frames else None
        if not self._images:
            return None
        from envs.fileio import atomic_save

        images = self._images
        duration = int(round(1000.0 / self.fps))
        atomic_save(self.path, lambda tmp: images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0))
        self._images = []
        return self.path

    def abort(self) -> None:
        """Drop everything; no file is left behind."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
                self._target.__exit__(RuntimeError, RuntimeError("aborted"), None)
        self._images = []
