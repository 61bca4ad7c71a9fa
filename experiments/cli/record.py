"""``sandbox record duel``: record rounds of a player (you at the keyboard, or a scripted style) as demos.

    sandbox record duel --vs scripted:normal --rounds 10 --out demos/me/                 (you, in the window)
    sandbox record duel --player scripted:zoner --vs scripted:easy,scripted:hard --rounds 50 --out demos/zoner/

Each finished round is written at once as ``round_NNNN.npz`` + ``round_NNNN.json`` (format in
:mod:`nets.imitation`), atomically: Ctrl-C or a crash loses at most the round being played and never
leaves a half-written file. Rounds already in the folder are kept and numbering continues after them.
``--vs`` may list several opponents separated by commas; the rounds cycle through them. The human
player needs a display; keys: arrows for the stick, Z / X / C for light / heavy / special, Esc stops
(the round in progress is not saved).
"""

from __future__ import annotations

from experiments.play.record import GAMES, RecordConfig


def add_parser(subparsers) -> None:
    c = RecordConfig
    p = subparsers.add_parser("record", help="record a player's rounds as demos for a ghost", description=__doc__)
    p.add_argument("game", choices=GAMES, help="the game")
    p.add_argument("--player", default=c.player, help="human (keyboard, needs a display) or an agent spec, e.g. "
                   "scripted:rushdown|zoner|turtle (default: %(default)s)")
    p.add_argument("--vs", default=c.vs, help="opponent spec(s), comma-separated (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=c.rounds, help="rounds to record (default: %(default)s)")
    p.add_argument("--out", default=c.out, help="demo folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first round")
    p.add_argument("--frame-skip", type=int, default=c.frame_skip, help="ticks per decision (default: %(default)s)")
    p.add_argument("--round-seconds", type=float, default=c.round_seconds, help="seconds per round (%(default)s)")
    p.add_argument("--name", default=c.name, help="player name for the metadata (default: the player spec)")
    p.set_defaults(run=run)


def run(args) -> int:
    from experiments.play.record import record_rounds

    cfg = RecordConfig(game=args.game, player=args.player, vs=args.vs, rounds=args.rounds, out=args.out,
                       seed=args.seed, frame_skip=args.frame_skip, round_seconds=args.round_seconds, name=args.name)
    written = record_rounds(cfg)
    print(f"recorded {len(written)} round(s) in {cfg.out}")
    return 0
