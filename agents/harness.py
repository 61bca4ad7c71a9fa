"""The batched harness: seeded rounds and episodes of any agent, many at once, one record each.

:mod:`agents.rollout` runs one env, episode after episode; this module runs N at once in a natively
batched env, every agent speaking the batched protocol (:mod:`agents.batched`; specs and agent objects
are turned into one by :func:`agents.make_batched_agent`). Every loop that plays many duel rounds or
stealth episodes goes through it: ``sandbox eval duel|stealth|exploit``, the arena's matches and the
comparisons' ladders, the ghost's batched play and fine-tuning, and the DAgger warm start.

* :func:`play_duel`: ``rounds`` rounds of an agent against an opponent in the two-player form of
  :class:`envs.duel.vector.DuelVectorEnv`, both sides batched agents; the agent's side alternates (left in
  even rounds), is fixed, or is drawn per round.
* :func:`play_episodes`: ``episodes`` episodes of an agent in any one-player batched env with next-step
  autoreset (``gym.make_vec("sandbox/Stealth-v0", ...)``, a one-player duel), built by ``make_env(n)``.
* :func:`run_steps`: a continuing stream of steps in an env that is already running (DAgger's rounds).

**Seeds.** Round or episode ``i`` is seeded ``seed + i``, whatever the chunk it runs in: the env's slot
is reset with that seed (``reset(seed=s)`` seeds slot ``j`` with ``s + j``), and each side's agent
gets one seed per episode (:func:`side_seed`): the duel's opponent the first ``integers(2**63)`` of
``default_rng(seed + i)``, exactly what the single env's opponent draws at ``reset(seed=seed + i)``, then
the side (``sides="random"``) as the single env draws it; the agent and an oracle draw from streams of
their own, ``SeedSequence(seed + i, spawn_key=(1,))`` and ``(2,)``. So a round of :func:`play_duel` is the
round the single env plays at that seed (given the agent's actions), and a seeded run repeats exactly.

**Records.** Only each slot's first episode is recorded: a slot whose episode ended restarts (the env
autoresets) and plays on unrecorded, its agents inactive, until the chunk's last episode ends. Each
episode gives a :class:`Record` (seed, return, length, success; in the duel the winner, the side and the
final health of both fighters). **Hooks.** ``on_step`` sees each step of the chunk as a :class:`StepBatch`
(the agent's observations and actions, an ``oracle``'s actions on the same observations, rewards, flags,
info, and which rows were live), e.g. to record demos or DAgger labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from agents.batched import make_batched_agent
from agents.protocol import BatchedAgent, is_batched
from envs.duel.config import DuelConfig

if TYPE_CHECKING:
    from gymnasium.vector import VectorEnv

    from envs.duel.vector import DuelVectorEnv

StepHook = Callable[["StepBatch"], object]

__all__ = ["Record", "StepBatch", "duel_summary", "play_duel", "play_episodes", "run_steps", "side_seed"]

AGENT, ORACLE = 1, 2  # seed streams of the agent and of an oracle (stream 0: the env's own generator)
SIDES = ("alternate", "left", "right", "random")


def side_seed(seed: int, stream: int) -> int:
    """The seed (in [0, 2**63)) of one side of the episode seeded ``seed``: stream 0 is the first
    ``integers(2**63)`` of ``default_rng(seed)`` (the duel opponent's, as in the single env), stream k > 0
    the first of ``default_rng(SeedSequence(seed, spawn_key=(k,)))``."""
    source = seed if stream == 0 else np.random.SeedSequence(seed, spawn_key=(stream,))
    return int(np.random.default_rng(source).integers(2**63))


@dataclass
class Record:
    """One episode (a duel round): the per-episode record of the harness."""

    index: int  # episode number i, seeded seed + i
    seed: int  # the env seed of the episode
    ret: float  # the agent's undiscounted return
    length: int  # the agent's decisions (env steps)
    success: bool | None  # info["is_success"] at the end (duel: the agent won); None if not reported
    terminated: bool  # ended by the MDP (else truncated)
    discounted: float = math.nan  # sum_t gamma^t r_t with the harness's gamma
    winner: str | None = None  # duel: "agent", "opponent" or "draw"
    side: int | None = None  # duel: the fighter the agent played (0 left, 1 right)
    health: tuple[int, int] | None = None  # duel: final health (agent, opponent)
    ticks: int | None = None  # duel: the round's length in ticks

    def as_dict(self) -> dict:
        """JSON-friendly record."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class StepBatch:
    """One step of a chunk, as ``on_step`` sees it (arrays over the chunk's rows)."""

    t: int  # step number in the chunk, from 0
    index: np.ndarray  # (n,) episode number of each row
    live: np.ndarray  # (n,) bool: the row's recorded episode was running (its agent acted)
    obs: np.ndarray  # the agent's observations, acted on
    actions: np.ndarray  # the agent's actions (rows not live: stale)
    labels: np.ndarray | None  # the oracle's actions on the same observations (None without an oracle)
    rewards: np.ndarray  # (n,) the agent's rewards
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict = field(repr=False)


def _resolve(agent: object, **context: object) -> BatchedAgent:
    return agent if is_batched(agent) else make_batched_agent(agent, **context)  # type: ignore[arg-type]


# ==================================================================================================
# Duel rounds, both sides batched
# ==================================================================================================
def play_duel(agent: object, opponent: object, rounds: int, *, seed: int = 0, sides: str = "alternate",
              frame_skip: int = DuelConfig.frame_skip, round_seconds: float = 60.0, deterministic: bool = False,
              oracle: object | None = None, on_step: Callable[[StepBatch], object] | None = None,
              chunk: int = 1000) -> list[Record]:
    """``rounds`` duel rounds of ``agent`` against ``opponent`` (specs, agent objects or batched agents),
    ``chunk`` at once in the two-player batched duel; round ``i`` seeded ``seed + i`` (module docstring).
    ``sides``: ``alternate`` (the agent left in even rounds), ``left``, ``right`` or ``random`` (drawn
    per round, as ``DuelEnv(side="random")``). Specs are built to sample (``deterministic`` applies to the
    agent's spec). ``oracle`` (optional) acts on the agent's observations and its actions reach
    ``on_step`` as labels only. Returns one :class:`Record` per round, in order."""
    from gymnasium import spaces

    from envs.duel.env import OBS_SIZE
    from envs.duel.rules import N_BUTTON, N_STICK
    from envs.duel.vector import DuelVectorEnv

    if rounds < 1 or chunk < 1:
        raise ValueError(f"rounds and chunk must be >= 1; got {rounds}, {chunk}")
    if sides not in SIDES:
        raise ValueError(f"sides must be one of {', '.join(SIDES)}; got {sides!r}")
    if agent is opponent and not isinstance(agent, str):
        raise ValueError("one agent object cannot play both sides (each side keeps its own per-round state); "
                         "pass a spec string or two objects")
    context = {"action_space": spaces.MultiDiscrete([N_STICK, N_BUTTON]),
               "observation_space": spaces.Box(-1.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32),
               "frame_skip": int(frame_skip)}
    a = _resolve(agent, deterministic=deterministic, **context)
    b = _resolve(opponent, **context)
    o = None if oracle is None else _resolve(oracle, **context)
    if a is b or (o is not None and (o is a or o is b)):
        raise ValueError("each side of a match needs its own batched agent (one object cannot play two sides)")
    records: list[Record] = []
    for start in range(0, rounds, chunk):
        n = min(chunk, rounds - start)
        env = DuelVectorEnv(num_envs=n, opponent=None, frame_skip=frame_skip, round_seconds=round_seconds)
        records += _duel_chunk(env, a, b, o, start, seed, sides, on_step)
        env.close()
    return records


def _duel_chunk(env: DuelVectorEnv, a: BatchedAgent, b: BatchedAgent, o: BatchedAgent | None, start: int, seed: int,
                sides: str, on_step: StepHook | None) -> list[Record]:
    n = env.num_envs
    index = start + np.arange(n)
    seeds = seed + index
    side = np.empty(n, dtype=np.int64)
    opp_seeds = np.empty(n, dtype=np.int64)
    for j, s in enumerate(seeds.tolist()):  # what DuelEnv.reset(seed=s) draws, in its order: opponent, side
        rng = np.random.default_rng(s)
        opp_seeds[j] = rng.integers(2**63)
        side[j] = {"alternate": index[j] % 2, "left": 0, "right": 1}.get(sides, -1)
        if sides == "random":
            side[j] = rng.integers(2)
    obs, _ = env.reset(seed=int(seeds[0]))
    rows, nan = np.arange(n), np.full(n, np.nan)
    for agent, keys in ((a, [side_seed(int(s), AGENT) for s in seeds]), (b, opp_seeds),
                        (o, [side_seed(int(s), ORACLE) for s in seeds])):
        if agent is not None:
            agent.bind(n)
            agent.reset_envs(rows, np.asarray(keys, dtype=np.int64), nan)
    act = np.zeros((n, 2, 2), dtype=np.int64)
    out_a, out_b = np.zeros((n, 2), dtype=np.int64), np.zeros((n, 2), dtype=np.int64)
    labels = np.zeros((n, 2), dtype=np.int64) if o is not None else None
    live = np.ones(n, dtype=bool)
    ret, length = np.zeros(n), np.zeros(n, dtype=np.int64)
    winner, ticks = np.full(n, -2, dtype=np.int64), np.zeros(n, dtype=np.int64)
    health = np.zeros((n, 2), dtype=np.int64)
    terminated_at = np.zeros(n, dtype=bool)
    t = 0
    while live.any():
        mine = np.ascontiguousarray(obs[rows, side])
        theirs = np.ascontiguousarray(obs[rows, 1 - side])
        a.act(mine, live, out_a)
        b.act(theirs, live, out_b)
        if o is not None and labels is not None:  # (both or neither)
            o.act(mine, live, labels)
        act[rows, side], act[rows, 1 - side] = out_a, out_b
        obs, rewards, terminated, truncated, info = env.step(act)
        reward = rewards[rows, side]
        ret += np.where(live, reward, 0.0)
        length += live
        ended = (terminated | truncated) & live
        if on_step is not None:
            on_step(StepBatch(t, index, live.copy(), mine, out_a.copy(), None if labels is None else labels.copy(),
                              reward, terminated, truncated, info))
        if ended.any():
            winner[ended], ticks[ended] = info["winner"][ended], info["tick"][ended]
            health[ended, 0] = info["health"][rows[ended], side[ended]]
            health[ended, 1] = info["health"][rows[ended], 1 - side[ended]]
            terminated_at[ended] = terminated[ended]
        live &= ~ended
        t += 1
    out = []
    for j in range(n):
        w = "draw" if winner[j] < 0 else ("agent" if winner[j] == side[j] else "opponent")
        out.append(Record(int(index[j]), int(seeds[j]), float(ret[j]), int(length[j]), w == "agent",
                          bool(terminated_at[j]), winner=w, side=int(side[j]),
                          health=(int(health[j, 0]), int(health[j, 1])), ticks=int(ticks[j])))
    return out


def duel_summary(records: Sequence[Record]) -> dict:
    """The agent's wins, losses and draws over ``records`` and the mean round length in ticks (the arena's
    result dict)."""
    wins = sum(r.winner == "agent" for r in records)
    losses = sum(r.winner == "opponent" for r in records)
    ticks = [r.ticks for r in records if r.ticks is not None]
    return {"wins": wins, "losses": losses, "draws": len(records) - wins - losses,
            "mean_ticks": float(np.mean(ticks)) if ticks else math.nan}


# ==================================================================================================
# Episodes of a one-player batched env
# ==================================================================================================
def play_episodes(make_env: Callable[[int], VectorEnv], agent: object, episodes: int, *, seed: int = 0,
                  deterministic: bool = True, gamma: float = 1.0, oracle: object | None = None,
                  on_step: Callable[[StepBatch], object] | None = None, chunk: int = 1000) -> list[Record]:
    """``episodes`` episodes of ``agent`` in the one-player batched envs ``make_env(n)`` builds (next-step
    autoreset, ``reset(seed=s)`` seeding slot ``j`` with ``s + j``), ``chunk`` at once; episode ``i`` seeded
    ``seed + i``. ``agent`` (a spec, an agent object or a batched agent) is built for each chunk's env
    (context: its spaces and ``env=`` itself, so ``planner`` and ``optimal`` read it), acting with
    ``deterministic`` (default True, as evaluations do). Records carry the discounted return with ``gamma``
    and, where the env reports them, ``winner`` and the duel's healths."""
    if episodes < 1 or chunk < 1:
        raise ValueError(f"episodes and chunk must be >= 1; got {episodes}, {chunk}")
    records: list[Record] = []
    for start in range(0, episodes, chunk):
        n = min(chunk, episodes - start)
        env = make_env(n)
        if env.num_envs != n:
            raise ValueError(f"make_env({n}) built {env.num_envs} envs")
        context = {"action_space": env.single_action_space, "observation_space": env.single_observation_space,
                   "env": env}
        a = _resolve(agent, deterministic=deterministic, **context)
        o = None if oracle is None else _resolve(oracle, deterministic=True, **context)
        records += _episode_chunk(env, a, o, start, seed, gamma, on_step)
        env.close()
    return records


def _episode_chunk(env: VectorEnv, a: BatchedAgent, o: BatchedAgent | None, start: int, seed: int, gamma: float,
                   on_step: StepHook | None) -> list[Record]:
    n = env.num_envs
    index = start + np.arange(n)
    seeds = seed + index
    obs, _ = env.reset(seed=int(seeds[0]))
    rows, nan = np.arange(n), np.full(n, np.nan)
    for agent, stream in ((a, AGENT), (o, ORACLE)):
        if agent is not None:
            agent.bind(n)
            agent.reset_envs(rows, np.array([side_seed(int(s), stream) for s in seeds], dtype=np.int64), nan)
    out = np.zeros((n, *cast("tuple[int, ...]", env.single_action_space.shape)), dtype=np.int64)
    labels = np.zeros_like(out) if o is not None else None
    live = np.ones(n, dtype=bool)
    ret, disc, length = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    success = np.full(n, -1, dtype=np.int64)
    terminated_at = np.zeros(n, dtype=bool)
    winner = np.full(n, None, dtype=object)
    health = np.full((n, 2), -1, dtype=np.int64)
    t = 0
    while live.any():
        a.act(obs, live, out)
        if o is not None and labels is not None:  # (both or neither)
            o.act(obs, live, labels)
        acted = obs
        obs, rewards, terminated, truncated, info = env.step(out)
        rewards = np.asarray(rewards, dtype=np.float64)
        ret += np.where(live, rewards, 0.0)
        disc += np.where(live, rewards * gamma ** length.astype(np.float64), 0.0)
        length += live
        ended = (np.asarray(terminated) | np.asarray(truncated)) & live
        if on_step is not None:
            on_step(StepBatch(t, index, live.copy(), acted, out.copy(), None if labels is None else labels.copy(),
                              rewards, terminated, truncated, info))
        if ended.any():
            terminated_at[ended] = np.asarray(terminated)[ended]
            if "is_success" in info:
                success[ended] = np.asarray(info["is_success"])[ended].astype(np.int64)
            if "winner" in info:
                winner[ended] = np.asarray(info["winner"], dtype=object)[ended]
            if "agent_health" in info:
                health[ended, 0] = np.asarray(info["agent_health"])[ended]
                health[ended, 1] = np.asarray(info["opponent_health"])[ended]
        live &= ~ended
        t += 1
    return [Record(int(index[j]), int(seeds[j]), float(ret[j]), int(length[j]),
                   None if success[j] < 0 else bool(success[j]), bool(terminated_at[j]), float(disc[j]),
                   winner=None if winner[j] is None else str(winner[j]),
                   health=None if health[j, 0] < 0 else (int(health[j, 0]), int(health[j, 1])))
            for j in range(n)]


# ==================================================================================================
# A continuing stream of steps
# ==================================================================================================
def run_steps(env: VectorEnv, agent: BatchedAgent, steps: int, obs: np.ndarray, *, seed: int = 0,
              oracle: BatchedAgent | None = None, on_step: Callable[[StepBatch], object] | None = None,
              fresh: bool = True, pending: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` steps of ``agent`` (and ``oracle``, labelling) in ``env``, a one-player batched env with
    next-step autoreset that is already running at ``obs``. With ``fresh`` the agents are bound and every
    row starts an episode; a row whose episode ended restarts on the env's next step, and its agents
    start a new episode after it (seeded from ``default_rng(SeedSequence(seed, spawn_key=(stream,)))``).
    Rows the env only resets on a step (``pending``: their episode ended on the step before) do not act
    and are not live in the :class:`StepBatch`. Returns the last observations and ``pending``, to continue
    with ``fresh=False``."""
    n = env.num_envs
    rngs = {AGENT: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(AGENT,))),
            ORACLE: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ORACLE,)))}
    members = [(agent, AGENT)] + ([(oracle, ORACLE)] if oracle is not None else [])

    def start(rows: np.ndarray) -> None:
        for member, stream in members:
            member.reset_envs(rows, rngs[stream].integers(2**63, size=len(rows)), np.full(len(rows), np.nan))

    pending = np.zeros(n, dtype=bool) if pending is None else np.asarray(pending, dtype=bool).copy()
    if fresh:
        for member, _ in members:
            member.bind(n)
        start(np.arange(n))
    index = np.arange(n)
    out = np.zeros((n, *cast("tuple[int, ...]", env.single_action_space.shape)), dtype=np.int64)
    labels = np.zeros_like(out) if oracle is not None else None
    for t in range(steps):
        live = ~pending
        agent.act(obs, live, out)
        if oracle is not None and labels is not None:  # (both or neither)
            oracle.act(obs, live, labels)
        acted = obs
        obs, rewards, terminated, truncated, info = env.step(out)
        if on_step is not None:
            on_step(StepBatch(t, index, live, acted, out.copy(), None if labels is None else labels.copy(),
                              np.asarray(rewards, dtype=np.float64), terminated, truncated, info))
        restarted = pending  # the env reset these rows on this step: their agents start anew
        if restarted.any():
            start(np.flatnonzero(restarted))
        pending = np.asarray(terminated) | np.asarray(truncated)
    return obs, pending
