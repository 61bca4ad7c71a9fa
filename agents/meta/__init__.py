"""Meta AI: the director that paces the game from how the player is doing. ``RuleDirector`` (a
Bayesian skill estimate under a logistic win model, a flow controller on the rolling win rate and a
Left-4-Dead-style build-up/peak/relax pacing mode), ``LearnedDirector`` (an SB3 policy trained in the
meta environment ``sandbox/Director-v0``, :mod:`agents.meta.meta_env`), ``FixedDirector`` (baseline),
``DriveDirector`` (reads a player's drive levels instead of wins: boredom high, a harder game),
the simulated player population (:mod:`agents.meta.population`) and ``DirectedEnv``, the wrapper that
applies a director's difficulty at every reset and reports each episode's outcome (the env's
``info["is_success"]``) to it.

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from agents.meta.director import (
           Director,
           DriveDirector,
           FixedDirector,
           Phase,
           RuleDirector,
           logistic_update,
           win_probability,
)
from agents.meta.meta_env import DirectorEnv, LearnedDirector, history_observation
from agents.meta.population import SyntheticPlayer, sample_player
from agents.meta.wrapper import DirectedEnv, episode_outcome, in_band_fraction, rolling_mean

__all__ = ["DirectedEnv", "Director", "DirectorEnv", "DriveDirector", "FixedDirector", "LearnedDirector", "Phase",
           "RuleDirector", "SyntheticPlayer", "episode_outcome", "history_observation", "in_band_fraction",
           "logistic_update", "rolling_mean", "sample_player", "win_probability"]
