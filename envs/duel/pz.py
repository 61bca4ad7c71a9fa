"""The duel as a PettingZoo ``ParallelEnv`` (two players, same rules and features), for self-play: a
batch of one of the same arrays and kernels as every other form (:class:`envs.duel.core.DuelCore`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.checks import check_choice
from envs.duel import layout as L
from envs.duel.config import DuelConfig
from envs.duel.core import DuelCore
from envs.duel.env import DuelAction, decode_action, duel_spaces
from envs.duel.rules import DuelState

if TYPE_CHECKING:
    from envs.duel.render import DuelRenderer


class DuelParallelEnv(ParallelEnv):
    """Agents ``player_0`` (starts on the left) and ``player_1`` (right). Each observes its own view
    (the :class:`envs.duel.env.DuelEnv` layout) and acts ``MultiDiscrete([9, 4])`` (or ``Discrete(36)``
    with ``flat_actions``); rewards are each player's change of normalised health difference plus
    +-1 for the round. Both terminate together at KO or time-out. Settings: those of
    :class:`envs.duel.config.DuelConfig` (``config=`` or keywords; ``side`` must stay ``"left"``).

    Examples:
        A round of self-play: player 0 walks forward and jabs, player 1 stands still.

        >>> import numpy as np
        >>> from envs.duel.pz import DuelParallelEnv
        >>> env = DuelParallelEnv()
        >>> obs, infos = env.reset(seed=0)
        >>> env.agents, obs["player_0"].shape
        (['player_0', 'player_1'], (76,))
        >>> actions = {"player_0": np.array([3, 1]), "player_1": np.array([0, 0])}
        >>> while env.agents:
        ...     obs, rewards, terminations, truncations, infos = env.step(actions)
        ...     assert rewards["player_0"] == -rewards["player_1"] and -2.0 <= rewards["player_0"] <= 2.0
        >>> winner = infos["player_0"]["winner"]
        >>> winner in ("player_0", "player_1", "draw"), infos["player_0"]["is_success"] == (winner == "player_0")
        (True, True)
    """

    metadata: dict[str, Any] = {"name": "duel_v0", "render_modes": ["rgb_array"], "render_fps": L.TICKS_PER_SECOND,
                "is_parallelizable": True}

    def __init__(self, *, config: DuelConfig | None = None, render_mode: str | None = None, **settings: Any):
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.config = DuelConfig.build(config, **settings)
        if self.config.drives is not None:
            raise ValueError("drives= is for the one-player duel (sandbox/Duel-v0 with an opponent); the "
                             "PettingZoo view has none")
        if self.config.side != "left":
            raise ValueError("the two-player form has no side: player_0 is left, player_1 right")
        self.frame_skip, self.flat_actions = self.config.frame_skip, self.config.flat_actions
        self.round_ticks = self.config.round_ticks
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        self.agents: list[str] = []
        self._core = DuelCore(1, self.config, events=True)
        self._core.reset()
        self.np_random, _ = seeding.np_random(None)
        self._action_space, self._obs_space = duel_spaces(self.flat_actions)
        self._renderer: DuelRenderer | None = None

    @property
    def state(self) -> DuelState:
        """The round as a :class:`envs.duel.rules.DuelState` (a copy)."""
        return self._core.state(0)

    def observation_space(self, agent: str) -> spaces.Box:  # the identical object every call, as PettingZoo requires
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_space

    def _obs(self) -> dict[str, np.ndarray]:
        obs = self._core.obs[0]
        return {"player_0": obs[0].copy(), "player_1": obs[1].copy()}

    def reset(self, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = self.possible_agents[:]
        self._core.reset()
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, DuelAction]) -> tuple[
            dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        if not self.agents:
            raise RuntimeError("the round is over; call reset()")
        core = self._core
        for k, a in enumerate(self.possible_agents):
            core.act[0, k] = decode_action(actions[a])
        core.step()
        r0 = float(core.reward[0])
        over = bool(core.terminated[0])
        events = core.events(0)
        w = int(core.G[0, L.G_WINNER])
        winner = None if not over else ("draw" if w < 0 else self.possible_agents[w])
        infos: dict[str, dict[str, Any]] = {a: {"health": core.health(0, i), "winner": winner, "events": events}
                 for i, a in enumerate(self.possible_agents)}
        if over:  # success, as in DuelEnv: this player won the round
            for i, a in enumerate(self.possible_agents):
                infos[a]["is_success"] = w == i
        rewards = {"player_0": r0, "player_1": -r0}
        terminations = dict.fromkeys(self.possible_agents, over)
        truncations = dict.fromkeys(self.possible_agents, False)
        if over:
            self.agents = []
        return self._obs(), rewards, terminations, truncations, infos

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if self._renderer is None:
            from envs.duel.render import DuelRenderer

            self._renderer = DuelRenderer("rgb_array")
        return self._renderer.draw(self.state, [], labels=("P1", "P2"))

    def close(self) -> None:
        self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_renderer"] = None
        return d
