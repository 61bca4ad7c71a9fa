"""The duel as a PettingZoo ``ParallelEnv`` (two players, same rules and features), for self-play."""

from __future__ import annotations

from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.duel import rules
from envs.duel.env import decode_action, duel_spaces, observe
from envs.duel.rules import TICKS_PER_SECOND
from envs.duel.step import decision_step


class DuelParallelEnv(ParallelEnv):
    """Agents ``player_0`` (starts on the left) and ``player_1`` (right). Each observes its own view
    (the :class:`envs.duel.env.DuelEnv` layout) and acts ``MultiDiscrete([9, 4])`` (or ``Discrete(36)``
    with ``flat_actions``); rewards are each player's change of normalised health difference plus
    +-1 for the round. Both terminate together at KO or time-out."""

    metadata = {"name": "duel_v0", "render_modes": ["rgb_array"], "render_fps": TICKS_PER_SECOND,
                "is_parallelizable": True}

    def __init__(self, *, frame_skip: int = 4, flat_actions: bool = False, round_seconds: float = 60,
                 render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array'; got {render_mode!r}")
        self.frame_skip = int(frame_skip)
        self.flat_actions = bool(flat_actions)
        self.round_ticks = int(round(round_seconds * TICKS_PER_SECOND))
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        self.agents: list[str] = []
        self.state = rules.initial_state(self.round_ticks)
        self.np_random, _ = seeding.np_random(None)
        self._action_space, self._obs_space = duel_spaces(self.flat_actions)
        self._renderer = None

    def observation_space(self, agent):  # the identical object every call, as PettingZoo requires
        return self._obs_space

    def action_space(self, agent):
        return self._action_space

    def _obs(self):
        return {a: observe(self.state, i) for i, a in enumerate(self.possible_agents)}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = self.possible_agents[:]
        self.state = rules.initial_state(self.round_ticks)
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the round is over; call reset()")
        s = self.state
        p0, p1 = (decode_action(actions[a]) for a in self.possible_agents)
        result = decision_step(s, p0, p1, self.frame_skip)
        events, r0 = result.events, result.reward0
        rewards = {"player_0": float(r0), "player_1": float(-r0)}
        winner = None if not s.over else ("draw" if s.winner is None else self.possible_agents[s.winner])
        infos = {a: {"health": s.fighters[i].health, "winner": winner, "events": events}
                 for i, a in enumerate(self.possible_agents)}
        if s.over:  # success, as in DuelEnv: this player won the round
            for i, a in enumerate(self.possible_agents):
                infos[a]["is_success"] = s.winner == i
        obs = self._obs()
        terminations = dict.fromkeys(self.possible_agents, s.over)
        truncations = dict.fromkeys(self.possible_agents, False)
        if s.over:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode is None:
            return None
        if self._renderer is None:
            from envs.duel.render import DuelRenderer

            self._renderer = DuelRenderer("rgb_array")
        return self._renderer.draw(self.state, [], labels=("P1", "P2"))

    def close(self):
        self._renderer = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_renderer"] = None
        return d
