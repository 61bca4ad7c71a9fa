"""Goal shaping and exploring starts: the older names of the env's training-aid keywords.

On the stealth grid the only positive reward is the goal, far away, while getting caught costs -1 at once;
a learner exploring at random learns to stand still long before it first stumbles on the goal. The env
shapes its own rewards when asked, ``shaping_gamma=`` (and ``shaping_weight=``), with the potential
``Phi(s) = -d(s) / d(start)`` of :func:`envs.stealth.features.goal_potential`, in the single env and the batch
alike, and starts a share of episodes at random with ``exploring_starts=``. Train with them; evaluate without.

``GoalShaping``, ``VectorGoalShaping`` and ``ExploringStarts`` switch those keywords on in an env already
built and return it, so that code written for the wrappers keeps working.
"""

from __future__ import annotations

from agents.navigation.features import EnvT, stealth_env
from envs.stealth.features import goal_potential

__all__ = ["ExploringStarts", "GoalShaping", "VectorGoalShaping", "goal_potential"]


def GoalShaping(env: EnvT, gamma: float = 0.99, weight: float = 1.0) -> EnvT:  # noqa: N802  (the name of the old wrapper)
    """``env`` (``sandbox/Stealth-v0``, wrapped or not) shaping its rewards for discount ``gamma``: its
    ``shaping_gamma=gamma, shaping_weight=weight`` keywords, switched on in place (its state restarts: call
    ``reset()``); ``info["unshaped_reward"]`` keeps the env's own reward. Returns ``env`` itself."""
    stealth_env(env, "GoalShaping").reconfigure(shaping_gamma=gamma, shaping_weight=weight)
    return env


def VectorGoalShaping(env: EnvT, gamma: float = 0.99, weight: float = 1.0) -> EnvT:  # noqa: N802  (the name of the old wrapper)
    """:func:`GoalShaping` for the batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``)."""
    stealth_env(env, "VectorGoalShaping", batched=True).reconfigure(shaping_gamma=gamma, shaping_weight=weight)
    return env


def ExploringStarts(env: EnvT, prob: float = 0.5) -> EnvT:  # noqa: N802  (the name of the old wrapper)
    """``env`` (``sandbox/Stealth-v0``, wrapped or not) starting each episode, with probability ``prob``, on a
    random unwatched floor cell at a random guard phase: its ``exploring_starts=prob`` keyword, switched on in
    place (call ``reset()``). Returns ``env`` itself."""
    stealth_env(env, "ExploringStarts").reconfigure(exploring_starts=prob)
    return env
