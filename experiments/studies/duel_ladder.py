"""Strength ladder of the duel's scripted presets: head-to-head win rates over seeded rounds.

Runs in the batched duel (agents.character.arena.match), sides alternating every round, frame_skip 4; round k
of a pairing is seeded seed + k.
Prints a table, then one JSON line. Run: ``python -m experiments.studies.duel_ladder [--rounds 200]``
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from envs.duel.config import DuelConfig


@dataclass
class Config:
    rounds: int = 200  # rounds per pairing
    seed: int = 2026  # round k of a pairing is seeded seed + k
    round_seconds: float = 20.0  # round length (time-outs go to the healthier fighter)


PAIRS = [
    ("scripted:easy", "random"),
    ("scripted:normal", "scripted:easy"),
    ("scripted:hard", "scripted:normal"),
    ("scripted:hard", "random"),
    ("scripted:rushdown", "scripted:normal"),
    ("scripted:zoner", "scripted:normal"),
    ("scripted:turtle", "scripted:normal"),
]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=Config.rounds, help="rounds per pairing")
    parser.add_argument("--seed", type=int, default=Config.seed, help="seed")
    parser.add_argument("--round-seconds", type=float, default=Config.round_seconds, help="round length")
    args = parser.parse_args(argv)
    from agents.character.arena import match

    print(f"{'pairing':<40}{'wins':>6}{'losses':>8}{'draws':>7}{'win rate':>10}")
    figures = {}
    for a, b in PAIRS:
        r = match(a, b, args.rounds, seed=args.seed, frame_skip=DuelConfig.frame_skip, round_seconds=args.round_seconds)
        rate = r["wins"] / args.rounds
        print(f"{a + ' vs ' + b:<40}{r['wins']:>6}{r['losses']:>8}{r['draws']:>7}{rate:>10.2f}")
        figures[f"{a} vs {b}"] = {**r, "win_rate": round(rate, 3)}
    print(json.dumps({"rounds": args.rounds, "seed": args.seed, "ladder": figures}))
    return figures


if __name__ == "__main__":
    main()
