"""A best response: a learner trained against one frozen opponent of the duel.

Used by ``sandbox eval --exploit`` (:mod:`experiments.evaluate.exploit`, which then measures it on held-out
rounds) and by the league's exploiters (:mod:`experiments.train.duel_league`). Its training seeds stay
below ``HELD_OUT_SEED``, where the held-out rounds start.
"""

from __future__ import annotations

from typing import Any

from agents.opponents import batched_duel_opponent
from envs.duel.vector import DuelVectorEnv
from experiments.train.run import Run

HELD_OUT_SEED = 3_000_000
ALGOS = ("ppo-pg", "ppo")


def train_best_response(opponent: Any, steps: int, *, n_envs: int = 64, seed: int = 0, device="auto",
                        hyper: dict | None = None, algo: str = "ppo-pg", callback=None, round_seconds: float = 60,
                        run: Run | None = None):
    """A learner trained for ``steps`` env steps against ``opponent`` (a spec, an agent with ``predict``
    or a batched opponent). ``callback(learner)`` runs after every update (ppo-pg) or rollout (ppo).
    With ``run`` (:class:`experiments.train.run.Run`; ppo-pg) the training writes a metrics row and
    ``checkpoints/latest.pt`` ten times, then ``final.pt``, and a resumed run continues its learner."""
    if run is not None and algo != "ppo-pg":
        raise ValueError("a best response keeps a run folder with --algo ppo-pg only")
    if algo not in ALGOS:
        raise ValueError(f"unknown best-response algorithm {algo!r}; valid: {', '.join(ALGOS)}")
    if seed < 0 or seed + n_envs > HELD_OUT_SEED:
        raise ValueError(f"training seeds {seed}..{seed + n_envs - 1} would reach the held-out seeds "
                         f"({HELD_OUT_SEED}+); pick a seed in [0, {HELD_OUT_SEED - n_envs}]")
    if algo == "ppo-pg":
        from nets.policy_gradient import load_learner
        from nets.ppo import PPO

        env = DuelVectorEnv(num_envs=n_envs, opponent=batched_duel_opponent(opponent), side="random",
                            round_seconds=round_seconds)
        if run is not None and run.resumed:
            learner = load_learner(run.resume_from, env=env, device=device)
        else:
            learner = PPO(env, seed=seed, device=device, **(hyper or {}))
        recent: list[float] = []
        every = max(int(steps) // 10, 1)
        due = {"next": (int(learner.num_timesteps) // every + 1) * every}

        def after(info: dict) -> None:
            recent[:] = (recent + [float(r) for r in info.get("episode_returns", [])])[-100:]
            if callback is not None:
                callback(learner)
            n = int(learner.num_timesteps)
            if run is not None and n >= due["next"]:  # a metrics row and checkpoints/latest
                due["next"] += every
                run.log({"steps": n, "train_return": sum(recent) / len(recent) if recent else float("nan"),
                         "seconds": run.seconds()})
                run.checkpoint("latest", lambda p: learner.save(p), n, {"opponent": str(opponent)})

        learner.learn(max(int(steps) - int(learner.num_timesteps), 0), callback=after)
        if run is not None:
            run.checkpoint("final", lambda p: learner.save(p), int(learner.num_timesteps), {"opponent": str(opponent)})
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


