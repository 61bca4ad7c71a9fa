"""The watcher's event loop, window and recording: :func:`watch` runs a session to the end."""

from __future__ import annotations

import os
import time

import numpy as np

from experiments.watch.agents import notice, one_line
from experiments.watch.config import HEADLESS_SECONDS, SPEEDS, Config
from experiments.watch.duel import DuelSession
from experiments.watch.stealth import StealthSession


def play(session, *, window, seconds: float | None, speed: float, recorder) -> int:
    """Run ``session`` frame by frame: in ``window`` (a pygame display surface, or None headless), for
    ``seconds`` (None: until Esc or the session ends), sending every ``record_every``-th frame to
    ``recorder``. Returns the number of frames drawn."""
    import pygame

    from envs.duel.controls import window_events

    canvas = pygame.Surface(session.size)
    clock = pygame.time.Clock() if window is not None else None
    # in a window T seconds are wall-clock seconds; headless, T seconds of video (frames at session.fps)
    limit = None if seconds is None else max(1, int(round(seconds * session.fps)))
    end = None if seconds is None or window is None else time.monotonic() + seconds
    speed_index = int(np.argmin([abs(s - speed) for s in SPEEDS]))
    paused, acc, frames = False, 0.0, 0
    dt = 1.0 / session.fps  # seconds per frame: measured in a window (so a slow frame does not slow the game)
    while True:
        if window is not None:
            for ev in window_events():  # human players see every event first (envs.duel.controls)
                if ev.type == pygame.QUIT or (ev.type == pygame.KEYDOWN and ev.key == pygame.K_ESCAPE):
                    return frames
                if ev.type != pygame.KEYDOWN:
                    continue
                if ev.key == pygame.K_SPACE:
                    paused = not paused
                elif ev.key == pygame.K_RIGHT and paused:
                    session.step_decision()
                elif ev.key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                    speed_index = min(speed_index + 1, len(SPEEDS) - 1)
                    speed = SPEEDS[speed_index]
                elif ev.key in (pygame.K_MINUS, pygame.K_KP_MINUS):
                    speed_index = max(speed_index - 1, 0)
                    speed = SPEEDS[speed_index]
                elif ev.key == pygame.K_r:
                    session.restart()
                    acc = 0.0
                elif ev.key == pygame.K_TAB:
                    session.cycle_overlay()
                elif ev.key == pygame.K_F2 and hasattr(session, "renderer"):
                    session.renderer.show_training = not session.renderer.show_training
        if not paused:
            acc += speed * session.rate * dt
            while acc >= 1.0 and not session.finished:
                session.advance()
                acc -= 1.0
        recording = recorder is not None and frames % session.record_every == 0
        if window is not None or recording:  # headless, only the recorded frames are drawn
            session.draw(canvas, speed, paused)
        if window is not None:
            window.blit(canvas, (0, 0))
            pygame.display.flip()
            dt = min(clock.tick(session.fps) / 1000.0, 0.25)
        if recording:
            width, height = canvas.get_size()
            recorder.add(np.frombuffer(pygame.image.tobytes(canvas, "RGB"), np.uint8).reshape(height, width, 3))
        frames += 1
        if session.finished or (end is None and limit is not None and frames >= limit):
            return frames
        if end is not None and time.monotonic() >= end:
            return frames



def watch(cfg: Config) -> int:
    """Run a watch session: check ``cfg``, open the window (or record headless), loop, report."""
    from envs.display import display_available
    from experiments.options import CliError
    from experiments.watch.widgets import Recorder

    # ---- check the arguments
    if not SPEEDS[0] <= cfg.speed <= SPEEDS[-1]:
        raise CliError(f"--speed must be in [{SPEEDS[0]}, {SPEEDS[-1]:g}]; got {cfg.speed:g}")
    if cfg.seconds is not None and not cfg.seconds > 0:
        raise CliError(f"--seconds must be > 0; got {cfg.seconds:g}")
    if cfg.rounds < 0:
        raise CliError(f"--rounds must be >= 0; got {cfg.rounds}")
    if cfg.round_seconds is not None and not cfg.round_seconds > 0:
        raise CliError(f"--round-seconds must be > 0; got {cfg.round_seconds:g}")
    if cfg.record is not None and not cfg.record.lower().endswith((".gif", ".mp4")):
        raise CliError(f"--record {cfg.record!r}: the file must end in .gif or .mp4")
    if cfg.trace is not None and not cfg.trace.lower().endswith(".json"):
        raise CliError(f"--trace {cfg.trace!r}: the file must end in .json")
    if cfg.html is not None and not cfg.html.lower().endswith((".html", ".htm")):
        raise CliError(f"--html {cfg.html!r}: the file must end in .html")
    from experiments.runfolder import claim_file

    for option, path in (("--record", cfg.record), ("--trace", cfg.trace), ("--html", cfg.html)):
        if path is not None:
            claim_file(path, force=cfg.force, option=option)
    headless = not display_available()
    if headless and (cfg.trace is not None or cfg.html is not None) and cfg.seconds is None and not cfg.rounds:
        from dataclasses import replace

        cfg = replace(cfg, rounds=1)  # a page or trace made headless: one round (stealth: each level once)
    if headless and "human" in ((cfg.p1 or "").partition(":")[0], (cfg.p2 or "").partition(":")[0]):
        raise CliError("the 'human' agent needs a window, and there is no display here "
                       "(run it on a desktop, or headless with: xvfb-run -a sandbox watch ...)")
    # ---- setup: the session, then the window (or not)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    session = (DuelSession if cfg.game == "duel" else StealthSession)(cfg)
    tracer = None
    if cfg.trace is not None or cfg.html is not None:
        from experiments.replay.trace import DuelTracer, StealthTracer

        tracer = DuelTracer() if cfg.game == "duel" else StealthTracer()
        session.tracer = tracer
        session.restart()  # from the first round again, now recorded
    window = None
    if not headless:
        try:
            pygame.display.init()
            window = pygame.display.set_mode(session.size)
            pygame.display.set_caption(f"game-ai-sandbox: watch {cfg.game}")
        except pygame.error as exc:
            notice(f"cannot open a window ({one_line(exc)}); recording a GIF instead")
            headless = True
    record = cfg.record
    if headless and record is None and tracer is None:
        record = os.path.join("runs", "watch", f"{cfg.game}.gif")
    seconds = cfg.seconds if cfg.seconds is not None else (HEADLESS_SECONDS if headless and tracer is None else None)
    recorder = None if record is None else Recorder(record, fps=session.fps / session.record_every)
    # ---- the loop
    try:
        frames = play(session, window=window, seconds=seconds, speed=cfg.speed, recorder=recorder)
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        if window is not None:
            pygame.display.quit()
    # ---- the report
    print(session.summary())
    if tracer is not None:
        from experiments.replay.page import write_outputs

        write_outputs(tracer, trace=cfg.trace, html=cfg.html, what=f"the {cfg.game}")
    if recorder is not None:
        path = recorder.close()
        shown = frames / session.fps
        if path is None:
            notice("nothing was recorded")
        else:
            why = "no display: " if headless and cfg.record is None else ""
            size = os.path.getsize(path) / 1e6
            extra = f" ({recorder.dropped} frames over the GIF limit dropped)" if recorder.dropped else ""
            print(f"{why}recorded {shown:.1f} s of the {cfg.game} ({recorder.frames} frames, {size:.2f} MB) "
                  f"to {path}{extra}")
    return 0
