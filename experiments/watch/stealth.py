"""The stealth grid in the watcher: episodes level after level, the navigation overlays, and drawing."""

from __future__ import annotations

import numpy as np

from envs.stealth.features import nav_spec
from experiments.watch.agents import (
    StealthKeys,
    agent_info,
    build_agent,
    cannot_play,
    default_spec,
    make_director,
    notice,
    one_line,
    policy_probs,
)
from experiments.watch.config import Config


class StealthSession:
    """One agent crossing stealth levels, one env step per :meth:`advance`."""

    title = "stealth"
    fps = 20
    rate = 8  # steps per second at 1x (the env's render_fps)
    record_every = 1
    hold_steps = 8
    area = 640  # the square the level is drawn in
    panel = 260

    def __init__(self, cfg: Config):
        from envs.stealth import bundled_levels
        from experiments.watch.widgets import Fonts

        self.cfg = cfg
        self.spec = cfg.p1 or default_spec("stealth")
        if cfg.p2:
            notice("--p2 is for the duel; the stealth grid has one agent (--p1)")
        self.director = make_director(cfg.director, "stealth")
        if self.director is not None:
            self.levels = ["random"]
            if cfg.level:
                notice("--level is ignored with a director: it generates each level at its difficulty")
        else:
            self.levels = [cfg.level] if cfg.level else bundled_levels()
        self.env_bound = self.spec.partition(":")[0] in ("planner", "optimal", "random", "human")
        self.agent = None if self.env_bound else build_agent(self.spec)
        info = agent_info(self.agent)
        kwargs = info.get("env_kwargs", {}) if isinstance(info.get("env_kwargs"), dict) else {}
        self.env_kwargs = {k: v for k, v in kwargs.items() if k not in ("level", "render_mode", "difficulty")}
        self.nav_features = nav_spec(info.get("nav_features") or kwargs.get("nav_features") or False)
        self.env_kwargs.pop("nav_features", None)
        if cfg.drives:
            self.env_kwargs["drives"] = cfg.drives
        self.size = (self.area + self.panel, self.area)
        self.fonts = Fonts()
        self.overlay = 0
        self.seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
        self.results = {"goal": 0, "caught": 0, "time": 0}
        self.stand_in = {"goal": 0, "caught": 0, "time": 0}  # episodes the planner played for the agent
        self.finished = False
        self.tracer = None  # a StealthTracer (experiments.replay.trace) records the episodes as they are shown
        self.restart()

    def restart(self) -> None:
        self.level_index, self.episode, self.total_episodes = 0, 0, 0
        self.results = {"goal": 0, "caught": 0, "time": 0}
        self.stand_in = {"goal": 0, "caught": 0, "time": 0}  # episodes the planner played for the agent
        self.outcomes: list[bool] = []
        self.difficulties: list[float] = []
        if self.director is not None and hasattr(self.director, "reset"):
            self.director.reset()
        self.finished = False
        self._open_level()

    # ---- levels, env and agent -------------------------------------------------------------------------
    def _open_level(self) -> None:
        from agents.meta import DirectedEnv
        from envs.stealth.env import StealthEnv
        from experiments.options import CliError

        name = self.levels[self.level_index]
        kwargs = dict(self.env_kwargs)
        if name == "random":
            kwargs.setdefault("size", 12)
        try:
            env = StealthEnv(level=name, nav_features=self.nav_features, **kwargs)
        except (ValueError, OSError) as exc:
            raise CliError(one_line(exc)) from None
        self.base = env
        self.env = DirectedEnv(env, self.director) if self.director is not None else env
        self.level_name = name
        self.agent_label = self.spec
        self.actor = self.agent
        if self.env_bound:
            self.actor = StealthKeys() if self.spec == "human" else build_agent(
                self.spec, env=self.env, action_space=self.env.action_space,
                observation_space=self.env.observation_space, rng=self.base.np_random)
        elif not _fits(self.agent, self.env.observation_space):
            if not getattr(self, "_warned_fit", False):
                notice(f"{self.spec}'s observations do not fit level {name!r}; the planner plays such levels")
                self._warned_fit = True
            self.actor = build_agent("planner", env=self.env)
            self.agent_label = f"planner (for {self.spec})"
        self._new_episode()

    def _new_episode(self) -> None:
        seed = self.seed + self.total_episodes
        self.obs, _ = self.env.reset(seed=seed)
        if self.base.level is not getattr(self, "_maps_level", None):
            self._compute_maps()
        if hasattr(self.actor, "rng"):  # a random agent draws from the env's reseeded generator
            self.actor.rng = self.base.np_random
        if hasattr(self.actor, "reset"):
            self.actor.reset()
        self.hold = 0
        self.last = None  # result of the episode just finished
        self.plan: list[int] | None = None
        self.plan_at = (-1, -1)
        self.probs = None
        self.chosen = None
        if self.tracer is not None:
            self.tracer.start(self)

    def _compute_maps(self) -> None:
        from agents.navigation import hiding_spots, threat_map
        from envs.stealth.render import Renderer

        level = self.base.level
        h, w = level.shape
        self.threat = threat_map(level)
        hiding = np.zeros((h, w))
        spots = hiding_spots(level)
        for k, (r, c) in enumerate(spots):  # the most useful spots (small detour, beside danger) strongest
            hiding[r, c] = 1.0 - 0.85 * k / max(len(spots), 1)
        self.hiding = hiding
        self._maps_level = level
        px = max(4, min(self.area // w, self.area // h, 48))
        self.renderer = Renderer(self.base.world, "rgb_array", cell_px=px)

    def advance(self) -> None:
        """One env step (or one step of the result hold between episodes)."""
        if self.finished:
            return
        if self.hold:
            self.hold -= 1
            if not self.hold:
                self._next_episode()
            return
        with cannot_play(self.agent_label, "stealth grid"):
            action, _ = self.actor.predict(self.obs)
            flat = np.asarray(action).reshape(-1)
            if flat.size != 1 or not 0 <= int(flat[0]) < self.env.action_space.n:
                raise ValueError(f"its action {action!r} is not one of 0..4 (stay, N, S, E, W)")
            self.chosen = int(flat[0])
            probs = policy_probs(self.actor, self.obs) if not self.env_bound else None
            self.probs = None if probs is None or len(probs) != 1 else probs[0]
        self.obs, _, terminated, truncated, info = self.env.step(self.chosen)
        if terminated or truncated:
            self.last = "goal" if info["at_goal"] else ("caught" if info["caught"] else "time")
            # an agent whose observations do not fit the level is not credited with the planner's result
            (self.stand_in if self.actor is not self.agent and not self.env_bound else self.results)[self.last] += 1
            if "director" in info:
                self.outcomes.append(bool(info["director"]["won"]))
                self.difficulties.append(float(info["director"]["difficulty"]))
            self.hold = self.hold_steps
        if self.tracer is not None:
            self.tracer.step(self)

    def _next_episode(self) -> None:
        self.episode += 1
        self.total_episodes += 1
        rounds = self.cfg.rounds
        if self.director is not None:  # one generated level after another
            if rounds and self.total_episodes >= rounds:
                self.finished = True
            else:
                self._new_episode()
            return
        if self.episode < max(rounds, 1):  # more episodes on this level
            self._new_episode()
            return
        self.episode = 0
        self.level_index += 1
        if self.level_index >= len(self.levels):  # every level played
            if rounds:
                self.finished = True
                return
            self.level_index = 0
        if len(self.levels) > 1:
            self._open_level()
        else:
            self._new_episode()

    def step_decision(self) -> None:
        self.advance()

    @property
    def overlays(self) -> tuple[str, ...]:
        base = ("all", "threat map", "hiding spots", "safe path", "guard cones only")
        solved = hasattr(self.actor, "solution") and hasattr(self.actor, "index")
        base = (*base[:4], "V* (optimal)", base[4]) if solved else base
        return (*base[:-1], "fear map", base[-1]) if getattr(self.base, "drives", None) is not None else base

    def cycle_overlay(self) -> None:
        self.overlay = (self.overlay + 1) % len(self.overlays)

    def summary(self) -> str:
        r, p = self.results, self.stand_in
        line = (f"{self.spec}: {sum(r.values())} episode(s): goal {r['goal']}, "
                f"caught {r['caught']}, out of time {r['time']}")
        if sum(p.values()):
            line += (f"; the planner played {sum(p.values())} more where its observations do not fit: goal "
                     f"{p['goal']}, caught {p['caught']}, out of time {p['time']}")
        return line

    # ---- drawing ----------------------------------------------------------------------------------
    def safe_path(self) -> list[int] | None:
        """The planner's never-seen path from the player's (cell, phase); followed plans are reused."""
        from envs.stealth import rules

        base = self.base
        cell, phase = int(base.cell), int(base.phase)
        if (cell, phase) == self.plan_at:
            return self.plan
        plan = self.plan
        if plan and len(plan) > 1 and plan[1] == cell and self.plan_at[1] >= 0 \
                and phase == (self.plan_at[1] + 1) % base.world.period:
            self.plan = plan[1:]
        else:
            self.plan = rules.safe_path(base.world, cell, phase)
        self.plan_at = (cell, phase)
        return self.plan

    def drive_bars(self) -> tuple[list[str], np.ndarray] | None:
        """The agent's drives as (labels, levels in [0, 1]) when the env has ``drives=``, else None."""
        drives = getattr(self.base, "drives", None)
        if drives is None:
            return None
        return _drive_labels(drives.state.table.names), drives.state.levels()[0]

    def draw(self, surf, speed: float, paused: bool) -> None:
        import pygame

        from envs.stealth.render import COLOURS, OVERLAY_COLOURS
        from experiments.watch.widgets import STEALTH_LABELS, draw_bars, draw_director, text, value_heat

        base = self.base
        mode = self.overlays[self.overlay % len(self.overlays)]
        overlays, path = {}, None
        if mode in ("all", "threat map"):
            overlays["threat"] = self.threat
        if mode in ("all", "hiding spots"):
            overlays["hiding"] = self.hiding
        if mode in ("all", "safe path") and not self.hold:
            path = self.safe_path()
        if mode == "V* (optimal)" and getattr(self.actor, "solution", None) is not None:
            overlays["value"] = value_heat(self.actor.solution.V, self.actor.index, base.phase).reshape(
                base.level.shape)
        if mode == "fear map" and base.drives is not None:
            from envs.stealth.drives import fear_map

            overlays["fear"] = fear_map(base.world, base.phase, base.drives.state.table)
        self.renderer.world = base.world
        game = self.renderer._surface(base.cell, base.phase, overlays=overlays, path=path)
        surf.fill((18, 19, 26))
        gw, gh = game.get_size()
        surf.blit(game, ((self.area - gw) // 2, (self.area - gh) // 2))
        if self.last:
            colour = {"goal": (92, 178, 104), "caught": (220, 60, 60), "time": (200, 200, 90)}[self.last]
            label = {"goal": "GOAL", "caught": "CAUGHT", "time": "OUT OF TIME"}[self.last]
            img = self.fonts.title.render(label, True, colour)
            pygame.draw.rect(surf, (18, 19, 26), (self.area // 2 - img.get_width() // 2 - 8, 8,
                                                 img.get_width() + 16, img.get_height() + 8))
            surf.blit(img, (self.area // 2 - img.get_width() // 2, 12))
        # the side panel
        f, x, y = self.fonts, self.area + 12, 10
        h, w = base.level.shape
        level = self.level_name if self.level_name != "random" else f"generated (d={base.episode_difficulty:.2f})"
        where = f" ({self.level_index + 1}/{len(self.levels)})" if len(self.levels) > 1 else ""
        y += text(surf, f.title, f"stealth: {level}{where}", (x, y)) + 2
        y += text(surf, f.small, f"{h}x{w}, {len(base.level.guards)} guard(s), period {base.world.period}",
                  (x, y), (180, 180, 190)) + 6
        y += text(surf, f.body, f"agent: {self.agent_label}"[:36], (x, y), COLOURS["start"]) + 2
        y += text(surf, f.small, f"episode {self.total_episodes + 1}   step {base.steps}/{base.max_steps}   "
                  f"phase {base.phase}", (x, y), (200, 200, 210)) + 2
        r = self.stand_in if self.actor is not self.agent and not self.env_bound else self.results
        y += text(surf, f.small, f"goal {r['goal']}   caught {r['caught']}   out of time {r['time']}", (x, y),
                  (220, 220, 160)) + 8
        state = "PAUSED" if paused else f"speed {speed:g}x"
        y += text(surf, f.body, f"{state}   overlay [Tab]:", (x, y)) + 2
        y += text(surf, f.body, f"  {mode}", (x, y), (255, 230, 150)) + 8
        legend = [(COLOURS["watched"], "guard cone: watched now"), (COLOURS["watched_next"], "watched next step"),
                  (COLOURS["guard"], "guard"), (COLOURS["player"], "player")]
        if "threat" in overlays:
            legend.append((OVERLAY_COLOURS["threat"], "threat: share of time watched"))
        if "hiding" in overlays:
            legend.append((OVERLAY_COLOURS["hiding"], "hiding spot: never watched"))
        if path is not None:
            legend.append((COLOURS["path"], "planner's safe path from here"))
        if "fear" in overlays:
            legend.append((OVERLAY_COLOURS["fear"], "fear map: where the drives would rise"))
        if "value" in overlays:
            legend.append((OVERLAY_COLOURS["value"], "V*(cell, this phase): darker = better"))
        for colour, label in legend:
            pygame.draw.rect(surf, colour, (x, y + 2, 12, 12))
            y += text(surf, f.small, label, (x + 18, y + 2), (210, 210, 215)) + 4
        if self.probs is not None:
            y += 6
            y += text(surf, f.small, "policy: action probabilities", (x, y), (170, 170, 180)) + 2
            draw_bars(surf, f, (x, y, 200, 60), self.probs, STEALTH_LABELS, COLOURS["player"], self.chosen)
            y += 64
        bars = self.drive_bars()
        if bars is not None:
            y += 6
            y += text(surf, f.small, "drives: level within bounds", (x, y), (170, 170, 180)) + 2
            draw_bars(surf, f, (x, y, 200, 60), bars[1], bars[0], (230, 150, 60))
            y += 64
        if self.director is not None:
            difficulties = self.difficulties + [float(self.director.difficulty)]
            window = int(getattr(self.director, "window", 20))
            draw_director(surf, f, (x, self.area - 150, self.panel - 24, 110), difficulties, self.outcomes,
                          window, name=type(self.director).__name__)
        for k, line in enumerate(("Space pause  Right step  +/- speed", "R restart  Tab overlay  Esc quit")):
            text(surf, f.small, line, (x, self.area - 34 + 15 * k), (150, 150, 160))


def _drive_labels(names: tuple[str, ...]) -> list[str]:
    return [name[:7] for name in names]


def _fits(agent, space) -> bool:
    """Whether ``agent`` (an SB3 model or our learner) was trained on observations of ``space``'s shape."""
    for holder in (getattr(agent, "model", None), agent):
        obs_space = getattr(holder, "observation_space", None)
        if obs_space is not None and getattr(obs_space, "shape", None) is not None:
            return tuple(obs_space.shape) == tuple(space.shape)
    return True
