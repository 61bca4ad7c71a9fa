"""``sandbox compare director``: do the directors keep players of every skill in the flow channel?

    sandbox compare director [--episodes 200] [--round-seconds 60] [--ppo PATH] [--policy PATH] ...

Players of the fighting duel (``sandbox/Duel-v0``, playing against the scripted opponent whose
difficulty the director sets): ``random``, ``scripted:easy``, ``scripted:hard``, a trained PPO agent
if one is given or found, an ``improving`` scripted fighter (its own strength rises from 0.05 to 0.95
over the session), and a ``synthetic`` learner (win probability ``sigmoid(8 (skill - d))``, skill
0.1 -> 0.9 over the session; no fighting, so no health figure). Settings: fixed difficulty 0.5,
:class:`RuleDirector`, :class:`LearnedDirector` (PPO trained in ``sandbox/Director-v0``; trained here
first if its zip is missing, ~2-4 min on 2 cores).

Reported per player and setting: the fraction of the episodes after the warm-up (20) whose rolling
win rate (window 20) lies in 0.5 +- 0.1, the win rate, the mean |health difference| at round end
and the mean difficulty. The rolling win rates are plotted (``runs/compare_director/plots/director.png``
and, with ``--docs``, a copy in ``docs/director.png``); per-episode rows go to ``metrics.csv``.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from envs.duel.config import DuelConfig
from envs.fileio import atomic_write_bytes

# where a trained PPO duel agent is looked for when --ppo is not given (first existing wins)
PPO_CANDIDATES = (os.path.join("runs", "duel_ppo", "model.zip"), os.path.join("runs", "duel_ppo.zip"))
SETTINGS = ("fixed 0.5", "rule", "learned")


@dataclass
class DirectorCompareConfig:
    episodes: int = 200  # episodes per player and setting
    warmup: int = 20  # episodes before the channel is scored
    window: int = 20  # rolling win-rate window
    target: float = 0.5  # the flow channel's centre
    band: float = 0.1  # its half-width
    round_seconds: float = 60.0  # duel round length
    frame_skip: int = DuelConfig.frame_skip  # duel ticks per step
    opponent: str = "scripted:normal"  # the duel opponent the director tunes (its difficulty is overridden)
    seed: int = 0  # seeds players, envs and (if trained here) the learned director
    policy: str = ""  # LearnedDirector zip (default: the bundled director); a path that does not exist is trained first
    train_steps: int = 120_000  # PPO meta-steps when the policy is trained here
    ppo: str = ""  # a trained PPO duel agent (sb3 zip); empty: look in runs/duel_ppo/, else skip
    out: str = os.path.join("runs", "compare_director")  # run folder
    docs: bool = False  # copy the plot to docs/director.png


def add_director_args(parser: argparse.ArgumentParser) -> None:
    from experiments.options import add_config_args

    add_config_args(parser, DirectorCompareConfig)


def config_from_args(args) -> DirectorCompareConfig:
    from experiments.options import config_from_args as from_args

    cfg = from_args(DirectorCompareConfig, args)
    if cfg.episodes <= cfg.warmup:
        raise ValueError(f"--episodes ({cfg.episodes}) must exceed --warmup ({cfg.warmup})")
    if cfg.window < 1 or cfg.warmup < 0:
        raise ValueError("--window must be >= 1 and --warmup >= 0")
    if not 0 < cfg.band < min(cfg.target, 1 - cfg.target) + 1e-12:
        raise ValueError(f"--target must be in (0, 1) and --band in (0, min(target, 1 - target)]; got "
                         f"{cfg.target}, {cfg.band}")
    if cfg.ppo and not os.path.isfile(cfg.ppo):
        raise FileNotFoundError(f"--ppo {cfg.ppo}: no such file (a stable-baselines3 zip)")
    return cfg


# ---- players --------------------------------------------------------------------------------------


class ImprovingFighter:
    """A scripted fighter whose own strength rises linearly from ``start`` to ``end`` over
    ``episodes`` episodes (one step per ``reset``): a duel player who learns."""

    def __init__(self, fighter, episodes: int, start: float = 0.05, end: float = 0.95):
        self.fighter, self.episodes, self.start, self.end = fighter, max(int(episodes), 2), start, end
        self.played = -1

    def reset(self) -> None:
        self.played += 1
        frac = min(self.played / (self.episodes - 1), 1.0)
        self.fighter.set_difficulty(self.start + (self.end - self.start) * frac)
        self.fighter.reset()

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return self.fighter.predict(observation, state, episode_start, deterministic)


def find_ppo(cfg: DirectorCompareConfig) -> str | None:
    if cfg.ppo:
        return cfg.ppo
    return next((p for p in PPO_CANDIDATES if os.path.isfile(p)), None)


def make_duel_player(name: str, env, rng: np.random.Generator, cfg: DirectorCompareConfig, ppo_path=None):
    from agents import make_agent

    kwargs = {"action_space": env.action_space, "observation_space": env.observation_space, "rng": rng,
              "frame_skip": cfg.frame_skip}
    if name == "improving":
        return ImprovingFighter(make_agent("scripted:0.05", **kwargs), cfg.episodes)
    if name == "ppo":
        return make_agent(f"sb3:{ppo_path}", **kwargs)
    return make_agent(name, **kwargs)


# ---- directors ------------------------------------------------------------------------------------


def load_or_train_policy(cfg: DirectorCompareConfig):
    """The LearnedDirector's SB3 policy: the bundled director by default, else loaded from ``cfg.policy``, or
    trained first when that file does not exist (into ``--out``'s ``director-run`` unless the path is a run
    folder's ``checkpoints/final.zip``)."""
    from experiments.train.director import TrainConfig, train_director

    if not cfg.policy:  # the shipped director, as the README's figures used
        from agents.bundled import bundled_path

        print(f"[compare] the learned director: bundled:director ({bundled_path('director')})", file=sys.stderr,
              flush=True)
        from agents.sb3_agent import load_sb3

        return load_sb3(bundled_path("director"), device="cpu")
    if not os.path.isfile(cfg.policy):
        print(f"[compare] no director policy at {cfg.policy}: training one ({cfg.train_steps} meta-steps)",
              file=sys.stderr, flush=True)
        in_run = cfg.policy.endswith(os.path.join("checkpoints", "final.zip"))
        run_dir = os.path.dirname(os.path.dirname(cfg.policy)) if in_run else os.path.join(cfg.out, "director-run")
        model = train_director(TrainConfig(steps=cfg.train_steps, seed=cfg.seed, out=run_dir), verbose=False)
        if not in_run:  # a --policy outside a run folder: the trained policy is written there too
            from envs.fileio import atomic_save

            atomic_save(cfg.policy, model.save, suffix=".zip")
    from agents.sb3_agent import load_sb3  # never unpickles from the file

    return load_sb3(cfg.policy, device="cpu")


def make_director(setting: str, cfg: DirectorCompareConfig, policy):
    from agents.meta import FixedDirector, LearnedDirector, RuleDirector

    if setting == "fixed 0.5":
        return FixedDirector(0.5)
    if setting == "rule":
        return RuleDirector(target=cfg.target, band=cfg.band, window=cfg.window)
    return LearnedDirector(policy)


# ---- sessions -------------------------------------------------------------------------------------


def duel_session(name: str, director, cfg: DirectorCompareConfig, seed: int, ppo_path=None) -> dict:
    """``cfg.episodes`` duel rounds of player ``name`` under ``director``; per-episode lists."""
    import gymnasium as gym

    import envs  # noqa: F401
    from agents.meta import DirectedEnv

    flat = False
    if name == "ppo":
        from agents.sb3_agent import load_sb3

        flat = hasattr(load_sb3(ppo_path, device="cpu").action_space, "n")
    base = gym.make("sandbox/Duel-v0", opponent=cfg.opponent, frame_skip=cfg.frame_skip,
                    round_seconds=cfg.round_seconds, flat_actions=flat)
    env = DirectedEnv(base, director)
    player = make_duel_player(name, env, np.random.default_rng(seed), cfg, ppo_path)
    from agents.rollout import evaluate

    rec = {"difficulty": [], "won": [], "health_diff": []}

    def record(episode) -> None:
        rec["difficulty"].append(env.episode_difficulty)
        rec["won"].append(bool(episode.info["director"]["won"]))
        rec["health_diff"].append(float(episode.info["director"]["health_diff"]))

    # seeded once, then the env's generator runs on through the session
    seeds = [seed] + [None] * (cfg.episodes - 1)
    evaluate(player, env, cfg.episodes, seeds=seeds, deterministic=False, on_episode=record)
    env.close()
    return rec


def synthetic_session(director, cfg: DirectorCompareConfig, seed: int) -> dict:
    """The synthetic learner: skill 0.1 -> 0.9 over the session, slope 8."""
    from agents.meta import SyntheticPlayer

    player = SyntheticPlayer(skill=0.1, slope=8.0, improve=0.8 / cfg.episodes)
    rng = np.random.default_rng(seed)
    rec = {"difficulty": [], "won": [], "health_diff": []}
    for _ in range(cfg.episodes):
        d = director.difficulty
        won = player.play(d, rng)
        director.observe(won)
        rec["difficulty"].append(d)
        rec["won"].append(won)
        rec["health_diff"].append(float("nan"))
    return rec


# ---- report ---------------------------------------------------------------------------------------


def summarise(rec: dict, cfg: DirectorCompareConfig) -> dict:
    from agents.meta import in_band_fraction

    health = np.abs(np.asarray(rec["health_diff"], dtype=np.float64))
    return {
        "in_band": in_band_fraction(rec["won"], window=cfg.window, warmup=cfg.warmup, target=cfg.target,
                                    band=cfg.band),
        "win_rate": float(np.mean(rec["won"])),
        "mean_abs_health_diff": None if np.all(np.isnan(health)) else float(np.nanmean(health)),
        "mean_difficulty": float(np.mean(rec["difficulty"])),
    }


def plot(records: dict, cfg: DirectorCompareConfig, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.meta import rolling_mean

    players = list(records)
    cols = 3
    rows = (len(players) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), sharey=True, squeeze=False)
    colours = {"fixed 0.5": "tab:gray", "rule": "tab:blue", "learned": "tab:orange"}
    for ax, player in zip(axes.flat, players, strict=False):
        for setting, rec in records[player].items():
            rate = rolling_mean(rec["won"], cfg.window)
            x = np.arange(1, len(rate) + 1)
            ax.plot(x[cfg.warmup:], rate[cfg.warmup:], color=colours.get(setting), lw=1.2, label=setting)
        ax.axhspan(cfg.target - cfg.band, cfg.target + cfg.band, color="tab:green", alpha=0.12)
        ax.set_title(player, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("episode", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(players):]:
        ax.axis("off")
    axes[0, 0].set_ylabel(f"rolling win rate ({cfg.window})", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"rolling win rate; flow channel {cfg.target} +- {cfg.band} shaded", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run_director(args) -> int:
    cfg = config_from_args(args)

    from nets.device import set_threads

    set_threads()
    t0 = time.time()
    policy = load_or_train_policy(cfg)
    ppo_path = find_ppo(cfg)
    players = ["random", "scripted:easy", "scripted:hard"] + (["ppo"] if ppo_path else []) + ["improving",
                                                                                               "synthetic"]
    if not ppo_path:
        print("[compare] no trained PPO duel agent (--ppo PATH): skipping that player", file=sys.stderr)
    records: dict[str, dict[str, dict]] = {}
    for i, name in enumerate(players):
        records[name] = {}
        for setting in SETTINGS:
            t = time.time()
            director = make_director(setting, cfg, policy)
            seed = cfg.seed * 1000 + i
            if name == "synthetic":
                rec = synthetic_session(director, cfg, seed)
            else:
                rec = duel_session(name, director, cfg, seed, ppo_path)
            records[name][setting] = rec
            print(f"[compare] {name:14s} {setting:10s} {time.time() - t:6.1f} s", file=sys.stderr, flush=True)
    seconds = time.time() - t0

    # ---- report ----
    results = {p: {s: summarise(rec, cfg) for s, rec in by.items()} for p, by in records.items()}
    channel = f"in {cfg.target}+-{cfg.band}"
    print(f"\nplayers x settings, {cfg.episodes} episodes each (duel rounds of {cfg.round_seconds:g} s, "
          f"frame_skip {cfg.frame_skip}, opponent {cfg.opponent}); scored after {cfg.warmup} warm-up episodes")
    print(f"{'player':15s} {'setting':10s} {channel:>11s} {'win rate':>9s} {'|dHealth|':>10s} {'mean d':>7s}")
    for player, by in results.items():
        for setting, r in by.items():
            hd = "-" if r["mean_abs_health_diff"] is None else f"{r['mean_abs_health_diff']:.1f}"
            print(f"{player:15s} {setting:10s} {r['in_band']:11.0%} {r['win_rate']:9.0%} {hd:>10s} "
                  f"{r['mean_difficulty']:7.2f}")
    ok = {s: sum(results[p][s]["in_band"] >= 0.8 for p in results) for s in SETTINGS}
    print("players kept in the channel >= 80% of post-warm-up episodes: "
          + ", ".join(f"{s} {ok[s]}/{len(results)}" for s in SETTINGS))

    # ---- files ----
    plot_path = os.path.join(cfg.out, "plots", "director.png")
    plot(records, cfg, plot_path)
    if cfg.docs:
        from experiments.studies.common import copy_to_docs

        copy_to_docs(plot_path, "director.png")
    atomic_write_bytes(os.path.join(cfg.out, "config.json"), json.dumps(asdict(cfg), indent=2).encode())
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["player", "setting", "episode", "difficulty", "won", "health_diff"])
    for player, by in records.items():
        for setting, rec in by.items():
            for k in range(len(rec["won"])):
                writer.writerow([player, setting, k, f"{rec['difficulty'][k]:.4f}", int(rec["won"][k]),
                                 rec["health_diff"][k]])
    atomic_write_bytes(os.path.join(cfg.out, "metrics.csv"), buf.getvalue().encode())
    print(f"plot: {plot_path}" + (" (copied to docs/director.png)" if cfg.docs else ""))
    print(json.dumps({"compare": "director", "episodes": cfg.episodes, "seconds": round(seconds, 1),
                      "ppo": ppo_path, "in_channel_players": ok, "results": results}))
    return 0
