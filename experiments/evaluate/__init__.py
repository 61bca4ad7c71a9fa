"""``sandbox eval``: every measured claim about an agent, as one command each.

- ``stealth``: success and return against the exact optimum V*(start), level by level, on bundled, file or
  held-out generated levels;
- ``duel``: wins, draws and losses against opponents, with 95% Wilson intervals, sides alternating;
- ``stats``: the interval arithmetic.

Each prints a table, then one JSON line. Built on the one rollout harness, :mod:`agents.rollout`, and the
duel arena, :mod:`agents.character.arena`. May import envs, nets and agents.
"""
