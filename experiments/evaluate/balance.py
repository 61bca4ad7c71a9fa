"""``sandbox balance``: the tester AI's report on the duel's rules (the work is in :mod:`agents.balance`).

    sandbox balance --out runs/balance
    sandbox balance --out runs/balance-quick --rounds 10 --population scripted:easy,scripted:hard,scripted:zoner-hard

Two parts, each timed:

* **The meta.** Every pair of ``--population`` (agent specs; default: the scripted presets and styles and the
  bundled PPO agent) plays ``--rounds`` rounds through the batched harness on the shipped rules, sides
  alternating, round ``k`` seeded ``seed + k``. The report gives the payoff matrix ``(wins - losses) / rounds``
  with a 95% Wilson interval on each cell's win rate, the Nash mixture (linear program), each strategy's
  exploitability within the population (what its best counter in the population wins against it), the
  population's (0 by construction, up to the solver), dominance flags (a strategy above ``--margin`` against
  every other) and the move-usage entropy at the Nash mixture.
* **Combos.** The combo search (:func:`agents.balance.combo.find_combo`) on ``--character`` from
  ``--combo-seeds`` start positions: the most damaging string no defender input escapes, and whether it loops.
* **Probes.** Each ``--probe`` value (``jab.hitstun``) raised one unit at a time, the combo search at each, until
  a combo loops (:func:`agents.balance.frames.probe_parameter`): how far the rules are from an infinite.

Writes ``report.md``, ``payoff.png`` (the heatmap with the Nash mixture) and ``balance.json`` into ``--out``,
prints a table and ends with one JSON line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

POPULATION = ("scripted:easy", "scripted:normal", "scripted:hard", "scripted:rushdown-hard", "scripted:zoner-hard",
              "scripted:turtle-hard", "bundled:duel-ppo")


@dataclass
class BalanceConfig:
    out: str = "runs/balance"  # the report folder (claimed: a folder another command wrote is refused)
    population: list[str] = field(default_factory=lambda: list(POPULATION))  # the strategies (agent specs)
    rounds: int = 40  # rounds per pair of strategies, sides alternating
    round_seconds: float = 60.0  # round length of the meta's rounds
    seed: int = 0  # round k of a pair is seeded seed + k; the combo search's start positions come from seed + i
    margin: float = 0.1  # a strategy is flagged when its payoff beats every other by more than this
    character: str = "default"  # the character (shipped name or TOML file) the combo search probes
    combo_seeds: int = 3  # start positions (attacker x, gap) the combo search tries
    beam: int = 1  # strings the combo search keeps per last move at each depth
    depth: int = 8  # tokens (walk, then a move) a searched string has at most, before its loop check
    probe: list[str] = field(default_factory=lambda: ["jab.hitstun"])  # MOVE.KEY or body.KEY: raised until a loop
    probe_steps: int = 6  # the most steps each probed value is raised
    exploiter_steps: int = 0  # train a PPO best response to the Nash mixture this many env steps and add it (0: none)


def check_config(cfg: BalanceConfig) -> None:
    if len(cfg.population) < 2 and cfg.rounds > 0:
        raise ValueError(f"--population needs at least 2 strategies; got {len(cfg.population)}")
    for name, value, lo in (("rounds", cfg.rounds, 0), ("combo_seeds", cfg.combo_seeds, 0), ("beam", cfg.beam, 1),
                            ("depth", cfg.depth, 1), ("probe_steps", cfg.probe_steps, 0),
                            ("exploiter_steps", cfg.exploiter_steps, 0)):
        if value < lo:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {lo}; got {value}")
    if not cfg.round_seconds > 0:
        raise ValueError(f"--round-seconds must be > 0; got {cfg.round_seconds}")
    if not 0 <= cfg.margin < 1:
        raise ValueError(f"--margin must be in [0, 1); got {cfg.margin}")
    from agents.balance.frames import parse_parameter

    for name in cfg.probe:
        parse_parameter(name)


def _short(spec: str) -> str:
    return spec.removeprefix("scripted:").removeprefix("bundled:")


def heatmap(path: Path, names: list[str], A: np.ndarray, nash: list[float]) -> None:
    """The payoff heatmap (row's payoff against column) with the Nash mixture beside each row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.fileio import atomic_save

    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * k, 0.6 + 0.75 * k))
    im = ax.imshow(A, cmap="RdBu", vmin=-1, vmax=1)
    labels = [f"{_short(n)}  ({p:.2f})" for n, p in zip(names, nash, strict=True)]
    ax.set_xticks(range(k), [_short(n) for n in names], rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    for i in range(k):
        for j in range(k):
            if i != j:
                ax.text(j, i, f"{A[i, j]:+.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(A[i, j]) > 0.6 else "black")
    ax.set_title("payoff (row vs column), Nash weight in brackets", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=90), suffix=".png")
    plt.close(fig)


def train_exploiter(population: list[str], nash: np.ndarray, steps: int, seed: int, round_seconds: float) -> Any:
    """A short PPO best response (:func:`experiments.train.best_response.train_best_response`) against the Nash
    mixture of ``population``: its training rounds play the strategies in proportion to their weights (32 slots,
    each strategy with weight > 0 in at least one)."""
    from experiments.train.best_response import train_best_response

    slots = 32
    weights = np.asarray(nash, dtype=np.float64)
    counts = np.floor(weights / weights.sum() * slots).astype(int)
    counts[(weights > 1e-6) & (counts == 0)] = 1
    opponents = [spec for spec, c in zip(population, counts, strict=True) for _ in range(int(c))]
    return train_best_response(opponents, steps, n_envs=len(opponents), seed=seed, round_seconds=round_seconds,
                               device="cpu")


def run_balance(cfg: BalanceConfig) -> dict[str, Any]:
    """Both parts, the files in ``cfg.out``; returns the JSON line's dict."""
    from agents.balance import find_combo, meta_summary, play_payoff, probe_parameter
    from agents.balance.meta import extend_payoff
    from envs.duel.character import load_character
    from envs.fileio import atomic_write_text

    check_config(cfg)
    character = load_character(cfg.character)  # a bad file is refused before anything runs
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"out": str(out)}
    seconds: dict[str, float] = {}
    meta = None
    payoff = None
    if cfg.rounds > 0:
        t0 = time.perf_counter()
        payoff = play_payoff(cfg.population, cfg.rounds, seed=cfg.seed, round_seconds=cfg.round_seconds)
        seconds["meta"] = round(time.perf_counter() - t0, 2)
        meta = meta_summary(payoff, cfg.margin)
        pairs = len(cfg.population) * (len(cfg.population) - 1) // 2
        meta["rounds_per_second"] = round(pairs * cfg.rounds / max(seconds["meta"], 1e-9), 1)
        if cfg.exploiter_steps > 0:
            t0 = time.perf_counter()
            nash_before = np.array(meta["nash"])
            learner = train_exploiter(cfg.population, nash_before, cfg.exploiter_steps, cfg.seed, cfg.round_seconds)
            payoff = extend_payoff(payoff, learner, "exploiter", cfg.rounds, cfg.population, seed=cfg.seed,
                                   round_seconds=cfg.round_seconds)
            seconds["exploiter"] = round(time.perf_counter() - t0, 2)
            vs_nash = float(payoff.matrix[-1, :-1] @ (nash_before / nash_before.sum()))
            meta = {**meta_summary(payoff, cfg.margin), "rounds_per_second": meta["rounds_per_second"],
                    "exploiter": {"steps": cfg.exploiter_steps, "vs_nash_before": round(vs_nash, 4),
                                  "nash_before": [float(p) for p in nash_before]}}
        heatmap(out / "payoff.png", payoff.names, payoff.matrix, meta["nash"])
        result["meta"] = meta
    combos = []
    t0 = time.perf_counter()
    for i in range(cfg.combo_seeds):
        combos.append(find_combo(character, seed=cfg.seed + i, beam=cfg.beam, depth=cfg.depth))
    seconds["combos"] = round(time.perf_counter() - t0, 2)
    probes = []
    t0 = time.perf_counter()
    for name in cfg.probe:
        probes.append(probe_parameter(character, name, steps=cfg.probe_steps, seed=cfg.seed, beam=cfg.beam,
                                      depth=cfg.depth))
    if probes:
        seconds["probes"] = round(time.perf_counter() - t0, 2)
        result["probes"] = [{k: v for k, v in pr.items() if k != "trail"} for pr in probes]
    if combos:
        best = max(combos, key=lambda c: (c.loops, c.damage, -c.ticks))
        result["combo"] = {**best.as_dict(), "character": character.name, "seeds": cfg.combo_seeds,
                           "any_loop": any(c.loops for c in combos)}
    result["seconds"] = seconds
    atomic_write_text(out / "balance.json", json.dumps({"config": cfg.__dict__, **result,
                                                         "combos": [c.as_dict() for c in combos], "probes": probes},
                                                        indent=1))
    atomic_write_text(out / "report.md", report_markdown(cfg, payoff, meta, combos, seconds, character.name, probes))
    return result


def report_markdown(cfg: BalanceConfig, payoff: Any, meta: dict | None, combos: list, seconds: dict,
                    character: str, probes: list | None = None) -> str:
    lines = ["# Balance report", "",
             f"Population: {len(cfg.population)} strategies, {cfg.rounds} rounds per pair (seed {cfg.seed}, "
             f"{cfg.round_seconds:g} s rounds); combo search on `{character}` from {cfg.combo_seeds} start positions.",
             ""]
    if payoff is not None and meta is not None:
        ci = payoff.intervals()
        wr = payoff.win_rate()
        names = [_short(n) for n in payoff.names]
        lines += ["## The meta", "", "![payoff heatmap](payoff.png)", "",
                  "Payoff `(wins - losses) / rounds` of the row against the column, and the row's win rate with its "
                  "95% Wilson interval:", "",
                  "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for i, n in enumerate(names):
            cells = ["—" if i == j else f"{payoff.matrix[i, j]:+.2f} ({wr[i, j]:.2f} [{ci[i, j, 0]:.2f}, "
                     f"{ci[i, j, 1]:.2f}])" for j in range(len(names))]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines += ["", "| strategy | Nash weight | exploitability |", "|---|---|---|"]
        for i, (n, full) in enumerate(zip(names, payoff.names, strict=True)):
            lines.append(f"| {n} | {meta['nash'][i]:.3f} | {meta['exploitability'][full]:+.3f} |")
        lines += ["", f"- game value {meta['value']:+.4f}; the population's exploitability (Nash mixture, both "
                      f"sides) {meta['population_exploitability']:.2g}",
                  f"- beats every other by more than {meta['margin']}: {', '.join(meta['beats_all']) or 'none'}; "
                  f"strictly dominates every other: {', '.join(meta['dominant']) or 'none'}",
                  f"- move-usage entropy at the Nash mixture: {meta.get('move_entropy_bits')} bits (3 = all 8 moves "
                  "alike); shares: " + ", ".join(f"{k} {v:.2f}" for k, v in meta.get("move_share", {}).items()),
                  f"- {seconds.get('meta', 0):.1f} s, {meta['rounds_per_second']} rounds/s", ""]
        if "exploiter" in meta:
            ex = meta["exploiter"]
            lines[-1:-1] = [f"- the exploiter ({ex['steps']} env steps of PPO against the Nash mixture of the "
                            f"population before it): payoff {ex['vs_nash_before']:+.3f} against that mixture "
                            f"({seconds.get('exploiter', 0):.1f} s)"]
    if combos:
        lines += ["## Combos", "",
                  "The most damaging string no defender input escapes (every one of the 36 held inputs tried "
                  "from the first hit), per start position:", "",
                  "| seed | start (x, gap) | string | damage | share | loops | strings played |",
                  "|---|---|---|---|---|---|---|"]
        for i, c in enumerate(combos):
            d = c.as_dict()
            lines.append(f"| {cfg.seed + i} | {c.start[0]}, {c.start[1]} | `{d['string']}` | {c.damage} | "
                         f"{c.share:.2f} | {'yes' if c.loops else 'no'} | {c.evaluations} |")
        lines += ["", f"- {seconds.get('combos', 0):.1f} s", ""]
    if probes:
        lines += ["## How far from an infinite", "",
                  f"Each value raised one unit at a time (at most {cfg.probe_steps}), the combo search (seed "
                  f"{cfg.seed}) at each:", "", "| parameter | value | best combo | damage | loops |",
                  "|---|---|---|---|---|"]
        for pr in probes:
            for row in pr["trail"]:
                lines.append(f"| {pr['parameter']} | {row['value']} | `{row['string']}` | {row['damage']} | "
                             f"{'yes' if row['loops'] else 'no'} |")
        for pr in probes:
            verdict = (f"loops at {pr['breaks_at']}: {pr['distance']} step(s) from {pr['shipped']}"
                       if pr["breaks_at"] is not None else f"no loop within {cfg.probe_steps} steps of {pr['shipped']}")
            lines.append(f"\n- `{pr['parameter']}`: {verdict}")
        lines += ["", f"- {seconds.get('probes', 0):.1f} s", ""]
    return "\n".join(lines) + "\n"


def print_table(result: dict) -> None:
    meta = result.get("meta")
    if meta:
        width = max(len(_short(n)) for n in meta["names"])
        print(f"{'strategy':<{width}}  nash    exploit")
        for n, p in zip(meta["names"], meta["nash"], strict=True):
            print(f"{_short(n):<{width}}  {p:.3f}  {meta['exploitability'][n]:+.3f}")
        print(f"dominant: {', '.join(meta['dominant']) or 'none'}; beats all by >{meta['margin']}: "
              f"{', '.join(meta['beats_all']) or 'none'}; move entropy {meta.get('move_entropy_bits')} bits")
    combo = result.get("combo")
    if combo:
        print(f"combo ({combo['character']}): {combo['string']}  damage {combo['damage']} "
              f"({combo['share']:.0%}), loops: {combo['loops']}")
    for pr in result.get("probes", []):
        print(f"probe {pr['parameter']}: from {pr['shipped']}, "
              + (f"loops at {pr['breaks_at']} ({pr['distance']} steps)" if pr["breaks_at"] is not None
                 else "no loop within the steps"))
