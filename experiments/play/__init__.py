"""A person at the keyboard or a gamepad: ``duel`` (``sandbox play duel``), ``record`` (rounds saved as
ghost demos) and ``pictures`` (the duel's still pictures in the docs). The input itself (buffered
presses, pads, the controls file) is ``envs.duel.controls``.

May import envs, nets and agents."""
