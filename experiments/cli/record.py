"""``sandbox record duel``: record rounds of a player (you at the keyboard, or a scripted style) as demos.

    sandbox record duel --vs scripted:normal --rounds 10 --out demos/me/                 (you, in the window)
    sandbox record duel --player scripted:zoner --vs scripted:easy,scripted:hard --rounds 50 --out demos/zoner/

Each finished round is written at once as ``round_NNNN.npz`` + ``round_NNNN.json`` (format in
:mod:`agents.ghost.demos`), atomically: Ctrl-C or a crash loses at most the round being played and never
leaves a half-written file. Rounds already in the folder are kept and numbering continues after them.
``--vs`` may list several opponents separated by commas; the rounds cycle through them. The human
player needs a display; keys: arrows for the stick, Z / X / C for light / heavy / special (or a gamepad:
``--input pad``), Esc stops (the round in progress is not saved). Every button press is buffered and
reaches the demo; the sidecar counts them (``presses``, ``presses_out``).
"""

from __future__ import annotations

from experiments.play.duel import INPUTS
from experiments.play.record import GAMES, RecordConfig


def add_parser(subparsers) -> None:
    from experiments.options import add_config_args

    p = subparsers.add_parser("record", help="record a player's rounds as demos for a ghost", description=__doc__)
    add_config_args(p, RecordConfig, positional=("game",), choices={"game": GAMES, "input": INPUTS})
    p.set_defaults(run=run)


def run(args) -> int:
    from experiments.options import config_from_args
    from experiments.play.record import record_rounds

    cfg = config_from_args(RecordConfig, args)
    written = record_rounds(cfg)
    print(f"recorded {len(written)} round(s) in {cfg.out}")
    return 0
