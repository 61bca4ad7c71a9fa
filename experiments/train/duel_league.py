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

After every PPO update: when the gate is open (the main agent scored > ``gate`` over its last ``window``
games), the learner is saved as ``checkpoints/snapshot-K.pt`` and joins the pool, frozen; with
``exploiter_every`` > 0, every that many steps a best response is trained against the frozen main agent
(:func:`experiments.evaluate.exploit.train_best_response`) and joins the pool as an exploiter.

The run folder: ``config.json``, ``metrics.csv`` (one row per ``log_every`` steps: training return, the
main agent's recent score, its live and refitted Elo, pool size, snapshots, games), TensorBoard under
``tb/`` (the same, plus each member's rating and draw probability), ``ladder.json`` (the league's summary
and the Bradley-Terry ladder), ``plots/elo.png``, ``checkpoints/`` (``latest.pt``, ``final.pt``,
``snapshot-K.pt``; each with its JSON sidecar).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from agents.opponents import batched_duel_opponent
from envs.duel.config import DuelConfig
from envs.duel.vector import DuelVectorEnv
from envs.fileio import atomic_save, atomic_write_text
from experiments.train.league import MAIN, League
from experiments.train.run import log_scalars, write_metrics

DEFAULT_POOL = ("random,scripted:easy,scripted:normal,scripted:hard,scripted:rushdown,scripted:zoner,"
                "scripted:turtle,scripted:rushdown-hard,scripted:zoner-hard,scripted:turtle-hard")
METRIC_FIELDS = ("steps", "train_return", "main_win_rate", "elo", "elo_fit", "pool", "snapshots", "exploiters",
                 "games", "seconds")


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

    def __init__(self, env: DuelVectorEnv, league: League, pool: PoolOpponent):
        super().__init__(env)
        self.league, self.pool = league, pool

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            winner = info.get("winner")
            for i in ended:
                w = None if winner is None else winner[i]
                score = 1.0 if w == "agent" else 0.0 if w == "opponent" else 0.5
                self.league.record(str(self.pool.assigned[i]), score)
        return obs, rewards, terminated, truncated, info


# ==================================================================================================
# The trainer
# ==================================================================================================
@dataclass
class LeagueConfig:
    """``sandbox train duel --algo ppo-pg --league``; league options come through ``--set KEY=VALUE``."""

    steps: int = 1_000_000  # total learner env steps
    n_envs: int = 64  # rounds stepped at once
    seed: int = 0  # the learner, the envs (seed, seed+1, ...) and the league's draws
    device: str = "auto"  # the learner's device
    pool: str = DEFAULT_POOL  # the scripted (and any other fixed) members, comma-separated agent specs
    weighting: str = "hard"  # PFSP: hard (1-x)^p, variance x(1-x), linear, uniform
    p: float = 2.0  # the exponent of hard PFSP
    self_play: float = 0.2  # share of rounds against the live main agent itself
    window: int = 20  # the snapshot gate's window (games of the main agent)
    gate: float = 0.9  # a snapshot joins when the window's score rate is strictly above this
    opp_window: int = 50  # games per opponent its win rate is estimated from
    k: float = 32.0  # Elo's k-factor
    exploiter_every: int = 0  # train an exploiter against the frozen main agent every N steps (0: never)
    exploiter_steps: int = 100_000  # each exploiter's training budget
    max_snapshots: int = 50  # stop adding snapshots beyond this many
    log_every: int = 20_000  # a metrics row (and checkpoints/latest.pt) every N steps
    frame_skip: int = DuelConfig.frame_skip  # env ticks per decision
    round_seconds: float = 60  # a round's time limit (a short one makes short test runs finish rounds)
    hyper: dict = field(default_factory=dict)  # the PPO's options (nets.ppo.PPO)


def split_options(options: dict) -> tuple[dict, dict]:
    """``--set`` items -> (league fields, PPO options)."""
    names = {f.name for f in fields(LeagueConfig)} - {"hyper"}
    return {k: v for k, v in options.items() if k in names}, {k: v for k, v in options.items() if k not in names}


def config_from_cli(*, steps: int | None, n_envs: int | None, seed: int, device: str, options: dict) -> LeagueConfig:
    """The league's config from ``sandbox train duel --algo ppo-pg --league``: PPO defaults from
    ``train_configs.toml`` (``[default.ppo-pg]``, ``[duel.ppo-pg]``), ``--steps``/``--envs``, and ``--set``
    items, league fields (``gate=0.8``, ``pool=...``) and PPO options (``lr=1e-3``) alike."""
    from experiments.train.config import resolve_config

    league_opts, ppo_opts = split_options(options)
    run = {k: v for k, v in {"steps": steps, "n_envs": n_envs}.items() if v is not None}
    base = resolve_config("duel", "ppo-pg", run)
    return LeagueConfig(steps=int(base["steps"]), n_envs=int(base["n_envs"]), seed=seed, device=device,
                        hyper={**base["hyper"], **ppo_opts}, **league_opts)


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


def build_league(cfg: LeagueConfig) -> League:
    """The league with its fixed members (``cfg.pool``), each played by its batched opponent."""
    league = League(weighting=cfg.weighting, p=cfg.p, self_play=cfg.self_play, window=cfg.window, gate=cfg.gate,
                    opp_window=cfg.opp_window, k=cfg.k)
    for spec in [s.strip() for s in cfg.pool.split(",") if s.strip()]:
        league.add(spec, "scripted" if spec.partition(":")[0] in ("random", "scripted") else "fixed",
                   batched_duel_opponent(spec, frame_skip=cfg.frame_skip, device="cpu"))
    return league


def train_league(cfg: LeagueConfig, out: str | Path, progress: bool = True) -> dict:
    """Train the main agent in the league; returns the league's summary and the run folder."""
    # ---- setup: the league (its options checked before anything is written), the run folder, the batched
    # duel with the pool as its opponent, the learner
    league = build_league(cfg)
    from torch.utils.tensorboard import SummaryWriter

    from nets.device import cpu_threads_for_training, resolve_device
    from nets.policy_gradient import load_learner
    from nets.ppo import PPO

    # one torch thread (SANDBOX_TORCH_THREADS): the league's small MLPs ran ~7x slower on torch's default
    # of one thread per core, contending with the env kernels and every other process for the cores
    cpu_threads_for_training(resolve_device(cfg.device))

    run_dir = Path(out)
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pick another --out")
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    config = {"env": "duel", "algo": "ppo-pg", "league": True, **asdict(cfg)}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    pool = PoolOpponent(league, seed=cfg.seed)
    env = LeagueRecorder(DuelVectorEnv(num_envs=cfg.n_envs, opponent=pool, side="random", frame_skip=cfg.frame_skip,
                                       round_seconds=cfg.round_seconds),
                         league, pool)
    learner = PPO(env, seed=cfg.seed, device=cfg.device, **cfg.hyper)
    league.members[MAIN].payload = batched_duel_opponent(learner)  # the live learner: its current weights
    writer = SummaryWriter(str(run_dir / "tb" / "sandbox"))
    meta = {"env": "duel", "env_id": "sandbox/Duel-v0", "league": True, "nav_features": False, "shaping": False,
            "env_kwargs": {"side": "random", "frame_skip": cfg.frame_skip, "round_seconds": cfg.round_seconds}}
    rows: list[dict] = []
    recent: list[float] = []
    t0 = time.time()
    state = {"next_log": cfg.log_every, "next_exploiter": cfg.exploiter_every or math.inf, "exploiters": 0}

    def add_snapshot() -> None:
        k, rate = league.snapshots + 1, league.gate_rate
        path = learner.save(run_dir / "checkpoints" / f"snapshot-{k}.pt", {**meta, "steps": learner.num_timesteps})
        frozen = load_learner(path, device="cpu")
        league.add(f"snapshot-{k}", "snapshot", batched_duel_opponent(frozen))
        if progress:
            print(f"{learner.num_timesteps:>9} steps  snapshot-{k} joins (score {rate:.2f} over "
                  f"the last {cfg.window}); pool {len(league)}", flush=True)

    def add_exploiter() -> None:
        from experiments.evaluate.exploit import train_best_response

        state["exploiters"] += 1
        k = state["exploiters"]
        path = learner.save(run_dir / "checkpoints" / f"main-for-exploiter-{k}.pt", {**meta})
        frozen = load_learner(path, device="cpu")
        br = train_best_response(frozen, steps=cfg.exploiter_steps, n_envs=cfg.n_envs, seed=cfg.seed + 1000 * k,
                                 device=cfg.device, hyper=cfg.hyper)
        br_path = br.save(run_dir / "checkpoints" / f"exploiter-{k}.pt", {**meta, "exploits": path.name})
        league.add(f"exploiter-{k}", "exploiter", batched_duel_opponent(load_learner(br_path, device="cpu")))

    def log_row() -> None:
        fit = league.refit()
        row = {"steps": int(learner.num_timesteps),
               "train_return": float(np.mean(recent)) if recent else math.nan,
               "main_win_rate": league.main_win_rate, "elo": league.members[MAIN].rating,
               "elo_fit": fit.get(MAIN, math.nan), "pool": len(league), "snapshots": league.snapshots,
               "exploiters": state["exploiters"], "games": league.games, "seconds": round(time.time() - t0, 2)}
        rows.append(row)
        log_scalars(writer, "league", row)
        summary = league.summary()
        for name, o in summary["opponents"].items():
            writer.add_scalar(f"league_elo/{name}", o["rating"], row["steps"])
            writer.add_scalar(f"league_p/{name}", o["p"], row["steps"])
        writer.flush()
        write_metrics(run_dir, rows, METRIC_FIELDS)
        atomic_write_text(run_dir / "ladder.json", json.dumps({**summary, "ladder": fit}, indent=2) + "\n")
        _plot_elo(run_dir, rows)
        learner.save(run_dir / "checkpoints" / "latest.pt", {**meta, "steps": row["steps"]})
        if progress:
            print(f"{row['steps']:>9} steps  return {row['train_return']:6.3f}  score(last {cfg.window}) "
                  f"{row['main_win_rate']:.2f}  Elo {row['elo']:7.1f} (fit {row['elo_fit']:7.1f})  "
                  f"pool {row['pool']}  snapshots {row['snapshots']}", flush=True)

    def callback(info: dict):
        recent.extend(info["episode_returns"])
        del recent[:-100]
        steps = info["steps"]
        if league.gate_open() and league.snapshots < cfg.max_snapshots:
            add_snapshot()
        if steps >= state["next_exploiter"]:
            state["next_exploiter"] += cfg.exploiter_every
            add_exploiter()
        if steps >= state["next_log"]:
            state["next_log"] += cfg.log_every
            log_row()

    # ---- the loop
    learner.learn(cfg.steps, callback=callback)
    if not rows or rows[-1]["steps"] < learner.num_timesteps:
        log_row()
    learner.save(run_dir / "checkpoints" / "final.pt", {**meta, "steps": int(learner.num_timesteps)})
    writer.close()
    return {"run_dir": str(run_dir), "rows": rows, **league.summary(), "ladder": league.refit()}
