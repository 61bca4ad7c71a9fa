"""``sandbox watch duel|stealth``: agents playing in a pygame window, with what they are thinking.

    sandbox watch                      # the duel: bundled PPO (P1) against scripted:hard (P2)
    sandbox watch stealth              # the bundled stealth agent on every bundled level in turn
    sandbox watch duel --p1 scripted:zoner --p2 sb3:runs/x/checkpoints/final.zip --director rule
    sandbox watch stealth --p1 optimal --level courtyard --record courtyard.mp4 --seconds 20

Window keys: Space pause, Right arrow one decision while paused, + / - speed (0.25x .. 8x), R restart,
Tab cycle overlays, Esc quit. Without a display (no DISPLAY, or SDL_VIDEODRIVER=dummy) it records a
short GIF instead (default ``runs/watch/GAME.gif``, 10 s) and prints where it went. ``--seconds T`` stops
after T seconds of watching (in a recording: T seconds of the video, computed as fast as the CPU allows).

Modules: ``config`` (what to show), ``agents`` (players from specs), ``duel`` and ``stealth`` (the sessions),
``widgets`` (panels, bars, the recorder), ``app`` (the event loop).
"""

from experiments.watch.agents import OpponentSlot, StealthKeys, build_agent  # noqa: F401
from experiments.watch.app import play, watch  # noqa: F401
from experiments.watch.config import Config  # noqa: F401
from experiments.watch.duel import DuelSession  # noqa: F401
from experiments.watch.stealth import StealthSession  # noqa: F401
