"""``sandbox style``: name how a duel player fights, from its logs (issue 28).

    sandbox style PLAYER [--vs SPEC,SPEC] [--rounds 30] [--model FILE] [--seed S]
    sandbox style --study [--study-rounds 12] [--save-model agents/style/reference.json] [--docs]

PLAYER is a folder of demo rounds (``demos/me``), a ghost run folder or checkpoint, or any agent spec
(``bundled:duel-ppo``, ``ghost:runs/me``, ``scripted:zoner-hard``); an agent plays ``--rounds`` rounds against
each ``--vs`` opponent to make its logs. Its rounds become documents (one token per decision,
:mod:`agents.style.tokens`), the style model (the shipped ``agents/style/reference.json`` unless ``--model``)
gives each round a mixture of named styles, and the player's mixture is their mean, with 95% intervals and
the share of rounds each style dominates. Rounds shorter than the model's minimum are skipped and counted.

``--study`` plays the scripted reference corpus (rushdown, zoner and turtle at easy, normal and hard against
scripted easy, normal and hard, ``--study-rounds`` rounds each), chooses K by held-out perplexity and
stability across seeds, fits and names the topics, and measures: NMI of the rounds' dominant styles with
the true styles against a k-means baseline over move frequencies; player-identification accuracy against
rounds seen (the nine scripted players, half of the rounds as reference; with shuffled labels as the
control); a player mixing rushdown and zoner 70/30 by round; and the bundled duel agent's mixture. It
writes ``OUT/style.png`` (the style x player table; ``--docs`` copies it to ``docs/style.png``) and, with
``--save-model``, the model.

Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.style.logs import OPPONENTS


@dataclass
class StyleConfig:
    player: str = ""  # demo folder, ghost folder or checkpoint, or agent spec (not with --study)
    vs: list[str] = field(default_factory=lambda: list(OPPONENTS))  # opponents an agent plays to make its logs
    rounds: int = 30  # rounds per opponent for an agent (not for demo folders)
    model: str = ""  # style model JSON; empty: the shipped agents/style/reference.json
    seed: int = 0  # seeds the agent's rounds, and every draw of --study
    round_seconds: float = 60.0  # round length of the rounds played
    study: bool = False  # refit the model on the scripted reference corpus and measure it (NMI, player ID, mixer)
    study_rounds: int = 12  # --study: reference rounds per scripted player and opponent
    k: int = 0  # --study: number of topics; 0: chosen by held-out perplexity and stability
    save_model: str = ""  # --study: write the fitted model (JSON) here
    out: str = "runs/style"  # --study: folder for style.png and report.json
    docs: bool = False  # --study: copy the picture to docs/style.png


def _clean(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def json_line(result: dict) -> str:
    return json.dumps(_clean(result), separators=(",", ":"))


def _model(cfg: StyleConfig):
    from agents.style.model import load_model
    from agents.style.reference import load_reference

    return load_model(cfg.model) if cfg.model else load_reference()


def name_player(cfg: StyleConfig, echo=print) -> dict:
    """The style mixture of ``cfg.player`` (module docstring)."""
    from agents.style.identify import mixture
    from agents.style.logs import player_rounds
    from agents.style.tokens import build_corpus

    if not cfg.player:
        raise ValueError("sandbox style needs a PLAYER (demo folder, ghost or agent spec), or --study")
    if cfg.rounds < 1 or not cfg.round_seconds > 0:
        raise ValueError("--rounds must be >= 1 and --round-seconds > 0")
    model = _model(cfg)
    label, rounds, kind = player_rounds(cfg.player, opponents=cfg.vs, rounds=cfg.rounds, seed=cfg.seed,
                                        round_seconds=cfg.round_seconds)
    corpus = build_corpus(rounds, label, min_decisions=model.min_decisions, ngrams=model.ngrams)
    if not len(corpus):
        raise ValueError(f"{cfg.player}: every round ({corpus.skipped}) is shorter than {model.min_decisions} "
                         "decisions; nothing to name a style from")
    res = mixture(model, corpus.docs)
    how = "demo rounds" if kind == "demos" else f"rounds against {', '.join(cfg.vs)}"
    echo(f"{label}: {res['rounds']} {how}" + (f" ({corpus.skipped} skipped: shorter than {model.min_decisions} "
                                              "decisions)" if corpus.skipped else ""))
    echo(f"{'style':<12}{'mixture':>9}{'95% interval':>18}{'dominant in':>13}")
    for s in sorted(res["mixture"], key=lambda s: -res["mixture"][s]):
        lo, hi = res["interval"][s]
        echo(f"{s:<12}{res['mixture'][s]:>9.2f}{f'[{lo:.2f}, {hi:.2f}]':>18}{res['dominant'][s]:>12.0%}")
    return {"style": label, "kind": kind, **res, "skipped": corpus.skipped, "model_topics": model.names}


def run_study(cfg: StyleConfig, echo=print) -> dict:
    """Fit and measure the model on the scripted reference corpus (module docstring)."""
    from agents.style.identify import id_accuracy, kmeans_baseline, mixture, nmi
    from agents.style.logs import LEVELS, REFERENCE_STYLES, RoundMixer, reference_corpus, reference_players
    from agents.style.model import fit_corpus
    from agents.style.tokens import build_corpus

    if cfg.study_rounds < 4:
        raise ValueError("--study-rounds must be >= 4 (half of the rounds are the identification's reference)")
    corpus = reference_corpus(cfg.study_rounds, seed=cfg.seed, round_seconds=cfg.round_seconds)
    echo(f"reference corpus: {len(corpus)} rounds of {len(reference_players())} scripted players "
         f"({corpus.skipped} skipped as short)")
    model, choice = fit_corpus(corpus.docs, seed=cfg.seed, k=cfg.k,
                               info={"corpus": "scripted reference", "study_rounds": cfg.study_rounds,
                                     "seed": cfg.seed})
    if choice is not None:
        echo(f"{'K':>3}{'held-out perplexity':>22}{'stability':>11}")
        for r in choice.rows:
            echo(f"{r['k']:>3}{r['perplexity']:>22.1f}{r['stability']:>11.3f}" + ("  <- chosen" if r["k"] == model.k
                                                                                  else ""))
    echo(f"{model.k} topics named: {', '.join(model.names)}")
    truth = [lab.split(":")[1].split("-")[0] for lab in corpus.labels]
    found = model.dominant(corpus.docs)
    scores = {"lda": nmi(truth, found), "kmeans": nmi(truth, kmeans_baseline(corpus.docs, len(REFERENCE_STYLES),
                                                                               cfg.seed))}
    echo(f"NMI with the true styles: LDA dominant style {scores['lda']:.3f}, k-means on move frequencies "
         f"{scores['kmeans']:.3f}")
    # per reference player: its mixture (the table and the picture)
    table = {}
    for p in reference_players():
        docs = [d for d, lab in zip(corpus.docs, corpus.labels, strict=True) if lab == p]
        table[p] = mixture(model, docs)["mixture"]
    named_right = {s: all(max(table[f"scripted:{s}-{lv}"], key=table[f"scripted:{s}-{lv}"].get) == s
                          for lv in LEVELS) for s in REFERENCE_STYLES}
    # player identification: even rounds the reference, odd rounds the test
    even = [i for i in range(len(corpus)) if i % 2 == 0]
    odd = [i for i in range(len(corpus)) if i % 2 == 1]
    args = (model, [corpus.docs[i] for i in even], [corpus.labels[i] for i in even],
            [corpus.docs[i] for i in odd], [corpus.labels[i] for i in odd])
    seen = tuple(n for n in (1, 2, 4, 8) if n <= cfg.study_rounds * len(OPPONENTS) // 2)
    ident = id_accuracy(*args, seen=seen, seed=cfg.seed)
    control = id_accuracy(*args, seen=seen, seed=cfg.seed, shuffle=True)
    chance = 1 / len(reference_players())
    echo(f"player ID over {len(reference_players())} players (chance {chance:.3f}): "
         + ", ".join(f"{n} round{'s' * (n > 1)} {a:.2f}" for n, a in ident.items())
         + "; shuffled labels: " + ", ".join(f"{a:.2f}" for a in control.values()))
    # a player mixing rushdown and zoner 70/30 by round
    from agents.batched import make_batched_agent

    mixer = RoundMixer([make_batched_agent("scripted:rushdown"), make_batched_agent("scripted:zoner")], [0.7, 0.3])
    from agents.ghost.batched import play_batched
    from agents.style.logs import pair_seed

    played = []
    for opp in OPPONENTS:
        played += play_batched(mixer, opp, 40, seed=pair_seed(cfg.seed, "mixer-70-30", opp),
                               round_seconds=cfg.round_seconds)
    mix = mixture(model, build_corpus(played, "mixer", min_decisions=model.min_decisions).docs)["mixture"]
    echo(f"70/30 rushdown/zoner mixer: rushdown {mix.get('rushdown', 0):.2f}, zoner {mix.get('zoner', 0):.2f}")
    # the bundled agent
    from agents.style.logs import player_rounds

    _, brounds, _ = player_rounds("bundled:duel-ppo", rounds=20, seed=cfg.seed, round_seconds=cfg.round_seconds)
    bdocs = build_corpus(brounds, "bundled:duel-ppo", min_decisions=model.min_decisions).docs
    bundled = mixture(model, bdocs)
    echo("bundled:duel-ppo (60 rounds vs scripted easy/normal/hard): "
         + ", ".join(f"{s} {v:.2f}" for s, v in bundled["mixture"].items()))
    echo(f"\n{'player':<28}" + "".join(f"{s:>10}" for s in model.styles))
    for p, row in {**table, "bundled:duel-ppo": bundled["mixture"]}.items():
        echo(f"{p:<28}" + "".join(f"{row.get(s, 0):>10.2f}" for s in model.styles))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_table({**table, "bundled:duel-ppo": bundled["mixture"]}, model.styles, out / "style.png")
    if cfg.docs:
        from experiments.studies.common import copy_to_docs

        copy_to_docs(out / "style.png", "style.png")
    if cfg.save_model:
        model.save(cfg.save_model)
        echo(f"model: {cfg.save_model}")
    summary = {"k": model.k, "topics": model.names, "k_choice": choice.as_dict() if choice else None,
               "nmi": scores, "named_right": named_right, "player_id": ident, "player_id_shuffled": control,
               "chance": round(chance, 4), "mixer_70_30": mix, "bundled": bundled["mixture"], "table": table,
               "rounds": len(corpus), "skipped": corpus.skipped}
    from envs.fileio import atomic_write_text

    atomic_write_text(out / "report.json", json.dumps(_clean(summary), indent=1) + "\n")
    return summary


def plot_table(table: dict[str, dict[str, float]], styles: list[str], path: Path) -> None:
    """The player x style table as a heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from envs.fileio import atomic_save

    players = list(table)
    m = np.array([[table[p].get(s, 0.0) for s in styles] for p in players])
    fig, ax = plt.subplots(figsize=(1.2 * len(styles) + 3.2, 0.36 * len(players) + 1.4))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(len(players)):
        for j in range(len(styles)):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8, color="white" if m[i, j] > 0.6
                    else "black")
    ax.set_xticks(range(len(styles)), styles)
    ax.set_yticks(range(len(players)), [p.removeprefix("scripted:") for p in players], fontsize=8)
    ax.set_title("style mixture per player (LDA topics named from the lexicon)", fontsize=9)
    fig.tight_layout()
    atomic_save(path, lambda p: fig.savefig(p, dpi=100), suffix=".png")
    plt.close(fig)


def run_style(cfg: StyleConfig, echo=print) -> dict:
    """``sandbox style``: the study or one player's mixture."""
    if cfg.study:
        if cfg.player:
            raise ValueError("--study measures the scripted reference corpus; give no PLAYER with it")
        return run_study(cfg, echo)
    return name_player(cfg, echo)
