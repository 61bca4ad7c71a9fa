"""``sandbox watch duel|stealth``: agents playing in a pygame window, with what they are thinking.

    sandbox watch                      # the duel: bundled PPO (P1) against scripted:hard (P2)
    sandbox watch stealth              # the bundled stealth agent on every bundled level in turn
    sandbox watch duel --p1 scripted:zoner --p2 sb3:runs/x/checkpoints/final.zip --director rule
    sandbox watch stealth --p1 optimal --level courtyard --record courtyard.mp4 --seconds 20

Window keys: Space pause, Right arrow one decision while paused, + / - speed (0.25x .. 8x), R restart,
Tab cycle overlays, Esc quit. Without a display (no DISPLAY, or SDL_VIDEODRIVER=dummy) it records a
short GIF instead (default ``runs/watch/GAME.gif``, 10 s) and prints where it went. ``--seconds T`` stops
after T seconds of watching (in a recording: T seconds of the video, computed as fast as the CPU allows).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

GAMES = ("duel", "stealth")
DIRECTORS = ("none", "rule", "learned")
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the + / - steps
DEFAULT_P1 = {"duel": "bundled:duel-ppo", "stealth": "bundled:stealth-ppo"}
FALLBACK_P1 = {"duel": "scripted:zoner-hard", "stealth": "planner"}  # when the bundled agent is not shipped
DEFAULT_P2 = "scripted:hard"
STEALTH_ONLY = ("planner", "optimal")  # spec prefixes that read the stealth env's state
HEADLESS_SECONDS = 10.0
CONTROLS = "Space pause  Right step  +/- speed  R restart  Tab overlay  Esc quit"


@dataclass
class Config:
    game: str = "duel"  # duel or stealth
    p1: str | None = None  # duel: the left fighter; stealth: the agent (default: the bundled agent)
    p2: str | None = None  # duel: the right fighter (default scripted:hard)
    level: str | None = None  # stealth: one level (name or file) instead of every bundled level
    rounds: int = 0  # duel: rounds to play; stealth: episodes per level (0: until Esc / --seconds)
    speed: float = 1.0  # playback speed, 0.25 .. 8
    seed: int | None = None  # seed of the first round (R replays the same rounds)
    director: str = "none"  # none, rule (RuleDirector) or learned (the bundled LearnedDirector)
    record: str | None = None  # write the session to FILE.gif or FILE.mp4
    seconds: float | None = None  # stop after this many seconds
    round_seconds: float | None = None  # duel round length (default: the bundled agent's, else 60)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("watch", help="watch agents play in a pygame window (a GIF where there is no display)",
                              description=__doc__, formatter_class=_raw())
    p.add_argument("game", nargs="?", default="duel", choices=GAMES, help="which game (default: duel)")
    p.add_argument("--p1", default=None, help="duel: left fighter; stealth: the agent. Any agent spec (random, "
                   "scripted:NAME, sb3:PATH, ghost:PATH, bundled:NAME, planner, optimal, human)")
    p.add_argument("--p2", default=None, help=f"duel: right fighter (default {DEFAULT_P2})")
    p.add_argument("--level", default=None, help="stealth: one level name or level file (default: every bundled level)")
    p.add_argument("--rounds", type=int, default=0, help="duel: rounds; stealth: episodes per level (0 = no limit)")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed, 0.25 .. 8 (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first round")
    p.add_argument("--director", default="none", choices=DIRECTORS, help="who sets the difficulty between rounds")
    p.add_argument("--record", default=None, metavar="FILE", help="record to FILE.gif or FILE.mp4")
    p.add_argument("--seconds", type=float, default=None, help="stop after T seconds")
    p.add_argument("--round-seconds", type=float, default=None, help="duel: length of a round in seconds")
    p.set_defaults(run=run)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def notice(msg: str) -> None:
    print(f"sandbox watch: {msg}", flush=True)


# ---- agents ----------------------------------------------------------------------------------------
def build_agent(spec: str, **context):
    """``agents.make_agent(spec, **context)`` with every loading failure turned into one line."""
    from agents import make_agent
    from experiments.cli import CliError

    try:
        return make_agent(spec, **context)
    except (ValueError, FileNotFoundError, CliError) as exc:
        raise CliError(_one_line(exc)) from None
    except ImportError as exc:
        raise CliError(f"agent {spec!r} is not available in this install ({_one_line(exc)})") from None
    except Exception as exc:  # a corrupt checkpoint fails inside torch / zipfile / SB3 in many ways
        raise CliError(f"cannot load agent {spec!r}: {type(exc).__name__}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def cannot_play(spec: str, game: str):
    """Turn an agent's failure to act (an agent for another game, a bad action) into one line."""
    from experiments.cli import CliError

    try:
        yield
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"agent {spec!r} cannot play the {game}: {type(exc).__name__}: {_one_line(exc)}") from None


def default_spec(game: str) -> str:
    """The game's default agent: the bundled one, or a scripted/planner agent (with a notice) when the
    bundled checkpoint is not shipped."""
    from agents.bundled import bundled_names

    spec = DEFAULT_P1[game]
    if spec.partition(":")[2] in bundled_names():
        return spec
    notice(f"{spec} is not shipped in agents/bundled; showing {FALLBACK_P1[game]} instead")
    return FALLBACK_P1[game]


def agent_info(agent) -> dict:
    """The training sidecar of a bundled / sb3 agent (env kwargs...), or {}."""
    info = getattr(agent, "info", None)
    return info if isinstance(info, dict) else {}


def policy_probs(agent, observation):
    """``agent.action_probs(observation)`` when the agent has it and it answers, else None."""
    fn = getattr(agent, "action_probs", None)
    if fn is None:
        return None
    probs = fn(observation)
    return None if probs is None else [np.asarray(p, dtype=np.float64) for p in probs]


class OpponentSlot:
    """P2 inside the single-agent DuelEnv, which is stepped one tick at a time: P2 decides every
    ``skip`` ticks (as with the env's ``frame_skip``) and holds its input in between; the watcher reads
    its last observation and action. Difficulty and the env's generator pass through to the agent."""

    def __init__(self, agent, skip: int):
        self.agent, self.skip = agent, int(skip)
        self.count = 0
        self.action = None
        self.observation = None
        self.decided = False

    @property
    def rng(self):
        return self.agent.rng

    @rng.setter
    def rng(self, value):
        self.agent.rng = value

    def __getattr__(self, name):  # set_difficulty and anything else the env asks for
        if name.startswith("_") or name == "agent":
            raise AttributeError(name)
        return getattr(self.agent, name)

    def reset(self) -> None:
        self.count, self.action, self.decided = 0, None, False
        if hasattr(self.agent, "reset"):
            self.agent.reset()

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.decided = self.count % self.skip == 0
        if self.decided:
            self.observation = observation
            self.action, _ = self.agent.predict(observation)
        self.count += 1
        return self.action, state


class StealthKeys:
    """A person at the keyboard in the stealth grid: arrows move, nothing held stays (``human``)."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        import pygame

        pygame.event.pump()
        held = pygame.key.get_pressed()
        for key, action in ((pygame.K_UP, 1), (pygame.K_DOWN, 2), (pygame.K_RIGHT, 3), (pygame.K_LEFT, 4)):
            if held[key]:
                return action, state
        return 0, state

    def reset(self) -> None:
        pass


def make_director(kind: str, game: str):
    """None, a RuleDirector (pacing on for stealth) or the bundled LearnedDirector."""
    from experiments.cli import CliError

    if kind == "none":
        return None
    if kind == "rule":
        from agents.meta import RuleDirector

        return RuleDirector(pacing=game == "stealth")
    from agents.bundled import BUNDLED_DIR
    from agents.meta import LearnedDirector

    for path in (BUNDLED_DIR / "director.zip", os.path.join("runs", "director", "policy.zip")):
        if os.path.isfile(path):
            try:
                return LearnedDirector.load(path)
            except Exception as exc:  # a corrupt zip
                raise CliError(f"{path}: cannot load the learned director ({_one_line(exc)})") from None
    raise CliError("--director learned: no agents/bundled/director.zip (nor runs/director/policy.zip); "
                   "train one with `python -m experiments.train_director`, or use --director rule")


# ---- the duel ---------------------------------------------------------------------------------------
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
        from envs.duel.env import DuelEnv
        from envs.duel.render import HEIGHT, WIDTH, DuelRenderer
        from envs.duel.rules import N_BUTTON, N_STICK
        from experiments.watch_ui import DuelTally, EmpiricalPolicy, Fonts

        self.cfg = cfg
        self.names = (cfg.p1 or default_spec("duel"), cfg.p2 or DEFAULT_P2)
        for name in self.names:
            if name.partition(":")[0] in STEALTH_ONLY:
                from experiments.cli import CliError

                raise CliError(f"agent {name!r} plays the stealth grid, not the duel: "
                               f"sandbox watch stealth --p1 {name}")
        probe = DuelEnv(opponent="random")  # only its spaces, for the factories
        context = dict(action_space=probe.action_space, observation_space=probe.observation_space)
        p1 = build_agent(self.names[0], **context, player=1)
        info = agent_info(p1)
        env_kwargs = info.get("env_kwargs", {}) if isinstance(info.get("env_kwargs"), dict) else {}
        self.skip = int(env_kwargs.get("frame_skip", 4))
        context["frame_skip"] = self.skip
        p2 = build_agent(self.names[1], **context, player=2)
        round_seconds = cfg.round_seconds or float(env_kwargs.get("round_seconds", 60))
        self.p1, self.slot = p1, OpponentSlot(p2, self.skip)
        self.base = DuelEnv(opponent=self.slot, frame_skip=1, round_seconds=round_seconds, side="left")
        self.director = make_director(cfg.director, "duel")
        if self.director is not None and not hasattr(p2, "set_difficulty"):
            notice(f"P2 ({self.names[1]}) has no difficulty setting: the director's choices change nothing")
        self.env = DirectedEnv(self.base, self.director) if self.director is not None else self.base
        self.renderer = DuelRenderer("rgb_array")
        self.size = (WIDTH, HEIGHT + 206)
        self.game_h = HEIGHT
        self.fonts = Fonts()
        self.overlay = 0
        self.empirical = (EmpiricalPolicy((N_STICK, N_BUTTON)), EmpiricalPolicy((N_STICK, N_BUTTON)))
        self.tally_cls = DuelTally
        self.seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
        self.finished = False
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
        self.action = None
        self.chosen = [None, None]  # (stick, button) of the last decision of each side
        self.probs: list = [None, None]
        self.pending_events: list[dict] = []
        self.tally.new_round()

    def advance(self) -> None:
        """One tick (or one tick of the result hold between rounds)."""
        from envs.duel.env import decode_action
        from experiments.watch_ui import duel_heads

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
        if self.count % self.skip == 0:  # P1 decides
            with cannot_play(self.names[0], "duel"):
                self.action, _ = self.p1.predict(self.obs)
                self.chosen[0] = decode_action(self.action)
                probs = policy_probs(self.p1, self.obs)
                self.probs[0] = None if probs is None else duel_heads(probs)
            self.empirical[0].add(self.chosen[0])
        with cannot_play(self.names[1], "duel"):  # P2 decides inside the env's step
            self.obs, _, terminated, _, info = self.env.step(self.action)
            if self.slot.decided:
                self.chosen[1] = decode_action(self.slot.action)
                probs = policy_probs(self.slot.agent, self.slot.observation)
                self.probs[1] = None if probs is None else duel_heads(probs)
        self.count += 1
        if self.slot.decided:
            self.empirical[1].add(self.chosen[1])
        events = [{**e, "by": {"agent": 0, "opponent": 1}.get(e["by"])} for e in info["events"]]
        self.pending_events += events
        self.tally.update(self.base.state, events)
        if terminated:
            self.tally.round_over(self.base.state.winner)
            if "director" in info:
                self.outcomes.append(bool(info["director"]["won"]))
                self.difficulties.append(float(info["director"]["difficulty"]))
            self.hold = self.hold_ticks

    def step_decision(self) -> None:
        """Right arrow while paused: play up to P1's next decision."""
        self.advance()
        while not self.finished and not self.hold and self.count % self.skip:
            self.advance()

    def cycle_overlay(self) -> None:
        self.overlay = (self.overlay + 1) % len(self.overlays)

    def summary(self) -> str:
        t = self.tally
        return (f"P1 {self.names[0]} {t.score[0]} - {t.score[1]} P2 {self.names[1]} ({t.score[None]} draws, "
                f"{t.rounds} rounds; hits {t.total_hits[0]}-{t.total_hits[1]}, "
                f"blocks {t.total_blocks[0]}-{t.total_blocks[1]})")

    # ---- drawing -------------------------------------------------------------------------------------
    def draw(self, surf, speed: float, paused: bool) -> None:
        import pygame

        from envs.duel.render import COLORS
        from experiments.watch_ui import BUTTON_LABELS, STICK_LABELS, draw_bars, draw_director, text

        mode = self.overlays[self.overlay]
        self.renderer.show_hitboxes = mode == "bars + hitboxes"
        self.renderer.draw(self.base.state, self.pending_events, labels=("P1", "P2"))
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
        if self.director is not None:
            difficulties = self.difficulties + [float(self.director.difficulty)]
            window = int(getattr(self.director, "window", 20))
            draw_director(surf, f, (cx, y0 + 80, 225, 100), difficulties, self.outcomes, window,
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


# ---- the stealth grid ---------------------------------------------------------------------------------
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
        from experiments.watch_ui import Fonts

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
        self.nav_features = bool(info.get("nav_features", False))
        self.size = (self.area + self.panel, self.area)
        self.fonts = Fonts()
        self.overlay = 0
        self.seed = cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
        self.results = {"goal": 0, "caught": 0, "time": 0}
        self.finished = False
        self.restart()

    def restart(self) -> None:
        self.level_index, self.episode, self.total_episodes = 0, 0, 0
        self.results = {"goal": 0, "caught": 0, "time": 0}
        self.outcomes: list[bool] = []
        self.difficulties: list[float] = []
        if self.director is not None and hasattr(self.director, "reset"):
            self.director.reset()
        self.finished = False
        self._open_level()

    # ---- levels, env and agent -------------------------------------------------------------------------
    def _open_level(self) -> None:
        from agents.meta import DirectedEnv
        from agents.navigation import NavFeatures
        from envs.stealth.env import StealthEnv
        from experiments.cli import CliError

        name = self.levels[self.level_index]
        kwargs = dict(self.env_kwargs)
        if name == "random":
            kwargs.setdefault("size", 12)
        try:
            env = StealthEnv(level=name, **kwargs)
        except (ValueError, OSError) as exc:
            raise CliError(_one_line(exc)) from None
        self.base = env
        if self.nav_features:
            env = NavFeatures(env)
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
            self.results[self.last] += 1
            if "director" in info:
                self.outcomes.append(bool(info["director"]["won"]))
                self.difficulties.append(float(info["director"]["difficulty"]))
            self.hold = self.hold_steps

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
        return (*base[:4], "V* (optimal)", base[4]) if solved else base

    def cycle_overlay(self) -> None:
        self.overlay = (self.overlay + 1) % len(self.overlays)

    def summary(self) -> str:
        r = self.results
        return (f"{self.spec}: {sum(r.values())} episode(s): goal {r['goal']}, "
                f"caught {r['caught']}, out of time {r['time']}")

    # ---- drawing ----------------------------------------------------------------------------------
    def _safe_path(self) -> list[int] | None:
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

    def draw(self, surf, speed: float, paused: bool) -> None:
        import pygame

        from envs.stealth.render import COLOURS, OVERLAY_COLOURS
        from experiments.watch_ui import STEALTH_LABELS, draw_bars, draw_director, text, value_heat

        base = self.base
        mode = self.overlays[self.overlay % len(self.overlays)]
        overlays, path = {}, None
        if mode in ("all", "threat map"):
            overlays["threat"] = self.threat
        if mode in ("all", "hiding spots"):
            overlays["hiding"] = self.hiding
        if mode in ("all", "safe path") and not self.hold:
            path = self._safe_path()
        if mode == "V* (optimal)" and getattr(self.actor, "solution", None) is not None:
            overlays["value"] = value_heat(self.actor.solution.V, self.actor.index, base.phase).reshape(
                base.level.shape)
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
        r = self.results
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
        if self.director is not None:
            difficulties = self.difficulties + [float(self.director.difficulty)]
            window = int(getattr(self.director, "window", 20))
            draw_director(surf, f, (x, self.area - 150, self.panel - 24, 110), difficulties, self.outcomes,
                          window, name=type(self.director).__name__)
        for k, line in enumerate(("Space pause  Right step  +/- speed", "R restart  Tab overlay  Esc quit")):
            text(surf, f.small, line, (x, self.area - 34 + 15 * k), (150, 150, 160))


def _fits(agent, space) -> bool:
    """Whether ``agent`` (an SB3 model or our learner) was trained on observations of ``space``'s shape."""
    for holder in (getattr(agent, "model", None), agent):
        obs_space = getattr(holder, "observation_space", None)
        if obs_space is not None and getattr(obs_space, "shape", None) is not None:
            return tuple(obs_space.shape) == tuple(space.shape)
    return True


# ---- the loop ------------------------------------------------------------------------------------------
def play(session, *, window, seconds: float | None, speed: float, recorder) -> int:
    """Run ``session`` frame by frame: in ``window`` (a pygame display surface, or None headless), for
    ``seconds`` (None: until Esc or the session ends), sending every ``record_every``-th frame to
    ``recorder``. Returns the number of frames drawn."""
    import pygame

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
            for ev in pygame.event.get():
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


def run(args) -> int:
    from envs.display import display_available
    from experiments.cli import CliError
    from experiments.watch_ui import Recorder

    cfg = Config(game=args.game, p1=args.p1, p2=args.p2, level=args.level, rounds=args.rounds, speed=args.speed,
                 seed=args.seed, director=args.director, record=args.record, seconds=args.seconds,
                 round_seconds=args.round_seconds)
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
    headless = not display_available()
    if headless and "human" in (cfg.p1, cfg.p2):
        raise CliError("the 'human' agent needs a window, and there is no display here "
                       "(run it on a desktop, or headless with: xvfb-run -a sandbox watch ...)")
    # ---- setup: the session, then the window (or not)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    session = (DuelSession if cfg.game == "duel" else StealthSession)(cfg)
    window = None
    if not headless:
        try:
            pygame.display.init()
            window = pygame.display.set_mode(session.size)
            pygame.display.set_caption(f"game-ai-sandbox: watch {cfg.game}")
        except pygame.error as exc:
            notice(f"cannot open a window ({_one_line(exc)}); recording a GIF instead")
            headless = True
    record = cfg.record
    if headless and record is None:
        record = os.path.join("runs", "watch", f"{cfg.game}.gif")
    seconds = cfg.seconds if cfg.seconds is not None else (HEADLESS_SECONDS if headless else None)
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
