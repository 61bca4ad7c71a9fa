"""Evaluation of an agent on held-out seeds."""

from __future__ import annotations

import math

import numpy as np

from experiments.train.config import EVAL_SEED


def outcome(kind: str, info: dict) -> float:
    """Success of a finished episode: stealth reached the goal, duel won the round; nan elsewhere."""
    if kind == "stealth":
        return float(bool(info.get("at_goal")))
    if kind == "duel":
        return float(info.get("winner") == "agent")
    return math.nan


def evaluate(agent, env_fn, episodes: int, seed: int = EVAL_SEED, kind: str = "") -> tuple[float, float]:
    """Mean return and success rate of ``agent`` (deterministic) over ``episodes`` episodes seeded
    ``seed, seed+1, ...``. ``env_fn`` may be a list of env factories, used in turn."""
    fns = env_fn if isinstance(env_fn, (list, tuple)) else [env_fn]
    made = [fn() for fn in fns]
    returns, successes = [], []
    try:
        for i in range(episodes):
            env = made[i % len(made)]
            obs, _ = env.reset(seed=seed + i)
            if hasattr(agent, "reset"):
                agent.reset()
            state, start, total, done = None, np.ones(1, dtype=bool), 0.0, False
            while not done:
                action, state = agent.predict(obs, state=state, episode_start=start, deterministic=True)
                start = np.zeros(1, dtype=bool)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            successes.append(outcome(kind, info))
    finally:
        for env in made:
            env.close()
    return float(np.mean(returns)), float(np.mean(successes)) if not all(map(math.isnan, successes)) else math.nan
