"""Evaluation of an agent on held-out seeds, through the one rollout harness (:mod:`agents.rollout`)."""

from __future__ import annotations

from experiments.train.config import EVAL_SEED


def evaluate(agent, env_fn, episodes: int, seed: int = EVAL_SEED, kind: str = "") -> tuple[float, float]:
    """Mean return and success rate of ``agent`` (deterministic) over ``episodes`` episodes seeded
    ``seed, seed+1, ...``. ``env_fn`` may be a list of env factories, used in turn. Success is the env's
    own ``info["is_success"]`` (NaN for an env that does not report it); ``kind`` is not needed any more
    and kept for callers."""
    from agents.rollout import evaluate as run_evaluation

    fns = env_fn if isinstance(env_fn, (list, tuple)) else [env_fn]
    made = [fn() for fn in fns]
    try:
        ev = run_evaluation(agent, made, episodes, seed=seed)
    finally:
        for env in made:
            env.close()
    return ev.mean_return, ev.success_rate
