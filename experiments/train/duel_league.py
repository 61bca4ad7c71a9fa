"""``sandbox train duel --algo ppo-pg --league``: self-play on the batched duel with a league of opponents.

How it plays. One batched duel (:class:`envs.duel.vector.DuelVectorEnv`, ``side="random"``) of N rounds;
the learner (``nets.ppo.PPO``) plays one fighter of every round, from its own view. The other fighter is
:class:`PoolOpponent`, a batched opponent that, at each round's start, draws that round's opponent from
the league (:class:`experiments.train.league.League`, prioritised fictitious self-play) and then, every
step, hands each member the rows it plays. Every member is a batched agent
(:func:`agents.make_batched_agent`): scripted presets and styles through their batched kernels, ``random``,
frozen past selves, exploiters and the live main agent as one forward pass of their policy over their rows'
observations, sampling per row. At each
round's end :class:`LeagueRecorder` books the result (win 1, draw 1/2, loss 0) with the league: the
opponent's win rate, the gate's window and the Elo ladder.

The league is a part of the one training loop (:class:`LeaguePart`, see :mod:`experiments.train.parts`),
not a trainer of its own: ``sandbox train duel --algo ppo-pg --league`` is ``sandbox train`` with the pool
as the opponent. After every PPO update: when the gate is open (the main agent scored > ``gate`` over its
last ``window`` games), the learner is saved as ``checkpoints/snapshot-K.pt`` and joins the pool, frozen;
with ``exploiter_every`` > 0, every that many steps a best response is trained against the frozen main
agent (:func:`experiments.train.best_response.train_best_response`) and joins the pool as an exploiter.

The run folder is the run's (:class:`experiments.train.run.Run`): ``metrics.csv`` gains the league's
columns (the main agent's recent score, its live and refitted Elo, pool size, snapshots, exploiters,
games), TensorBoard each member's rating and draw probability (``league_elo/NAME``, ``league_p/NAME``) and
the main agent's archetype shares (``league_style/STYLE``: the style mixture of its last 200 rounds in the
first 8 rows, named by ``sandbox style``'s model, :class:`agents.style.reference.StyleTracker`);
``ladder.json`` holds the league's summary, the Bradley-Terry ladder and the archetype shares at every log
(``style_shares``), ``plots/elo.png`` the Elo curve.
Every checkpoint's sidecar holds the league's state, so ``--resume`` continues the league where it was.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from agents.opponents import batched_duel_opponent
from agents.style.reference import StyleTracker, load_reference
from envs.duel.config import DuelConfig
from envs.duel.vector import DuelVectorEnv
from envs.fileio import atomic_save
from experiments.train.config import DEFAULT_POOL, LeagueSettings, typed_settings
from experiments.train.league import MAIN, League
from experiments.train.parts import Part

__all__ = ["DEFAULT_POOL", "LeaguePart", "LeagueRecorder", "PoolOpponent", "build_league"]


# ==================================================================================================
# Opponents on the batch
# ==================================================================================================
class PoolOpponent:
    """The league as one batched opponent: round i is played by member ``assigned[i]``, drawn from the
    league's PFSP probabilities when the round starts (from this object's own generator). The members'
    payloads are batched agents (the protocol of :mod:`agents.batched`); each is bound to all N rounds and
    acts on its own rows only."""

    spec = "league"

    def __init__(self, league: League, seed: int = 0):
        self.league = league
        self.rng = np.random.default_rng(seed)
        self.num_envs = 0
        self.assigned = np.zeros(0, dtype=object)
        self._bound: set[str] = set()

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.assigned = np.full(self.num_envs, MAIN, dtype=object)
        self._scratch = np.zeros((self.num_envs, 2), dtype=np.int64)
        self._bound.clear()

    def _member(self, name: str):
        player = self.league.members[name].payload
        if player is None:
            raise ValueError(f"league member {name!r} has nothing to play it")
        if name not in self._bound:
            player.bind(self.num_envs)
            self._bound.add(name)
        return player

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        idx, seeds = np.asarray(idx, dtype=np.int64), np.asarray(seeds, dtype=np.int64)
        self.assigned[idx] = self.league.sample(self.rng, len(idx))
        for name in dict.fromkeys(self.assigned[idx]):
            mine = self.assigned[idx] == name
            self._member(name).reset_envs(idx[mine], seeds[mine], np.full(int(mine.sum()), np.nan))

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        for name in dict.fromkeys(self.assigned[active]):
            mine = active & (self.assigned == name)
            self._member(name).act(obs, mine, self._scratch)
            out[mine] = self._scratch[mine]

    def counts(self) -> dict[str, int]:
        """How many rounds each member is playing now."""
        names, n = np.unique(self.assigned.astype(str), return_counts=True)
        return dict(zip(names.tolist(), n.tolist(), strict=True))


def _vector_wrapper():
    from gymnasium.vector import VectorWrapper

    return VectorWrapper


class LeagueRecorder(_vector_wrapper()):
    """The one-player batched duel, booking each finished round with the league: the main agent's score
    (``winner`` "agent" 1, "draw" 1/2, "opponent" 0) against the member that played the round."""

    def __init__(self, env: DuelVectorEnv, league: League, pool: PoolOpponent, tracker: StyleTracker | None = None):
        super().__init__(env)
        self.league, self.pool, self.tracker = league, pool, tracker
        self._obs: np.ndarray | None = None
        self._pending = np.zeros(env.num_envs, dtype=bool)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._obs, self._pending = obs, np.zeros(len(obs), dtype=bool)
        return obs, info

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        done = np.asarray(terminated | truncated)
        if self.tracker is not None and self._obs is not None:  # the main agent's style (rows it tracks)
            self.tracker.observe(self._obs, np.asarray(actions).reshape(len(done), -1), done, skip=self._pending)
        self._obs, self._pending = obs, done
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            winner = info.get("winner")
            for i in ended:
                w = None if winner is None else winner[i]
                score = 1.0 if w == "agent" else 0.0 if w == "opponent" else 0.5
                self.league.record(str(self.pool.assigned[i]), score)
        return obs, rewards, terminated, truncated, info


# ==================================================================================================
# The part of the training loop
# ==================================================================================================
def _plot_elo(run_dir: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["steps"] for r in rows]
    ax.plot(steps, [r["elo"] for r in rows], marker="o", label="main agent, live Elo (k = 32)")
    ax.plot(steps, [r["elo_fit"] for r in rows], marker=".", label="main agent, Bradley-Terry fit (random = 1000)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("Elo")
    ax.set_title("duel league")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save(run_dir / "plots" / "elo.png", lambda p: fig.savefig(p, dpi=100), suffix=".png")
    plt.close(fig)


def build_league(cfg: LeagueSettings, frame_skip: int = DuelConfig.frame_skip) -> League:
    """The league with its fixed members (``cfg.pool``), each played by its batched opponent."""
    league = League(weighting=cfg.weighting, p=cfg.p, self_play=cfg.self_play, window=cfg.window, gate=cfg.gate,
                    opp_window=cfg.opp_window, k=cfg.k)
    specs = [s.strip() for s in cfg.pool.split(",") if s.strip()]
    if not specs:
        raise ValueError("--league.pool is empty; give comma-separated agent specs such as random,scripted:hard")
    for spec in specs:
        league.add(spec, "scripted" if spec.partition(":")[0] in ("random", "scripted") else "fixed",
                   batched_duel_opponent(spec, frame_skip=frame_skip, device="cpu"))
    return league


class LeaguePart(Part):
    """The league around the one loop: the pool is the training env's opponent, every round's result is
    booked, snapshots and exploiters join after updates, and the league's state rides in every checkpoint."""

    name = "league"
    fields = ("main_win_rate", "elo", "elo_fit", "pool", "snapshots", "exploiters", "games")

    def __init__(self, config: dict):
        self.settings = typed_settings(LeagueSettings, config["parts"]["league"], "--league.")
        self.frame_skip = int(config["env_kwargs"].get("frame_skip", DuelConfig.frame_skip))
        self.round_seconds = float(config["env_kwargs"].get("round_seconds", 60.0))
        self.config = config
        self.league = build_league(self.settings, self.frame_skip)
        self.pool = PoolOpponent(self.league, seed=int(config["seed"]))
        self.tracker = StyleTracker(load_reference())  # the main agent's archetype shares (agents.style)
        self.style_history: list[dict] = []  # the shares at every log
        self.exploiters = 0
        self.next_exploiter = float(self.settings.exploiter_every or math.inf)
        self.learner: Any = None

    def env_kwargs(self, config: dict) -> dict:
        if "opponent" in config["env_kwargs"] and config["env_kwargs"]["opponent"] != "scripted:normal":
            raise ValueError("--opponent does not apply to --league (the league picks the opponents)")
        return {"opponent": self.pool, "side": "random"}

    def wrap(self, env: Any) -> Any:
        return LeagueRecorder(env, self.league, self.pool, self.tracker)

    def _frozen(self, path: Path):
        from nets.policy_gradient import load_learner

        return batched_duel_opponent(load_learner(path, device="cpu"))

    def start(self, learner: Any, run: Any) -> None:
        self.learner = learner
        self.league.members[MAIN].payload = batched_duel_opponent(learner)  # the live learner: its current weights
        state = run.resumed_meta.get("parts", {}).get("league") if run.resumed else None
        if state:
            self.league.load_state(state["league"])
            for name, member in self.league.members.items():
                if member.kind in ("snapshot", "exploiter"):
                    member.payload = self._frozen(run.folder / "checkpoints" / f"{name}.pt")
            self.exploiters = int(state["exploiters"])
            nxt = state.get("next_exploiter")
            self.next_exploiter = math.inf if nxt is None else float(nxt)
            self.pool.rng.bit_generator.state = state["rng"]

    def after_update(self, learner: Any, run: Any, steps: int) -> None:
        cfg = self.settings
        if self.league.gate_open() and self.league.snapshots < cfg.max_snapshots:
            k, rate = self.league.snapshots + 1, self.league.gate_rate
            path = run.checkpoint(f"snapshot-{k}", lambda p: learner.save(p), steps, {"league": True})
            self.league.add(f"snapshot-{k}", "snapshot", self._frozen(path))
            if k <= cfg.traces:
                self.milestone(learner, path, run, k, steps)
            run.say(f"{steps:>9} steps  snapshot-{k} joins (score {rate:.2f} over the last {cfg.window}); "
                    f"pool {len(self.league)}")
        if steps >= self.next_exploiter:
            self.next_exploiter += cfg.exploiter_every
            self.add_exploiter(learner, run, steps)

    def milestone(self, learner: Any, snapshot: Path, run: Any, k: int, steps: int) -> None:
        """A milestone match as a replay trace, ``traces/snapshot-K.json``: one round of the main agent (left)
        against the snapshot that just joined, seeded K (``sandbox replay`` makes it a page)."""
        from experiments.replay.trace import make_trace, record_duel_round, write_trace
        from nets.policy_gradient import load_learner

        episode = record_duel_round(learner, load_learner(snapshot, device="cpu"), seed=k,
                                    frame_skip=self.frame_skip, round_seconds=self.round_seconds,
                                    names=("main", f"snapshot-{k}"),
                                    title=f"league: main vs snapshot-{k} at {steps:,} steps")
        (run.folder / "traces").mkdir(exist_ok=True)
        write_trace(run.folder / "traces" / f"snapshot-{k}.json", make_trace([episode]))

    def add_exploiter(self, learner: Any, run: Any, steps: int) -> None:
        from experiments.train.best_response import train_best_response

        self.exploiters += 1
        k = self.exploiters
        path = run.checkpoint(f"main-for-exploiter-{k}", lambda p: learner.save(p), steps, {"league": True})
        frozen = self._frozen(path)
        br = train_best_response(frozen, steps=self.settings.exploiter_steps, n_envs=int(self.config["n_envs"]),
                                 seed=int(self.config["seed"]) + 1000 * k, device=learner.device,
                                 hyper=self.config["hyper"], round_seconds=self.round_seconds)
        br_path = run.checkpoint(f"exploiter-{k}", lambda p: br.save(p), steps, {"exploits": path.name})
        self.league.add(f"exploiter-{k}", "exploiter", self._frozen(br_path))

    def row(self) -> dict:
        fit = self.league.refit()
        return {"main_win_rate": self.league.main_win_rate, "elo": self.league.members[MAIN].rating,
                "elo_fit": fit.get(MAIN, math.nan), "pool": len(self.league), "snapshots": self.league.snapshots,
                "exploiters": self.exploiters, "games": self.league.games}

    def state(self) -> dict:
        return {"league": self.league.state(), "exploiters": self.exploiters,
                "next_exploiter": self.next_exploiter if math.isfinite(self.next_exploiter) else None,
                "rng": self.pool.rng.bit_generator.state}

    def logged(self, run: Any) -> None:
        """After a metrics row: the ladder, the members' ratings in TensorBoard, the Elo plot."""
        summary = self.league.summary()
        x = int(run.rows[-1]["steps"])
        for name, o in summary["opponents"].items():
            run.scalar(f"league_elo/{name}", o["rating"], x)
            run.scalar(f"league_p/{name}", o["p"], x)
        shares = self.tracker.shares()
        if self.tracker.rounds:
            for name, v in shares.items():
                run.scalar(f"league_style/{name}", v, x)
            self.style_history.append({"steps": x, "rounds": self.tracker.rounds, **shares})
        run.write_json("ladder.json", {**summary, "ladder": self.league.refit(), "style_shares": self.style_history})
        _plot_elo(run.folder, run.rows)

    def summary(self) -> dict:
        return {**self.league.summary(), "ladder": self.league.refit(), "style_shares": self.tracker.shares(),
                "style_rounds": self.tracker.rounds, "style_history": self.style_history}
