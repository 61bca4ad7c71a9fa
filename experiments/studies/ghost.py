"""``sandbox compare ghost``: how faithful is a ghost to the player it was cloned from, in style and strength?

    sandbox compare ghost --ghost runs/me --demos demos/me [--rounds 10] [--out runs/compare_ghost]
    sandbox compare ghost --styles [--style-rounds 50] [--rounds 800] [--dagger] [--finetune]

Fidelity has two halves. **Style**: the Jensen-Shannon divergence (bits, 0 = same, 1 = disjoint) of the
stick and of the button distributions, of the move-usage frequencies (moves started) and of the distance
kept to the opponent (gap histogram); ``divergence`` is the mean of the four. **Strength**: against
each opponent, the ghost's win rate minus its demonstrator's (``strength_gap``), with a 95% interval
(Newcombe's hybrid score interval for a difference of proportions).

Single mode: the ghost plays the opponents its demonstrator faced (the ``opponent`` of every demo round),
``--rounds`` rounds each (default 10, one round at a time), and is compared with the demos.

``--styles`` records the scripted styles rushdown, zoner and turtle itself in the batched duel
(``--style-rounds`` rounds each, cycling scripted easy, normal and hard) and clones one ghost per style
(``bc``). ``--dagger`` adds DAgger (the scripted demonstrator labels the states the ghost reached in
``--dagger-rounds`` rounds per opponent, ``--dagger-iters`` times); ``--finetune`` adds KL-regularised
RL fine-tuning of the clone (:mod:`agents.ghost.finetune`). Every method's ghosts and the demonstrators
then play ``--rounds`` rounds (default 800) against each opponent in the batched duel, on seeds apart
from the demos' and the fine-tuning's, and each method gets its 3 x 3 ``style_matrix`` (divergence of
each ghost's play from each style's play; each ghost should be closest to its own style) and its
``strength_gap`` table.

Both modes also name the styles (:mod:`agents.style`, the model ``sandbox style`` uses): the ghost's style
mixture beside its player's and their total-variation distance (``style_mixture``); with ``--styles`` also
the share of the ghost's rounds that player identification gives to its own player, so fidelity is measured
for any player, not only against the three scripted styles.

Prints the tables, saves ``OUT/ghost_fidelity.png`` (copied to ``docs/ghost_fidelity.png`` with
``--docs``) and ``OUT/report.json``, and ends with one JSON line: ``style_matrix`` and ``strength_gap``
of the last method run (``method``: finetune, else dagger, else bc), and every method's under ``methods``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.duel.config import DuelConfig

STYLES = ("rushdown", "zoner", "turtle")
METRICS = ("js_stick", "js_button", "js_moves", "js_gap")


@dataclass
class GhostCompareConfig:
    ghost: str = ""  # ghost run folder or checkpoint (single mode)
    demos: str = ""  # the demonstrator's demo folder (single mode)
    rounds: int = 0  # rounds per opponent; 0: 800 with --styles (ghost and demonstrator each, batched), else 10
    styles: bool = False  # record, train and compare rushdown, zoner and turtle (the style matrix)
    style_rounds: int = 50  # demo rounds recorded per style (--styles)
    vs: str = "scripted:easy,scripted:normal,scripted:hard"  # opponents of the style demos (--styles)
    epochs: int = 40  # max training epochs per style ghost (--styles)
    head: str = "conditional"  # the style ghosts' button head: conditional or independent (--styles)
    temperature: float = 1.0  # the ghost's sampling temperature
    dagger: bool = False  # add DAgger iterations with the scripted demonstrator as the oracle
    dagger_iters: int = 2  # DAgger iterations
    dagger_rounds: int = 50  # --styles: rounds per opponent in each DAgger iteration
    finetune: bool = False  # --styles: also fine-tune each cloned ghost with KL-regularised RL (agents.ghost.finetune)
    finetune_iterations: int = 12  # fine-tuning iterations (--finetune)
    finetune_rounds: int = 32  # fine-tuning rounds per opponent per iteration (--finetune)
    round_seconds: float = 60.0  # round length of the ghost's rounds (and of recorded style demos)
    seed: int = 0  # seeds recording, training and play
    out: str = "runs/compare_ghost"  # output folder
    docs: bool = False  # copy the plot to docs/ghost_fidelity.png


def add_ghost_args(parser: argparse.ArgumentParser) -> None:
    from experiments.options import add_config_args

    add_config_args(parser, GhostCompareConfig, choices={"head": ("conditional", "independent")})


def config_from_args(args) -> GhostCompareConfig:
    from experiments.options import config_from_args as from_args

    cfg = from_args(GhostCompareConfig, args)
    if not cfg.styles and not (cfg.ghost and cfg.demos):
        raise ValueError("sandbox compare ghost needs --ghost PATH --demos DIR, or --styles")
    if cfg.rounds < 0:
        raise ValueError(f"--rounds must be >= 1 (or 0 for the default); got {cfg.rounds}")
    cfg.rounds = cfg.rounds or (800 if cfg.styles else 10)
    for name in ("rounds", "style_rounds", "epochs", "dagger_iters", "dagger_rounds", "finetune_rounds"):
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
    from agents.style.identify import mixture_distance
    from agents.style.reference import rounds_mixture

    mg, md = rounds_mixture(ghost_rounds)["mixture"], rounds_mixture(demo_rounds)["mixture"]
    mixtures = {"ghost": mg, "demos": md, "distance": mixture_distance(mg, md)}
    return {**{k: round(v, 4) for k, v in div.items()}, "win_rate_gap": round(win_gap, 4), "style_mixture": mixtures,
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
    mix = res["style_mixture"]
    for s in sorted(set(mix["ghost"]) | set(mix["demos"])):
        echo(f"{'style: ' + s:<24}{mix['ghost'].get(s, 0.0):>10.2f}{mix['demos'].get(s, 0.0):>10.2f}")
    echo(f"{'style mixture distance':<24}{mix['distance']:>20.4f}")
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
    summary = {"ghost": str(ckpt), "demos": cfg.demos, **{k: v for k, v in res.items() if k != "_stats"},
               "strength_gap": {o: round(v["ghost"]["win_rate"] - v["demos"]["win_rate"], 4)
                                for o, v in res["per_opponent"].items() if v["ghost"] is not None}}
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


# ---- the styles study: batched demos, methods, and the two halves of fidelity -------------------------

# seed ranges kept apart: demos (training), evaluation, and fine-tuning rollouts (agents.ghost.finetune)
DEMO_SEEDS, EVAL_SEEDS = 10**6, 5 * 10**7


def record_style_demos(style: str, index: int, cfg: GhostCompareConfig, opponents: list[str], folder: Path) -> None:
    """``cfg.style_rounds`` demo rounds of ``scripted:STYLE`` in ``folder`` (round k against opponent
    k mod len(opponents), as ``sandbox record`` cycles them), played in the batched duel; rounds already
    there are kept and only the missing ones are played."""
    from agents.ghost import demo_metadata, next_round_index, round_path, save_round
    from agents.ghost.batched import play_batched

    have = next_round_index(folder) - 1 if folder.is_dir() else 0
    if have >= cfg.style_rounds:
        return
    folder.mkdir(parents=True, exist_ok=True)
    spec = f"scripted:{style}"
    for j, opp in enumerate(opponents):
        ks = [k for k in range(have, cfg.style_rounds) if k % len(opponents) == j]
        if not ks:
            continue
        first = sum(1 for k in range(have) if k % len(opponents) == j)  # this opponent's rounds already there
        base = DEMO_SEEDS * (cfg.seed + 1) + index * 10**5 + j * 10**4 + first
        played = play_batched(spec, opp, len(ks), seed=base, round_seconds=cfg.round_seconds)
        for k, r in zip(ks, played, strict=True):
            meta = demo_metadata(player=spec, opponent=opp, frame_skip=DuelConfig.frame_skip,
                                 round_seconds=cfg.round_seconds,
                                 steps=len(r), player_spec=spec, winner=r.winner, seed=base + ks.index(k))
            save_round(round_path(folder, k + 1), r.obs, r.actions, r.rewards, opponent=opp, winner=r.winner,
                       final_health=r.final_health, meta=meta)


def evaluate_player(make_player, opponents: list[str], rounds: int, cfg: GhostCompareConfig, chunk: int = 200) -> dict:
    """``rounds`` rounds of a batched player against each opponent on the evaluation seeds (never used for
    demos or fine-tuning): behaviour counts (all rounds, and even / odd rounds apart), and wins per opponent."""
    from agents.ghost import add_counts, behaviour_counts
    from agents.ghost.batched import play_batched

    player = make_player()
    counts = halves = None
    halves = [None, None]
    wins: dict[str, tuple[int, int]] = {}
    for j, opp in enumerate(opponents):
        w = 0
        for start in range(0, rounds, chunk):
            n = min(chunk, rounds - start)
            played = play_batched(player, opp, n, seed=EVAL_SEEDS + j * 10**5 + start, round_seconds=cfg.round_seconds)
            w += sum(r.winner == "player" for r in played)
            for h in (0, 1):
                c = behaviour_counts([r.obs for r in played[h::2]], [r.actions for r in played[h::2]])
                halves[h] = add_counts(halves[h], c)
                counts = add_counts(counts, c)
        wins[opp] = (int(w), rounds)
    return {"counts": counts, "halves": halves, "wins": wins}


def strength_table(ghost_wins: dict, demo_wins: dict) -> dict:
    """Per opponent: ghost and demonstrator win rates, ``gap`` = their difference, its 95% interval
    (Newcombe's hybrid score) and the rounds behind them."""
    from experiments.evaluate.stats import difference_interval

    out = {}
    for opp, (dw, dn) in demo_wins.items():
        gw, gn = ghost_wins[opp]
        lo, hi = difference_interval(gw, gn, dw, dn)
        out[opp] = {"ghost": round(gw / gn, 4), "demos": round(dw / dn, 4), "gap": round(gw / gn - dw / dn, 4),
                    "interval": [round(lo, 4), round(hi, 4)], "rounds": [gn, dn]}
    return out


def _ghost_maker(model, cfg: GhostCompareConfig, i: int):
    from agents.ghost.batched import BatchedGhost

    return lambda: BatchedGhost(model, temperature=cfg.temperature)


def dagger_batched(model, dataset, style: str, opponents: list[str], cfg: GhostCompareConfig, train_cfg, echo=print):
    """DAgger with many rounds per iteration: ``dagger_iters`` times, the current ghost plays
    ``dagger_rounds`` rounds per opponent in the batched duel (fine-tuning's seed range), the scripted
    demonstrator labels every state it reached, the rounds join the data and the ghost is retrained from
    its current weights. Returns the last ghost."""
    from agents.ghost import DemoDataset, Round
    from agents.ghost.batched import BatchedGhost, play_batched
    from nets.imitation import train_ghost

    rounds = list(dataset.rounds)
    meta = dict(dataset.rounds[0].meta)
    for it in range(cfg.dagger_iters):
        for j, opp in enumerate(opponents):
            played = play_batched(BatchedGhost(model, temperature=cfg.temperature), opp, cfg.dagger_rounds,
                                  seed=2 * 10**8 + it * 10**5 + j * 10**4, round_seconds=cfg.round_seconds,
                                  oracle=f"scripted:{style}")
            rounds += [Round(Path(f"dagger-{it}-{j}-{k}"), p.obs, p.actions, p.rewards, opp, p.winner,
                             p.final_health, meta) for k, p in enumerate(played)]
        res = train_ghost(DemoDataset.from_rounds(rounds), train_cfg, device="cpu", init_state_dict=model.state_dict())
        model = res.model
        echo(f"  dagger {style} {it + 1}/{cfg.dagger_iters}: {len(rounds)} rounds, held-out joint acc "
             f"{res.metrics['joint_acc']:.3f}")
    return model


def style_mixtures(models: dict, demos: dict, opponents: list[str], cfg: GhostCompareConfig, rounds: int = 20) -> dict:
    """Per method and style: the ghost's style mixture (``rounds`` rounds per opponent on the evaluation seeds)
    beside its player's (the demos), their distance, and the share of the ghost's rounds that player
    identification (:class:`agents.style.identify.PlayerIndex`, the three players' demos as reference) gives
    to its own player."""
    from agents.ghost.batched import BatchedGhost, play_batched
    from agents.style.identify import PlayerIndex, mixture, mixture_distance
    from agents.style.reference import load_reference
    from agents.style.tokens import build_corpus

    model = load_reference()
    ref = {s: build_corpus(demos[s].rounds, s, min_decisions=model.min_decisions).docs for s in STYLES}
    # rounds shorter than the model's minimum make no document: with no reference left there is no index
    index = PlayerIndex(model, [d for s in STYLES for d in ref[s]], [s for s in STYLES for _ in ref[s]]) \
        if any(ref[s] for s in STYLES) else None
    out: dict = {}
    for method, ms in models.items():
        out[method] = {}
        for s in STYLES:
            played = []
            for j, opp in enumerate(opponents):
                played += play_batched(BatchedGhost(ms[s], temperature=cfg.temperature), opp, rounds,
                                       seed=EVAL_SEEDS + 9 * 10**6 + j * 10**4, round_seconds=cfg.round_seconds)
            docs = build_corpus(played, s, min_decisions=model.min_decisions).docs
            g = mixture(model, docs)["mixture"] if docs else {}
            p = mixture(model, ref[s])["mixture"] if ref[s] else {}
            out[method][s] = {"ghost": g, "player": p, "distance": mixture_distance(g, p),
                              "identified_as_player": round(float(np.mean([index.identify([d]) == s for d in docs]))
                                                            if docs and index is not None else float("nan"), 4)}
    return out


def run_styles(cfg: GhostCompareConfig, echo=print) -> dict:
    from agents.ghost import DemoDataset, load_ghost, save_ghost, stats_divergence, stats_from_counts
    from experiments.train.ghost import train_ghost_run
    from nets.imitation import GhostTrainConfig

    out = Path(cfg.out)
    opponents = [s.strip() for s in cfg.vs.split(",") if s.strip()]
    demos, heldout, models = {}, {}, {"bc": {}}
    for i, style in enumerate(STYLES):
        # ---- record the style in the batched duel (reusing rounds already there), then clone it
        ddir = out / "demos" / style
        record_style_demos(style, i, cfg, opponents, ddir)
        demos[style] = DemoDataset(ddir)
        if len(demos[style]) > cfg.style_rounds:
            demos[style] = DemoDataset.from_rounds(demos[style].rounds[:cfg.style_rounds])
        tc = GhostTrainConfig(epochs=cfg.epochs, head=cfg.head, seed=cfg.seed)
        res = train_ghost_run([str(ddir)], tc, out / "ghosts" / style, device="cpu", progress=False,
                              echo=lambda *_: None, force=True)  # retrained in the compare folder it owns
        models["bc"][style] = load_ghost(out / "ghosts" / style)[0]
        m = res.metrics
        heldout[style] = {"stick_acc": round(m["stick_acc"], 4), "button_acc": round(m["button_acc"], 4),
                          "joint_acc": round(m["joint_acc"], 4),
                          "baseline": {k: round(m["baseline"][k], 4) for k in ("stick_acc", "button_acc", "joint_acc")},
                          "best_epoch": res.best_epoch}
        echo(f"{style}: {len(demos[style])} demo rounds; held-out joint accuracy {m['joint_acc']:.3f} "
             f"(majority {m['baseline']['joint_acc']:.3f})")
    # ---- the other methods, each from the cloned ghost
    finetune_info = {}
    if cfg.dagger:
        models["dagger"] = {}
        for s in STYLES:
            tc = GhostTrainConfig(epochs=5, batch_size=32, head=cfg.head, seed=cfg.seed)  # a fine-tune of the clone
            models["dagger"][s] = dagger_batched(models["bc"][s], demos[s], s, opponents, cfg, tc, echo)
            save_ghost(models["dagger"][s], out / "ghosts" / f"{s}-dagger" / "checkpoints" / "ghost.pt",
                       frame_skip=DuelConfig.frame_skip,
                       dagger_iterations=cfg.dagger_iters, dagger_rounds=cfg.dagger_rounds)
    if cfg.finetune:
        from agents.ghost.finetune import FinetuneConfig, finetune_ghost, target_win_rates

        models["finetune"] = {}
        for s in STYLES:
            targets = target_win_rates(demos[s].rounds)
            echo(f"fine-tuning the {s} ghost towards its demonstrator's win rates "
                 + ", ".join(f"{o.split(':')[-1]} {v:.2f}" for o, v in targets.items()))
            fcfg = FinetuneConfig(iterations=cfg.finetune_iterations, rounds=cfg.finetune_rounds, seed=cfg.seed,
                                  round_seconds=cfg.round_seconds)
            fr = finetune_ghost(models["bc"][s], targets, fcfg, echo=echo)
            models["finetune"][s] = fr.model
            finetune_info[s] = {"lambda": fr.lam, "best_iteration": fr.best_iteration, "targets": targets,
                                "history": [{k: v for k, v in h.items() if k != "update"} for h in fr.history]}
            save_ghost(fr.model, out / "ghosts" / f"{s}-finetune" / "checkpoints" / "ghost.pt",
                       frame_skip=DuelConfig.frame_skip,
                       finetune={k: v for k, v in finetune_info[s].items() if k != "history"})
    # ---- evaluation on seeds apart from the demos': the demonstrators, then every method's ghosts
    demo_eval = {s: evaluate_player(lambda s=s: f"scripted:{s}", opponents, cfg.rounds, cfg) for s in STYLES}
    demo_stats = {s: stats_from_counts(demo_eval[s]["counts"]) for s in STYLES}
    demo_matrix = {a: {b: round(stats_divergence(stats_from_counts(demo_eval[a]["halves"][0]),
                                                 stats_from_counts(demo_eval[b]["halves"][1]))["divergence"], 4)
                       for b in STYLES} for a in STYLES}
    results, ghost_stats = {}, {}
    for method, ms in models.items():
        ev = {s: evaluate_player(_ghost_maker(ms[s], cfg, i), opponents, cfg.rounds, cfg) for i, s in enumerate(STYLES)}
        gst = {s: stats_from_counts(ev[s]["counts"]) for s in STYLES}
        ghost_stats[method] = gst
        full = {g: {d: stats_divergence(gst[g], demo_stats[d]) for d in STYLES} for g in STYLES}
        matrix = {g: {d: round(full[g][d]["divergence"], 4) for d in STYLES} for g in STYLES}
        strength = {s: strength_table(ev[s]["wins"], demo_eval[s]["wins"]) for s in STYLES}
        results[method] = {
            "style_matrix": matrix,
            "diagonal": {g: min(matrix[g], key=matrix[g].get) == g for g in STYLES},
            "per_metric": {k: {g: {d: round(full[g][d][k], 4) for d in STYLES} for g in STYLES} for k in METRICS},
            "strength_gap": {s: {o: strength[s][o]["gap"] for o in opponents} for s in STYLES},
            "strength": strength,
            "cells_within_0.10": sum(abs(strength[s][o]["gap"]) <= 0.10 for s in STYLES for o in opponents),
        }
        results[method]["all_closest_to_own_style"] = all(results[method]["diagonal"].values())
    mixtures = style_mixtures(models, demos, opponents, cfg)
    for method, per in mixtures.items():
        results[method]["style_mixture"] = per
    # ---- report
    echo(f"\nfidelity over {cfg.rounds} rounds per opponent (evaluation seeds apart from the demos'); "
         f"demonstrators' noise floor (even vs odd rounds): "
         + ", ".join(f"{s} {demo_matrix[s][s]:.4f}" for s in STYLES))
    for method, r in results.items():
        echo(f"\n[{method}] style matrix: mean JS divergence (bits) of each ghost's play from each style's play")
        echo(f"{'':<18}" + "".join(f"{d:>10}" for d in STYLES))
        for g in STYLES:
            echo(f"{'ghost of ' + g:<18}" + "".join(f"{r['style_matrix'][g][d]:>10.4f}" for d in STYLES)
                 + ("   closest: own style" if r["diagonal"][g] else "   NOT closest to own style"))
        echo(f"[{method}] strength gap: ghost - demonstrator win rate [95% interval]")
        echo(f"{'':<10}" + "".join(f"{o.split(':')[-1]:>30}" for o in opponents))
        for s in STYLES:
            cells = [r["strength"][s][o] for o in opponents]
            echo(f"{s:<10}" + "".join(f"{c['ghost']:>6.2f}-{c['demos']:.2f} = {c['gap']:+.2f} "
                                      f"[{c['interval'][0]:+.2f},{c['interval'][1]:+.2f}]" for c in cells))
        echo(f"[{method}] cells within +-0.10: {r['cells_within_0.10']}/{len(STYLES) * len(opponents)}")
        echo(f"[{method}] style mixtures (sandbox style): ghost | its player | distance | ghost rounds identified "
             "as its player")
        for s in STYLES:
            m = r["style_mixture"][s]
            fmt = lambda d: " ".join(f"{k} {v:.2f}" for k, v in d.items())  # noqa: E731
            echo(f"  {s:<10}{fmt(m['ghost'])} | {fmt(m['player'])} | {m['distance']:.3f} | "
                 f"{m['identified_as_player']:.2f}")
    primary = "finetune" if "finetune" in results else ("dagger" if "dagger" in results else "bc")
    plot_styles(results[primary]["style_matrix"],
                {s: {"ghost": ghost_stats[primary][s], "demos": demo_stats[s]} for s in STYLES},
                out / "ghost_fidelity.png")
    summary = {"style_matrix": results[primary]["style_matrix"], "strength_gap": results[primary]["strength_gap"],
               "method": primary, "all_closest_to_own_style": results[primary]["all_closest_to_own_style"],
               "style_mixture": results[primary]["style_mixture"],
               "methods": results, "demo_matrix": demo_matrix, "heldout": heldout, "rounds_per_opponent": cfg.rounds,
               "style_rounds": cfg.style_rounds, "opponents": opponents, "head": cfg.head}
    if finetune_info:
        summary["finetune"] = finetune_info
    return summary


def run_ghost(args) -> int:
    from envs.fileio import atomic_write_text
    from nets.device import set_threads

    cfg = config_from_args(args)
    set_threads()  # small recurrent nets on a shared CPU: one torch thread per process is fastest
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
