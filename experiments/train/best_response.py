"""A best response: a learner trained against one frozen opponent of the duel.

Used by ``sandbox eval --exploit`` (:mod:`experiments.evaluate.exploit`, which then measures it on held-out
rounds) and by the league's exploiters (:mod:`experiments.train.duel_league`). Its training seeds stay
below ``HELD_OUT_SEED``, where the held-out rounds start.
"""

from __future__ import annotations

from typing import Any

from agents.opponents import batched_duel_opponent
from envs.duel.vector import DuelVectorEnv

HELD_OUT_SEED = 3_000_000
ALGOS = ("ppo-pg", "ppo")


def train_best_response(opponent: Any, steps: int, *, n_envs: int = 64, seed: int = 0, device="auto",
                        hyper: dict | None = None, algo: str = "ppo-pg", callback=None, round_seconds: float = 60):
    """A learner trained for ``steps`` env steps against ``opponent`` (a spec, an agent with ``predict``
    or a batched opponent). ``callback(learner)`` runs after every update (ppo-pg) or rollout (ppo)."""
    if algo not in ALGOS:
        raise ValueError(f"unknown best-response algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    if seed < 0 or seed + n_envs > HELD_OUT_SEED:
        raise ValueError(f"training seeds {seed}..{seed + n_envs - 1} would reach the held-out seeds "
                         f"({HELD_OUT_SEED}+); pick a seed in [0, {HELD_OUT_SEED - n_envs}]")
    if algo == "ppo-pg":
        from nets.ppo import PPO

        env = DuelVectorEnv(num_envs=n_envs, opponent=batched_duel_opponent(opponent), side="random",
                            round_seconds=round_seconds)
        learner = PPO(env, seed=seed, device=device, **(hyper or {}))
        learner.learn(steps, callback=None if callback is None else (lambda info: callback(learner)))
        return learner
    if not isinstance(opponent, str):
        raise ValueError("--algo ppo trains on single duel envs and needs the opponent as a spec string")
    import gymnasium as gym
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv

    import envs  # noqa: F401  (registers sandbox/Duel-v0)

    vec = DummyVecEnv([lambda: gym.make("sandbox/Duel-v0", opponent=opponent, side="random",
                                        round_seconds=round_seconds)] * n_envs)
    vec.seed(seed)
    model = SB3PPO("MlpPolicy", vec, seed=seed, device=device, verbose=0, **(hyper or {}))

    class _Each(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if callback is not None:
                callback(model)

    model.learn(steps, callback=_Each())
    return model


