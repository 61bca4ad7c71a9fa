"""The trace: one match or episode as compact JSON, per frame everything the watcher draws.

A trace is a JSON object ``{"format": "game-ai-sandbox-trace", "version": 1, "episodes": [...]}``; each
episode is self-contained (its game's constants, names, level, frames), so traces can be merged. The
format is documented in ``docs/replay.md``. Two recorders fill it from the watcher's sessions
(:class:`DuelTracer`, :class:`StealthTracer`: the sessions call them, when given one, as they show each
tick or step); :func:`record_duel_round` records one round of two agents without a session (for
``sandbox eval`` and the league). :func:`write_trace` writes a trace atomically; :func:`load_trace` reads an
untrusted one, size first (:data:`MAX_TRACE_BYTES`), and checks its shape: every refusal is one line naming
the file and what is valid.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

FORMAT = "game-ai-sandbox-trace"
VERSION = 1
MAX_TRACE_BYTES = 16 * 1024 * 1024  # a trace file (or a page's embedded trace) holds at most this many bytes
MAX_EPISODES = 200
MAX_FRAMES = 100_000  # per episode
GAMES = ("duel", "stealth")
PROB_SCALE = 1000  # probabilities are stored as integers in 0 .. 1000

# the fields of a fighter's row in a duel frame, in order; "hurt" and "atk" are 4 numbers each
# (x0, x1, y0, y1 in stage units), "atk" only while a melee move is active
FIGHTER_FIELDS = ("x", "y", "facing", "pose", "state", "move", "frame", "phase", "health", "guard", "height",
                  "look", "tip", "connected", "charge", "hurt", "atk")


# ---- the duel ----------------------------------------------------------------------------------------
def duel_constants() -> dict:
    """The duel's drawing constants a page needs (stage, HUD, projectile, joints), from the env's modules."""
    from envs.duel import poses, rules
    from envs.duel.render import COLORS, FLOOR, HEIGHT, WIDTH
    from envs.duel.rules import FRAME_DATA, Move

    pd = FRAME_DATA[Move.PROJECTILE]
    return {
        "width": WIDTH, "height": HEIGHT, "floor": FLOOR, "max_health": rules.MAX_HEALTH,
        "half_width": rules.HALF_WIDTH, "head_radius": poses.HEAD_RADIUS, "joints": list(poses.JOINTS),
        "colors": [list(c) for c in COLORS],
        "projectile": {"half_width": rules.PROJECTILE_HALF_WIDTH, "box_low": pd.box_low, "box_high": pd.box_high,
                       "reach": pd.reach},
        "move_names": [rules.MOVE_NAMES[m] for m in Move],
        "state_names": [s.name.lower() for s in rules.FState],
        "frame_data": {str(int(m)): [fd.startup, fd.active, fd.recovery] for m, fd in FRAME_DATA.items()},
    }


class PoseTable:
    """Distinct local poses (joints in the fighter's frame, rounded to whole units), each stored once."""

    def __init__(self):
        self.rows: list[list[int]] = []
        self._index: dict[tuple[int, ...], int] = {}

    def id(self, fighter) -> int:
        from envs.duel import poses

        local = poses.local_pose(fighter)
        key = tuple(int(round(c)) for name in poses.JOINTS for c in local[name])
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.rows)
            self.rows.append(list(key))
        return found


def fighter_row(f, pose_id: int) -> list[int]:
    """One fighter at one tick, in :data:`FIGHTER_FIELDS` order."""
    from envs.duel import poses, rules
    from envs.duel.rules import FRAME_DATA, FState, Move

    phase = f.phase() if f.move else 0
    hurt_state = f.state in (FState.HITSTUN, FState.GRABBED)
    look = 2 if f.health <= 0 else (1 if hurt_state else 0)
    tip = -1
    if poses.strike_tip(f) is not None and phase == 2:
        tip = poses.JOINTS.index(poses.STRIKER[Move(f.move)])
    charge = 0
    if f.move == Move.PROJECTILE and phase == 1 and f.state == FState.ATTACK:
        charge = 3 + 9 * f.frame // FRAME_DATA[Move.PROJECTILE].startup
    guard = int(f.guard) if f.guard and f.state != FState.HITSTUN else 0
    row = [int(f.x), int(f.y), int(f.facing), pose_id, int(f.state), int(f.move), int(f.frame), int(phase),
           int(f.health), guard, int(f.height), look, tip, int(bool(f.connected)), int(charge)]
    row += list(rules.hurtbox(f))
    box = rules.attack_box(f)
    if box is not None:
        row += list(box)
    return row


def probs_row(p) -> list[int]:
    return [int(round(PROB_SCALE * min(max(float(v), 0.0), 1.0))) for v in np.asarray(p).reshape(-1)]


class DuelRound:
    """One duel round being recorded: :meth:`frame` per tick shown, :meth:`finish` at its end."""

    def __init__(self, *, names, seed: int, round_index: int, frame_skip: int, round_ticks: int,
                 score=(0, 0, 0), title: str | None = None):
        self.poses = PoseTable()
        self.frames: list[dict] = []
        self.episode = {
            "game": "duel", "title": title or f"round {round_index + 1}: P1 {names[0]} vs P2 {names[1]}",
            "names": [str(n) for n in names], "seed": int(seed), "round": int(round_index),
            "score": [int(s) for s in score], "frame_skip": int(frame_skip), "round_ticks": int(round_ticks),
            "constants": duel_constants(), "fighter_fields": list(FIGHTER_FIELDS),
        }

    def frame(self, state, events=(), decision: dict | None = None) -> None:
        """The state shown at one tick, the events of that tick, and (on a decision's first tick) what each
        side decided: ``{"chosen": [(stick, button)] * 2, "probs": [(p_stick, p_button)] * 2,
        "source": [str, str]}``."""
        from envs.duel.render import spark_at

        row: dict = {"t": int(state.tick),
                     "f": [fighter_row(f, self.poses.id(f)) for f in state.fighters],
                     "p": [None if p is None else [int(p.x), int(p.vx)] for p in state.projectiles]}
        sparks = []
        for e in events:
            at = spark_at(state, e)
            if at is not None:
                sparks.append([e["type"], int(e["by"]), *at])
        if sparks:
            row["e"] = sparks
        if state.over:
            row["o"] = -1 if state.winner is None else int(state.winner)
        if decision is not None:
            row["d"] = {"c": [[int(a) for a in c] for c in decision["chosen"]],
                        "p": [[probs_row(h) for h in side] for side in decision["probs"]],
                        "s": [str(s) for s in decision["source"]]}
        self.frames.append(row)

    def finish(self, winner: int | None) -> dict:
        self.episode["winner"] = None if winner is None else int(winner)
        self.episode["poses"] = self.poses.rows
        self.episode["frames"] = self.frames
        return self.episode


class DuelTracer:
    """Records a :class:`experiments.watch.DuelSession`'s rounds as it shows them (the session calls
    :meth:`start`, :meth:`tick` and :meth:`end`)."""

    def __init__(self):
        self.episodes: list[dict] = []
        self.current: DuelRound | None = None

    def start(self, session) -> None:
        t = session.tally
        self.current = DuelRound(names=session.names, seed=session.seed + session.round,
                                 round_index=session.round, frame_skip=session.skip,
                                 round_ticks=int(session.base.state.round_ticks),
                                 score=(t.score[0], t.score[1], t.score[None]))
        self.current.frame(session.view)

    def tick(self, session, events, decided: bool) -> None:
        if self.current is None:
            return
        decision = None
        if decided:
            probs, sources = [], []
            for side in (0, 1):
                p = session.probs[side]
                if p is None:
                    p = session.empirical[side].probs()
                    sources.append(f"empirical: its last {len(session.empirical[side].recent)} decisions")
                else:
                    sources.append("policy: action probabilities")
                probs.append(p)
            decision = {"chosen": [c or (0, 0) for c in session.chosen], "probs": probs, "source": sources}
        self.current.frame(session.view, events, decision)

    def end(self, session, winner: int | None) -> None:
        if self.current is not None:
            self.episodes.append(self.current.finish(winner))
            self.current = None

    def recorded(self) -> list[dict]:
        """The rounds recorded so far, the one in progress last (``"winner": null``, ``"unfinished": true``)."""
        if self.current is None or len(self.current.frames) < 2:
            return list(self.episodes)
        partial = {**self.current.episode, "winner": None, "unfinished": True, "poses": list(self.current.poses.rows),
                   "frames": list(self.current.frames)}
        return [*self.episodes, partial]


def record_duel_round(agent, opponent, *, seed: int, frame_skip: int = 4, round_seconds: float = 60.0,
                      names=("P1", "P2"), title: str | None = None) -> dict:
    """One duel round of ``agent`` (left) against ``opponent`` (right, an agent or a spec) in
    ``DuelEnv(side="left")`` seeded ``seed``, as a trace episode: every tick, each decision's chosen
    inputs and, for agents with ``action_probs``, their distributions."""
    from envs.duel.env import DuelEnv, decode_action
    from experiments.watch.agents import OpponentSlot, policy_probs
    from experiments.watch.widgets import EmpiricalPolicy, duel_heads

    slot = OpponentSlot(opponent)
    env = DuelEnv(opponent=slot, frame_skip=frame_skip, round_seconds=round_seconds, side="left")
    ticks: list = []

    def keep(state, events):
        seen = sum(len(e) for _, e in ticks)
        ticks.append((state.copy(), list(events[seen:])))

    env.on_tick = keep
    obs, _ = env.reset(seed=seed)
    if hasattr(agent, "rng"):
        agent.rng = env.np_random
    if hasattr(agent, "reset"):
        agent.reset()
    rec = DuelRound(names=names, seed=seed, round_index=0, frame_skip=frame_skip,
                    round_ticks=int(env.state.round_ticks), title=title)
    rec.frame(env.state)
    empirical = (EmpiricalPolicy((9, 4)), EmpiricalPolicy((9, 4)))
    done = False
    while not done:
        action, _ = agent.predict(obs)
        chosen = [decode_action(action)]
        heads = [policy_probs(agent, obs)]
        ticks.clear()
        obs, _, terminated, truncated, _ = env.step(action)
        done = bool(terminated or truncated)
        chosen.append(decode_action(slot.action))
        heads.append(policy_probs(slot.agent, slot.observation))
        probs, sources = [], []
        for side in (0, 1):
            empirical[side].add(chosen[side])
            if heads[side] is None:
                probs.append(empirical[side].probs())
                sources.append(f"empirical: its last {len(empirical[side].recent)} decisions")
            else:
                probs.append(duel_heads(heads[side]))
                sources.append("policy: action probabilities")
        for k, (state, events) in enumerate(ticks):
            rec.frame(state, events, {"chosen": chosen, "probs": probs, "source": sources} if k == 0 else None)
    return rec.finish(env.state.winner)


# ---- the stealth grid --------------------------------------------------------------------------------
def stealth_level(session) -> dict:
    """The level part of a stealth episode: walls, start, goal, guards and cones per phase, the threat
    and hiding maps (0 .. 1000 per cell), the cell size the watcher draws it at."""
    world = session.base.world
    h, w = world.height, world.width
    walls = world.walls.reshape(h, w)
    return {
        "height": h, "width": w, "period": int(world.period), "cell_px": int(session.renderer.cell_px),
        "walls": ["".join("#" if v else "." for v in row) for row in walls],
        "start": int(world.start), "goal": int(world.goal),
        "watched": [np.flatnonzero(world.watched[p]).tolist() for p in range(world.period)],
        "guards": [[[int(c), round(float(f), 1)] for c, f in zip(world.guard_cells[p], world.guard_facing[p],
                                                                  strict=True)] for p in range(world.period)],
        "threat": probs_row(np.asarray(session.threat).reshape(-1)),
        "hiding": probs_row(np.asarray(session.hiding).reshape(-1)),
    }


class StealthTracer:
    """Records a :class:`experiments.watch.StealthSession`'s episodes step by step."""

    def __init__(self):
        self.episodes: list[dict] = []
        self.current: dict | None = None
        self._level_key = None
        self._level: dict | None = None

    def start(self, session) -> None:
        base = session.base
        if self._level_key is not base.level:
            self._level = stealth_level(session)
            self._level_key = base.level
        name = session.level_name if session.level_name != "random" else \
            f"generated (d={base.episode_difficulty:.2f})"
        r = session.stand_in if session.actor is not session.agent and not session.env_bound else session.results
        self.current = {
            "game": "stealth", "title": f"{name}, episode {session.total_episodes + 1}: {session.agent_label}",
            "level_name": str(name), "agent": str(session.agent_label),
            "seed": int(session.seed + session.total_episodes), "episode": int(session.total_episodes),
            "max_steps": int(base.max_steps), "results": [int(r["goal"]), int(r["caught"]), int(r["time"])],
            "level": self._level, "frames": [],
        }
        self.step(session)

    def step(self, session) -> None:
        if self.current is None:
            return
        base = session.base
        row: dict = {"c": int(base.cell), "ph": int(base.phase), "s": int(base.steps)}
        if session.chosen is not None and self.current["frames"]:
            row["a"] = int(session.chosen)
            if session.probs is not None:
                row["pr"] = probs_row(session.probs)
        if session.last is None:
            path = session.safe_path()
            if path:
                row["path"] = [int(c) for c in path]
        self.current["frames"].append(row)
        if session.last is not None:
            self.current["result"] = session.last
            self.episodes.append(self.current)
            self.current = None

    def recorded(self) -> list[dict]:
        """The episodes recorded so far, the one in progress last (``"result": null``, ``"unfinished": true``)."""
        if self.current is None or len(self.current["frames"]) < 2:
            return list(self.episodes)
        return [*self.episodes, {**self.current, "result": None, "unfinished": True,
                                 "frames": list(self.current["frames"])}]


# ---- files -------------------------------------------------------------------------------------------
def make_trace(episodes) -> dict:
    return {"format": FORMAT, "version": VERSION, "episodes": list(episodes)}


def trace_text(trace: dict) -> str:
    """Compact JSON (no spaces); refused in one line when over :data:`MAX_TRACE_BYTES`."""
    text = json.dumps(trace, separators=(",", ":"), allow_nan=False)
    if len(text.encode("utf-8")) > MAX_TRACE_BYTES:
        raise ValueError(f"the trace would be {len(text.encode('utf-8'))} bytes, over the limit of {MAX_TRACE_BYTES}; "
                         "record fewer rounds or seconds")
    return text


def write_trace(path: str | os.PathLike, trace: dict) -> Path:
    """Write ``trace`` to ``path`` atomically."""
    from envs.fileio import atomic_write_text

    return atomic_write_text(path, trace_text(trace))


def check_trace(trace: object, where: str) -> dict:
    """``trace`` when it has the shape of a version-1 trace; else a one-line ValueError naming ``where``."""
    def bad(reason: str) -> ValueError:
        return ValueError(f"{where}: {reason}; not a trace ({FORMAT} version {VERSION}: see docs/replay.md)")

    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise bad(f"'format' is not {FORMAT!r}")
    if trace.get("version") != VERSION:
        raise bad(f"version {trace.get('version')!r} is not supported (this sandbox reads {VERSION})")
    episodes = trace.get("episodes")
    if not isinstance(episodes, list) or not 1 <= len(episodes) <= MAX_EPISODES:
        raise bad(f"'episodes' must be a list of 1 to {MAX_EPISODES} episodes")
    for k, ep in enumerate(episodes):
        if not isinstance(ep, dict) or ep.get("game") not in GAMES:
            raise bad(f"episode {k}: 'game' must be one of {', '.join(GAMES)}")
        frames = ep.get("frames")
        if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES \
                or not all(isinstance(f, dict) for f in frames):
            raise bad(f"episode {k}: 'frames' must be a list of 1 to {MAX_FRAMES} objects")
        if not isinstance(ep.get("title", ""), str):
            raise bad(f"episode {k}: 'title' must be text")
        if ep["game"] == "duel":
            if not isinstance(ep.get("poses"), list) or not isinstance(ep.get("constants"), dict):
                raise bad(f"episode {k}: a duel episode needs 'poses' and 'constants'")
        elif not isinstance(ep.get("level"), dict):
            raise bad(f"episode {k}: a stealth episode needs 'level'")
    return trace


def load_trace(path: str | os.PathLike) -> dict:
    """Read an untrusted trace file: at most :data:`MAX_TRACE_BYTES` bytes, JSON, the version-1 shape."""
    from envs.fileio import read_json_object

    return check_trace(read_json_object(path, MAX_TRACE_BYTES, "trace"), str(path))
