"""``sandbox compare ghost``: how faithful is a ghost to the player it was cloned from?

    sandbox compare ghost --ghost runs/me --demos demos/me [--rounds 10] [--out runs/compare_ghost]
    sandbox compare ghost --styles [--style-rounds 50] [--rounds 10] [--dagger]

The ghost plays the opponents its demonstrator faced (the ``opponent`` of every demo round), ``--rounds``
rounds each, and its play is compared with the demos on: the Jensen-Shannon divergence (bits, 0 = same,
1 = disjoint) of the stick and of the button distributions, of the move-usage frequencies (moves
started) and of the distance kept to the opponent (gap histogram); the guard rate; win rate and damage
per round against each opponent. ``divergence`` is the mean of the four JS figures.

``--styles`` records the scripted styles rushdown, zoner and turtle itself (``--style-rounds`` rounds
each against scripted easy, normal and hard), trains one ghost per style and reports the 3 x 3
``style_matrix``: divergence of each ghost's play from each style's demos (lower = closer; each ghost
should be closest to its own style). ``--dagger`` (scripted demonstrators only) adds DAgger rounds:
the ghost plays, the scripted demonstrator labels the states the ghost reached, the ghost is
retrained on the union, and the fidelity before and after is reported.

Prints a table, saves ``OUT/ghost_fidelity.png`` (copied to ``docs/ghost_fidelity.png`` with
``--docs``) and ``OUT/report.json``, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STYLES = ("rushdown", "zoner", "turtle")
METRICS = ("js_stick", "js_button", "js_moves", "js_gap")


@dataclass
class GhostCompareConfig:
    ghost: str = ""  # ghost run folder or checkpoint (single mode)
    demos: str = ""  # the demonstrator's demo folder (single mode)
    rounds: int = 10  # rounds the ghost plays against each opponent
    styles: bool = False  # record, train and compare rushdown, zoner and turtle (the style matrix)
    style_rounds: int = 50  # demo rounds recorded per style (--styles)
    vs: str = "scripted:easy,scripted:normal,scripted:hard"  # opponents of the style demos (--styles)
    epochs: int = 40  # max training epochs per style ghost (--styles)
    head: str = "conditional"  # the style ghosts' button head: conditional or independent (--styles)
    temperature: float = 1.0  # the ghost's sampling temperature
    dagger: bool = False  # add DAgger iterations with the scripted demonstrator as the oracle
    dagger_iters: int = 2  # DAgger iterations
    round_seconds: float = 60.0  # round length of the ghost's rounds (and of recorded style demos)
    seed: int = 0  # seeds recording, training and play
    out: str = "runs/compare_ghost"  # output folder
    docs: bool = False  # copy the plot to docs/ghost_fidelity.png


def add_ghost_args(parser: argparse.ArgumentParser) -> None:
    from experiments.cli.args import add_config_args

    add_config_args(parser, GhostCompareConfig, choices={"head": ("conditional", "independent")})
    parser.add_argument("--no-docs", action="store_true", help=argparse.SUPPRESS)  # old scripts


def config_from_args(args) -> GhostCompareConfig:
    from experiments.cli.args import config_from_args as from_args

    cfg = from_args(GhostCompareConfig, args)
    if not cfg.styles and not (cfg.ghost and cfg.demos):
        raise ValueError("sandbox compare ghost needs --ghost PATH --demos DIR, or --styles")
    for name in ("rounds", "style_rounds", "epochs", "dagger_iters"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(cfg, name)}")
    if not cfg.temperature > 0 or not cfg.round_seconds > 0:
        raise ValueError("--temperature and --round-seconds must be > 0")
    return cfg


# ---- playing and measuring -------------------------------------------------------------------------------


@dataclass
class Played:
    """One round the ghost played (the same fields a demo round has)."""

    obs: np.ndarray
    actions: np.ndarray
    opponent: str
    winner: str  # player | opponent | draw
    final_health: np.ndarray  # (player, opponent)


def play_rounds(make_player, opponents: list[str], rounds: int, *, frame_skip: int, round_seconds: float,
                seed: int, oracle=None) -> list[Played]:
    """``rounds`` rounds of the agent from ``make_player(env)`` against each opponent, headless. With
    ``oracle`` (an agent), the oracle is queried on every state the player reached and its actions are
    returned as ``actions`` instead (DAgger labels)."""
    from agents.opponents import make_duel_env
    from agents.rollout import run_episode

    out: list[Played] = []
    seeds = np.random.SeedSequence(seed).generate_state(rounds * len(opponents), np.uint32)
    k = 0
    for spec in opponents:
        env = make_duel_env(opponent=spec, frame_skip=frame_skip, round_seconds=round_seconds)
        player = make_player(env)
        for _ in range(rounds):
            obs_buf, act_buf = [], []

            def collect(step, obs_buf=obs_buf, act_buf=act_buf) -> None:
                if oracle is not None and step.t == 0:
                    oracle.reset()
                obs_buf.append(step.observation)
                label = step.action if oracle is None else oracle.predict(step.observation)[0]
                act_buf.append(np.asarray(label, dtype=np.int64).reshape(2))

            ep = run_episode(player, env, seed=int(seeds[k]), deterministic=False, on_step=collect)
            k += 1
            info = ep.info
            winner = {"agent": "player", "opponent": "opponent"}.get(info["winner"], "draw")
            out.append(Played(np.stack(obs_buf), np.stack(act_buf), spec, winner,
                              np.array([info["agent_health"], info["opponent_health"]])))
        env.close()
    return out


def outcome_stats(rounds) -> dict:
    """Per opponent: ``rounds``, ``win_rate``, ``damage_dealt`` and ``damage_taken`` per round."""
    from envs.duel.rules import MAX_HEALTH

    by: dict[str, list] = {}
    for r in rounds:
        by.setdefault(r.opponent, []).append(r)
    out = {}
    for opp, rs in by.items():
        out[opp] = {"rounds": len(rs), "win_rate": float(np.mean([r.winner == "player" for r in rs])),
                    "damage_dealt": float(np.mean([MAX_HEALTH - r.final_health[1] for r in rs])),
                    "damage_taken": float(np.mean([MAX_HEALTH - r.final_health[0] for r in rs]))}
    return out


def style_stats(rounds) -> dict:
    from agents.ghost import behaviour_stats

    return behaviour_stats([r.obs for r in rounds], [r.actions for r in rounds])


def compare_one(ghost_rounds, demo_rounds) -> dict:
    """Fidelity figures of the ghost's rounds against the demonstrator's rounds."""
    from agents.ghost import stats_divergence

    g, d = style_stats(ghost_rounds), style_stats(demo_rounds)
    div = stats_divergence(g, d)
    og, od = outcome_stats(ghost_rounds), outcome_stats(demo_rounds)
    per_opp = {opp: {"ghost": og.get(opp), "demos": od[opp]} for opp in od}
    win_gap = float(np.mean([abs(v["ghost"]["win_rate"] - v["demos"]["win_rate"])
                             for v in per_opp.values() if v["ghost"] is not None] or [float("nan")]))
    return {**{k: round(v, 4) for k, v in div.items()}, "win_rate_gap": round(win_gap, 4),
            "guard_rate": {"ghost": round(g["guard_rate"], 4), "demos": round(d["guard_rate"], 4)},
            "mean_gap": {"ghost": round(g["mean_gap"], 1), "demos": round(d["mean_gap"], 1)},
            "per_opponent": per_opp, "_stats": {"ghost": g, "demos": d}}


def _ghost_player(path: str, temperature: float, seed: int):
    from agents import make_agent

    rng = np.random.default_rng(seed)

    def make(env):
        return make_agent(f"ghost:{path}", action_space=env.action_space, rng=rng, frame_skip=env.frame_skip,
                          temperature=temperature)

    return make


def print_single(res: dict, echo=print) -> None:
    echo(f"{'metric':<24}{'ghost':>10}{'demos':>10}")
    for k in METRICS + ("divergence",):
        echo(f"{k:<24}{res[k]:>20.4f}")
    echo(f"{'guard rate':<24}{res['guard_rate']['ghost']:>10.3f}{res['guard_rate']['demos']:>10.3f}")
    echo(f"{'mean gap (units)':<24}{res['mean_gap']['ghost']:>10.1f}{res['mean_gap']['demos']:>10.1f}")
    for opp, v in res["per_opponent"].items():
        g, d = v["ghost"], v["demos"]
        echo(f"{'win rate vs ' + opp:<24}{g['win_rate']:>10.2f}{d['win_rate']:>10.2f}")
        echo(f"{'damage dealt/round':<24}{g['damage_dealt']:>10.1f}{d['damage_dealt']:>10.1f}")
        echo(f"{'damage taken/round':<24}{g['damage_taken']:>10.1f}{d['damage_taken']:>10.1f}")


# ---- plots -------------------------------------------------------------------------------------------


def _dist_axes(axes, stats_pairs, labels):
    """Bar charts of stick, button, moves and gap distributions for (name, stats) pairs."""
    from agents.ghost import GAP_BINS
    from envs.duel.rules import Button, Move, Stick

    names = {"stick": [s.name.lower().replace("_", "-") for s in Stick],
             "button": [b.name.lower() for b in Button],
             "moves": [m.name.lower().replace("_", "-") for m in Move][1:],
             "gap": [f"<{int(b)}" for b in GAP_BINS[1:-1]] + [">=400"]}
    for ax, key in zip(axes, ("stick", "button", "moves", "gap"), strict=True):
        n = len(names[key])
        width = 0.8 / len(stats_pairs)
        for i, (label, st) in enumerate(stats_pairs):
            ax.bar(np.arange(n) + (i - (len(stats_pairs) - 1) / 2) * width, st[key], width, label=label)
        ax.set_xticks(range(n), names[key], rotation=60, fontsize=7)
        ax.set_title({"stick": "stick", "button": "button", "moves": "moves started", "gap": "gap to opponent"}[key],
                     fontsize=9)
    axes[0].legend(fontsize=7)
    del labels


def plot_single(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.fileio import atomic_save

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    _dist_axes(axes, [("ghost", res["_stats"]["ghost"]), ("demonstrator", res["_stats"]["demos"])], None)
    fig.suptitle(f"ghost vs demonstrator: mean JS divergence {res['divergence']:.3f} bits", fontsize=10)
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=100))
    plt.close(fig)


def plot_styles(matrix: dict, per_style: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.fileio import atomic_save

    fig = plt.figure(figsize=(13, 6.2))
    grid = fig.add_gridspec(3, 5, width_ratios=[1.5, 1, 0.6, 1, 1])
    ax = fig.add_subplot(grid[:, 0])
    m = np.array([[matrix[g][d] for d in STYLES] for g in STYLES])
    ax.imshow(m, cmap="viridis_r")
    for i in range(3):
        for j in range(3):
            ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", color="white" if m[i, j] > m.mean() else "k")
    ax.set_xticks(range(3), STYLES)
    ax.set_yticks(range(3), [f"ghost of {s}" for s in STYLES])
    ax.set_xlabel("demonstrator style")
    ax.set_title("style matrix: mean JS divergence\n(lower = closer; diagonal should be lowest)", fontsize=9)
    for row, style in enumerate(STYLES):
        axes = [fig.add_subplot(grid[row, c]) for c in (1, 2, 3, 4)]
        st = per_style[style]
        _dist_axes(axes, [("ghost", st["ghost"]), ("demonstrator", st["demos"])], None)
        axes[0].set_ylabel(style, fontsize=10)
        for a in axes:
            if row < 2:
                a.set_xticklabels([])
            if row > 0:
                a.set_title("")
            if row > 0 and a is axes[0]:
                a.legend().remove() if a.get_legend() else None
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=90))
    plt.close(fig)


# ---- DAgger ------------------------------------------------------------------------------------------


def dagger(ghost_dir: Path, dataset, expert_spec: str, opponents, cfg: GhostCompareConfig, train_cfg, echo=print):
    """DAgger with a scripted oracle: ``dagger_iters`` times, the current ghost plays ``cfg.rounds``
    rounds per opponent, the oracle labels every state it reached, the rounds join the dataset and the
    ghost is retrained (from its current weights). Returns the new ghost's run folder."""
    from agents import make_agent
    from agents.ghost import DemoDataset, Round, load_ghost, save_ghost
    from nets.imitation import train_ghost

    rounds = list(dataset.rounds)
    current = ghost_dir
    out = ghost_dir.parent / (ghost_dir.name + "-dagger")
    for it in range(cfg.dagger_iters):
        oracle = make_agent(expert_spec, rng=np.random.default_rng(cfg.seed + 100 + it),
                            frame_skip=dataset.frame_skip)
        played = play_rounds(_ghost_player(str(current), cfg.temperature, cfg.seed + 200 + it), opponents, cfg.rounds,
                             frame_skip=dataset.frame_skip, round_seconds=cfg.round_seconds,
                             seed=cfg.seed + 300 + it, oracle=oracle)
        rounds += [Round(Path(f"dagger-{it}-{k}"), p.obs, p.actions, np.zeros(len(p.actions), np.float32), p.opponent,
                         p.winner, p.final_health, dict(dataset.rounds[0].meta)) for k, p in enumerate(played)]
        model, _ = load_ghost(current)
        res = train_ghost(DemoDataset.from_rounds(rounds), train_cfg, device="cpu", init_state_dict=model.state_dict())
        save_ghost(res.model, out / "checkpoints" / "ghost.pt", frame_skip=dataset.frame_skip, dagger_iteration=it + 1)
        current = out
        echo(f"  dagger {it + 1}/{cfg.dagger_iters}: {len(rounds)} rounds, held-out joint acc "
             f"{res.metrics['joint_acc']:.3f}")
    return out


# ---- the two modes -----------------------------------------------------------------------------------


def run_single(cfg: GhostCompareConfig, echo=print) -> dict:
    from agents.ghost import DemoDataset, find_checkpoint

    dataset = DemoDataset(cfg.demos)
    ckpt = find_checkpoint(cfg.ghost)
    played = play_rounds(_ghost_player(str(ckpt), cfg.temperature, cfg.seed), dataset.opponents, cfg.rounds,
                         frame_skip=dataset.frame_skip, round_seconds=cfg.round_seconds, seed=cfg.seed)
    res = compare_one(played, dataset.rounds)
    echo(f"ghost {ckpt} vs its demonstrator ({len(dataset)} demo rounds in {cfg.demos}; "
         f"{cfg.rounds} ghost rounds per opponent)")
    print_single(res, echo)
    out = Path(cfg.out)
    plot_single(res, out / "ghost_fidelity.png")
    summary = {"ghost": str(ckpt), "demos": cfg.demos, **{k: v for k, v in res.items() if k != "_stats"}}
    if cfg.dagger:
        expert = dataset.rounds[0].meta.get("player_spec", "")
        if not expert.startswith("scripted:"):
            raise ValueError(f"--dagger needs a scripted demonstrator; {cfg.demos} was recorded by "
                             f"{expert or 'a human'}")
        from agents.ghost import load_ghost
        from nets.imitation import GhostTrainConfig

        _, meta = load_ghost(ckpt)
        mc = meta["model"]
        tc = GhostTrainConfig(encoder=mc["encoder"], hidden=mc["hidden"], fc=mc["fc"], frame_stack=mc["frame_stack"],
                              head=mc.get("head", "independent"), periods=tuple(mc["periods"]), epochs=10,
                              seed=cfg.seed)
        dg = dagger(ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent, dataset, expert,
                    dataset.opponents, cfg, tc, echo)
        played2 = play_rounds(_ghost_player(str(dg), cfg.temperature, cfg.seed), dataset.opponents, cfg.rounds,
                              frame_skip=dataset.frame_skip, round_seconds=cfg.round_seconds, seed=cfg.seed)
        res2 = compare_one(played2, dataset.rounds)
        summary["dagger"] = {"divergence": res2["divergence"], "win_rate_gap": res2["win_rate_gap"],
                             **{k: res2[k] for k in METRICS}}
        echo(f"DAgger: divergence {res['divergence']:.4f} -> {res2['divergence']:.4f}, win-rate gap "
             f"{res['win_rate_gap']:.3f} -> {res2['win_rate_gap']:.3f}")
    return summary


def run_styles(cfg: GhostCompareConfig, echo=print) -> dict:
    from agents.ghost import DemoDataset, next_round_index, stats_divergence
    from experiments.play.record import RecordConfig, record_rounds
    from experiments.train.ghost import train_ghost_run
    from nets.imitation import GhostTrainConfig

    out = Path(cfg.out)
    opponents = [s.strip() for s in cfg.vs.split(",") if s.strip()]
    demos, ghosts, heldout = {}, {}, {}
    for i, style in enumerate(STYLES):
        # ---- record the style (reusing rounds already there), then train its ghost
        ddir = out / "demos" / style
        have = next_round_index(ddir) - 1 if ddir.is_dir() else 0
        if have < cfg.style_rounds:
            record_rounds(RecordConfig(player=f"scripted:{style}", vs=cfg.vs, rounds=cfg.style_rounds - have,
                                       out=str(ddir), seed=cfg.seed * 1000 + i + have,
                                       round_seconds=cfg.round_seconds), echo=lambda *_: None)
        demos[style] = DemoDataset(ddir)
        tc = GhostTrainConfig(epochs=cfg.epochs, head=cfg.head, seed=cfg.seed)
        res = train_ghost_run([str(ddir)], tc, out / "ghosts" / style, device="cpu", progress=False,
                              echo=lambda *_: None, force=True)  # retrained in the compare folder it owns
        ghosts[style] = out / "ghosts" / style
        m = res.metrics
        heldout[style] = {"stick_acc": round(m["stick_acc"], 4), "button_acc": round(m["button_acc"], 4),
                          "joint_acc": round(m["joint_acc"], 4),
                          "baseline": {k: round(m["baseline"][k], 4) for k in ("stick_acc", "button_acc", "joint_acc")},
                          "best_epoch": res.best_epoch, "seconds_per_epoch": round(res.history[-1]["seconds"] /
                                                                                   len(res.history), 2)}
        echo(f"{style}: {len(demos[style])} demo rounds; held-out joint accuracy {m['joint_acc']:.3f} "
             f"(majority {m['baseline']['joint_acc']:.3f})")
    # ---- each ghost plays the opponents its demonstrator faced
    played = {s: play_rounds(_ghost_player(str(ghosts[s]), cfg.temperature, cfg.seed + 1), opponents, cfg.rounds,
                             frame_skip=demos[s].frame_skip, round_seconds=cfg.round_seconds, seed=cfg.seed + 1)
              for s in STYLES}
    demo_stats = {s: style_stats(demos[s].rounds) for s in STYLES}
    ghost_stats = {s: style_stats(played[s]) for s in STYLES}
    full = {g: {d: stats_divergence(ghost_stats[g], demo_stats[d]) for d in STYLES} for g in STYLES}
    matrix = {g: {d: round(full[g][d]["divergence"], 4) for d in STYLES} for g in STYLES}
    per_metric = {k: {g: {d: round(full[g][d][k], 4) for d in STYLES} for g in STYLES} for k in METRICS}
    # the demonstrators against each other (first half vs second half of the rounds on the diagonal): the scale
    halves = {s: (demos[s].rounds[::2], demos[s].rounds[1::2]) for s in STYLES}
    demo_matrix = {a: {b: round(stats_divergence(style_stats(halves[a][0]), style_stats(halves[b][1]))["divergence"],
                                4) for b in STYLES} for a in STYLES}
    diagonal = {g: min(matrix[g], key=matrix[g].get) == g for g in STYLES}
    diagonal_per_metric = {k: all(min(per_metric[k][g], key=per_metric[k][g].get) == g for g in STYLES)
                           for k in METRICS}
    outcomes = {s: {"ghost": outcome_stats(played[s]), "demos": outcome_stats(demos[s].rounds)} for s in STYLES}
    # ---- report
    echo("\nstyle matrix: mean JS divergence (bits) of each ghost's play from each style's demos")
    echo(f"{'':<18}" + "".join(f"{d:>10}" for d in STYLES))
    for g in STYLES:
        echo(f"{'ghost of ' + g:<18}" + "".join(f"{matrix[g][d]:>10.4f}" for d in STYLES)
             + ("   closest: own style" if diagonal[g] else "   NOT closest to own style"))
    echo(f"{'demos (halves)':<18}" + "".join(f"{demo_matrix[s][s]:>10.4f}" for s in STYLES) + "   (noise floor)")
    for k in METRICS:
        echo(f"{k:<10} diagonal: {diagonal_per_metric[k]}   " + "  ".join(
            f"{g[:4]}:" + "/".join(f"{per_metric[k][g][d]:.3f}" for d in STYLES) for g in STYLES))
    echo(f"\n{'win rate':<18}" + "".join(f"{o.split(':')[-1]:>16}" for o in opponents) + "   (ghost / demos)")
    for s in STYLES:
        echo(f"{s:<18}" + "".join(f"{outcomes[s]['ghost'][o]['win_rate']:>9.2f} /"
                                  f"{outcomes[s]['demos'][o]['win_rate']:>5.2f}" for o in opponents))
    dag = None
    if cfg.dagger:
        dag = {}
        for s in STYLES:
            tc = GhostTrainConfig(epochs=10, head=cfg.head, seed=cfg.seed)
            dg = dagger(ghosts[s], demos[s], f"scripted:{s}", opponents, cfg, tc, echo)
            p2 = play_rounds(_ghost_player(str(dg), cfg.temperature, cfg.seed + 1), opponents, cfg.rounds,
                             frame_skip=demos[s].frame_skip, round_seconds=cfg.round_seconds, seed=cfg.seed + 1)
            st2 = style_stats(p2)
            o2 = outcome_stats(p2)
            demo_out = outcomes[s]["demos"]
            wr = lambda o, ref=demo_out: float(np.mean([abs(o[x]["win_rate"] - ref[x]["win_rate"])  # noqa: E731
                                                        for x in opponents]))
            dag[s] = {"bc": {d: matrix[s][d] for d in STYLES},
                      "dagger": {d: round(stats_divergence(st2, demo_stats[d])["divergence"], 4) for d in STYLES},
                      "win_rate_gap_bc": round(wr(outcomes[s]["ghost"]), 4), "win_rate_gap_dagger": round(wr(o2), 4)}
            echo(f"DAgger {s}: divergence to own style {dag[s]['bc'][s]:.4f} -> {dag[s]['dagger'][s]:.4f}; "
                 f"win-rate gap {dag[s]['win_rate_gap_bc']:.3f} -> {dag[s]['win_rate_gap_dagger']:.3f}")
    plot_styles(matrix, {s: {"ghost": ghost_stats[s], "demos": demo_stats[s]} for s in STYLES},
                out / "ghost_fidelity.png")
    summary = {"style_matrix": matrix, "diagonal": diagonal, "all_closest_to_own_style": all(diagonal.values()),
               "per_metric": per_metric, "diagonal_per_metric": diagonal_per_metric, "demo_matrix": demo_matrix,
               "heldout": heldout, "outcomes": outcomes, "rounds_per_opponent": cfg.rounds,
               "style_rounds": cfg.style_rounds, "opponents": opponents, "head": cfg.head}
    if dag is not None:
        summary["dagger"] = dag
    return summary


def run_ghost(args) -> int:
    from envs.fileio import atomic_write_text

    cfg = config_from_args(args)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = run_styles(cfg) if cfg.styles else run_single(cfg)
    summary = json.loads(json.dumps(summary, default=float))
    atomic_write_text(out / "report.json", json.dumps(summary, indent=1) + "\n")
    if cfg.docs:
        from experiments.studies.common import copy_to_docs

        copy_to_docs(out / "ghost_fidelity.png", "ghost_fidelity.png")
    print(f"plot: {out / 'ghost_fidelity.png'}; report: {out / 'report.json'}")
    print(json.dumps(summary, separators=(",", ":")))
    return 0
