"""The duel's still pictures in the docs, drawn headless from a hand-set state:

    SDL_VIDEODRIVER=dummy python -m experiments.play.pictures     # writes docs/duel.png, docs/duel_training.png

``duel.png``: the F1 hitbox overlay on, the blue fighter's heavy has just landed (hit spark), the red
fighter recoils in hitstun, and red's projectile, which blue jumped over, flies on behind it.
``duel_training.png``: the same moment with the F2 training-mode aids on (input history of both
fighters, frame data of the move in progress).
"""

from __future__ import annotations

import os
import sys


def moment():
    """The state, its events and the last 49 ticks of inputs (stick, button) per fighter."""
    from envs.duel import rules
    from envs.duel.rules import FState, Move

    s = rules.initial_state()
    blue, red = s.fighters
    blue.x, blue.state, blue.move, blue.frame, blue.connected = 330, int(FState.ATTACK), int(Move.HEAVY), 11, True
    red.x, red.state, red.stun, red.health = 420, int(FState.HITSTUN), 19, 150
    blue.health = 170
    s.projectiles[1] = rules.Projectile(150, -rules.PROJECTILE_SPEED)
    s.tick = 700
    # blue walks in, jumps forward over the projectile, lands, heavy; red fires it, then walks back
    inputs = ([((3, 0), (5, 3))] * 12 + [((3, 0), (7, 0))] * 6 + [((2, 0), (7, 0))] * 4
              + [((0, 0), (7, 0))] * 30 + [((0, 2), (7, 0))] * 4 + [((0, 0), (7, 0))] * 7)
    events = [{"type": "hit", "by": 0, "move": "heavy", "damage": 12}]
    return s, events, inputs


def main(argv=None) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from envs.duel.render import DuelRenderer
    from envs.fileio import atomic_save

    out = (argv or sys.argv[1:] or ["docs"])[0]
    s, events, inputs = moment()
    for name, training in (("duel.png", False), ("duel_training.png", True)):
        r = DuelRenderer("rgb_array")
        r.show_hitboxes, r.show_training = True, training
        for k, inp in enumerate(inputs):
            r.note_inputs(s.tick - len(inputs) + k + 1, inp)
        r.draw(s, events, labels=("P1", "P2"))
        path = os.path.join(out, name)
        atomic_save(path, lambda tmp, c=r.canvas: pygame.image.save(c, tmp))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
