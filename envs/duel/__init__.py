"""The fighting duel. Its rules, decision step and observation exist once, as numba kernels over arrays
(``kernels``), with every name of the layout in one module (``layout``) and each fighter's numbers in a
validated character table (``character``, ``characters/default.toml``). ``core.DuelCore`` holds the
arrays of N rounds; every form of the duel is one: the single-agent Gymnasium env ``sandbox/Duel-v0``
(``env.DuelEnv``, a batch of one), the batched env (``vector.DuelVectorEnv``) and the PettingZoo parallel
view for self-play (``pz``, via :func:`parallel_env`). ``config.DuelConfig`` checks their settings once.
``rules`` gives a round as plain values (for drawing, tests and scripts), ``render`` draws it (pygame,
imported only when drawing), ``controls`` maps the keyboard and holds the human agent.

Imports: only ``envs`` (and third-party libraries); never ``nets``, ``agents`` or ``experiments``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envs.duel.pz import DuelParallelEnv


def parallel_env(**kwargs: Any) -> DuelParallelEnv:
    """The duel as a PettingZoo ``ParallelEnv`` (keyword arguments as :class:`pz.DuelParallelEnv`)."""
    from envs.duel.pz import DuelParallelEnv

    return DuelParallelEnv(**kwargs)
