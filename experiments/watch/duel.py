"""The duel in the watcher: the env's own decision steps, shown tick by tick, and their drawing.

The simulation is exactly ``sandbox/Duel-v0``'s: each decision is one ``env.step`` (the one decision step,
:func:`envs.duel.step.decision_step`), whose ``on_tick`` hook keeps a copy of every tick's state and
events; :meth:`DuelSession.advance` then shows them one tick per frame."""

from __future__ import annotations

import numpy as np

from envs.duel.config import DuelConfig
from envs.duel.layout import OBS_SIZE
from experiments.watch.agents import (
    OpponentSlot,
    agent_info,
    build_agent,
    cannot_play,
    default_spec,
    make_director,
    notice,
    one_line,
    policy_probs,
)
from experiments.watch.config import CONTROLS, DEFAULT_P2, STEALTH_ONLY, Config


class DuelSession:
    """P1 (the env's agent, left) against P2 (the env's opponent, right), one tick per :meth:`advance`."""

    title = "duel"
    fps = 60  # frames per second of the window
    rate = 60  # ticks per second at 1x
    record_every = 3  # every 3rd frame goes to the recording (20 fps)
    hold_ticks = 90  # the result stays on screen this long
    overlays = ("bars", "bars + hitboxes", "game only")

    def __init__(self, cfg: Config):
        from agents.meta import DirectedEnv
        from envs.duel.env import DuelEnv, duel_spaces
        from envs.duel.render import HEIGHT, WIDTH, DuelRenderer
        from envs.duel.rules import N_BUTTON, N_STICK
        from experiments.watch.widgets import DuelTally, EmpiricalPolicy, Fonts

        self.cfg = cfg
        from envs.duel.controls import use_controls_file, with_input

        use_controls_file(cfg.controls)
        specs = (cfg.p1 or default_spec("duel"), cfg.p2 or DEFAULT_P2)
        self.names = tuple(with_input(spec, cfg.input) for spec in specs)
        for name in self.names:
            if name.partition(":")[0] in STEALTH_ONLY:
                from experiments.options import CliError

                raise CliError(f"agent {name!r} plays the stealth grid, not the duel: "
                               f"sandbox watch stealth --p1 {name}")
        action_space, observation_space = duel_spaces()
        context = dict(action_space=action_space, observation_space=observation_space)
        p1 = build_agent(self.names[0], **context, player=1)
        info = agent_info(p1)
        env_kwargs = info.get("env_kwargs", {}) if isinstance(info.get("env_kwargs"), dict) else {}
        self.skip = int(env_kwargs.get("frame_skip", DuelConfig.frame_skip))
        context["frame_skip"] = self.skip
        if hasattr(p1, "frame_skip"):  # a human: its presses are held for the ticks between decisions
            p1.frame_skip = self.skip
        p2 = build_agent(self.names[1], **context, player=2)
        round_seconds = cfg.round_seconds or float(env_kwargs.get("round_seconds", 60))
        self.p1, self.slot = p1, OpponentSlot(p2)
        try:
            self.base = DuelEnv(opponent=self.slot, frame_skip=self.skip, round_seconds=round_seconds, side="left",
                                drives=cfg.drives)
        except (ValueError, OSError) as exc:
            from experiments.options import CliError

            raise CliError(one_line(exc)) from None
        # with drives, an agent trained without them (or a scripted one) sees the game's observation only
        shape = getattr(getattr(p1, "observation_space", None), "shape", None)
        self.p1_sees_drives = cfg.drives is not None and tuple(shape or ()) == self.base.observation_space.shape
        self.base.on_tick = self._keep_tick
        self.director = make_director(cfg.director, "duel")
        if self.director is not None and not hasattr(p2, "set_difficulty"):
            notice(f"P2 ({self.names[1]}) has no difficulty setting: the director's choices change nothing")
        self.env = DirectedEnv(self.base, self.director) if self.director is not None else self.base
        self.renderer = DuelRenderer("rgb_array")
        self.renderer.show_training = bool(getattr(cfg, "training", False))
        self.size = (WIDTH, HEIGHT + 206)
        self.game_h = HEIGHT
        self.fonts = Fonts()
        self.overlay = 0
        self.empirical = (EmpiricalPolicy((N_STICK, N_BUTTON)), EmpiricalPolicy((N_STICK, N_BUTTON)))
        self.tally_cls = DuelTally
        self.seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
        self.finished = False
        self.tracer = None  # a DuelTracer (experiments.replay.trace) records the rounds as they are shown
        self.restart()

    # ---- the match ----------------------------------------------------------------------------------
    def restart(self) -> None:
        """From the first round again, with the same seeds."""
        self.tally = self.tally_cls()
        self.round = 0
        self.outcomes: list[bool] = []
        self.difficulties: list[float] = []
        if self.director is not None and hasattr(self.director, "reset"):
            self.director.reset()
        for emp in self.empirical:
            emp.clear()
        self.finished = False
        self._new_round()

    def _new_round(self) -> None:
        self.obs, _ = self.env.reset(seed=self.seed + self.round)
        if hasattr(self.p1, "rng"):
            self.p1.rng = self.base.np_random
        if hasattr(self.p1, "reset"):
            self.p1.reset()
        self.count = 0
        self.hold = 0
        self.ticks: list = []  # (state, events) of the decision's ticks not shown yet
        self.view = self.base.state.copy()  # the state on screen
        self.result = None  # (terminated, info) of the decision being shown
        self.action = None
        self.chosen = [None, None]  # (stick, button) of the last decision of each side
        self.probs: list = [None, None]
        self.pending_events: list[dict] = []
        self.tally.new_round()
        if self.tracer is not None:
            self.tracer.start(self)

    def advance(self) -> None:
        """One tick (or one tick of the result hold between rounds)."""
        from envs.duel.controls import note_tick
        from envs.duel.env import decode_action
        from experiments.watch.widgets import duel_heads

        if self.finished:
            return
        if self.hold:
            self.hold -= 1
            if not self.hold:
                self.round += 1
                if self.cfg.rounds and self.round >= self.cfg.rounds:
                    self.finished = True
                else:
                    self._new_round()
            return
        decided = not self.ticks
        if decided:  # a new decision: P1 decides, P2 decides inside env.step, which plays its ticks
            with cannot_play(self.names[0], "duel"):
                seen = self.obs if self.p1_sees_drives or self.base.drives is None else self.obs[:OBS_SIZE]
                self.action, _ = self.p1.predict(seen)
                self.chosen[0] = decode_action(self.action)
                probs = policy_probs(self.p1, seen)
                self.probs[0] = None if probs is None else duel_heads(probs)
            self.empirical[0].add(self.chosen[0])
            with cannot_play(self.names[1], "duel"):
                self.obs, _, terminated, _, info = self.env.step(self.action)
                self.chosen[1] = decode_action(self.slot.action)
                probs = policy_probs(self.slot.agent, self.slot.observation)
                self.probs[1] = None if probs is None else duel_heads(probs)
            self.empirical[1].add(self.chosen[1])
            self.result = (terminated, info)
        # show the next tick of the decision
        self.view, events = self.ticks.pop(0)
        self.count += 1
        note_tick(self.view.tick)  # human presses are stamped with the tick being played
        self.renderer.note_inputs(self.view.tick, [c or (0, 0) for c in self.chosen])
        self.pending_events += events
        self.tally.update(self.view, events)
        if self.tracer is not None:
            self.tracer.tick(self, events, decided)
        terminated, info = self.result
        if terminated and not self.ticks:
            if self.tracer is not None:
                self.tracer.end(self, self.view.winner)
            self.tally.round_over(self.view.winner)
            if "director" in info:
                self.outcomes.append(bool(info["director"]["won"]))
                self.difficulties.append(float(info["director"]["difficulty"]))
            self.hold = self.hold_ticks

    def _keep_tick(self, state, events) -> None:
        """The env's on_tick hook: a copy of the tick's state and the events it added (by 0 = P1, 1 = P2)."""
        seen = sum(len(e) for _, e in self.ticks) if self.ticks else 0
        self.ticks.append((state.copy(), list(events[seen:])))

    def step_decision(self) -> None:
        """Right arrow while paused: play up to P1's next decision."""
        self.advance()
        while not self.finished and not self.hold and self.ticks:
            self.advance()

    def cycle_overlay(self) -> None:
        self.overlay = (self.overlay + 1) % len(self.overlays)

    def summary(self) -> str:
        t = self.tally
        return (f"P1 {self.names[0]} {t.score[0]} - {t.score[1]} P2 {self.names[1]} ({t.score[None]} draws, "
                f"{t.rounds} rounds; hits {t.total_hits[0]}-{t.total_hits[1]}, "
                f"blocks {t.total_blocks[0]}-{t.total_blocks[1]})")

    # ---- drawing -------------------------------------------------------------------------------------
    def drive_bars(self) -> tuple[list[str], np.ndarray] | None:
        """P1's drives as (labels, levels in [0, 1]) when the watch has ``--drives``, else None."""
        drives = self.base.drives
        if drives is None:
            return None
        return [name[:7] for name in drives.state.table.names], drives.state.levels()[0]

    def draw(self, surf, speed: float, paused: bool) -> None:
        import pygame

        from envs.duel.render import COLORS
        from experiments.watch.widgets import BUTTON_LABELS, STICK_LABELS, draw_bars, draw_director, text

        mode = self.overlays[self.overlay]
        self.renderer.show_hitboxes = mode == "bars + hitboxes"
        self.renderer.draw(self.view, self.pending_events, labels=("P1", "P2"))
        self.pending_events = []
        surf.blit(self.renderer.canvas, (0, 0))
        f = self.fonts
        y0 = self.game_h
        pygame.draw.rect(surf, (18, 19, 26), (0, y0, self.size[0], self.size[1] - y0))
        pygame.draw.line(surf, (90, 90, 100), (0, y0), (self.size[0], y0))
        t = self.tally
        # the middle column: score, counters, speed, director
        cx = 290
        text(surf, f.title, f"P1 {t.score[0]} - {t.score[1]} P2", (cx, y0 + 6))
        text(surf, f.small, f"round {self.round + 1}   draws {t.score[None]}   seed {self.seed + self.round}",
             (cx, y0 + 30), (190, 190, 200))
        text(surf, f.small, f"hits {t.hits[0]} - {t.hits[1]}    blocks {t.blocks[0]} - {t.blocks[1]}",
             (cx, y0 + 46), (220, 220, 160))
        state = "PAUSED" if paused else f"speed {speed:g}x"
        text(surf, f.small, f"{state}   overlay: {mode}", (cx, y0 + 62), (190, 190, 200))
        bars = self.drive_bars()
        if bars is not None:
            text(surf, f.small, "P1 drives: level within bounds", (cx, y0 + 80), (170, 170, 180))
            draw_bars(surf, f, (cx, y0 + 96, 225, 50), bars[1], bars[0], (230, 150, 60))
        if self.director is not None:
            difficulties = self.difficulties + [float(self.director.difficulty)]
            window = int(getattr(self.director, "window", 20))
            top, height = (y0 + 150, 50) if bars is not None else (y0 + 80, 100)
            draw_director(surf, f, (cx, top, 225, height), difficulties, self.outcomes, window,
                          name=type(self.director).__name__)
        text(surf, f.small, CONTROLS, (8, self.size[1] - 16), (150, 150, 160))
        if mode == "game only":
            return
        for side in (0, 1):
            x = 10 if side == 0 else self.size[0] - 270
            name = self.names[side]
            text(surf, f.body, f"P{side + 1} {name}"[:34], (x, y0 + 6), COLORS[side])
            probs = self.probs[side]
            if probs is None:
                probs = self.empirical[side].probs()
                source = f"empirical: its last {len(self.empirical[side].recent)} decisions"
            else:
                source = "policy: action probabilities"
            text(surf, f.small, source, (x, y0 + 26), (170, 170, 180))
            chosen = self.chosen[side] or (None, None)
            draw_bars(surf, f, (x, y0 + 42, 260, 60), probs[0], STICK_LABELS, COLORS[side], chosen[0])
            draw_bars(surf, f, (x, y0 + 108, 130, 50), probs[1], BUTTON_LABELS, COLORS[side], chosen[1])
            moves = list(t.moves[side])[::-1]
            text(surf, f.small, "recent moves:", (x + 140, y0 + 108), (170, 170, 180))
            for k, m in enumerate(moves[:4]):
                text(surf, f.small, m, (x + 140, y0 + 122 + 13 * k), (225, 225, 225))
