"""The fighting duel: pure frame-accurate rules (``rules``), the one decision step every user of the duel
steps through (``step.decision_step``), the single-agent Gymnasium env ``sandbox/Duel-v0``
(``env.DuelEnv``, with the observation layout and its hash), its PettingZoo parallel twin for self-play
(``pz``, via :func:`parallel_env`), the pygame renderer (``render``, imported only when drawing) and the
keyboard mapping with the human agent (``controls``).

Imports: only ``envs`` (and third-party libraries); never ``nets``, ``agents`` or ``experiments``."""


def parallel_env(**kwargs):
    """The duel as a PettingZoo ``ParallelEnv`` (keyword arguments as :class:`pz.DuelParallelEnv`)."""
    from envs.duel.pz import DuelParallelEnv

    return DuelParallelEnv(**kwargs)
