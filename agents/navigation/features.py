"""``NavFeatures``: the older name of the env's ``nav_features=`` keyword.

The navigation AI's channels are computed by the env itself (its kernel, :mod:`envs.stealth.kernels`, from
the per-level maps of :mod:`envs.stealth.features`), in the single env and the batch alike:
``gym.make("sandbox/Stealth-v0", nav_features="all")``. ``NavFeatures(env, names)`` switches that keyword
on in an env already built and returns it, so that code written for the wrapper keeps working."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from envs.stealth.features import EXTRA_CHANNELS, NAV_FEATURES, nav_names

if TYPE_CHECKING:
    import gymnasium as gym
    from gymnasium.vector import VectorEnv

    from envs.stealth.env import StealthEnv
    from envs.stealth.vector import StealthVectorEnv

#: An env, as the functions that switch one of its keywords on take it and give it back.
EnvT = TypeVar("EnvT", bound="gym.Env | VectorEnv")

__all__ = ["EXTRA_CHANNELS", "NAV_FEATURES", "NavFeatures", "stealth_env"]


def stealth_env(env: gym.Env | VectorEnv, name: str, batched: bool = False) -> StealthEnv | StealthVectorEnv:
    """The stealth env under ``env``'s wrappers (the batch when ``batched``), or a ValueError naming ``name``."""
    from envs.stealth.env import StealthEnv
    from envs.stealth.vector import StealthVectorEnv

    base = env.unwrapped
    kind = StealthVectorEnv if batched else StealthEnv
    if not isinstance(base, kind):
        what = "the batched sandbox/Stealth-v0 env (gym.make_vec)" if batched else "a sandbox/Stealth-v0 env"
        raise ValueError(f"{name} takes {what}, got {type(base).__name__}")
    return base


def NavFeatures(env: EnvT, names: bool | str | Sequence[str] = True) -> EnvT:  # noqa: N802  (the old wrapper's name)
    """``env`` (a ``sandbox/Stealth-v0`` env, wrapped or not) with the navigation AI's channels ``names``
    (True for threat, hiding and danger_next, ``"all"`` or names) after its six: the env's
    ``nav_features=names`` keyword, switched on in place (its state restarts: call ``reset()``). Returns
    ``env`` itself."""
    base = stealth_env(env, "NavFeatures")
    if base.nav_features:
        raise ValueError("the env already has nav_features; do not ask for them twice")
    names = nav_names(names)
    if not names:
        raise ValueError(f"NavFeatures needs at least one channel; got {names!r}")
    base.reconfigure(nav_features=names)
    return env
