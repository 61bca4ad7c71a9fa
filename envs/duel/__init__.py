"""The fighting duel: pure frame-accurate rules (``rules``), the single-agent Gymnasium env
``sandbox/Duel-v0`` (``env.DuelEnv``), its PettingZoo parallel twin for self-play (``pz``, via
:func:`parallel_env`), the pygame renderer (``render``, imported only when drawing) and the keyboard
mapping with the human agent (``controls``)."""


def parallel_env(**kwargs):
    """The duel as a PettingZoo ``ParallelEnv`` (keyword arguments as :class:`pz.DuelParallelEnv`)."""
    from envs.duel.pz import DuelParallelEnv

    return DuelParallelEnv(**kwargs)
