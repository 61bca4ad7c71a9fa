"""Glue so stable-baselines3's PPO, A2C and DQN can use :class:`nets.mlp.MLP` on the sandbox envs.

``MLPExtractor`` is an SB3 features extractor (flatten the observation, then an MLP). The helpers
return ``policy_kwargs`` for each algorithm::

    from stable_baselines3 import PPO
    from nets.sb3 import mlp_policy_kwargs
    model = PPO("MlpPolicy", env, policy_kwargs=mlp_policy_kwargs("ppo", hidden=(64, 64)))

The features extractor carries the whole MLP; SB3's own ``net_arch`` is left empty by default, so
the actor, critic (or Q) heads are single linear layers on top of our features. Models saved with
``model.save`` load back with ``PPO.load`` as usual (the extractor class is importable from here).

:class:`GymnasiumVecEnv` lets SB3 train on any ``gymnasium.vector.VectorEnv`` (a natively batched env
from ``gym.make_vec``, or Gymnasium's Sync/Async vector envs)::

    from stable_baselines3.common.vec_env import VecMonitor
    vec = VecMonitor(GymnasiumVecEnv(gym.make_vec("CartPole-v1", num_envs=64)))
    PPO("MlpPolicy", vec).learn(100_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from nets.mlp import MLP

__all__ = ["MLPExtractor", "mlp_policy_kwargs", "ALGOS", "GymnasiumVecEnv", "supports_same_step_reset"]

ALGOS = ("ppo", "a2c", "dqn")


class MLPExtractor(BaseFeaturesExtractor):
    """Flatten the observation and run it through ``nets.MLP``; features are the last hidden layer."""

    def __init__(
        self,
        observation_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        init: str = "orthogonal",
    ) -> None:
        hidden = tuple(int(h) for h in hidden)
        if not hidden:
            raise ValueError("MLPExtractor needs at least one hidden layer")
        super().__init__(observation_space, features_dim=hidden[-1])
        self.flatten = torch.nn.Flatten()
        n_in = get_flattened_obs_dim(observation_space)
        self.mlp = MLP(n_in, hidden, None, activation=activation, init=init)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.flatten(observations).float())


def mlp_policy_kwargs(
    algo: str,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    init: str = "orthogonal",
    head_arch: Sequence[int] = (),
) -> dict:
    """``policy_kwargs`` that put ``nets.MLP`` under SB3's ``algo`` (``"ppo"``, ``"a2c"`` or ``"dqn"``).

    ``head_arch`` adds SB3 layers after the shared MLP features (actor and critic alike for PPO/A2C,
    the Q network for DQN); empty means linear heads."""
    algo = algo.lower()
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    kwargs: dict = {
        "features_extractor_class": MLPExtractor,
        "features_extractor_kwargs": {"hidden": tuple(hidden), "activation": activation, "init": init},
    }
    head = [int(h) for h in head_arch]
    if algo == "dqn":
        kwargs["net_arch"] = head
    else:
        kwargs["net_arch"] = {"pi": head, "vf": list(head)}
        kwargs["share_features_extractor"] = True
    return kwargs


def _autoreset_mode(env: gym.vector.VectorEnv) -> str:
    mode = env.metadata.get("autoreset_mode", getattr(env, "autoreset_mode", None))
    return getattr(mode, "value", mode) or "NextStep"


def supports_same_step_reset(env: gym.vector.VectorEnv) -> bool:
    """Whether :class:`GymnasiumVecEnv` can give SB3 same-step resets from ``env``: it autoresets on the
    same step, or it takes ``reset(options={"reset_mask": ...})``, as Gymnasium's Sync and Async vector envs
    do and a natively batched env says with ``metadata["reset_mask"] = True``."""
    if _autoreset_mode(env) == "SameStep":
        return True
    return isinstance(env.unwrapped, gym.vector.SyncVectorEnv | gym.vector.AsyncVectorEnv) or bool(
        env.metadata.get("reset_mask", False))


class GymnasiumVecEnv(VecEnv):
    """A ``gymnasium.vector.VectorEnv`` as a stable-baselines3 ``VecEnv``.

    SB3 expects *same-step* autoreset: on the step that ends env ``i``'s episode, ``obs[i]`` is already the
    next episode's first observation, the final one is ``infos[i]["terminal_observation"]``, and
    ``infos[i]["TimeLimit.truncated"]`` says the end was a time limit (SB3 then bootstraps from the final
    observation's value). Every Gymnasium autoreset mode is converted to that, with no extra env step:

    * ``NEXT_STEP`` (Gymnasium's default) and ``DISABLED``: the ended envs are reset at once with
      ``reset(options={"reset_mask": ended})``; the env must support that option (Gymnasium's
      Sync/Async vector envs do; a natively batched env must too).
    * ``SAME_STEP``: the final observations come from ``info["final_obs"]``.

    Gymnasium's dict-of-arrays infos become SB3's list of dicts (an entry only where the env set it).
    ``seed(s)`` then ``reset()`` resets env ``i`` with seed ``s + i``, as ``VectorEnv.reset(seed=s)`` does.
    """

    def __init__(self, env: gym.vector.VectorEnv):
        if not isinstance(env, gym.vector.VectorEnv):
            raise TypeError(f"GymnasiumVecEnv wraps a gymnasium.vector.VectorEnv, got {type(env).__name__}")
        mode = _autoreset_mode(env)
        if mode not in ("NextStep", "SameStep", "Disabled"):
            raise ValueError(f"unsupported vector-env autoreset mode {mode!r}; valid: NextStep, SameStep, Disabled")
        self.env, self.autoreset_mode = env, mode
        self._actions: np.ndarray | None = None
        super().__init__(int(env.num_envs), env.single_observation_space, env.single_action_space)

    # ------------------------------------------------------------------ stepping
    def reset(self):
        seeds = self._seeds
        seed = None
        if seeds[0] is not None:
            if seeds != [seeds[0] + i for i in range(self.num_envs)]:
                raise ValueError(f"per-env seeds must be consecutive (s, s+1, ...) for a vector env, got {seeds}")
            seed = int(seeds[0])
        options = self._options[0] if all(o == self._options[0] for o in self._options) else None
        if options is None:
            raise ValueError("a vector env takes one options dict for all its envs; set_options gave several")
        obs, info = self.env.reset(seed=seed, options=dict(options) or None)
        self.reset_infos = self._split(info)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.env.step(self._actions)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        dones = terminated | truncated
        infos = self._split(info)
        if dones.any():
            ended = np.flatnonzero(dones)
            if self.autoreset_mode == "SameStep":
                finals = {int(i): info["final_obs"][i] for i in ended}
                last = self._split(info.get("final_info", {}))
                for i in ended:  # SB3 keeps the ended episode's last info; the reset's goes to reset_infos
                    self.reset_infos[i] = {k: v for k, v in infos[i].items() if k not in ("final_obs", "final_info")}
                    infos[i] = last[i]
            else:
                finals = {int(i): np.array(obs[i], copy=True) for i in ended}
                kept = ~dones
                before = np.array(obs[kept], copy=True)
                try:
                    fresh, reset_info = self.env.reset(options={"reset_mask": dones.copy()})
                except (TypeError, KeyError, ValueError, AssertionError) as exc:
                    raise ValueError(f"{type(self.env).__name__} does not support reset(options={{'reset_mask': "
                                     f"...}}), which GymnasiumVecEnv needs for {self.autoreset_mode} autoreset "
                                     f"({type(exc).__name__}: {exc})") from None
                if not np.array_equal(np.asarray(fresh)[kept], before):
                    raise ValueError(f"{type(self.env.unwrapped).__name__} reset envs outside reset_mask; "
                                     "GymnasiumVecEnv needs reset(options={'reset_mask': m}) to reset only the "
                                     "envs in m")
                obs = fresh
                split = self._split(reset_info)
                for i in ended:
                    self.reset_infos[i] = split[i]
            for i in ended:
                infos[i]["terminal_observation"] = finals[int(i)]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, np.float32), dones, infos

    def _split(self, info: dict) -> list[dict[str, Any]]:
        """Gymnasium's ``{key: array, "_key": mask}`` (nested for dicts) -> one dict per env."""
        out: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, values in info.items():
            if key.startswith("_"):
                continue
            mask = info.get(f"_{key}")
            rows = range(self.num_envs) if mask is None else np.flatnonzero(mask)
            if isinstance(values, dict):  # a nested info (e.g. SAME_STEP's final_info)
                values = self._split(values)
            for i in rows:
                out[i][key] = values[i]
        return out

    # ------------------------------------------------------------------ attributes
    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [int(indices)] if np.isscalar(indices) else [int(i) for i in indices]

    def get_attr(self, attr_name: str, indices=None) -> list:
        if hasattr(self.env, "get_attr"):  # gymnasium's Sync/Async vector envs: one value per env
            values = self.env.get_attr(attr_name)
        else:  # a natively batched env: one value for all
            values = [getattr(self.env, attr_name)] * self.num_envs
        return [values[i] for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        if indices is not None and self._indices(indices) != list(range(self.num_envs)):
            raise ValueError("GymnasiumVecEnv sets attributes on every env at once, not on some")
        if hasattr(self.env, "set_attr"):
            self.env.set_attr(attr_name, value)
        else:
            setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        if hasattr(self.env, "call"):
            values = self.env.call(method_name, *method_args, **method_kwargs)
        else:
            values = [getattr(self.env, method_name)(*method_args, **method_kwargs)] * self.num_envs
        return [values[i] for i in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def close(self) -> None:
        self.env.close()
