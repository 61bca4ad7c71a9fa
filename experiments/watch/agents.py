"""The players of a watch session: agents from specs, fallbacks, and their policies for the panels."""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from experiments.watch.config import DEFAULT_P1, FALLBACK_P1


def notice(msg: str) -> None:
    print(f"sandbox watch: {msg}", flush=True)



def build_agent(spec: str, **context):
    """``agents.make_agent(spec, **context)`` with every loading failure turned into one line."""
    from agents import make_agent
    from experiments.options import CliError

    try:
        return make_agent(spec, **context)
    except (ValueError, FileNotFoundError, CliError) as exc:
        raise CliError(one_line(exc)) from None
    except ImportError as exc:
        raise CliError(f"agent {spec!r} is not available in this install ({one_line(exc)})") from None
    except Exception as exc:  # a corrupt checkpoint fails inside torch / zipfile / SB3 in many ways
        raise CliError(f"cannot load agent {spec!r}: {type(exc).__name__}: {one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (whitespace runs collapsed), or its type's name when it has none: what
    the watcher's errors and notices show."""
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def cannot_play(spec: str, game: str):
    """Turn an agent's failure to act (an agent for another game, a bad action) into one line."""
    from experiments.options import CliError

    try:
        yield
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"agent {spec!r} cannot play the {game}: {type(exc).__name__}: {one_line(exc)}") from None


def default_spec(game: str) -> str:
    """The game's default agent: the bundled one, or a scripted/planner agent (with a notice) when the
    bundled checkpoint is not shipped."""
    from agents.bundled import bundled_names

    spec = DEFAULT_P1[game]
    if spec.partition(":")[2] in bundled_names():
        return spec
    notice(f"{spec} is not shipped in agents/bundled; showing {FALLBACK_P1[game]} instead")
    return FALLBACK_P1[game]


def agent_info(agent) -> dict:
    """The training sidecar of a bundled / sb3 agent (env kwargs...), or {}."""
    info = getattr(agent, "info", None)
    return info if isinstance(info, dict) else {}


def policy_probs(agent, observation):
    """``agent.action_probs(observation)`` when the agent has it and it answers, else None."""
    fn = getattr(agent, "action_probs", None)
    if fn is None:
        return None
    probs = fn(observation)
    return None if probs is None else [np.asarray(p, dtype=np.float64) for p in probs]


class OpponentSlot:
    """P2 inside the single-agent DuelEnv: passes every call to the agent and keeps the observation it
    decided on and its action, for the watcher's panels. Difficulty and the env's generator pass
    through to the agent."""

    def __init__(self, agent):
        self.agent = agent
        self.action = None
        self.observation = None

    @property
    def rng(self):
        return self.agent.rng

    @rng.setter
    def rng(self, value):
        self.agent.rng = value

    def __getattr__(self, name):  # set_difficulty and anything else the env asks for
        if name.startswith("_") or name == "agent":
            raise AttributeError(name)
        return getattr(self.agent, name)

    def reset(self) -> None:
        self.action = self.observation = None
        if hasattr(self.agent, "reset"):
            self.agent.reset()

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.observation = observation
        # everything the env passes goes through: a scripted fighter re-keys its stream on episode_start
        self.action, state = self.agent.predict(observation, state=state, episode_start=episode_start,
                                                deterministic=deterministic)
        return self.action, state


class StealthKeys:
    """A person at the keyboard in the stealth grid: arrows move, nothing held stays (``human``)."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        import pygame

        pygame.event.pump()
        held = pygame.key.get_pressed()
        for key, action in ((pygame.K_UP, 1), (pygame.K_DOWN, 2), (pygame.K_RIGHT, 3), (pygame.K_LEFT, 4)):
            if held[key]:
                return action, state
        return 0, state

    def reset(self) -> None:
        pass


def make_director(kind: str, game: str):
    """None, a RuleDirector (pacing on for stealth) or the bundled LearnedDirector."""
    from experiments.options import CliError

    if kind == "none":
        return None
    if kind == "rule":
        from agents.meta import RuleDirector

        return RuleDirector(pacing=game == "stealth")
    from agents.bundled import BUNDLED_DIR
    from agents.meta import LearnedDirector

    for path in (BUNDLED_DIR / "director.zip", os.path.join("runs", "director", "checkpoints", "final.zip")):
        if os.path.isfile(path):
            try:
                return LearnedDirector.load(path)
            except Exception as exc:  # a corrupt zip
                raise CliError(f"{path}: cannot load the learned director ({one_line(exc)})") from None
    raise CliError("--director learned: no agents/bundled/director.zip (nor runs/director/checkpoints/final.zip); "
                   "train one with `sandbox train director`, or use --director rule")
