"""The env a run trains on, built from its config: sandbox envs, Gymnasium ids, navigation wrappers."""

from __future__ import annotations

import difflib

import numpy as np

from experiments.train.config import ENV_IDS, PG_ALGOS, env_kind


def make_env(env: str, env_kwargs: dict | None = None, nav_features: bool = False, render_mode=None,
             index: int = 0, shaping: bool = False, gamma: float = 0.99, exploring_starts: float = 0.0):
    """The env a run trains on: ``stealth``/``duel`` (with their keyword arguments) or a Gymnasium id. The
    stealth env's training aids are its own keywords: ``nav_features``, ``exploring_starts`` (> 0, training
    only) and, when ``shaping``, ``shaping_gamma=gamma`` (see :func:`stealth_aids`). A stealth
    ``level`` (and a duel ``opponent``) may be a list or a comma-separated string: env number ``index`` of a
    vector env plays ``levels[index % len(levels)]``."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the sandbox ids)

    env_id = ENV_IDS.get(env, env)
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, [*ENV_IDS, *gym.registry], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown env {env!r}{hint}; valid: stealth, duel, ghost or a Gymnasium id such as CartPole-v1")
    kwargs = dict(env_kwargs or {})
    for key, choices in cycled_kwargs(kwargs).items():
        kwargs[key] = choices[index % len(choices)]
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    kwargs.update(stealth_aids(env_id, nav_features, exploring_starts, shaping, gamma))
    try:
        return gym.make(env_id, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{env_id} does not accept these options {sorted(env_kwargs or {})}: {exc}") from None


def stealth_aids(env: str, nav_features=False, exploring_starts: float = 0.0, shaping: bool = False,
                 gamma: float = 0.99) -> dict:
    """The stealth env's keywords for the training aids asked for (none: {}): ``nav_features``,
    ``exploring_starts`` and ``shaping_gamma``. Other envs have none of them: a ValueError saying so."""
    aids = {}
    if nav_features:
        aids["nav_features"] = nav_features
    if exploring_starts > 0:
        aids["exploring_starts"] = float(exploring_starts)
    if shaping:
        aids["shaping_gamma"] = float(gamma)
    if aids and env_kind(env) != "stealth":
        flags = {"nav_features": "--nav-features", "exploring_starts": "--exploring-starts",
                 "shaping_gamma": "--shaping"}
        raise ValueError(f"{', '.join(flags[k] for k in aids)} needs the stealth env, not {env}")
    return aids


def native_vector(env: str) -> bool:
    """Whether the sandbox env ``env`` has a natively batched form (registered as its ``vector_entry_point``,
    which ``gym.make_vec`` picks). Other Gymnasium ids (CartPole's own vector env included) step single envs."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the sandbox ids)

    if env_kind(env) not in ENV_IDS:
        return False
    spec = gym.registry.get(ENV_IDS[env_kind(env)])
    return spec is not None and spec.vector_entry_point is not None


def make_vector_env(env: str, env_kwargs: dict | None, n_envs: int, seed: int, nav_features: bool = False,
                    shaping: bool = False, gamma: float = 0.99, exploring_starts: float = 0.0, reset: bool = True):
    """The training envs as one ``gymnasium.vector.VectorEnv`` (next-step autoreset), reset with ``seed``
    (unless ``reset=False``: the learner resets it, once the parts around it are in place).

    When :func:`native_vector`, the env's natively batched form, which takes the same keywords as
    :func:`make_env` (the training aids of :func:`stealth_aids`; listed stealth levels and duel opponents as
    lists, env ``i`` playing item ``i % len``); options it cannot take are a one-line ValueError (never a
    silent fall back to single envs). Other Gymnasium ids: a ``SyncVectorEnv`` of :func:`make_env` envs."""
    import gymnasium as gym

    def single_envs():
        vec = gym.vector.SyncVectorEnv([
            lambda i=i: make_env(env, env_kwargs, nav_features, index=i, shaping=shaping, gamma=gamma,
                                 exploring_starts=exploring_starts) for i in range(n_envs)])
        vec.reset(seed=seed)
        return vec

    if not native_vector(env):
        return single_envs()
    kwargs = dict(env_kwargs or {})
    kwargs.update(cycled_kwargs(kwargs))
    kwargs.update(stealth_aids(env, nav_features, exploring_starts, shaping, gamma))
    env_id = ENV_IDS[env_kind(env)]
    try:
        vec = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **kwargs)
    except TypeError as exc:  # an option the batched env has no keyword for
        raise ValueError(f"{env_id} (batched) does not accept these options {sorted(kwargs)}: {exc}") from None
    if reset:
        vec.reset(seed=seed)
    return vec


def shaped(env, gamma: float):
    """``env`` (stealth only, wrapped or not) with its potential-based goal shaping switched on: its
    ``shaping_gamma=gamma`` keyword, set in place (a ValueError for any other env). Build a new env with
    :func:`make_env` ``(shaping=True)`` instead where you can."""
    from agents.navigation.shaping import GoalShaping

    return GoalShaping(env, gamma=gamma)


def monitored_unshaped(env, monitor):
    """``monitor(env)`` (SB3's ``Monitor``) recording the game's own returns while the learner above it gets
    the shaped rewards: below the monitor the reward is ``info["unshaped_reward"]`` (the shaped one kept
    as ``info["shaped_reward"]``), above it the shaped reward again. An env that does not shape passes."""
    import gymnasium as gym

    class _Game(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            if "unshaped_reward" in info:
                info["shaped_reward"], reward = reward, info["unshaped_reward"]
            return obs, reward, terminated, truncated, info

    class _Shaped(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, info.get("shaped_reward", reward), terminated, truncated, info

    return _Shaped(monitor(_Game(env)))


def game_returns(vec):
    """``vec`` (a Gymnasium vector env) under :class:`GameReturns`, built lazily (gymnasium's import)."""
    from gymnasium.vector import VectorWrapper

    class GameReturns(VectorWrapper):
        """The returns of the game itself, per finished episode, whatever reward the learner sees: each env's
        ``info["unshaped_reward"]`` where the env shapes its reward, else the reward, summed per episode.
        :meth:`take` hands over (and forgets) the returns of the episodes finished since the last call. The
        run's ``train_return`` is these; the learner's shaped returns are logged apart (``train/shaped_return``)."""

        def __init__(self, env) -> None:
            super().__init__(env)
            self.sums = np.zeros(self.num_envs)
            self.finished: list[float] = []

        def reset(self, *, seed=None, options=None):
            self.sums[:] = 0.0
            return self.env.reset(seed=seed, options=options)

        def step(self, actions):
            obs, rewards, terminated, truncated, info = self.env.step(actions)
            self.sums += np.asarray(info.get("unshaped_reward", rewards), dtype=np.float64)
            ended = np.asarray(terminated) | np.asarray(truncated)
            if ended.any():
                self.finished.extend(self.sums[ended].tolist())
                self.sums[ended] = 0.0
            return obs, rewards, terminated, truncated, info

        def take(self) -> list[float]:
            out, self.finished = self.finished, []
            return out

    return GameReturns(vec)


CYCLED_KEYS = ("level", "opponent")  # keyword arguments that may list several values, one per vector env


def cycled_kwargs(env_kwargs: dict) -> dict[str, list]:
    """The keyword arguments that list several values (stealth levels, duel opponents), e.g.
    ``{"opponent": ["random", "scripted:hard"]}``; env number ``i`` of a vector env takes value ``i % n``."""
    out = {}
    levels = level_list(env_kwargs)
    if levels:
        out["level"] = levels
    opponent = env_kwargs.get("opponent")
    if isinstance(opponent, str) and "," in opponent:
        out["opponent"] = [o.strip() for o in opponent.split(",") if o.strip()]
    elif isinstance(opponent, list):
        out["opponent"] = [str(o) for o in opponent]
    return out


def level_list(env_kwargs: dict) -> list[str]:
    """The stealth levels named by ``env_kwargs["level"]`` when it lists several (``"all"``: every bundled
    level); [] for one level."""
    level = env_kwargs.get("level")
    if level == "all":
        from envs.stealth.level import bundled_levels

        return bundled_levels()
    if isinstance(level, str) and "," in level:
        return [name.strip() for name in level.split(",") if name.strip()]
    if isinstance(level, list):
        return [str(name) for name in level]
    return []


def held_out_kwargs(env_kwargs: dict) -> dict:
    """The env keyword arguments of evaluation: stealth's generated training levels (``level="random"``,
    drawn from the training pool) become the held-out pool (``"heldout"``), whose generator seeds the
    training pool never uses (see ``envs.stealth.level.POOL_SEED_BASE``)."""
    level = env_kwargs.get("level")
    if level == "random":
        return {**env_kwargs, "level": "heldout"}
    if isinstance(level, list):
        return {**env_kwargs, "level": ["heldout" if item == "random" else item for item in level]}
    if isinstance(level, str) and "," in level:
        names = [name.strip() for name in level.split(",")]
        return {**env_kwargs, "level": ",".join("heldout" if name == "random" else name for name in names)}
    return env_kwargs


def check_compatible(algo: str, env) -> None:
    """A clear error when ``algo`` cannot act in ``env``'s action space."""
    from gymnasium import spaces

    space = env.action_space
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if algo == "dqn" and not isinstance(space, spaces.Discrete):
        multi = isinstance(space, spaces.MultiDiscrete)
        hint = " (pass --flat-actions for the duel's Discrete(36) form)" if multi else ""
        raise ValueError(f"dqn needs a Discrete action space; {name} has {space}{hint}")
    if algo in PG_ALGOS and not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        raise ValueError(f"{algo} needs a Discrete or MultiDiscrete action space; {name} has {space}")
