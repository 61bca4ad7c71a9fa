"""The top floor: the ``sandbox`` command and everything it runs.

- ``cli``: the ``sandbox`` command; one thin module per verb (arguments in, a call into a package, exit status out).
- ``train``: configs (``train_configs.toml``), the env factory, the run folder, the trainers, ghost and director
  training, and bundling a run as a shipped agent.
- ``watch``: the watcher: players from specs, the duel and stealth sessions, widgets, the event loop.
- ``play``: a person at the keyboard: playing the duel, recording demos.
- ``solve``: exact solutions for ``sandbox solve``.
- ``studies``: the comparisons behind ``sandbox compare``, the Elo fit, the CW-RNN reproduction.
- ``bench``: benchmarks, run by ``make bench`` (``python -m experiments.bench``).

May import envs, nets and agents; nothing below imports from here.
"""
