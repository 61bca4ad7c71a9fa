"""The env a run trains on, built from its config: sandbox envs, Gymnasium ids, navigation wrappers."""

from __future__ import annotations

import difflib

from experiments.train.config import ENV_IDS, PG_ALGOS, env_kind


def make_env(env: str, env_kwargs: dict | None = None, nav_features: bool = False, render_mode=None,
             index: int = 0, shaping: bool = False, gamma: float = 0.99, exploring_starts: float = 0.0):
    """The env a run trains on: ``stealth``/``duel`` (with their keyword arguments) or a Gymnasium id,
    wrapped in :class:`agents.navigation.NavFeatures` when ``nav_features`` and in
    :class:`agents.navigation.shaping.GoalShaping` (for discount ``gamma``) when ``shaping``. A stealth
    ``level`` (and a duel ``opponent``) may be a list or a comma-separated string: env number ``index`` of a
    vector env plays ``levels[index % len(levels)]``. ``exploring_starts`` > 0 wraps it in
    :class:`agents.navigation.shaping.ExploringStarts` (training only)."""
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
    try:
        e = gym.make(env_id, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{env_id} does not accept these options {sorted(env_kwargs or {})}: {exc}") from None
    if nav_features:
        if env_kind(env_id) != "stealth":
            raise ValueError(f"--nav-features needs the stealth env, not {env_id}")
        from agents.navigation.features import NavFeatures

        e = NavFeatures(e)
    if exploring_starts > 0:
        from agents.navigation.shaping import ExploringStarts

        e = ExploringStarts(e, exploring_starts)
    if shaping:
        e = shaped(e, gamma)
    return e


def shaped(env, gamma: float):
    """``env`` with the navigation AI's potential-based goal shaping (stealth only)."""
    from agents.navigation.shaping import GoalShaping

    return GoalShaping(env, gamma=gamma)  # a ValueError for any other env


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
